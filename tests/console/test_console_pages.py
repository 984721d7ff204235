"""The console's pages read a trading day from PostgreSQL: each worker's position with its
unrealised PnL, orders with their life and UNKNOWN/EXPIRED highlighted, filters, the daily
summary with its equity curve and tuning fields, events and one worker's timeline."""

from __future__ import annotations

import asyncio
import re

from tests.console.console_client import served
from tests.console.console_seed import DAY, seed_day


def _row(page: str, css: str) -> str:
    match = re.search(rf'<tr class="[^"]*{css}[^"]*">(.*?)</tr>', page, re.S)
    assert match, f"no row {css!r}"
    return match.group(1)


async def test_fleet_page_shows_each_workers_position_and_pnl(db):
    async with db.pool.acquire() as conn:
        await seed_day(conn, holding_qty=12)
        # as each worker last said (worker/feed_runtime.py): w1 on the tick, w2 on its poll
        await conn.execute("UPDATE workers SET feed_mode = CASE worker_id WHEN 'w1' THEN "
                           "'live' WHEN 'w2' THEN 'polling' END")
    async with served(db, day=DAY) as (_, http):
        async with http.get("/") as resp:
            assert resp.status == 200
            page = await resp.text()
    w1 = _row(page, "w-w1")
    # 12 shares bought at 70,000, last 71,500: unrealised (71,500 - 70,000) * 12
    assert "005930" in w1 and ">12<" in w1 and "70,000" in w1 and "71,500" in w1
    assert f"{(71_500 - 70_000) * 12:,}" in w1
    assert ">1<" in w1 or "<td>1</td>" in w1            # restarts: two starts today
    assert "31,000" in _row(page, "w-w2")               # w2's realised PnL today
    feeds = {w: re.findall(r"<td>(off)</td>|feed-(live|polling)", _row(page, f"w-{w}"))
             for w in ("w1", "w2", "w3")}
    assert feeds == {"w1": [("", "live")], "w2": [("", "polling")], "w3": [("off", "")]}
    assert "no live feed holder" in page


async def test_orders_page_shows_life_highlights_and_filters(db):
    async with db.pool.acquire() as conn:
        await seed_day(conn)
    async with served(db, day=DAY) as (_, http):
        async with http.get("/orders") as resp:
            page = await resp.text()
        async with http.get("/orders?worker=w2") as resp:
            w2 = await resp.text()
        async with http.get("/orders?symbol=035420") as resp:
            sym = await resp.text()
        async with http.get("/orders?worker=W2;drop") as resp:
            assert resp.status == 400
    alarms = re.findall(r'<tr class="alarm">(.*?)</tr>', page, re.S)
    assert sorted("UNKNOWN" in a for a in alarms) == [False, True]
    assert any("EXPIRED" in a for a in alarms)
    assert "NEW " in page and "SENT " in page and "1 fill " in page and "FILLED " in page
    body = w2.split("<tbody>", 1)[1]
    assert "w2" in body and ">w1<" not in body and ">w3<" not in body
    assert sym.split("<tbody>", 1)[1].count("<tr") == 1


async def test_day_events_and_worker_pages(db):
    async with db.pool.acquire() as conn:
        await seed_day(conn)
    async with served(db, day=DAY) as (_, http):
        pages = {}
        for path in ("/day", "/events?worker=w1", "/events?type=MonitoringEvent",
                     "/worker/w1"):
            async with http.get(path) as resp:
                assert resp.status == 200, path
                pages[path] = await resp.text()
    day = pages["/day"]
    assert '<svg id="equity"' in day and "filters_passed" in day and "31,000" in day
    assert "MonitoringEvent" in pages["/events?worker=w1"]
    assert "w2" not in pages["/events?worker=w1"].split("<tbody>", 1)[1]
    assert "WorkerStartedEvent" not in pages["/events?type=MonitoringEvent"].split(
        "<tbody>", 1)[1]
    assert "WorkerStartedEvent" in pages["/worker/w1"] and "005930" in pages["/worker/w1"]


async def test_a_change_in_postgres_reaches_an_open_page_as_an_event(db):
    async with db.pool.acquire() as conn:
        await seed_day(conn)
    async with served(db, day=DAY) as (_, http):
        async with http.get("/live") as resp:
            assert resp.headers["Content-Type"].startswith("text/event-stream")
            assert (await resp.content.readuntil(b"\n\n")).find(b"event: hello") >= 0
            # two changes, each heard: the first frame may be the feed's own first look at
            # the marks (a slow start), so only a change after it proves the push
            for _ in range(2):
                await db.pool.execute(
                    "INSERT INTO events (event_type, worker_id) VALUES ('MonitoringEvent', 'w2')")
                frame = await asyncio.wait_for(resp.content.readuntil(b"\n\n"), 5)
                while b"event: change" not in frame:
                    frame = await asyncio.wait_for(resp.content.readuntil(b"\n\n"), 5)
