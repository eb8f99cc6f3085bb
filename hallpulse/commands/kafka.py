"""``hallpulse kafka up|down|status|topics``: the local broker and the topics."""

from __future__ import annotations

import sys

import click

from hallpulse import kafka_local


@click.group()
def kafka() -> None:
    """Run a local single-node Kafka (KRaft) under var/kafka, or check KAFKA_BOOTSTRAP."""


@kafka.command()
@click.option("--no-topics", is_flag=True, help="Do not create the configured topics.")
@click.pass_obj
def up(settings, no_topics: bool) -> None:
    """Start the local broker (idempotent) and create the topics."""
    try:
        servers = kafka_local.up(settings)
        click.echo(f"kafka ready at {servers}")
        if not no_topics:
            _print_topics(kafka_local.ensure_topics(settings))
    except kafka_local.KafkaSetupError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(1)


@kafka.command()
@click.pass_obj
def down(settings) -> None:
    """Stop the local broker (its data stays under var/kafka)."""
    click.echo("kafka stopped" if kafka_local.down(settings) else "kafka was not running")


@kafka.command()
@click.pass_obj
def status(settings) -> None:
    """Say where the broker is and whether it answers."""
    st = kafka_local.status(settings)
    for k, v in st.items():
        click.echo(f"{k:10} {v}")
    sys.exit(0 if st["ready"] else 1)


@kafka.command()
@click.pass_obj
def topics(settings) -> None:
    """Create the configured topics with their partition counts (idempotent)."""
    _print_topics(kafka_local.ensure_topics(settings))


def _print_topics(result: dict[str, str]) -> None:
    for name, state in result.items():
        click.echo(f"topic {name:24} {state}")
