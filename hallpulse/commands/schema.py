"""``hallpulse schema export``: the event contract as JSON Schema files in schemas/json/."""

from __future__ import annotations

import json
from pathlib import Path

import click

from schemas.events import MODELS_BY_KIND

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schemas" / "json"
FILE_NAMES = {"tickets": "hall.queue.tickets", "transactions": "hall.transactions", "surveys": "hall.surveys",
              "alerts": "hall.alerts"}


def render_schemas() -> dict[str, str]:
    """File name → JSON text, deterministic so that a test can compare with the committed files."""
    out = {}
    for kind, model in MODELS_BY_KIND.items():
        schema = model.model_json_schema(mode="validation")
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        schema["$id"] = f"https://hallpulse.example/schemas/{FILE_NAMES[kind]}.json"
        out[f"{FILE_NAMES[kind]}.schema.json"] = json.dumps(schema, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
    return out


@click.group()
def schema() -> None:
    """The event contract (domain.md §2)."""


@schema.command()
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=SCHEMA_DIR,
              show_default=True)
def export(out_dir: Path) -> None:
    """Write one JSON Schema file per topic."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, text in render_schemas().items():
        (out_dir / name).write_text(text, encoding="utf-8")
        click.echo(f"wrote {out_dir / name}")
