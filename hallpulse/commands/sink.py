"""``hallpulse sink``: own the store, write what the workers accepted, answer other commands' SQL."""

from __future__ import annotations

import errno
import signal

import click

from hallpulse import kafka_local
from hallpulse.errors import OperatorError
from hallpulse.gc_tuning import tune_gc
from hallpulse.logs import get_logger
from schemas.catalogue import load_catalogue

log = get_logger("hallpulse.sink")


def _second_sink(settings, holder: str) -> str:
    return (f"the embedded store {settings.chdb_path} is already held by {holder}; one sink per "
            "embedded store: stop that one first, or give this one another [store].chdb_path")


@click.command()
@click.pass_obj
def sink(settings) -> None:
    """Write the facts and alerts topics to ClickHouse (the store's only writer)."""
    from sinks.sink import Sink
    from sinks.store import StoreBusy, running_owner_url
    from streams.alerts import load_alert_rules

    if settings.store.embedded:  # before the broker: a second sink is told so at once
        url = running_owner_url(settings, wait=0)
        if url:
            raise OperatorError(_second_sink(settings, f"the sink at {url}"))
    kafka_local.require_broker(settings)
    kafka_local.ensure_topics(settings)
    rules = load_alert_rules(settings.alert_rules_file)
    s = Sink(settings, load_catalogue(settings.catalogue_file), silent_after_min=rules.default.silent_after_min)
    try:
        s.open()
    except StoreBusy:
        raise OperatorError(_second_sink(settings, "another process (a sink starting, or a command "
                                                   "that opened it directly)")) from None
    try:
        s.serve()
    except BaseException as e:  # let the store go before saying why
        s.close()
        if isinstance(e, OSError) and e.errno == errno.EADDRINUSE:
            raise OperatorError(f"the sink's web port {settings.sink.web_host}:{settings.sink.web_port} is in use; "
                                "stop what listens there, or set HALLPULSE__SINK__WEB_PORT") from None
        raise
    signal.signal(signal.SIGTERM, lambda *_: s.stopping.set())
    log.info("sink.starting", kafka=settings.kafka.servers,
             web=f"http://{settings.sink.web_host}:{settings.sink.web_port}")
    tune_gc(settings.gc_threshold)
    try:
        s.run()
    except KeyboardInterrupt:
        pass
    finally:
        s.close()
