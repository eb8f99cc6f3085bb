"""``hallpulse query``: a read-only query against the configured store, as a table.

Works while the worker holds the embedded store: the SQL is then answered by the worker.
"""

from __future__ import annotations

import csv
import json
import re
import sys
from datetime import date, datetime
from pathlib import Path

import click
from hallpulse.console import console
from hallpulse.errors import OperatorError
from rich.table import Table

from sinks.sql import strip_comments
from sinks.store import StoreError, ensure_read_only, open_store

_PARAM_TYPE = re.compile(r"\{(\w+):([^}]+)\}")


def parse_params(sql: str, pairs: tuple[str, ...]) -> dict:
    """``name=value`` pairs, converted after the ``{name:Type}`` placeholders in the SQL."""
    types = {m.group(1): m.group(2).strip() for m in _PARAM_TYPE.finditer(sql)}
    out = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep:
            raise click.BadParameter(f"{pair!r}: expected name=value", param_hint="--param")
        t = types.get(name, "String")
        try:
            if t.startswith(("UInt", "Int")):
                out[name] = int(value)
            elif t.startswith("Float"):
                out[name] = float(value)
            elif t == "Date":
                out[name] = date.fromisoformat(value)
            elif t.startswith("DateTime"):
                out[name] = datetime.fromisoformat(value)
            elif t.startswith("Array"):
                out[name] = [v for v in value.split(",") if v]
            else:
                out[name] = value
        except ValueError as e:
            raise click.BadParameter(f"{name}={value!r} is not a {t}: {e}", param_hint="--param") from None
    missing = sorted(set(types) - set(out))
    if missing:
        raise click.BadParameter(f"the SQL needs {', '.join(missing)}", param_hint="--param")
    return out


@click.command()
@click.argument("sql", required=False)
@click.option("--file", "sql_file", type=click.Path(exists=True, dir_okay=False), help="Read the SQL from a file.")
@click.option("--param", "params", multiple=True, metavar="NAME=VALUE", help="Bind a {NAME:Type} placeholder.")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)
@click.pass_obj
def query(settings, sql: str | None, sql_file: str | None, params: tuple[str, ...], fmt: str) -> None:
    """Run a read-only SQL query (SELECT, WITH, SHOW, DESCRIBE, EXPLAIN) and print the result."""
    if sql_file:
        sql = strip_comments(Path(sql_file).read_text(encoding="utf-8"))
    if not sql:
        raise click.UsageError("give the SQL as an argument or with --file")
    bound = parse_params(sql, params)
    try:  # refused here, before the store is opened or a sink asked, the same with a sink or without
        ensure_read_only(sql)
    except StoreError as e:
        raise OperatorError(f"{e}; hallpulse query runs read-only SQL (SELECT, WITH, SHOW, DESCRIBE, EXPLAIN): "
                            "the store's schema and data change only through the sink (docs/operations.md)") from None
    try:
        store = open_store(settings)
        try:
            result = store.query(sql, bound, readonly=True)
        finally:
            store.close()
    except StoreError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(1)
    except Exception as e:  # the engine's message (syntax, unknown table…) is what the user needs
        click.echo(f"error: {e}", err=True)
        sys.exit(1)
    if fmt == "csv":
        w = csv.writer(sys.stdout)
        w.writerow(result.columns)
        w.writerows(result.rows)
    elif fmt == "json":
        click.echo(json.dumps(result.dicts(), ensure_ascii=False, default=str, indent=1))
    else:
        table = Table(*result.columns, show_lines=False)
        for row in result.rows:
            table.add_row(*("" if v is None else str(v) for v in row))
        console().print(table)
        click.echo(f"{len(result.rows)} row(s)")
