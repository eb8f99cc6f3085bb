"""The ``hallpulse`` command line. Each command group lives in ``hallpulse/commands/``.

Commands are imported when they are run (``hallpulse deadletter list`` does not pay for
the assessment's spreadsheet writer). Every failure goes through :meth:`Main.invoke`:
one line on stderr with the next step (:mod:`hallpulse.errors`), exit code 1 (2 for a
wrong option); ``hallpulse --debug`` shows the traceback instead.
"""

from __future__ import annotations

import importlib
import logging
import os
from pathlib import Path

import click

from hallpulse.config import get_settings
from hallpulse.errors import OperatorError, explain
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
_SERVICES = ("worker", "sink")  # long-running: their logs keep the Kafka client's warnings
_MODULE_OF = {name: module for module, names in _COMMANDS.items() for name in names}


def _fail(ctx: click.Context, message: str, code: int) -> None:
    click.echo(f"error: {message}", err=True)
    ctx.exit(code)


class Main(click.Group):
    """The root group: lazy commands and the one error handler."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(self.commands) | set(_MODULE_OF))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in self.commands and name in _MODULE_OF:
            try:
                mod = importlib.import_module(f"hallpulse.commands.{_MODULE_OF[name]}")
            except ModuleNotFoundError as e:
                if e.name == f"hallpulse.commands.{_MODULE_OF[name]}":
                    return None  # not built yet
                raise
            self.add_command(getattr(mod, name))
        return self.commands.get(name)

    def invoke(self, ctx: click.Context):
        debug = bool(ctx.params.get("debug"))
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.Abort):
            raise
        except click.UsageError as e:
            if debug:
                raise
            where = e.ctx.command_path if e.ctx is not None else ctx.command_path
            _fail(ctx, f"{e.format_message()}; see: {where} --help", e.exit_code)
        except click.ClickException as e:
            if debug:
                raise
            _fail(ctx, e.format_message(), e.exit_code)
        except Exception as e:
            if debug:
                raise
            msg = explain(e, ctx.obj)
            if msg is None:
                msg = f"{type(e).__name__}: {e}; this is a bug: run again with --debug and report the traceback"
            _fail(ctx, msg, getattr(e, "exit_code", 1) if isinstance(e, OperatorError) else 1)


@click.group(cls=Main, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config_file", type=click.Path(dir_okay=False),
              help="TOML configuration file (default: config/hallpulse.toml, or $HALLPULSE_CONFIG).")
@click.option("--debug", is_flag=True, help="Debug logging, and a traceback when a command fails.")
@click.pass_context
def main(ctx: click.Context, config_file: str | None, debug: bool) -> None:
    """hallpulse: live service quality and period assessment for business halls (营业厅)."""
    if config_file:
        os.environ["HALLPULSE_CONFIG"] = config_file
        get_settings.cache_clear()
    named = os.environ.get("HALLPULSE_CONFIG")
    if named and not Path(named).is_file():
        how = "--config" if config_file else "HALLPULSE_CONFIG"
        raise OperatorError(f"configuration file {named} (from {how}) does not exist; "
                            "give an existing file, or leave it out to use config/hallpulse.toml")
    settings = get_settings()
    configure_logging(settings.log_format, "debug" if debug else settings.log_level)
    if debug:
        logging.getLogger("kafka").setLevel(logging.DEBUG)
    elif ctx.invoked_subcommand not in _SERVICES:
        # a one-shot command says itself what failed; the client's warnings (a slow IO
        # step on a busy machine, a retried connection) are noise on an operator's terminal
        logging.getLogger("kafka").setLevel(logging.ERROR)
    ctx.obj = settings
