"""The fleet console in a real browser (Debian's chromium driven by Playwright) against a
running simulated fleet: a worker's position appears on the page; "Pause buying" stops every
worker's buying (their polls go on, they scan and buy nothing, checked in PostgreSQL);
"Liquidate now", confirmed, closes the position on the page and at the exchange (the
simulator's own books). Screenshots of every page are saved as artefacts."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from pathlib import Path

import pytest
from tests.browser.console_browser_rig import (
    artefact_dir,
    chromium_path,
    copy_for_readme,
    why_no_browser,
)

from tradefleet.adapters.postgres.database import Database
from tradefleet.adapters.postgres.session_clock_store import save_session_clock
from tradefleet.console.server import start_console
from tradefleet.local_fleet.demo import demo_session
from tradefleet.local_fleet.session_rig import RigOptions, SessionRig

TOKEN = "browser-test-token-0123456789"
POSITION_WITHIN_S = 60
PAGE_WAIT_MS = 20_000


async def _until(check, within: float, what: str, step: float = 0.1):  # noqa: ANN001, ANN201
    deadline = time.monotonic() + within
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {within:.0f} s")
        await asyncio.sleep(step)


async def _polls(db: Database) -> dict[str, int]:
    rows = await db.pool.fetch("SELECT worker_id, polls FROM poll_lags")
    return {r["worker_id"]: r["polls"] for r in rows}


async def test_console_pause_and_liquidate_in_a_real_browser(pg_dsn, monkeypatch, tmp_path):
    reason = why_no_browser()
    if reason is not None:
        pytest.skip(reason)
    from playwright.async_api import async_playwright, expect

    for key in [k for k in __import__("os").environ if k.startswith("TRADEFLEET_")
                and k not in ("TRADEFLEET_ARTEFACTS", "TRADEFLEET_CONSOLE_DOCS",
                              "TRADEFLEET_CHROMIUM")]:
        monkeypatch.delenv(key)
    # a held position leaves only by the console's liquidation: exits far away (within the
    # daily loss limit, a fifth of the capital, or the risk check blocks every entry), and a trend
    # window longer than the morning's bars (no trend break before 11:00)
    for key, value in (("STOP_LOSS_PCT", "15"), ("TAKE_PROFIT_PCT", "15"),
                       ("TREND_MA_WINDOW", "120")):
        monkeypatch.setenv(f"TRADEFLEET_EXITS__{key}", value)
    shots_dir = artefact_dir()
    print(f"\nconsole screenshots: {shots_dir}")
    session = demo_session(cache_dir=tmp_path / "calendar")
    monkeypatch.setenv("TRADEFLEET_STATE_DIR", str(tmp_path))
    rig = SessionRig(RigOptions(workers=3, speed=120, symbols=20, lead_seconds=3.0),
                     pg_dsn, tmp_path / "logs", session,
                     sim_start=session.open + timedelta(minutes=10))
    db = await Database.connect(pg_dsn, min_size=1, max_size=4)
    server = None
    shots: list[Path] = []
    began = time.monotonic()
    try:
        await rig.start()
        await save_session_clock(db, session.day, rig.clock)
        server = await start_console(db, port=0, token=TOKEN, poll_interval=0.1)
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=chromium_path(),
                                               args=["--no-sandbox"])
            page = await browser.new_page(viewport={"width": 1500, "height": 900})

            async def shot(name: str) -> None:
                path = shots_dir / f"console-{name}.png"
                await page.screenshot(path=str(path))       # the viewport: a page's top
                shots.append(path)

            await page.goto(server.url + "login")
            await page.fill("input[name=name]", "browser-test")
            await page.fill("input[name=token]", TOKEN)
            await page.click("form.login button")
            await expect(page.locator("header .who")).to_contain_text("browser-test")
            await expect(page.locator("#live")).to_have_text("live", timeout=PAGE_WAIT_MS)

            # a worker's position appears on the page by itself (server-sent events)
            holding = page.locator("#fleet tr.holding").first
            await expect(holding).to_be_visible(timeout=POSITION_WITHIN_S * 1000)
            print(f"position on the page {time.monotonic() - began:.1f} s after the start")
            holder = (await holding.locator("td").first.inner_text()).strip()
            symbol = (await holding.locator("td").nth(2).inner_text()).strip()
            try:            # the picture only: its first monitoring poll gives the last price
                await expect(holding.locator("td").nth(6)).not_to_be_empty(timeout=3000)
            except AssertionError:
                pass
            await shot("fleet")

            # pause every worker: in PostgreSQL, each one's next polls buy nothing
            await page.select_option("#actions select[name=worker]", "")
            await page.fill("#actions input[name=reason]", "browser test: stop buying")
            await page.click("#actions button[value=pause]")
            await expect(page.locator("#flash")).to_contain_text("pause asked",
                                                                 timeout=PAGE_WAIT_MS)
            paused = await db.pool.fetch("SELECT worker_id FROM worker_controls "
                                         "WHERE buy_paused ORDER BY worker_id")
            assert [r["worker_id"] for r in paused] == rig.worker_ids
            await expect(page.locator("#fleet .badge.paused")).to_have_count(
                len(rig.worker_ids), timeout=PAGE_WAIT_MS)
            # once each worker has begun a poll after the pause (two polls on), it buys
            # nothing and scans nothing, poll after poll
            before = await _polls(db)

            async def polled_on(n: int, since: dict[str, int]) -> dict[str, int] | None:
                now = await _polls(db)
                done = all(now.get(w, 0) >= since.get(w, 0) + n for w in rig.worker_ids)
                return now if done else None

            settled = await _until(lambda: polled_on(2, before), 20, "two polls each")
            settled_at = await db.pool.fetchval("SELECT now()")
            await _until(lambda: polled_on(4, settled), 20, "four more polls each")
            bought = await db.pool.fetchval(
                "SELECT count(*) FROM orders WHERE side = 'BUY' AND created_at > $1",
                settled_at)
            scanned = await db.pool.fetchval(
                "SELECT count(*) FROM events WHERE event_type = 'CandidateScannedEvent' "
                "AND occurred_at > $1", settled_at)
            assert (bought, scanned) == (0, 0)

            # liquidate the holder now: confirmed in the dialog, closed on the page
            page.once("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
            await page.select_option("#actions select[name=worker]", holder)
            await page.fill("#actions input[name=reason]", "browser test: flatten")
            await page.click("#actions button[value=liquidate]")
            await expect(page.locator("#flash")).to_contain_text("liquidate asked",
                                                                 timeout=PAGE_WAIT_MS)
            row = page.locator(f"#fleet tr.w-{holder}")
            await expect(row.locator(".badge.liquidated")).to_be_visible(
                timeout=PAGE_WAIT_MS * 2)
            await expect(row).not_to_have_class("holding")
            await shot("fleet-liquidated")
            print(f"liquidated on the page {time.monotonic() - began:.1f} s after the start")
            for name, path in (("orders", "orders"), ("day", "day"), ("events", "events"),
                               ("worker", f"worker/{holder}")):
                await page.goto(server.url + path)
                await page.wait_for_selector("#content table, #content svg")
                await shot(name)
            await browser.close()

        # the exchange's own books: the account holds none of the liquidated symbol
        held = await rig.holdings()
        assert held.get(symbol, 0) == 0, held
        open_rows = await db.pool.fetchval(
            "SELECT count(*) FROM positions WHERE worker_id = $1 AND status = 'OPEN'", holder)
        assert open_rows == 0
        sold = await db.pool.fetch("SELECT purpose, status FROM orders WHERE worker_id = $1 "
                                   "AND side = 'SELL'", holder)
        assert [(r["purpose"], r["status"]) for r in sold] == [("LIQUIDATION", "FILLED")]
        by = await db.pool.fetch("SELECT payload->>'action' AS action, payload->>'by' AS by "
                                 "FROM events WHERE event_type = 'ConsoleActionEvent' "
                                 "AND worker_id = $1 ORDER BY event_id", holder)
        assert [(r["action"], r["by"]) for r in by] == [("pause", "browser-test"),
                                                        ("liquidate", "browser-test")]
    finally:
        if server is not None:
            await server.stop()
        await rig.close()
        await db.close()
    copy_for_readme(shots)
    print(f"console screenshots: {', '.join(str(s) for s in shots)}")
