"""Speed benchmark of the period assessment (docs/assessment.md has the figures).

Fills an embedded chDB store with synthetic *facts* of N halls over D days, as the sink
stores them (visits, wait_segments, transactions, visit_events, customer and audit
surveys; generated inside ClickHouse with INSERT … SELECT … FROM numbers(…) and
deterministic pseudo-random values, bench/sql/*.sql), derives the minute, hour and day
aggregates from them with the sink's own SQL (sinks/queries/rollup_minute.sql,
rollup_hour.sql, rollup_day.sql, bound as sinks/facts.py FactWriter._rollups binds them,
for the (hall, hour) and (hall, day) pairs the facts touch), then times the monthly and
the annual assessment of all halls and the rendering of the monthly report.

    PYTHONPATH=. python bench/bench_assessment.py --halls 300 --days 31 --max-threads 1
    PYTHONPATH=. python bench/bench_assessment.py --halls 3000 --days 31 --start 2026-12-01 \
        --fill-rest-of-year-directly --path /tmp/bench-chdb

Rolling a year of facts up for 3,000 halls takes far longer than a benchmark run (the
roll-ups took 0.17–0.27 s per hall-month on 2 cores, docs/assessment.md), so ``--fill-rest-of-year-directly``
copies the rolled-up day rows to the other days of the assessed year (and so to the
months before the assessed one, which the failure flags read), printed as DIRECT day
rows: the annual assessment then reads a full year of day_metrics.

Not filled: minute_gauges (the queue gauges; the assessment reads none), transfers,
late events, expired visits and inferred calls (every synthetic visit is a clean
issued → called → started → tx, or issued → called → no_show).
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from functools import cache
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hallpulse.config import Settings  # noqa: E402
from sinks.assessment.engine import compute_report  # noqa: E402
from sinks.assessment.formats import render_json  # noqa: E402
from sinks.assessment.indicators import Exclusions, Interval, hall_figures  # noqa: E402
from sinks.assessment.periods import SHANGHAI, Period  # noqa: E402
from sinks.assessment.report_html import render_html  # noqa: E402
from sinks.assessment.scheme import load_scheme  # noqa: E402
from sinks.assessment.scoring import assess  # noqa: E402
from sinks.assessment.xlsx import render_xlsx  # noqa: E402
from sinks.migrate import apply_migrations  # noqa: E402
from sinks.sql import load_sql, strip_comments  # noqa: E402
from sinks.store import Store, open_store  # noqa: E402
from streams.alerts import load_alert_rules  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SQL_DIR = Path(__file__).resolve().parent / "sql"
VERSION = 1_000_000  # the roll-ups' version column (the sink uses its clock in microseconds)
FACT_FILLS = ("visits", "wait_segments", "transactions", "visit_events", "surveys_customer")
FACT_TABLES = ("visits", "wait_segments", "transactions", "visit_events", "surveys")


@cache

def business_date(hour: datetime):
    """The business day (Asia/Shanghai) of an hour the store returns in UTC."""
    return (hour if hour.tzinfo else hour.replace(tzinfo=timezone.utc)).astimezone(SHANGHAI).date()

def bench_sql(name: str) -> str:
    """The text of ``bench/sql/<name>.sql`` without its comment lines."""
    return strip_comments((SQL_DIR / f"{name}.sql").read_text(encoding="utf-8"))


def hall_ids(halls: int) -> list[str]:
    return [f"BM-{i:05d}" for i in range(halls)]


def shanghai_midnight_utc(d: date) -> datetime:
    """The UTC instant (naive) a business day in Asia/Shanghai starts."""
    return datetime(d.year, d.month, d.day, tzinfo=SHANGHAI).astimezone(timezone.utc).replace(tzinfo=None)


def months(first: date, last_excl: date):
    d = date(first.year, first.month, 1)
    while d < last_excl:
        nxt = date(d.year + (d.month == 12), d.month % 12 + 1, 1)
        yield max(d, first), min(nxt, last_excl)
        d = nxt


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(fn, runs: int) -> tuple[list[float], object]:
    out, times = None, []
    for _ in range(runs):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return times, out


def fill_facts(store: Store, halls: int, first: date, last_excl: date, *, opens: str = "08:30",
               open_minutes: int = 600, chunk_halls: int = 1000, log=print) -> dict[str, int]:
    """Write the synthetic facts of halls BM-00000… over [first, last_excl): the hall
    catalogue, then per month and group of ``chunk_halls`` halls the visits (into the
    scratch table bench_visit_src) and from them every fact table, and the audit surveys.
    Returns the rows written per table."""
    h, m = divmod(opens_minute(opens) + open_minutes, 60)
    store.command(bench_sql("halls"), {"halls": halls, "opens": opens, "closes": f"{h:02d}:{m:02d}"})
    store.command(bench_sql("visit_source_create"))
    before = table_counts(store, FACT_TABLES)
    for m_from, m_to in months(first, last_excl):
        t = time.perf_counter()
        for h_from in range(0, halls, chunk_halls):
            chunk = {"h_from": h_from, "halls": min(chunk_halls, halls - h_from), "first": m_from,
                     "days": (m_to - m_from).days}
            store.command("TRUNCATE TABLE bench_visit_src")
            store.command(bench_sql("visit_source"), {**chunk, "opens": opens, "open_minutes": open_minutes})
            for name in FACT_FILLS:
                store.command(bench_sql(name))
            store.command(bench_sql("surveys_audit"), chunk)
        log(f"  facts {m_from:%Y-%m}: {time.perf_counter() - t:.1f} s")
    store.command("DROP TABLE bench_visit_src")
    after = table_counts(store, FACT_TABLES)
    return {t: after[t] - before[t] for t in FACT_TABLES}


def opens_minute(hhmm: str) -> int:
    h, m = hhmm.split(":")
    return int(h) * 60 + int(m)


def table_counts(store: Store, tables) -> dict[str, int]:
    return {t: int(store.query(f"SELECT count() FROM {t}").rows[0][0]) for t in tables}


def run_rollups(store: Store, halls: int, first: date, last_excl: date, *, silent_after_s: float,
                group: int = 60, span_days: int = 31, log=print) -> dict[str, int]:
    """Derive minute_metrics, hour_metrics and day_metrics from the stored facts with the
    sink's SQL (sinks/queries/rollup_*.sql) and its parameters (FactWriter._rollups): per
    span of up to ``span_days`` days (within a month) and group of ``group`` halls, the
    (hall, hour) and (hall, day) pairs the facts touch are the keys; ``now`` is the end of
    the span, so every day is closed. Returns
    the (hall, hour) and (hall, day) keys rolled up."""
    ids = hall_ids(halls)
    n_hours = n_days = 0
    for m_from, m_to in months(first, last_excl):
        t = time.perf_counter()
        for g, (s_from, s_to) in ((g, sp) for sp in spans(m_from, m_to, span_days) for g in range(0, halls, group)):
            lo, hi = shanghai_midnight_utc(s_from), shanghai_midnight_utc(s_to)
            common = {"halls": ids[g:g + group], "now": hi, "silent_after_s": silent_after_s, "version": VERSION}
            span = {"halls": common["halls"], "lo": lo, "hi": hi}
            hours = [tuple(r) for r in store.query(bench_sql("touched_hours"), span).rows]
            days = sorted({(h, business_date(hour)) for h, hour in hours})
            if hours:
                params = {**common, "lo": lo, "hi": hi, "keys": hours}
                store.command(load_sql("rollup_minute"), params)
                store.command(load_sql("rollup_hour"), params)
            if days:
                store.command(load_sql("rollup_day"), {**common, "lo": lo, "hi": hi, "keys": days})
            n_hours += len(hours)
            n_days += len(days)
        log(f"  roll-ups {m_from:%Y-%m}: {time.perf_counter() - t:.1f} s")
    return {"hours": n_hours, "days": n_days}


def spans(first: date, last_excl: date, days: int):
    d = first
    while d < last_excl:
        yield d, min(d + timedelta(days=days), last_excl)
        d += timedelta(days=days)


def check_rollups(store: Store, first: date, last_excl: date) -> list[tuple]:
    """Hall-days whose day_metrics (category 'all') differ from the facts stored: visits
    issued, called, transactions, customer surveys, audits, complaints. Empty when the
    roll-ups carried every fact."""
    return store.query(bench_sql("check_day_totals"), {"from_day": first, "to_day": last_excl}).rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--path", type=Path, help="directory for the store (default: a temp dir)")
    ap.add_argument("--halls", type=int, default=3000)
    ap.add_argument("--days", type=int, default=31)
    ap.add_argument("--start", default="2026-12-01", help="first business day")
    ap.add_argument("--hours", type=int, default=10, help="open hours a day (from 08:30 Shanghai)")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--month", default=None, help="month to assess (default: the last full month filled)")
    ap.add_argument("--year", default=None, help="year to assess (default: the start's year)")
    ap.add_argument("--skip-fill", action="store_true", help="reuse a store filled by an earlier run (--path)")
    ap.add_argument("--fill-rest-of-year-directly", action="store_true",
                    help="copy the rolled-up day rows to the other days of the assessed year as day rows written "
                         "directly (labelled in the output), to time the annual assessment on a full year")
    ap.add_argument("--max-threads", type=int, default=0,
                    help="SET max_threads on the session (0: the engine's default)")
    ap.add_argument("--chunk-halls", type=int, default=1000, help="halls per fill statement")
    ap.add_argument("--rollup-halls", type=int, default=60, help="halls per roll-up statement")
    args = ap.parse_args()

    t_start = time.perf_counter()
    var = args.path or Path(tempfile.mkdtemp(prefix="bench-assess-"))
    settings = Settings(var_dir=var)
    store = open_store(settings, hold=True)
    apply_migrations(store, 36)
    if args.max_threads:
        store.command(f"SET max_threads = {int(args.max_threads)}")
    first = date.fromisoformat(args.start)
    last_excl = first + timedelta(days=args.days)
    silent_after_s = load_alert_rules(ROOT / "config" / "alerts.toml").default.silent_after_min * 60
    print(f"store {settings.chdb_path}; {args.halls} halls x {args.days} days ({first}..{last_excl - timedelta(days=1)}), "
          f"{args.hours} open hours from 08:30 Shanghai; max_threads {args.max_threads or 'default'}")

    if not args.skip_fill:
        t0 = time.perf_counter()
        written = fill_facts(store, args.halls, first, last_excl, open_minutes=args.hours * 60,
                             chunk_halls=args.chunk_halls)
        fill_s = time.perf_counter() - t0
        rows = sum(written.values())
        print(f"facts: {rows:,} rows in {fill_s:.1f} s ({rows / fill_s / 1e6:.2f} M rows/s): "
              + ", ".join(f"{t} {n:,}" for t, n in written.items()), flush=True)
        t0 = time.perf_counter()
        keys = run_rollups(store, args.halls, first, last_excl, silent_after_s=silent_after_s, group=args.rollup_halls)
        rollup_s = time.perf_counter() - t0
        print(f"roll-ups minute -> hour -> day (sinks/queries/rollup_*.sql): {rollup_s:.1f} s for "
              f"{keys['hours']:,} (hall, hour) and {keys['days']:,} (hall, day) keys", flush=True)
        t0 = time.perf_counter()
        bad = check_rollups(store, first, last_excl)
        print(f"check: {len(bad)} hall-days whose day_metrics differ from the facts ({time.perf_counter() - t0:.1f} s)"
              + (f"; first: {bad[0]}" if bad else ""), flush=True)

    year = Period.parse(args.year or f"{first.year}")
    direct = 0
    if args.fill_rest_of_year_directly and not args.skip_fill:
        t = time.perf_counter()
        before = table_counts(store, ("day_metrics",))["day_metrics"]
        store.command(bench_sql("day_rows_direct"), {"first": first, "last_excl": last_excl,
                                                     "year_from": year.from_day, "year_to": year.to_day})
        direct = table_counts(store, ("day_metrics",))["day_metrics"] - before
        print(f"DIRECT day rows (copied from the rolled-up days, not from facts) for the days of {year} outside "
              f"{first}..{last_excl - timedelta(days=1)}: {direct:,} rows in {time.perf_counter() - t:.1f} s", flush=True)
    counts = table_counts(store, ("minute_metrics", "hour_metrics", "day_metrics"))
    print("rows: " + ", ".join(f"{t} {c:,}" for t, c in counts.items()))

    scheme = load_scheme(ROOT / "config" / "assessment.toml")
    last_full = last_excl.replace(day=1) - timedelta(days=1)
    month = Period.parse(args.month or f"{last_full:%Y-%m}")
    covered = f"{first}..{last_excl - timedelta(days=1)}"
    for label, period, target in (("month", month, 1.0), ("year", year, 3.0)):
        partial = "" if (first <= period.from_day and period.to_day <= last_excl) else \
            f" [facts cover only {covered} of {period.from_day}..{period.to_day - timedelta(days=1)}" + \
            ("; the other days are DIRECT day rows]" if args.fill_rest_of_year_directly else "]")
        alone, _ = timed(lambda p=period: assess(scheme, hall_figures(store, p)), args.runs)
        times, report = timed(lambda p=period: compute_report(store, scheme, p), args.runs)
        graded = sum(h["total"] is not None for h in report["halls"])
        grades: dict = {}
        for h in report["halls"]:
            grades[h["grade"]] = grades.get(h["grade"], 0) + 1
        totals = [h["total"] for h in report["halls"] if h["total"] is not None]
        spread = (f"total min {min(totals):.1f} / median {statistics.median(totals):.1f} / max {max(totals):.1f}, "
                  f"NaN {sum(t != t for t in totals)}") if totals else "no totals"
        print(f"assess {label} {period}{partial}: {len(report['halls'])} halls ({graded} graded; {grades}; {spread}); "
              f"p50 {statistics.median(times):.3f} s, max {max(times):.3f} s over {args.runs} runs "
              f"(target <= {target:.0f} s; with the two previous periods computed live for the failure flags); "
              f"the period alone: p50 {statistics.median(alone):.3f} s, max {max(alone):.3f} s", flush=True)
        if label == "month":
            # The recomputation after appeals: five halls with a 2-hour interval excluded
            # each (minute_metrics scanned for them) plus two surveys.
            day = period.from_day + timedelta(days=7)
            t9 = datetime(day.year, day.month, day.day, 9, tzinfo=SHANGHAI)
            ex = Exclusions([Interval(f"BM-{i:05d}", t9, t9 + timedelta(hours=2))
                             for i in range(0, args.halls, max(1, args.halls // 5))][:5],
                            [("BM-00001", "no-such-survey-1"), ("BM-00002", "no-such-survey-2")])
            times_ex, _ = timed(lambda p=period: compute_report(store, scheme, p, ex), args.runs)
            print(f"assess month {period} with 5 interval + 2 survey exclusions: p50 {statistics.median(times_ex):.3f} s, "
                  f"max {max(times_ex):.3f} s", flush=True)
            live = {**report, "version": None, "published_at": None, "published_by": None, "reason": "",
                    "appeals": [], "scheme": scheme.model_dump()}
            for fmt, render in (("html", lambda: render_html(live, "hall", "zh")), ("xlsx", lambda: render_xlsx(live, "zh")),
                                ("json", lambda: render_json(live, "hall"))):
                t = time.perf_counter()
                size = len(render())
                print(f"render {fmt} of {len(live['halls'])} halls: {time.perf_counter() - t:.2f} s, {size / 1e6:.1f} MB")
    print(f"peak RSS {rss_mb():.0f} MB; wall {time.perf_counter() - t_start:.0f} s")
    store.close()


if __name__ == "__main__":
    main()
