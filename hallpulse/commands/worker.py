"""``hallpulse worker``: run the Faust worker (agents, timers, live API); ``hallpulse sink`` writes the store."""

from __future__ import annotations

import atexit
import errno
import json
import os
import socket
from pathlib import Path

import click

from hallpulse import kafka_local
from hallpulse.errors import OperatorError
from hallpulse.gc_tuning import tune_gc
from hallpulse.logs import get_logger

log = get_logger("hallpulse.worker")


def _check_web_port(settings) -> None:
    """Faust binds its web server after it joined the group, and then dies with a
    traceback: say it before anything starts."""
    host, port = settings.worker.web_host, settings.worker.web_port
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as aiohttp: a closed port's TIME_WAIT is no owner
        try:
            s.bind((host, port))
        except OSError as e:
            if e.errno != errno.EADDRINUSE:
                raise
            raise OperatorError(f"the worker's web port {host}:{port} is in use (another worker with the same "
                                "configuration?); stop it, or give this worker HALLPULSE__WORKER__WEB_PORT") from None


def _claim_instance_id(settings) -> None:
    """Two live workers under one ``[worker].instance_id`` fence each other in the group
    (the newcomer gets the other's assignment and Faust fails an assertion). A worker
    restarted under its name after a crash must still start: only a live process that
    holds the name on this machine (``var/worker-<id>.json``) stops it."""
    iid = settings.worker.instance_id
    if not iid:
        return
    f = settings.path(settings.var_dir) / f"worker-{iid}.json"
    try:
        info = json.loads(f.read_text())
        os.kill(int(info["pid"]), 0)
    except (OSError, ValueError, KeyError):
        pass  # none, or its holder is gone
    else:
        if info["pid"] != os.getpid():
            raise OperatorError(f"a worker with [worker].instance_id {iid!r} runs already (pid {info['pid']}, "
                                f"{info.get('url')}); give each worker its own HALLPULSE__WORKER__INSTANCE_ID")
    f.parent.mkdir(parents=True, exist_ok=True)
    f.write_text(json.dumps({"pid": os.getpid(),
                             "url": f"http://{settings.worker.web_host}:{settings.worker.web_port}"}))
    atexit.register(_release, f)


def _release(f: Path) -> None:
    try:
        if json.loads(f.read_text()).get("pid") == os.getpid():
            f.unlink()
    except (OSError, ValueError):
        pass


@click.command()
@click.option("--loglevel", default="warn", show_default=True, type=click.Choice(["debug", "info", "warn", "error"]),
              help="Faust's own log level (hallpulse's is [log_level] in the config).")
@click.pass_obj
def worker(settings, loglevel: str) -> None:
    """Consume the hall topics, keep live state, raise alerts, send the facts to the sink."""
    from faust.worker import Worker

    from streams.app import create_app

    _check_web_port(settings)
    _claim_instance_id(settings)
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
    tune_gc(settings.gc_threshold)
    w.execute_from_commandline()
