"""The layers of issue 8 hold: ``lint-imports`` keeps the contracts in pyproject.toml.

hallpulse (CLI) > sinks > streams > schemas, and the pure domain modules of streams import
no Kafka, Faust or ClickHouse client. The second test proves the tool really sees this
code's imports, so the first cannot pass vacuously.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def _lint(config: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(LINT_IMPORTS), "--no-cache", "--no-logo", str(config)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


def test_import_contracts_are_kept():
    r = _lint(ROOT / "pyproject.toml")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "0 broken" in r.stdout, r.stdout


def test_a_forbidden_import_is_detected(tmp_path):
    # streams.app is the Faust app: it does import faust, so this contract must break
    config = tmp_path / "probe.toml"
    config.write_text(
        '[tool.importlinter]\n'
        'root_packages = ["hallpulse", "sinks", "streams", "schemas"]\n'
        'include_external_packages = true\n'
        '[[tool.importlinter.contracts]]\n'
        'name = "probe"\n'
        'type = "forbidden"\n'
        'source_modules = ["streams.app"]\n'
        'forbidden_modules = ["faust"]\n')
    r = _lint(config)
    assert r.returncode != 0, r.stdout + r.stderr
    assert "streams.app -> faust" in r.stdout, r.stdout


def test_the_composed_settings_fit_what_each_layer_reads():
    from hallpulse.config import Settings
    from sinks.notify.settings import NotifyConfig
    from sinks.settings import SinkConfig, StoreConfig
    from streams.settings import WorkerConfig

    s = Settings()
    assert isinstance(s, WorkerConfig) and isinstance(s, SinkConfig) and isinstance(s, StoreConfig)
    assert isinstance(s, NotifyConfig)
