"""``hallpulse worker``: run the Faust worker (agents, timers, live API); ``hallpulse sink`` writes the store."""

from __future__ import annotations

import click

from hallpulse import kafka_local
from hallpulse.logs import get_logger

log = get_logger("hallpulse.worker")


@click.command()
@click.option("--loglevel", default="warn", show_default=True, type=click.Choice(["debug", "info", "warn", "error"]),
              help="Faust's own log level (hallpulse's is [log_level] in the config).")
@click.pass_obj
def worker(settings, loglevel: str) -> None:
    """Consume the hall topics, keep live state, raise alerts, send the facts to the sink."""
    from faust.worker import Worker

    from streams.app import create_app

    kafka_local.require_broker(settings)
    app, state = create_app(settings)
    # the changelogs too, before the consumer subscribes (see ensure_topics)
    kafka_local.ensure_topics(settings, changelogs=[t.changelog_topic.get_topic_name() for t in app.tables.values()])
    log.info("worker.starting", kafka=settings.kafka.servers, web=f"http://{settings.worker.web_host}:{settings.worker.web_port}",
             guarantee=settings.worker.processing_guarantee)
    w = Worker(app, loglevel=loglevel, quiet=True, redirect_stdouts=False)
    # Faust's terminal spinner sets the root logger to DEBUG so that it spins on every
    # record: every debug call in Faust's send path then builds a log record (about 2 % of
    # the worker's time under load) and the log gets terminal escape codes
    w.spinner = None
    w.execute_from_commandline()
