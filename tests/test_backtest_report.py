"""The backtest's HTML report (issue 21, item 3) read back as a user's browser would get it
and checked against the rows the workers wrote in the day's database (kept with
``--keep-databases``): every closed trade, the totals, win rate, average PnL, max loss and
drawdown, the SC-011 tuning notes added up, the parameter version and the session clock."""

from __future__ import annotations

import asyncio
import json
from datetime import date, time
from decimal import Decimal
from html.parser import HTMLParser

import asyncpg
import pytest
import yaml
from tests.backtest_rig import PARAMS, backtest_databases, drop_databases
from tests.backtest_rig import SETTINGS as BACKTEST_SETTINGS

from tradefleet.adapters.postgres.database import database_dsn
from tradefleet.cli import main
from tradefleet.replay.day_format import write_day
from tradefleet.replay.sim_source import record_sim_day

DAY, SEED, SYMBOLS = date(2026, 11, 24), 7, 40
SETTINGS = {**BACKTEST_SETTINGS,
            "exits": {**BACKTEST_SETTINGS["exits"], "stop_loss_pct": "0.3",
                      "take_profit_pct": "0.3"},
            "strategy": {"params": PARAMS}}


class Tables(HTMLParser):
    """Every <table id=...> as a list of rows of cell texts (header row first)."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self._table: list[list[str]] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self._table = self.tables.setdefault(str(dict(attrs).get("id")), [])
        elif tag == "tr" and self._table is not None:
            self._table.append([])
        elif tag in ("td", "th") and self._table is not None:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._table is not None:
            self._table[-1].append("".join(self._cell).strip())
            self._cell = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def _won(text: str) -> int:
    return int(text.replace(",", "").replace("+", ""))


@pytest.fixture(scope="module")
def backtest(pg_server_uri: str, tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    folder = tmp_path_factory.mktemp("days")
    write_day(folder, record_sim_day(SEED, SYMBOLS, DAY))
    config = folder / "worker.yaml"
    config.write_text(yaml.safe_dump(SETTINGS))
    report = folder / "out" / "report.html"
    before = set(backtest_databases(pg_server_uri))
    code = main(["backtest", "--data", str(folder), "--from", str(DAY), "--workers", "2",
                 "--config", str(config), "--start", "14:40", "--pg-dsn", pg_server_uri,
                 "--keep-databases", "--report", str(report)])
    assert code == 0
    kept = sorted(set(backtest_databases(pg_server_uri)) - before)
    day_db = next(n for n in kept if n.endswith(f"{DAY:%Y%m%d}"))
    yield report, database_dsn(pg_server_uri, day_db)
    drop_databases(pg_server_uri, kept)


def _fetch(dsn: str, sql: str) -> list[asyncpg.Record]:
    async def go() -> list[asyncpg.Record]:
        conn = await asyncpg.connect(dsn)
        try:
            return await conn.fetch(sql)
        finally:
            await conn.close()
    return asyncio.run(go())


def test_the_report_shows_the_databases_trades_figures_and_version(backtest) -> None:  # noqa: ANN001
    path, dsn = backtest
    page = Tables()
    page.feed(path.read_text(encoding="utf-8"))
    rows = _fetch(dsn, """SELECT worker_id, symbol, bought_qty, realized_pnl, param_version,
                                 strategy_name FROM positions
                           WHERE status = 'CLOSED' AND bought_qty > 0
                           ORDER BY exit_at, position_id""")
    assert len(rows) >= 3, "the day should trade"
    trades = page.tables["trades"][1:]
    assert [(t[1], t[2], int(t[3]), _won(t[9])) for t in trades] == [
        (r["worker_id"], r["symbol"], r["bought_qty"], r["realized_pnl"]) for r in rows]
    pnls = [r["realized_pnl"] for r in rows]
    summary = dict(page.tables["summary"][1:])
    assert int(summary["trades"]) == len(pnls)
    assert _won(summary["PnL (won)"]) == sum(pnls)
    assert int(summary["wins"]) == sum(p > 0 for p in pnls)
    assert summary["win rate"] == f"{100 * sum(p > 0 for p in pnls) / len(pnls):.1f}%"
    assert Decimal(summary["average PnL (won)"]) == (Decimal(sum(pnls)) / len(pnls)
                                                      ).quantize(Decimal("0.01"))
    assert _won(summary["max loss (won)"]) == min(0, *pnls)
    equity, peak, drawdown = 0, 0, 0
    for p in pnls:
        equity += p
        peak = max(peak, equity)
        drawdown = min(drawdown, equity - peak)
    assert _won(summary["max drawdown (won)"]) == drawdown
    versions = {f"{r['strategy_name']} params {r['param_version']}" for r in rows}
    assert summary["parameter version"] == ", ".join(sorted(versions))
    day_row = page.tables["days"][1]
    assert day_row[0] == str(DAY) and int(day_row[1]) == len(pnls)


def test_exits_are_on_the_session_clock_in_the_order_they_closed(backtest) -> None:  # noqa: ANN001
    page = Tables()
    page.feed(backtest[0].read_text(encoding="utf-8"))
    trades = page.tables["trades"][1:]
    exits = [time.fromisoformat(t[6]) for t in trades]
    entries = [time.fromisoformat(t[4]) for t in trades]
    assert all(time(14, 40) < at <= time(15, 30) for at in exits)     # session, not wall
    assert exits == sorted(exits) and len(set(exits)) > 1
    assert all(e <= x for e, x in zip(entries, exits, strict=True))


def test_the_tuning_notes_are_added_up_from_the_daily_summaries(backtest) -> None:  # noqa: ANN001
    path, dsn = backtest
    page = Tables()
    page.feed(path.read_text(encoding="utf-8"))
    notes = [json.loads(r["tuning"]) if isinstance(r["tuning"], str) else r["tuning"]
             for r in _fetch(dsn, "SELECT daily_tuning(trading_day, worker_id) AS tuning "
                                     "FROM daily_summaries")]
    total = page.tables["tuning"][-1]
    assert total[0] == "total"
    assert int(total[1]) == sum(len(n.get("adverse_fills", [])) for n in notes)
    assert int(total[3]) == sum(len(n.get("liquidation_impact", [])) for n in notes)
    assert int(total[5]) == sum(len(n.get("liquidity_shortfall", [])) for n in notes)
    expected: dict[str, list[int]] = {}
    for trade in (t for n in notes for t in n.get("trades", [])):
        spread = (trade.get("entry_scan") or {}).get("spread_ticks", "-")
        for key in (f"exit: {trade['exit_reason']}", f"spread at entry: {spread} tick(s)"):
            row = expected.setdefault(key, [0, 0, 0])
            row[0] += 1
            row[1] += trade["pnl"] > 0
            row[2] += trade["pnl"]
    assert expected, "every closed trade leaves a tuning note"
    shown = {r[0]: [int(r[1]), int(r[2]), _won(r[4])] for r in page.tables["filters"][1:]}
    assert shown == expected
