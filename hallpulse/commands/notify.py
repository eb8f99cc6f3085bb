"""``hallpulse notify``: queue early warnings to WeCom and DingTalk group robots.

``hallpulse notify`` runs the notifier (sinks/notify/notifier.py); ``--dry-run`` prints the
messages instead of posting them and commits nothing; ``hallpulse notify test --channel X``
sends one test message to a configured robot and says what it answered.
"""

from __future__ import annotations

import signal
from datetime import datetime

import click

from hallpulse import kafka_local
from hallpulse.errors import OperatorError
from hallpulse.logs import get_logger
from schemas.catalogue import load_catalogue

log = get_logger("hallpulse.notify")


@click.group(invoke_without_command=True)
@click.option("--dry-run", is_flag=True, help="Print each message instead of posting it; commit no offsets.")
@click.pass_context
def notify(ctx: click.Context, dry_run: bool) -> None:
    """Send queue early warnings (排队预警) from the alerts topic to WeCom / DingTalk robots."""
    if ctx.invoked_subcommand is not None:
        return
    from sinks.notify.notifier import Notifier

    settings = ctx.obj
    if not settings.notify.channels:
        raise OperatorError("no [[notify.channels]] configured (see docs/operations.md)")
    kafka_local.require_broker(settings)
    kafka_local.ensure_topics(settings)
    n = Notifier(settings, load_catalogue(settings.catalogue_file), dry_run=dry_run, echo=click.echo)
    if not dry_run:
        n.serve()
    signal.signal(signal.SIGTERM, lambda *_: n.stopping.set())
    log.info("notify.starting", kafka=settings.kafka.servers, topic=settings.topics.alerts,
             group=settings.notify.group_id, channels=[c.name for c in settings.notify.channels], dry_run=dry_run)
    try:
        n.run()
    except KeyboardInterrupt:
        pass
    finally:
        n.close()


@notify.command("test")
@click.option("--channel", "name", required=True, help="A channel name of [[notify.channels]].")
@click.pass_obj
def test_(settings, name: str) -> None:
    """Send one test message to a channel, once, and print the robot's answer."""
    import time

    from sinks.notify.channels import payload, post, signed_url
    from streams.windows import SHANGHAI
    from sinks.notify.render import probe_message

    try:
        channel = settings.notify.channel(name)
        url = signed_url(channel.webhook_url(), channel.secret(), int(time.time() * 1000))
    except KeyError:
        known = ", ".join(c.name for c in settings.notify.channels) or "none"
        raise click.UsageError(f"no channel {name!r} (configured: {known})") from None
    except ValueError as e:
        raise click.ClickException(str(e)) from None
    message = probe_message(name, f"{datetime.now(SHANGHAI):%Y-%m-%d %H:%M}")
    answer = post(url, payload(channel.kind, message), settings.notify.timeout_seconds)
    if not answer.ok:
        raise click.ClickException(f"{name} ({channel.kind}) refused the test message: {answer.detail}")
    click.echo(f"{name} ({channel.kind}): test message accepted")
