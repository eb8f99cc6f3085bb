"""``hallpulse simulate``: realistic hall traffic into Kafka or a JSONL file."""

from __future__ import annotations

from datetime import datetime

import click

from hallpulse import kafka_local, simulator
from hallpulse.errors import OperatorError, no_broker


class _AwareDateTime(click.ParamType):
    """ISO 8601 with an explicit offset: a naive time would be ambiguous, as in the event contract."""

    name = "ISO-DATETIME"

    def convert(self, value, param, ctx):  # noqa: ANN001 - click's protocol
        if isinstance(value, datetime):
            return value
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            self.fail(f"{value!r} is not an ISO 8601 date-time", param, ctx)
        if parsed.tzinfo is None:
            self.fail(f"{value!r} has no UTC offset; write e.g. {value}+08:00", param, ctx)
        return parsed


@click.command()
@click.option("--halls", type=click.IntRange(min=1), default=3, show_default=True,
              help="Simulate the first N halls of the catalogue.")
@click.option("--minutes", type=click.FloatRange(min=0, min_open=True), default=60.0, show_default=True,
              help="Length of the simulated window from --start.")
@click.option("--speed", type=click.FloatRange(min=0), default=0.0, show_default=True,
              help="Replay X times faster than real time (0: as fast as possible).")
@click.option("--seed", type=int, default=1, show_default=True, help="Same seed, same events.")
@click.option("--start", type=_AwareDateTime(), default=None,
              help="Window start with offset, e.g. 2026-11-23T09:00:00+08:00 (default: today 09:00 Asia/Shanghai).")
@click.option("--out", type=click.Path(dir_okay=False, allow_dash=True), default=None,
              help="Write JSONL ({topic, key, value} per line) instead of sending to Kafka; '-' for stdout.")
@click.option("--bad-share", type=click.FloatRange(0, 1), default=0.0, show_default=True,
              help="Share of deliberately invalid messages, to exercise the dead-letter path.")
@click.option("--progress/--no-progress", default=True, show_default=True, help="Show a progress bar.")
@click.pass_obj
def simulate(settings, halls: int, minutes: float, speed: float, seed: int, start: datetime | None,
             out: str | None, bad_share: float, progress: bool) -> None:
    """Generate queue tickets, transactions and surveys for business halls."""
    if out is None and not kafka_local.broker_ready(settings.kafka.servers):
        raise OperatorError(f"{no_broker(settings)}; or write a file with --out")
    try:
        counts = simulator.run(settings, halls=halls, minutes=minutes, speed=speed, seed=seed,
                               start=start, out=out, bad_share=bad_share, progress=progress)
    except simulator.SimulationArgumentError as e:
        raise click.UsageError(str(e)) from e
    except simulator.SimulationOutputError as e:
        raise click.ClickException(str(e)) from e
    where = f"file {out}" if out not in (None, "-") else "stdout" if out == "-" else f"kafka {settings.kafka.servers}"
    summary = ", ".join(f"{k}={v}" for k, v in counts.items())
    # With --out - the messages own stdout; the summary goes to stderr.
    click.echo(f"simulated {sum(counts.values())} messages to {where}: {summary}", err=out == "-")
