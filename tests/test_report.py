"""`tradefleet report`: tables and the HTML page computed from real rows."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from tradefleet.adapters.postgres.report_queries import fetch_daily_report
from tradefleet.adapters.report.html import write_html
from tradefleet.cli import main

SEOUL = ZoneInfo("Asia/Seoul")

DAY = date(2026, 11, 23)


async def _seed(db, trades: list[tuple[str, str, int]]) -> None:
    """Closed positions and the daily summaries the services would have written for them."""
    for wid in sorted({w for w, _, _ in trades}):
        await db.pool.execute(
            """INSERT INTO workers (worker_id, pid, host, mode, status, lock_ttl_seconds)
               VALUES ($1, 1, 'h', 'sim', 'EXIT', 30)""", wid)
    at = datetime(2026, 11, 23, 9, 30, tzinfo=SEOUL)
    for i, (wid, symbol, pnl) in enumerate(trades):
        await db.pool.execute(
            """INSERT INTO positions (worker_id, trading_day, symbol, status, qty, bought_qty,
                   sold_qty, buy_amount, sell_amount, entry_price, entry_at, strategy_name,
                   strategy_version, param_version, fencing_token, exit_reason, exit_price,
                   exit_at, realized_pnl)
               VALUES ($1, $2, $3, 'CLOSED', 0, 10, 10, 100000, 100000 + $4::bigint, 10000, $5,
                       'ma_breakout', '1', 'p1', $6, 'TAKE_PROFIT', 10000, $7, $4::bigint)""",
            wid, DAY, symbol, pnl, at, i + 1, at + timedelta(minutes=10 * (i + 1)))
        await db.pool.execute(
            """INSERT INTO daily_summaries (trading_day, worker_id, realized_pnl, trades_count,
                   win_count, loss_count, max_loss)
               VALUES ($1, $2, $3::bigint, 1, ($3::bigint > 0)::int, ($3::bigint < 0)::int,
                       LEAST($3::bigint, 0))
               ON CONFLICT (trading_day, worker_id) DO UPDATE SET
                   realized_pnl = daily_summaries.realized_pnl + EXCLUDED.realized_pnl,
                   trades_count = daily_summaries.trades_count + 1,
                   win_count = daily_summaries.win_count + EXCLUDED.win_count,
                   loss_count = daily_summaries.loss_count + EXCLUDED.loss_count,
                   max_loss = LEAST(daily_summaries.max_loss, EXCLUDED.max_loss)""",
            DAY, wid, pnl)


async def test_report_totals_follow_the_rows(db):
    trades = [("w1", "005930", 1500), ("w2", "000660", -700), ("w1", "035420", -200)]
    await _seed(db, trades)
    report = await fetch_daily_report(db)
    assert report.trading_day == DAY
    assert report.total_pnl == sum(p for _, _, p in trades)
    assert report.total_trades == len(trades)
    assert report.total_wins == sum(1 for _, _, p in trades if p > 0)
    w1 = next(s for s in report.summaries if s.worker_id == "w1")
    assert w1.max_loss == min(p for w, _, p in trades if w == "w1")
    assert [t.symbol for t in report.trades] == [s for _, s, _ in trades]


async def test_report_html_has_both_charts(db, tmp_path):
    await _seed(db, [("w1", "005930", 1500), ("w1", "000660", -700)])
    path = write_html(await fetch_daily_report(db), tmp_path / "r.html")
    text = path.read_text()
    assert "Equity curve" in text and "PnL per trade" in text
    assert "005930" in text and "plotly" in text.lower()


async def test_report_command_prints_the_summary(db, pg_dsn, tmp_path, capsys):
    await _seed(db, [("w1", "005930", 1500)])
    out = tmp_path / "report.html"
    import asyncio
    code = await asyncio.to_thread(main, ["report", "--dsn", pg_dsn, "--date", DAY.isoformat(),
                                          "--html", str(out)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "w1" in printed and "1,500" in printed
    assert out.exists()


def test_report_rejects_a_bad_date(capsys):
    import pytest
    with pytest.raises(SystemExit):
        main(["report", "--date", "2026-13-01"])
    assert "--date must be YYYY-MM-DD" in capsys.readouterr().err
