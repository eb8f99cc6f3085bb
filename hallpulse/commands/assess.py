"""``hallpulse assess | publish | appeal``: period assessment, publication and appeals.

The logic lives in ``sinks/assessment``; this module parses options, opens the store
(through the worker when it holds the embedded chDB) and writes the chosen format.
"""

from __future__ import annotations

import json
import sys
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from hallpulse.config import Settings
from hallpulse.errors import OperatorError
from sinks.assessment.engine import live_report, published_report
from sinks.assessment.formats import render_csv, render_json, render_table
from sinks.assessment.pdf import PdfError, html_to_pdf
from sinks.assessment.report_html import render_html
from sinks.assessment.labels import labels
from sinks.assessment.periods import Period
from sinks.assessment.preview import change_rows, hall_changes
from sinks.assessment.publication import decide_appeal, file_appeal, get_appeal, list_appeals, preview_appeal
from sinks.assessment.publication import publish as publish_period
from sinks.assessment.rows import LEVELS
from sinks.assessment.scheme import load_scheme
from sinks.assessment.times import local_iso
from sinks.assessment.versions import PublicationError, get_version, list_versions
from sinks.assessment.xlsx import render_xlsx
from sinks.migrate import apply_migrations
from sinks.store import ProxyStore, StoreError, open_store

FORMATS = ("table", "csv", "xlsx", "json", "html", "pdf")


@contextmanager
def _store(settings: Settings):
    """The store, with the assessment tables in place (idempotent; through a running sink's
    proxy, which takes no DDL, the sink has applied them), closed afterwards;
    rule and store errors become CLI messages rather than tracebacks."""
    try:
        store = open_store(settings)
    except StoreError as e:
        raise click.ClickException(str(e)) from None
    try:
        if not isinstance(store, ProxyStore):  # a running sink applied them when it started
            apply_migrations(store, settings.store.ttl_months)
        yield store
    except (PublicationError, StoreError, ValueError) as e:
        raise click.ClickException(str(e)) from None
    finally:
        store.close()


def _period(text: str) -> Period:
    try:
        return Period.parse(text)
    except ValueError as e:
        raise click.BadParameter(f"{e} (give a month 2026-10, a quarter 2026-Q3 or a year 2026)",
                                 param_hint="--period") from None


_STORED_DAYS = """
SELECT countIf(day >= {from_day:Date} AND day < {to_day:Date}) AS in_period,
       count() AS stored, min(day) AS first, max(day) AS last
FROM day_metrics WHERE category = 'all'
"""


def require_facts(store, p: Period) -> None:
    """A live assessment of a period with no stored day says why, instead of printing
    an empty table (exit 1: the caller asked for an assessment and gets none)."""
    in_period, stored, first, last = store.query(
        _STORED_DAYS, {"from_day": p.from_day, "to_day": p.to_day}, readonly=True).rows[0]
    if in_period:
        return
    span = f"{p} ({p.from_day.isoformat()} to {(p.to_day - timedelta(days=1)).isoformat()})"
    if not stored:
        raise OperatorError(f"no facts stored for {span}: the store holds none yet; run the sink and the "
                            "workers (hallpulse sink, hallpulse worker) and feed them events")
    raise OperatorError(f"no facts stored for {span}; the store holds days {first} to {last}: "
                        "give a --period in that range")


def _scheme(settings: Settings):
    try:
        return load_scheme(settings.path(settings.assessment_file))
    except (OSError, ValueError) as e:
        raise click.ClickException(f"assessment scheme {settings.assessment_file}: {e}") from None


def _emit(data: str | bytes, out: str | None) -> None:
    if out:
        p = Path(out)
        if isinstance(data, bytes):
            p.write_bytes(data)
        else:
            # A BOM lets spreadsheet programs read Chinese CSV correctly.
            p.write_text(data, encoding="utf-8-sig" if p.suffix.lower() == ".csv" else "utf-8")
        click.echo(f"wrote {p}", err=True)
    elif isinstance(data, bytes):
        click.get_binary_stream("stdout").write(data)
    else:
        click.echo(data, nl=not data.endswith("\n"))


@click.command("assess")
@click.option("--period", required=True, help="2026-10 (month), 2026-Q3 (quarter) or 2026 (year).")
@click.option("--level", type=click.Choice(LEVELS), default="hall", show_default=True)
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
@click.option("--out", type=click.Path(dir_okay=False), help="Write to this file instead of stdout.")
@click.option("--version", "version", type=click.IntRange(min=1),
              help="A published version; without it the assessment is computed live.")
@click.pass_obj
def assess(settings: Settings, period: str, level: str, fmt: str, lang: str, out: str | None,
           version: int | None) -> None:
    """Assess every hall for a period (考核): scores, grades, ranks, flags, and each
    hall's data-quality figures (inferred calls, expired visits, silent minutes, late
    events; shown, never scored)."""
    p = _period(period)
    if fmt in ("xlsx", "pdf") and not out and sys.stdout.isatty():
        raise click.UsageError(f"--format {fmt} needs --out FILE (or redirect stdout)")
    with _store(settings) as store:  # live results read the versions too (failure flags)
        if version is None:
            require_facts(store, p)
            report = live_report(store, _scheme(settings), p)
        else:
            info = get_version(store, str(p), version)
            if info is None:
                known = ", ".join(str(v.version) for v in list_versions(store, str(p))) or "none"
                raise click.ClickException(f"{p} has no published version {version} (published: {known})")
            report = published_report(info)
    if fmt == "table":
        _emit(render_table(report, level, lang), out)
    elif fmt == "csv":
        _emit(render_csv(report, level, lang), out)
    elif fmt == "json":
        _emit(render_json(report, level), out)
    elif fmt == "xlsx":
        _emit(render_xlsx(report, lang), out)
    elif fmt == "pdf":  # the 公示: the HTML report printed A4 landscape by headless Chromium
        try:
            _emit(html_to_pdf(render_html(report, level, lang)), out)
        except PdfError as e:
            raise click.ClickException(str(e)) from None
    else:
        _emit(render_html(report, level, lang), out)


@click.command("publish")
@click.option("--period", required=True)
@click.option("--by", "by", required=True, help="Who publishes (recorded).")
@click.option("--reason", default="", help="Note recorded with the version.")
@click.option("--force", is_flag=True,
              help="Publish a period that has not ended yet (Asia/Shanghai); the version records it.")
@click.pass_obj
def publish(settings: Settings, period: str, by: str, reason: str, force: bool) -> None:
    """Freeze a period's results as version 1 (结果公示), once the period has ended."""
    p = _period(period)
    with _store(settings) as store:
        info = publish_period(store, _scheme(settings), p, by, reason, force=force)
    click.echo(f"published {info.period} version {info.version} "
               f"({len(info.results['halls'])} halls) by {info.published_by} at {local_iso(info.published_at)}"
               + (f" -- FORCED before the period ended at {local_iso(p.ends_at)} (recorded)" if info.forced else ""))


def _interval(text: str) -> tuple[datetime, datetime]:
    try:
        a, b = text.split("..", 1)
        start, end = datetime.fromisoformat(a.strip()), datetime.fromisoformat(b.strip())
    except ValueError:
        raise click.BadParameter("expected FROM..TO as ISO datetimes with offset, e.g. "
                                 "2026-10-08T09:00+08:00..2026-10-08T11:00+08:00", param_hint="--exclude") from None
    if start.tzinfo is None or end.tzinfo is None:
        raise click.BadParameter("both datetimes need an explicit UTC offset (e.g. +08:00)", param_hint="--exclude")
    return start, end


@click.group("appeal", invoke_without_command=True)
@click.option("--period", help="Period appealed against.")
@click.option("--hall", "hall_id", help="Hall that appeals.")
@click.option("--exclude", "exclude", help="Interval to exclude: FROM..TO (ISO datetimes with offset).")
@click.option("--exclude-survey", "survey_id", help="Survey event_id to exclude.")
@click.option("--reason", help="Why (recorded).")
@click.option("--by", "by", help="Who files it (recorded).")
@click.pass_context
def appeal(ctx: click.Context, period: str | None, hall_id: str | None, exclude: str | None,
           survey_id: str | None, reason: str | None, by: str | None) -> None:
    """File an appeal (申诉) against a published period, or manage appeals:
    decide (--accept | --reject, --dry-run), list."""
    if ctx.invoked_subcommand is not None:
        return
    missing = [n for n, v in (("--period", period), ("--hall", hall_id), ("--reason", reason), ("--by", by)) if not v]
    if missing:
        raise click.UsageError(f"missing {', '.join(missing)}")
    if bool(exclude) == bool(survey_id):
        raise click.UsageError("give exactly one of --exclude FROM..TO or --exclude-survey ID")
    p = _period(period)
    interval = _interval(exclude) if exclude else None
    with _store(ctx.obj) as store:
        a = file_appeal(store, p, hall_id, by, reason, interval=interval, survey_id=survey_id)
    click.echo(a.appeal_id)


def _decide(settings: Settings, appeal_id: str, decision: str, by: str, reason: str, dry_run: bool,
            lang: str = "zh") -> None:
    reviewers = _scheme(settings).appeals.reviewers
    with _store(settings) as store:
        if dry_run:
            a = get_appeal(store, appeal_id)
            if decision == "rejected":
                preview_appeal(store, appeal_id, by, reviewers)  # the same checks, nothing written
                click.echo(f"dry run: rejecting appeal {appeal_id} publishes nothing; no hall changes")
                return
            nxt = preview_appeal(store, appeal_id, by, reviewers)
            changes = hall_changes(nxt.latest.results, nxt.report)
            click.echo(f"dry run: accepting appeal {appeal_id} ({a.hall_id}, {a.reason}; filed by {a.filed_by} "
                       f"at {local_iso(a.filed_at)}) would publish {a.period} version {nxt.latest.version + 1} "
                       f"after version {nxt.latest.version}; nothing is written.")
            click.echo(f"{len(changes)} hall(s) change (appeals applied, and any data that arrived since "
                       f"version {nxt.latest.version}):")
            if changes:
                headers, rows = change_rows(changes, lang)
                t = Table(show_lines=False)
                for h in headers:
                    t.add_column(h, no_wrap=True)
                for r in rows:
                    t.add_row(*r)
                Console(width=200).print(t)
            return
        out = decide_appeal(store, appeal_id, decision, by, reason, reviewers)
    if decision == "accepted":
        click.echo(f"appeal {appeal_id} accepted by {out.published_by}; published {out.period} version "
                   f"{out.version} at {local_iso(out.published_at)} (appeals applied: {', '.join(out.appeal_ids)})")
    else:
        click.echo(f"appeal {out.appeal_id} rejected by {out.decided_by} at {local_iso(out.decided_at)}")


@appeal.command("decide")
@click.argument("appeal_id")
@click.option("--accept", "decision", flag_value="accepted", help="Accept: publish the next version.")
@click.option("--reject", "decision", flag_value="rejected", help="Reject (logged; no new version).")
@click.option("--by", "by", required=True,
              help="Who decides: a reviewer of config/assessment.toml [appeals], never the filer.")
@click.option("--reason", default="", help="Why (recorded; required to reject).")
@click.option("--dry-run", is_flag=True,
              help="Show each affected hall's score, grade and ranks before -> after; write nothing.")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
@click.pass_obj
def appeal_decide(settings: Settings, appeal_id: str, decision: str | None, by: str, reason: str, dry_run: bool,
                  lang: str) -> None:
    """Decide an appeal: --accept publishes the next version without the excluded data,
    --reject logs it. Refused when --by filed the appeal or is not a reviewer."""
    if decision is None:
        raise click.UsageError("give --accept or --reject")
    _decide(settings, appeal_id, decision, by, reason, dry_run, lang)


@appeal.command("accept", hidden=True)
@click.argument("appeal_id")
@click.option("--by", "by", required=True)
@click.option("--reason", default="", help="Why it is accepted (recorded).")
@click.option("--dry-run", is_flag=True)
@click.pass_obj
def appeal_accept(settings: Settings, appeal_id: str, by: str, reason: str, dry_run: bool) -> None:
    """Alias of ``appeal decide ID --accept``."""
    _decide(settings, appeal_id, "accepted", by, reason, dry_run)


@appeal.command("reject", hidden=True)
@click.argument("appeal_id")
@click.option("--by", "by", required=True)
@click.option("--reason", required=True, help="Why it is rejected (recorded).")
@click.pass_obj
def appeal_reject(settings: Settings, appeal_id: str, by: str, reason: str) -> None:
    """Alias of ``appeal decide ID --reject``."""
    _decide(settings, appeal_id, "rejected", by, reason, False)


@appeal.command("list")
@click.option("--period", required=True)
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
@click.pass_obj
def appeal_list(settings: Settings, period: str, fmt: str, lang: str) -> None:
    """The appeals of a period with their current status."""
    p = _period(period)
    with _store(settings) as store:
        appeals = list_appeals(store, str(p))
    if fmt == "json":
        click.echo(json.dumps([a.as_dict() for a in appeals], ensure_ascii=False, indent=2))
        return
    L = labels(lang)
    t = Table(title=f"{p.label(lang)} · {len(appeals)}")
    for h in (L["appeal_id"], L["level.hall"], L["exclusion"], L["reason"], L["filed_by"], L["filed_at"],
              L["status"], L["decided_by"], L["decided_at"], L["version"]):
        t.add_column(h, overflow="fold")
    for a in appeals:
        what = (f"{L['survey']} {a.survey_id}" if a.kind == "survey"
                else f"{local_iso(a.exclude_from)} .. {local_iso(a.exclude_to)}")
        t.add_row(a.appeal_id, a.hall_id, what, a.reason, a.filed_by, local_iso(a.filed_at),
                  L[f"status.{a.status}"], a.decided_by, local_iso(a.decided_at),
                  str(a.decided_version or ""))
    Console(width=200).print(t)

