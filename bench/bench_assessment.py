"""Speed benchmark of the period assessment (docs/assessment.md has the figures).

Fills an embedded chDB store with minute aggregates of N halls over D days (generated
inside ClickHouse with INSERT … SELECT … FROM numbers(…) and deterministic
pseudo-random values), builds the hour and day roll-ups with the repo's
sinks/queries/rollup_hour.sql and rollup_day.sql (all halls bound, chunked by month),
then times the monthly and the annual assessment of all halls.

    PYTHONPATH=. python bench/bench_assessment.py                 # 3,000 halls x 365 days
    PYTHONPATH=. python bench/bench_assessment.py --halls 300 --days 92 --path /tmp/bench-chdb

Only category 'all' is generated: the assessment reads nothing else, and per-category
rows would multiply the fill time by nine without touching the timed queries' plan
(they filter on the sort key's prefix (hall_id, category)).
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
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
from sinks.sql import load_sql  # noqa: E402
from sinks.store import open_store  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent

# One row per hall x open minute of [from_day, from_day + days). Row n: hall = n / (days*M),
# day and minute from the rest, so rows arrive in the table's sort order. r is one
# 64-bit hash of n; disjoint bit fields of it drive the counts, and a per-hall quality q
# (0..99) spreads the halls over the grades.
FILL_SQL = """
INSERT INTO minute_metrics
SELECT hall_id, 'all', minute,
       issued, issued - abandoned AS visits_served, abandoned, 0 AS transfers,
       issued AS called, called - late AS within_target,
       called * (120 + (bitShiftRight(r, 8) % 240) + 6 * q) AS wait_sum_s,
       called * (300 + 30 * q) AS wait_max_s,
       visits_served AS transactions, transactions * 420.0 AS handle_sum_s,
       transactions * (0.85 + ((bitShiftRight(r, 16) % 40) + q / 2) / 100) AS handle_ratio_sum,
       transactions AS first_contact,
       csat_n, csat_n * (10 - (bitShiftRight(r, 24) % (2 + intDiv(q, 20)))) AS csat_sum, 0 AS csat_satisfied,
       audit_n, audit_n * (100 - (bitShiftRight(r, 32) % (10 + q / 2))) AS audit_sum,
       complaints, 0 AS complaints_escalated,
       bitShiftRight(r, 40) % 12 AS queue_len, 0 AS longest_wait_s, 3 AS active_counters, 0 AS est_wait_s,
       1 AS version
FROM
(
    SELECT number AS n,
           intDiv(n, {per_hall:UInt64}) AS h,
           concat('BM-', leftPad(toString(h), 5, '0')) AS hall_id,
           cityHash64(h) % 100 AS q,
           toDateTime({start:DateTime}, 'UTC') + toIntervalDay(intDiv(n % {per_hall:UInt64}, {minutes:UInt64}))
               + toIntervalMinute(n % {minutes:UInt64}) AS minute,
           cityHash64(n, {seed:UInt64}) AS r,
           r % 3 AS issued,
           if(bitShiftRight(r, 2) % 100 < 1 + q / 25, least(issued, 1), 0) AS abandoned,
           if(bitShiftRight(r, 44) % 100 < 2 + q / 3, least(issued, 1), 0) AS late,
           if(bitShiftRight(r, 50) % 6 = 0, 1, 0) AS csat_n,
           if(bitShiftRight(r, 54) % 3000 = 0, 1, 0) AS audit_n,
           if(bitShiftRight(r, 4) % (4000 - 30 * q) = 0, 1, 0) AS complaints
    FROM numbers({rows:UInt64})
)
"""

# Day rows written directly (only with --fill-rest-of-year-directly): the same
# distributions as FILL_SQL summed over a day's open minutes, for the days of the assessed
# year that the minute fill did not cover, so the annual assessment reads a full year of
# day_metrics even when a full year of minutes cannot be filled in time.
DAY_FILL_SQL = """
INSERT INTO day_metrics
SELECT hall_id, 'all', day,
       issued, issued - abandoned, abandoned, 0, issued, issued - late,
       issued * (240 + 6 * q), issued * (300 + 30 * q),
       issued - abandoned, (issued - abandoned) * 420.0,
       (issued - abandoned) * (1.05 + q / 200), issued - abandoned,
       csat_n, csat_n * (10 - (1 + intDiv(q, 20)) / 2), 0,
       audit_n, audit_n * (100 - (10 + q / 2) / 2), complaints, 0,
       12, 0, 0, 1
FROM
(
    SELECT intDiv(number, {days:UInt64}) AS h,
           concat('BM-', leftPad(toString(h), 5, '0')) AS hall_id,
           cityHash64(h) % 100 AS q,
           addDays({first:Date}, number % {days:UInt64}) AS day,
           cityHash64(number, 7) AS r,
           {minutes:UInt64} - 10 + r % 21 AS issued,
           intDiv(issued * (1 + q / 25), 100) AS abandoned,
           intDiv(issued * (2 + q / 3), 100) AS late,
           intDiv(issued, 6) AS csat_n,
           if(bitShiftRight(r, 20) % 5 = 0, 1, 0) AS audit_n,
           if(bitShiftRight(r, 30) % 100 < 15 + q / 5, 1, 0) AS complaints
    FROM numbers({rows:UInt64})
    WHERE day NOT BETWEEN {skip_from:Date} AND {skip_to:Date}
)
"""

ROLLUP_SETTINGS = "\nSETTINGS do_not_merge_across_partitions_select_final = 1"

HALLS_SQL = """
INSERT INTO halls
SELECT concat('BM-', leftPad(toString(number), 5, '0')), concat('营业厅 ', toString(number)),
       concat('Hall ', toString(number)), concat('城市', toString(number % 13)), '基准省', 'standard',
       8, '08:30', toString({closes:String}), now64(3)
FROM numbers({halls:UInt64})
"""


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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--path", type=Path, help="directory for the store (default: a temp dir)")
    ap.add_argument("--halls", type=int, default=3000)
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--start", default="2026-01-01", help="first business day")
    ap.add_argument("--hours", type=int, default=10, help="open hours a day (from 08:30 Shanghai)")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--month", default=None, help="month to assess (default: the last full month filled)")
    ap.add_argument("--year", default=None, help="year to assess (default: the start's year)")
    ap.add_argument("--skip-fill", action="store_true", help="reuse a store filled by an earlier run (--path)")
    ap.add_argument("--fill-rest-of-year-directly", action="store_true",
                    help="write day_metrics rows directly for the days of the assessed year outside the minute "
                         "fill (labelled in the output), to time the annual assessment on a full year")
    args = ap.parse_args()

    var = args.path or Path(tempfile.mkdtemp(prefix="bench-assess-"))
    settings = Settings(var_dir=var)
    store = open_store(settings, hold=True)
    apply_migrations(store, 36)
    first = date.fromisoformat(args.start)
    last_excl = first + timedelta(days=args.days)
    minutes = args.hours * 60
    print(f"store {settings.chdb_path}; {args.halls} halls x {args.days} days x {minutes} open minutes")

    if not args.skip_fill:
        t0 = time.perf_counter()
        closes = f"{8 + args.hours:02d}:30"
        store.command(HALLS_SQL, {"halls": args.halls, "closes": closes})
        rows = 0
        for m_from, m_to in months(first, last_excl):
            days = (m_to - m_from).days
            open_at = datetime(m_from.year, m_from.month, m_from.day, 8, 30, tzinfo=SHANGHAI).astimezone(timezone.utc)
            n = args.halls * days * minutes
            t = time.perf_counter()
            store.command(FILL_SQL, {"per_hall": days * minutes, "minutes": minutes, "rows": n,
                                     "start": open_at.replace(tzinfo=None), "seed": m_from.toordinal()})
            rows += n
            print(f"  minutes {m_from:%Y-%m}: {n:,} rows in {time.perf_counter() - t:.1f} s", flush=True)
        fill_s = time.perf_counter() - t0

        t0 = time.perf_counter()
        halls = [f"BM-{i:05d}" for i in range(args.halls)]
        for m_from, m_to in months(first, last_excl):
            a = datetime(m_from.year, m_from.month, m_from.day, tzinfo=SHANGHAI).astimezone(timezone.utc)
            b = datetime(m_to.year, m_to.month, m_to.day, tzinfo=SHANGHAI).astimezone(timezone.utc)
            # One month = one partition, and the partition key is in the sort key, so FINAL
            # need not merge across partitions: same result, less work.
            store.command(load_sql("rollup_hour") + ROLLUP_SETTINGS,
                          {"halls": halls, "from": a.replace(tzinfo=None), "to": b.replace(tzinfo=None), "version": 1})
            store.command(load_sql("rollup_day") + ROLLUP_SETTINGS,
                          {"halls": halls, "from_day": m_from, "to_day": m_to, "version": 1})
            print(f"  roll-ups {m_from:%Y-%m} done at {time.perf_counter() - t0:.1f} s", flush=True)
        rollup_s = time.perf_counter() - t0
        print(f"fill: {rows:,} minute rows in {fill_s:.1f} s ({rows / fill_s / 1e6:.2f} M rows/s); "
              f"roll-ups: {rollup_s:.1f} s")

    year = Period.parse(args.year or f"{first.year}")
    if args.fill_rest_of_year_directly and not args.skip_fill:
        t = time.perf_counter()
        ydays = (year.to_day - year.from_day).days
        store.command(DAY_FILL_SQL, {"days": ydays, "first": year.from_day, "minutes": minutes,
                                     "rows": args.halls * ydays, "skip_from": first,
                                     "skip_to": last_excl - timedelta(days=1)})
        direct = store.query("SELECT count() FROM day_metrics WHERE day NOT BETWEEN {a:Date} AND {b:Date}",
                             {"a": first, "b": last_excl - timedelta(days=1)}).rows[0][0]
        print(f"day rows written directly (not from minutes) for {year} outside {first}..{last_excl - timedelta(days=1)}: "
              f"{direct:,} in {time.perf_counter() - t:.1f} s")

    counts = {t: store.query(f"SELECT count() FROM {t}").rows[0][0] for t in ("minute_metrics", "hour_metrics", "day_metrics")}
    print("rows: " + ", ".join(f"{t} {c:,}" for t, c in counts.items()))

    scheme = load_scheme(ROOT / "config" / "assessment.toml")
    last_full = last_excl.replace(day=1) - timedelta(days=1)
    month = Period.parse(args.month or f"{last_full:%Y-%m}")
    for label, period, target in (("month", month, 1.0), ("year", year, 3.0)):
        alone, _ = timed(lambda p=period: assess(scheme, hall_figures(store, p)), args.runs)
        times, report = timed(lambda p=period: compute_report(store, scheme, p), args.runs)
        graded = sum(h["total"] is not None for h in report["halls"])
        grades = {}
        for h in report["halls"]:
            grades[h["grade"]] = grades.get(h["grade"], 0) + 1
        print(f"assess {label} {period}: {len(report['halls'])} halls ({graded} graded; {grades}); "
              f"p50 {statistics.median(times):.3f} s, max {max(times):.3f} s over {args.runs} runs "
              f"(target <= {target:.0f} s; with the two previous periods computed live for the failure flags); "
              f"the period alone: p50 {statistics.median(alone):.3f} s, max {max(alone):.3f} s", flush=True)
        if label == "month":
            # The recomputation after appeals: five halls with a 2-hour interval excluded
            # each (minute_metrics scanned for them) plus two surveys.
            day = period.from_day + timedelta(days=7)
            t9 = datetime(day.year, day.month, day.day, 9, tzinfo=SHANGHAI)
            ex = Exclusions([Interval(f"BM-{i:05d}", t9, t9 + timedelta(hours=2)) for i in range(0, args.halls, max(1, args.halls // 5))][:5],
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
    print(f"peak RSS {rss_mb():.0f} MB")
    store.close()


if __name__ == "__main__":
    main()
