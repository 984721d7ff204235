"""SC-011 on the worker's own path: a worker trades a stretch of the morning (its own scans,
entries and exits); every sale closes a position with PnL = sold - bought - fees - taxes, and
the day's summary accumulates PnL, win rate, average PnL, largest loss and trade count, with
the next day's tuning notes (the scan behind each entry). Everything is checked against an
independent computation from the fills rows and the configured cost rates.

검증: daily_summaries row of the day, its pnl, win_rate, avg_pnl, max_loss, trades_count,
log (PnL calculated with pnl and win/loss; daily summary saved)."""

from __future__ import annotations

from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal

from tests.scenarios.evidence import events, lines
from tests.scenarios.harness import DAY_START, build, poll_until

from tradefleet.domain.exits import ExitParams

TRADES = 6
EXITS = ExitParams(Decimal("0.2"), Decimal("0.2"), 120, 0)     # quick wins and losses
BUY_RATE, SELL_RATE = "0.00015", "0.00025"     # per-account commission rates, buy and sell
# sell-side (transaction, rural special) tax by market, 2026 law; NULL = unknown: the highest
TAXES = {"KOSPI": ("0.0005", "0.0015"), "KOSDAQ": ("0.0020", "0"), "KONEX": ("0.0010", "0"),
         "ETF": ("0", "0"), "ETN": ("0", "0")}


def floor_won(amount: int, rate: str) -> int:
    return int((Decimal(amount) * Decimal(rate)).to_integral_value(ROUND_FLOOR))


def sell_tax(amount: int, market: str | None) -> int:
    rates = [TAXES[market]] if market is not None else list(TAXES.values())
    return max(floor_won(amount, t) + floor_won(amount, r) for t, r in rates)


async def test_worker_day_pnl_and_daily_summary_match_the_fills(db, logs):
    rig = await build(db, worker_id="w-pnl", exits=EXITS, capital_limit=2_000_000,
                      TRADEFLEET_COSTS__BUY_COMMISSION_RATE=BUY_RATE,
                      TRADEFLEET_COSTS__SELL_COMMISSION_RATE=SELL_RATE)

    async def traded() -> bool:
        return await db.pool.fetchval(
            "SELECT count(*) FROM positions WHERE status = 'CLOSED'") >= TRADES \
            and rig.cycle.holding is None
    await poll_until(rig, traded, max_polls=600)

    positions = await db.pool.fetch(
        "SELECT * FROM positions WHERE worker_id = 'w-pnl' ORDER BY position_id")
    assert all(p["status"] == "CLOSED" for p in positions)
    expected = []
    for p in positions:
        fills = await db.pool.fetch(
            """SELECT f.side, f.amount FROM fills f JOIN orders o USING (order_id)
                WHERE o.worker_id = 'w-pnl' AND o.symbol = $1
                  AND f.filled_at BETWEEN $2 AND $3""",
            p["symbol"], p["entry_at"], p["exit_at"])
        bought = sum(f["amount"] for f in fills if f["side"] == "BUY")
        sold = sum(f["amount"] for f in fills if f["side"] == "SELL")
        assert (bought, sold) == (p["buy_amount"], p["sell_amount"])
        fees = floor_won(bought, BUY_RATE) + floor_won(sold, SELL_RATE)
        tax = sell_tax(sold, p["market"])
        net = sold - bought - fees - tax
        assert p["realized_pnl"] == net
        assert (p["fees"], p["taxes"]) == (fees, tax)
        expected.append(net)
    wins = sum(1 for x in expected if x > 0)
    losses = sum(1 for x in expected if x < 0)
    assert wins >= 1 and losses >= 1, f"the morning needs wins and losses, got {expected}"

    [s] = await db.pool.fetch("SELECT *, daily_tuning(trading_day, worker_id) AS notes "
                              "FROM daily_summaries WHERE worker_id = 'w-pnl'")
    assert s["trading_day"] == DAY_START.date()
    assert s["realized_pnl"] == sum(expected)
    assert s["trades_count"] == len(expected)
    assert (s["win_count"], s["loss_count"]) == (wins, losses)
    assert s["max_loss"] == min(expected)
    assert s["win_rate"] == (Decimal(wins) / len(expected)).quantize(Decimal("0.0001"),
                                                                     ROUND_HALF_UP)
    assert s["avg_pnl"] == (Decimal(sum(expected)) / len(expected)).quantize(Decimal("0.01"),
                                                                             ROUND_HALF_UP)
    notes = s["notes"]["trades"]
    assert [n["position_id"] for n in notes] == [p["position_id"] for p in positions]
    assert [n["pnl"] for n in notes] == expected
    assert all(n["entry_scan"] and n["entry_scan"]["passed_filters"] for n in notes)
    assert all(n["entry_scan"]["indicators"] for n in notes)    # what the scan saw
    assert [n["exit_reason"] for n in notes] == [p["exit_reason"] for p in positions]

    exited = await events(db, "PositionExitedEvent", worker_id="w-pnl")
    assert [e["realized_pnl"] for e in exited] == expected
    calculated = await events(db, "PnlCalculatedEvent", worker_id="w-pnl")
    assert [(e["position_id"], e["pnl"]) for e in calculated] == \
        [(p["position_id"], p["realized_pnl"]) for p in positions]
    pnl_lines = lines(logs, event_type="PnlCalculatedEvent", worker_id="w-pnl")
    assert [(r["pnl"], r["result"], r["level"]) for r in pnl_lines] == \
        [(x, "win" if x > 0 else "loss" if x < 0 else "flat", "info") for x in expected]
    saved = lines(logs, event_type="DailySummaryUpdatedEvent", worker_id="w-pnl")
    assert len(saved) == len(expected) and {r["level"] for r in saved} == {"info"}
    assert [r["trades_count"] for r in saved] == list(range(1, len(expected) + 1))
    assert (saved[-1]["realized_pnl"], saved[-1]["max_loss"]) == (sum(expected), min(expected))
    assert Decimal(saved[-1]["win_rate"]) == s["win_rate"]
