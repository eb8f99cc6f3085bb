"""What the CLI says when a command fails: one line, what is wrong and what to do next.

``hallpulse.cli`` sends every exception a command raises through :func:`explain`; the
traceback is shown only with ``hallpulse --debug``. A command that knows the next step
raises :class:`OperatorError` with it; the known failures of the libraries underneath
(no broker, the store held or refusing, a bad setting, a missing file, a port in use)
are mapped here, so that each is worded once.
"""

from __future__ import annotations

import errno
import sys


class OperatorError(Exception):
    """A failure the operator can fix. The message says what is wrong and the next step."""

    exit_code = 1


def _cls(module: str, name: str) -> type | None:
    """An exception class of a library, if that library is loaded (if it is not, nothing
    raised can be of that class, and the CLI does not pay for importing it)."""
    mod = sys.modules.get(module)
    return getattr(mod, name, None) if mod else None


def _isinstance(exc: BaseException, module: str, name: str) -> bool:
    cls = _cls(module, name)
    return cls is not None and isinstance(exc, cls)


def no_broker(settings) -> str:
    """The line for a Kafka broker that does not answer."""
    servers = settings.kafka.servers if settings is not None else "the configured address"
    hint = ("start it with: hallpulse kafka up" if settings is not None and settings.kafka.uses_local_broker
            else "check KAFKA_BOOTSTRAP and that the broker runs")
    return f"no Kafka broker answers at {servers}; {hint}"


def _setting_name(loc: tuple) -> str:
    return "HALLPULSE__" + "__".join(str(part).upper() for part in loc)


def _validation(exc) -> str:
    """A pydantic ValidationError of the settings: each bad value, where to fix it."""
    import os

    from hallpulse.config import DEFAULT_CONFIG_FILE

    parts = []
    for err in exc.errors():
        loc = tuple(err.get("loc") or ())
        where = ".".join(str(p) for p in loc) or "settings"
        parts.append(f"{where} = {err.get('input')!r}: {err.get('msg')} (set by {_setting_name(loc)} "
                     f"or [{'.'.join(str(p) for p in loc[:-1]) or 'top level'}] in the config file)")
    config = os.environ.get("HALLPULSE_CONFIG", str(DEFAULT_CONFIG_FILE))
    return f"bad setting: {'; '.join(parts)}; fix the variable or {config}"


def explain(exc: BaseException, settings=None) -> str | None:
    """One line for a known failure, or None for a bug (the caller says to rerun with --debug)."""
    if isinstance(exc, OperatorError):
        return str(exc)
    if _isinstance(exc, "pydantic_core", "ValidationError") or _isinstance(exc, "pydantic", "ValidationError"):
        return _validation(exc)
    if _isinstance(exc, "sinks.store", "StoreBusy"):
        return str(exc)
    if _isinstance(exc, "sinks.store", "StoreError"):
        return f"store: {exc}"
    if _isinstance(exc, "kafka.errors", "NoBrokersAvailable") or \
            _isinstance(exc, "kafka.errors", "KafkaConnectionError") or \
            _isinstance(exc, "kafka.errors", "KafkaTimeoutError") or \
            _isinstance(exc, "aiokafka.errors", "KafkaConnectionError"):
        return no_broker(settings)
    if _isinstance(exc, "clickhouse_connect.driver.exceptions", "OperationalError"):
        url = settings.store.url if settings is not None and settings.store.url else "the store"
        return f"ClickHouse at {url} does not answer ({str(exc).splitlines()[0][:160]}); " \
               "check CLICKHOUSE_URL and that the server runs"
    if _isinstance(exc, "tomllib", "TOMLDecodeError"):
        return f"a TOML file does not parse: {exc}; fix the file named in the setting"
    if isinstance(exc, FileNotFoundError):
        return f"file not found: {exc.filename}; check the path in the configuration (or the option that names it)"
    if isinstance(exc, PermissionError):
        return f"permission denied: {exc.filename}; run as the user that owns it"
    if isinstance(exc, OSError) and exc.errno == errno.EADDRINUSE:
        return f"a port is in use ({exc.strerror}); stop what listens on it, or set another " \
               "HALLPULSE__WORKER__WEB_PORT / HALLPULSE__SINK__WEB_PORT"
    return None
