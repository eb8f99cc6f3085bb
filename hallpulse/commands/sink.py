"""``hallpulse sink``: own the store, write what the workers accepted, answer other commands' SQL."""

from __future__ import annotations

import signal
import sys

import click

from hallpulse import kafka_local
from schemas.catalogue import load_catalogue
from hallpulse.logs import get_logger

log = get_logger("hallpulse.sink")


@click.command()
@click.pass_obj
def sink(settings) -> None:
    """Write the facts and alerts topics to ClickHouse (the store's only writer)."""
    from sinks.sink import Sink
    from sinks.store import StoreBusy
    from streams.alerts import load_alert_rules

    if not kafka_local.broker_ready(settings.kafka.servers):
        hint = "start it with: hallpulse kafka up" if settings.kafka.uses_local_broker else "check KAFKA_BOOTSTRAP"
        click.echo(f"error: no Kafka broker answers at {settings.kafka.servers}; {hint}", err=True)
        sys.exit(1)
    kafka_local.ensure_topics(settings)
    rules = load_alert_rules(settings.alert_rules_file)
    s = Sink(settings, load_catalogue(settings.catalogue_file), silent_after_min=rules.default.silent_after_min)
    try:
        s.open()
    except StoreBusy as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(1)
    s.serve()
    signal.signal(signal.SIGTERM, lambda *_: s.stopping.set())
    log.info("sink.starting", kafka=settings.kafka.servers,
             web=f"http://{settings.sink.web_host}:{settings.sink.web_port}")
    try:
        s.run()
    except KeyboardInterrupt:
        pass
    finally:
        s.close()
