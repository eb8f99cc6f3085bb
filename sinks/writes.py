"""The writes other commands may ask of the running sink: one typed operation per row that
``publish`` and ``appeal`` add, never SQL.

Through the store proxy (``POST /internal/sql``) a command sends the operation's name and
the row's fields; the sink checks them against the row's record (``sinks/tables.py``) and
inserts that one row into that one table. Nothing else can be written that way: no
other table, no SQL text, no DDL. A command that holds the store itself (no sink running)
writes the same records directly.
"""

from __future__ import annotations

import msgspec

from sinks.tables import AppealDecisionRow, AppealRow, AssessmentVersionRow, Row

WRITES: dict[str, type[Row]] = {
    "publish_version": AssessmentVersionRow,   # publish; appeal accept (the next version)
    "file_appeal": AppealRow,                  # appeal
    "decide_appeal": AppealDecisionRow,        # appeal accept | reject
}
_OPS = {row: op for op, row in WRITES.items()}


class WriteRefused(ValueError):
    """Not one of the typed writes, or a row that does not fit its record."""


def write_request(row: Row) -> dict:
    """The proxy request for writing ``row``."""
    op = _OPS.get(type(row))
    if op is None:
        raise WriteRefused(f"the store proxy takes no rows of {row.table}")
    return {"op": op, "row": msgspec.to_builtins(row)}


def row_of(payload: dict) -> Row:
    """The row a proxy request asks to write, checked against its record."""
    record = WRITES.get(payload.get("op"))
    if record is None:
        raise WriteRefused(f"unknown write {payload.get('op')!r} (the store proxy writes only: {', '.join(WRITES)})")
    fields = payload.get("row")
    if not isinstance(fields, dict) or set(fields) != set(record.__struct_fields__):
        raise WriteRefused(f"{payload['op']} needs exactly the fields {', '.join(record.__struct_fields__)}")
    try:
        return msgspec.convert(fields, record, strict=False)
    except msgspec.ValidationError as e:
        raise WriteRefused(f"{payload['op']}: {e}") from None
