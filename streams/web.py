"""The worker's web server: the live API, the lobby page, and the store proxy.

* ``GET /api/halls`` — every hall, worst first; ``GET /api/halls/{hall_id}/now`` — one
  hall's live figures and open alerts (documented in docs/api.md).
* ``GET /api/halls/{hall_id}/events`` — the same figures as server-sent events, pushed
  after each processed batch that changed them (streams/live.py); the page polls ``/now``
  when the stream is refused or the hall is held by another worker.
* ``GET /lobby/`` — the lobby manager's page (static files in ``streams/static``);
  ``/lobby`` redirects there.
* ``GET /api/stats`` — counters for operators (processed, duplicates, dead letters).

The store is not here: ``hallpulse sink`` owns it and answers the other commands' SQL.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import faust
from aiohttp import web
from faust.web import Request, Response, View

from streams import faust_fixes
from streams.alerts import AlertRule, current_advice, current_triggers
from streams.live import fallback, stream_hall
from streams.web_server import SECURITY_HEADERS
from streams.windows import SHANGHAI, business_day, opening_interval_ms

STATIC = Path(__file__).resolve().parent / "static"
LEVEL_RANK = {"critical": 2, "warning": 1}


def iso_ms(ms: int | None) -> str | None:
    if not ms:
        return None
    return datetime.fromtimestamp(ms / 1000, SHANGHAI).isoformat(timespec="seconds")


def hall_now(ws, hall_id: str) -> dict | None:
    hall = ws.catalogue.get(hall_id)
    if hall is None:
        return None
    book = ws.engine.books.get(hall_id)
    if book is None:
        snap = {"hall_id": hall_id, "name": hall.name, "name_en": hall.name_en, "city": hall.city,
                "size_class": hall.size_class, "as_of_ms": None,
                "queue": {"waiting": 0, "longest_wait_s": 0.0, "longest_ticket_no": None, "active_counters": 0,
                          "est_wait_s": 0.0},
                "categories": [], "wait_15m": None, "wait_60m": None, "within_target_60m": None,
                "today": None, "satisfaction_60m": None, "complaints_24h": None, "handle": [], "clerks": [],
                "feed": {"silent": False, "silent_since_ms": None, "last_event_ms": None}, "quality_today": None,
                "serving": [], "trend": {"minutes": [], "queue": [], "longest_wait_s": []}}
    else:
        snap = book.snapshot()
    snap["feed"] = feed_status(ws, hall, book, snap["feed"])
    snap["as_of"] = iso_ms(snap["as_of_ms"])
    snap["alerts"] = [open_alert(ws, s) for s in ws.engine.open_alerts(hall_id)]
    return snap


def feed_status(ws, hall, book, feed: dict) -> dict:
    """Silent (数据中断) at the hall's own clock, or now: a hall whose events stopped while
    no tick reaches it any more, or that sent nothing today, is silent in its opening hours
    as well. ``stale`` says the figures shown are older than the silence threshold."""
    now = ws.engine.wall_ms()
    th = ws.engine.rules.for_size_class(hall.size_class)
    silent_after = int(th.silent_after_min * 60_000)
    opens, closes = opening_interval_ms(business_day(now), hall.opens, hall.closes)
    last = feed.get("last_event_ms") or 0
    since = feed.get("silent_since_ms")
    if since is None and opens <= now < closes and now >= max(last, opens) + silent_after:
        since = max(last, opens) + silent_after
    return {"silent": since is not None, "silent_since": iso_ms(since), "last_event_at": iso_ms(last or None),
            "stale": bool(book) and now - book.view_ms >= silent_after}


def open_alert(ws, s) -> dict:
    """An open alert as the API shows it: what fires now, the figures, what to do.

    An alert none of whose conditions holds any more is ``recovering`` (恢复中): it stays
    open until its figures have stayed below 80 % of the thresholds for the close delay
    (domain.md §4); ``figures`` are then the figures now, not those that opened it, and
    ``closes_at`` says when it closes if they stay low (None while they are between 80 %
    and 100 %)."""
    th = ws.engine.rules.for_size_class(ws.catalogue.by_id[s.hall_id].size_class)
    zh, en = current_advice(s, th)
    triggers = current_triggers(s, th)
    recovering = not triggers and s.rule is not AlertRule.feed
    closes = s.below_since + th.close_after if recovering and s.below_since else None
    return {"alert_id": s.alert_id, "rule": s.rule.value, "category": s.category, "level": s.level.value,
            "opened_at": s.opened_at.isoformat(),
            "escalated_at": s.escalated_at.isoformat() if s.escalated_at else None,
            "state": "recovering" if recovering else "firing",
            "below_since": s.below_since.isoformat() if recovering and s.below_since else None,
            "closes_at": closes.isoformat() if closes else None,
            "triggers": triggers,
            "figures": dict(s.last_figures), "suggested_action": zh, "suggested_action_en": en}


def halls_overview(ws) -> list[dict]:
    rows = []
    for hall in ws.catalogue.halls:
        book = ws.engine.books.get(hall.hall_id)
        g = book.gauges_at(book.view_ms)["all"] if book and book.now_ms else None
        alerts = ws.engine.open_alerts(hall.hall_id)
        feed = feed_status(ws, hall, book, book.feed_figures(book.view_ms) if book else {})
        worst = max((a.level.value for a in alerts),
                    key=lambda lv: LEVEL_RANK.get(lv, 0), default=None)
        rows.append({"hall_id": hall.hall_id, "name": hall.name, "name_en": hall.name_en, "city": hall.city,
                     "waiting": g.waiting if g else 0, "longest_wait_s": round(g.longest_wait_s, 1) if g else 0.0,
                     "est_wait_s": round(g.est_wait_s, 1) if g else 0.0, "open_alerts": len(alerts),
                     "worst_level": worst, "as_of": iso_ms(book.view_ms if book else None),
                     "as_of_ms": book.view_ms if book else None,
                     "silent": feed["silent"], "last_event_at": feed["last_event_at"]})
    rows.sort(key=lambda r: (-LEVEL_RANK.get(r["worst_level"], 0), -r["longest_wait_s"], -r["waiting"], r["hall_id"]))
    return rows


def deadletters_by_reason(items) -> dict[str, int]:
    """Sum the per-partition counts (keys ``reason|partition``)."""
    out: dict[str, int] = {}
    for key, n in items:
        reason = key.rsplit("|", 1)[0]
        out[reason] = out.get(reason, 0) + n
    return dict(sorted(out.items()))


def merge_overviews(lists: list[list[dict]]) -> list[dict]:
    """Several workers' hall lists as one: each hall from the worker that holds its state."""
    best: dict[str, dict] = {}
    for rows in lists:
        for r in rows:
            held = best.get(r["hall_id"])
            if held is None or (r.get("as_of") or "") > (held.get("as_of") or ""):
                best[r["hall_id"]] = r
    rows = list(best.values())
    rows.sort(key=lambda r: (-LEVEL_RANK.get(r["worst_level"], 0), -r["longest_wait_s"], -r["waiting"], r["hall_id"]))
    return rows


def register_views(app: faust.App, ws, dead_counts) -> None:
    """The views; with several workers, any of them answers for any hall: a hall's figures
    live in the worker that owns its input partition (Faust's assignment of the tickets
    topic, keyed by hall_id with Kafka's default partitioner), and a request is forwarded
    there (``?local=1`` marks a forwarded one)."""
    me = str(app.conf.canonical_url).rstrip("/")

    def owner_of(hall_id: str) -> str | None:
        try:
            return str(app.assignor.external_key_store(ws.settings.topics.tickets, hall_id.encode())).rstrip("/")
        except (KeyError, AttributeError):  # not assigned yet (a rebalance): answer from here
            return None

    def other_workers() -> set[str]:
        # the members' URLs of the current assignment (partition -> URL of its owner)
        return {str(u).rstrip("/") for u in getattr(app.assignor, "_external_tps_url", {}).values()} - {me}

    async def fetch(url: str) -> tuple[int, dict]:
        async with app.http_client.get(url, timeout=5) as resp:
            return resp.status, await resp.json()

    @app.page("/api/halls")
    class Halls(View):
        async def get(self, request: Request) -> Response:
            newest = max((b.view_ms for b in ws.engine.books.values()), default=0)
            rows = halls_overview(ws)
            if not request.query.get("local"):
                lists = [rows]
                for url in sorted(other_workers()):
                    try:
                        _, other = await fetch(f"{url}/api/halls?local=1")
                    except Exception:  # a worker going away: its halls show without state
                        continue
                    lists.append(other["halls"])
                    newest = max(newest, max((r.get("as_of_ms") or 0 for r in other["halls"]), default=0))
                rows = merge_overviews(lists)
            return self.json({"as_of": iso_ms(newest), "halls": rows})

    @app.page("/api/halls/{hall_id}/now")
    class HallNow(View):
        async def get(self, request: Request, hall_id: str) -> Response:
            owner = None if request.query.get("local") else owner_of(hall_id)
            if owner and owner != me and ws.catalogue.get(hall_id) is not None:
                try:
                    status, data = await fetch(f"{owner}/api/halls/{hall_id}/now?local=1")
                    return self.json(data, status=status)
                except Exception:  # the owner is going away: answer with what is here
                    pass
            data = hall_now(ws, hall_id)
            if data is None:
                return self.json({"error": f"unknown hall {hall_id}"}, status=404)
            return self.json(data)

    @app.page("/api/halls/{hall_id}/events")
    class HallEvents(View):
        """Server-sent events of one hall's ``/now`` figures (docs/api.md). Only the worker
        that holds the hall's state can push its changes: for a hall held by another
        worker the stream says ``event: poll`` and ends, and the page polls ``/now``
        (which this worker forwards). A browser cannot follow the stream to the other
        worker's address: the page may connect to its own origin only (CSP), and no
        response allows another origin (no CORS)."""

        async def get(self, request: Request, hall_id: str):
            if ws.catalogue.get(hall_id) is None:
                return self.json({"error": f"unknown hall {hall_id}"}, status=404)
            owner = owner_of(hall_id)
            if owner and owner != me:
                resp = web.StreamResponse(headers={**SECURITY_HEADERS, "Content-Type": "text/event-stream",
                                                   "Cache-Control": "no-store"})
                await resp.prepare(request)
                await resp.write(fallback("other_worker"))
                return resp
            return await stream_hall(request, ws.signals, hall_id, lambda: hall_now(ws, hall_id),
                                     headers=SECURITY_HEADERS, heartbeat_s=ws.settings.worker.sse_heartbeat_seconds)

    @app.page("/api/stats")
    class Stats(View):
        async def get(self, request: Request) -> Response:
            return self.json({
                "engine": ws.engine.counts,
                "deadletters_by_reason": deadletters_by_reason(dead_counts.items()),
                "facts_sent": ws.facts_sent,
                "halls_with_state": len(ws.engine.books),
                # the agent's batches: how many, and the seconds spent in the engine and in
                # handing their output to the producer (the rest is Faust and waiting)
                "batches": {"count": ws.batches, "engine_s": round(ws.engine_s, 3), "send_s": round(ws.send_s, 3),
                            "skipped_revoked": ws.skipped},
                # exactly-once commits (all of the worker's transactions at once): how many and
                # how long, during which the agent's sends wait
                "commits": {k: round(v, 3) for k, v in faust_fixes.COMMITS.items()},
                # the input partitions this worker owns, and whether their tables are restored
                "partitions": sorted(tp.partition for tp in app.consumer.assignment()
                                     if tp.topic == ws.settings.topics.tickets),
                "recovered": ws.recovered,
                "event_streams": ws.signals.stats(),
            })

    @app.page("/internal/ping")
    class Ping(View):
        async def get(self, request: Request) -> Response:
            return self.json({"ok": True})

    @app.page("/lobby/")
    class Lobby(View):
        async def get(self, request: Request) -> Response:
            page = STATIC / "lobby.html"
            if not page.exists():
                return self.text("lobby page not installed", status=404)
            return self.html(page.read_text(encoding="utf-8"))

    @app.page("/lobby")
    class LobbyRedirect(View):
        async def get(self, request: Request) -> Response:
            qs = request.query_string
            raise web.HTTPMovedPermanently("/lobby/" + ("?" + qs if qs else ""))

    @app.page("/")
    class Root(View):
        async def get(self, request: Request) -> Response:
            return self.html('<meta http-equiv="refresh" content="0; url=/lobby/">'
                             '<a href="/lobby/">大堂看板 / Lobby board</a>')

    if STATIC.exists():
        app.web.add_static("/static/", STATIC)
