"""The ``hallpulse`` command line. Each command group lives in ``hallpulse/commands/``."""

from __future__ import annotations

import importlib
import os

import click

from hallpulse.config import get_settings
from hallpulse.logs import configure_logging

# module in hallpulse.commands -> names of the click commands it exports
_COMMANDS = {
    "kafka": ["kafka"],
    "schema": ["schema"],
    "simulate": ["simulate"],
    "worker": ["worker"],
    "sink": ["sink"],
    "query": ["query"],
    "deadletter": ["deadletter"],
    "notify": ["notify"],
    "assess": ["assess", "publish", "appeal"],
}


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config_file", type=click.Path(dir_okay=False),
              help="TOML configuration file (default: config/hallpulse.toml, or $HALLPULSE_CONFIG).")
@click.pass_context
def main(ctx: click.Context, config_file: str | None) -> None:
    """hallpulse: live service quality and period assessment for business halls (营业厅)."""
    if config_file:
        os.environ["HALLPULSE_CONFIG"] = config_file
        get_settings.cache_clear()
    settings = get_settings()
    configure_logging(settings.log_format, settings.log_level)
    ctx.obj = settings


def _register() -> None:
    for module, names in _COMMANDS.items():
        try:
            mod = importlib.import_module(f"hallpulse.commands.{module}")
        except ModuleNotFoundError as e:
            if e.name == f"hallpulse.commands.{module}":
                continue  # not built yet
            raise
        for name in names:
            main.add_command(getattr(mod, name))


_register()
