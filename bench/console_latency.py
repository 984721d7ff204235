"""Console update latency (issue 22). Run: python3 bench/console_latency.py [--sizes 3,50]
[--n 150] [--out bench/results/console.txt] (about a minute; embedded PostgreSQL 16).

A change committed in PostgreSQL until an open page shows it. The page is played as the
browser's script does it (tradefleet/console/static/console.js): the server-sent event
stream ``/live``, and on each ``change`` a fetch of the page's content, which is searched for
the change. The change: one worker's ``buy_blocked`` set to a fresh text, shown on the Fleet
page's row. Meanwhile N workers trade as a fleet writes: each a monitoring event every
100 ms, a heartbeat every second, an order row with a fill every 2 s (so every poll of the
console sees movement and renders the whole fleet). Against, in the same run: a bare
``SELECT 1`` round trip and a bare GET of the Fleet page's content."""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import aiohttp  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from tradefleet.adapters.postgres.database import Database  # noqa: E402
from tradefleet.adapters.postgres.migrate import migrate  # noqa: E402
from tradefleet.console.server import start_console  # noqa: E402

DAY = date(2026, 12, 4)


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


async def _seed(db: Database, workers: int) -> list[str]:
    ids = [f"w{i + 1}" for i in range(workers)]
    for wid in ids:
        await db.pool.execute(
            "INSERT INTO workers (worker_id, pid, host, mode, status, lock_ttl_seconds) "
            "VALUES ($1, 1, 'bench', 'sim', 'SCAN', 30)", wid)
    return ids


async def _trade(db: Database, wid: str, stop: asyncio.Event, seed: int) -> None:
    """What one worker writes while it trades (the load the console polls beside)."""
    rng = random.Random(seed)
    await asyncio.sleep(rng.random() * 0.1)
    tick, n = 0, 0
    while not stop.is_set():
        tick += 1
        await db.pool.execute(
            "INSERT INTO events (event_type, worker_id, symbol, payload) VALUES "
            "('MonitoringEvent', $1, '005930', $2)", wid, {"price": 70000 + rng.randrange(99)})
        if tick % 10 == 0:
            await db.pool.execute("UPDATE workers SET heartbeat_at = now() WHERE worker_id = $1",
                                  wid)
        if tick % 20 == 0:
            n += 1
            oid = await db.pool.fetchval(
                """INSERT INTO orders (client_order_id, worker_id, trading_day, symbol, side,
                                       order_type, qty, status, filled_qty, filled_amount,
                                       fencing_token, purpose)
                   VALUES ($1, $2, $3, '005930', 'BUY', 'MARKET', 1, 'FILLED', 1, 70000, 1,
                           'ENTRY') RETURNING order_id""", f"b-{wid}-{n}", wid, DAY)
            await db.pool.execute(
                "INSERT INTO fills (order_id, broker_fill_key, symbol, side, qty, price, amount)"
                " VALUES ($1, 'k', '005930', 'BUY', 1, 70000, 70000)", oid)
        await asyncio.sleep(0.1)


class Page:
    """An open Fleet page: the SSE stream, and a content fetch per ``change``."""

    def __init__(self, http: aiohttp.ClientSession, url: str) -> None:
        self.http, self.url = http, url
        self.content = ""
        self.updated = asyncio.Condition()
        self._task: asyncio.Task | None = None

    async def open(self) -> None:
        self._stream = resp = await self.http.get(self.url + "live")
        await resp.content.readuntil(b"\n\n")                 # hello
        self._task = asyncio.create_task(self._follow(resp))

    async def _follow(self, resp: aiohttp.ClientResponse) -> None:
        while True:
            frame = await resp.content.readuntil(b"\n\n")
            if b"event: change" not in frame:
                continue
            async with self.http.get(self.url, headers={"X-Fragment": "1"}) as page:
                text = await page.text()
            async with self.updated:
                self.content = text
                self.updated.notify_all()

    async def shows(self, text: str, within: float = 10.0) -> None:
        async with self.updated:
            await asyncio.wait_for(self.updated.wait_for(lambda: text in self.content), within)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._stream.close()


async def measure(dsn: str, workers: int, n: int, seed: int) -> dict[str, list[float]]:
    db = await Database.connect(dsn, min_size=2, max_size=20)
    await db.pool.execute("TRUNCATE fills, orders, events, worker_controls, workers CASCADE")
    ids = await _seed(db, workers)
    console_db = await Database.connect(dsn, min_size=1, max_size=6)
    server = await start_console(console_db, port=0, day=DAY)
    stop = asyncio.Event()
    load = [asyncio.create_task(_trade(db, w, stop, seed + i)) for i, w in enumerate(ids)]
    rng = random.Random(seed)
    out: dict[str, list[float]] = {"select": [], "get": [], "visible": [], "dom": []}
    try:
        await _dom(db, server.url, ids, n, seed, out["dom"])
        async with aiohttp.ClientSession() as http:
            page = Page(http, server.url)
            await page.open()
            await asyncio.sleep(1.0)                          # the fleet is trading
            for i in range(n):
                t = time.perf_counter()
                await db.pool.fetchval("SELECT 1")
                out["select"].append(time.perf_counter() - t)
                t = time.perf_counter()
                async with http.get(server.url, headers={"X-Fragment": "1"}) as resp:
                    await resp.text()
                out["get"].append(time.perf_counter() - t)
                marker = f"bench-{workers}-{i}"
                target = rng.choice(ids)
                t = time.perf_counter()
                await db.pool.execute("UPDATE workers SET buy_blocked = $1 WHERE worker_id = $2",
                                      marker, target)
                await page.shows(marker)
                out["visible"].append(time.perf_counter() - t)
                await asyncio.sleep(rng.uniform(0.05, 0.15))
            await page.close()
    finally:
        stop.set()
        await asyncio.gather(*load, return_exceptions=True)
        await server.stop()
        await console_db.close()
        await db.close()
    return out


async def _dom(db: Database, url: str, ids: list[str], n: int, seed: int,
               out: list[float]) -> None:
    """The same kind of change, timed in chromium's DOM (skipped without a browser)."""
    sys.path.insert(0, str(ROOT))
    from tests.browser.console_browser_rig import chromium_path, why_no_browser

    if why_no_browser() is not None:
        return
    from playwright.async_api import async_playwright

    rng = random.Random(seed + 1)
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium_path(),
                                           args=["--no-sandbox"])
        page = await browser.new_page()
        await page.goto(url)
        await page.wait_for_function("document.getElementById('live').textContent == 'live'")
        await asyncio.sleep(1.0)
        for i in range(n):
            marker = f"dom-{len(ids)}-{i}"
            t = time.perf_counter()
            await db.pool.execute("UPDATE workers SET buy_blocked = $1 WHERE worker_id = $2",
                                  marker, rng.choice(ids))
            await page.wait_for_function(
                "m => document.getElementById('content').textContent.includes(m)", arg=marker,
                polling="raf", timeout=10_000)
            out.append(time.perf_counter() - t)
            await asyncio.sleep(rng.uniform(0.05, 0.15))
        await browser.close()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="3,50")
    parser.add_argument("--n", type=int, default=150)
    parser.add_argument("--seed", type=int, default=22)
    parser.add_argument("--out", type=Path, default=None, help="also write the table here")
    args = parser.parse_args()
    from tradefleet.adapters.postgres.embedded import scratch_dir, start_embedded

    console = Console(width=120, record=True)
    table = Table(title="console update latency (ms): change committed in PostgreSQL -> "
                  "shown in the open Fleet page's content (SSE + fetch; poll 100 ms)")
    for col in ("workers", "measure", "p50", "p99", "max", "p50 / bare SELECT 1"):
        table.add_column(col, justify="left" if col == "measure" else "right")
    with scratch_dir() as tmp:
        dsn = await asyncio.to_thread(start_embedded, Path(tmp) / "pgdata")
        db = await Database.connect(dsn, min_size=1, max_size=1)
        async with db.pool.acquire() as conn:
            await migrate(conn)
        await db.close()
        for workers in (int(s) for s in args.sizes.split(",")):
            console.print(f"[dim]{workers} workers trading, {args.n} changes...[/dim]")
            out = await measure(dsn, workers, args.n, args.seed)
            base = pct(out["select"], 0.5)
            for name, label in (("select", "bare SELECT 1 round trip"),
                                ("get", "bare GET of the Fleet content"),
                                ("visible", "change -> visible on the page"),
                                ("dom", "change -> in chromium's DOM")):
                if not out[name]:
                    continue
                v = [x * 1000 for x in out[name]]
                table.add_row(str(workers), label, f"{pct(v, 0.5):.1f}", f"{pct(v, 0.99):.1f}",
                              f"{max(v):.1f}", f"{pct(v, 0.5) / (base * 1000):.1f}x")
    console.print(table)
    console.print("goal: visible within 1 s (p99) at 50 workers trading")
    if args.out:
        args.out.write_text(console.export_text())


if __name__ == "__main__":
    asyncio.run(main())
