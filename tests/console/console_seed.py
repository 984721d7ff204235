"""A small trading day written straight into PostgreSQL for the console's tests: three
workers, one holding a position, orders in every life (one UNKNOWN, one EXPIRED), fills,
events and summaries; plus secrets (a broker token row) the console must never show."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from tradefleet.domain.calendar import SEOUL

DAY = date(2026, 12, 4)
# planted where the console could leak them: the broker token table and an event payload
SECRET_TOKEN_CIPHER = "gAAAAABsecretTOKENcipher0123456789abcdefZZ"
ACCOUNT_NO = "50123456-01"


async def seed_day(conn, *, holding_qty: int = 12) -> None:  # noqa: ANN001 - asyncpg conn
    t0 = datetime(2026, 12, 4, 9, 30, tzinfo=SEOUL)
    for wid, status, symbol in (("w1", "HOLD", "005930"), ("w2", "SCAN", None),
                                ("w3", "IDLE", None)):
        await conn.execute(
            """INSERT INTO workers (worker_id, pid, host, mode, status, current_symbol,
                                    lock_ttl_seconds, epoch) VALUES ($1, 100, 'h', 'sim', $2,
                                    $3, 30, 2)""", wid, status, symbol)
        await conn.execute(
            "INSERT INTO events (event_type, worker_id, payload) VALUES "
            "('WorkerStartedEvent', $1, '{}'), ('WorkerStartedEvent', $1, '{}')", wid)
    await conn.execute(
        """INSERT INTO positions (worker_id, trading_day, symbol, status, qty, bought_qty,
                                  buy_amount, entry_price, entry_at, strategy_name,
                                  strategy_version, param_version, fencing_token)
           VALUES ('w1', $1, '005930', 'OPEN', $2, $2, $4, 70000, $3, 's', '1', '1', 7)""",
        DAY, holding_qty, t0, holding_qty * 70000)
    await conn.execute(
        """INSERT INTO positions (worker_id, trading_day, symbol, status, qty, bought_qty,
                                  sold_qty, buy_amount, sell_amount, entry_price, entry_at,
                                  exit_price, exit_at, exit_reason, realized_pnl,
                                  strategy_name, strategy_version, param_version, fencing_token)
           VALUES ('w2', $1, '000660', 'CLOSED', 0, 10, 10, 1000000, 1031000, 100000, $2,
                   103100, $3, 'TAKE_PROFIT', 31000, 's', '1', '1', 5)""",
        DAY, t0 - timedelta(minutes=20), t0 - timedelta(minutes=5))
    await conn.execute(
        "INSERT INTO events (event_type, worker_id, symbol, payload) VALUES "
        "('MonitoringEvent', 'w1', '005930', $1)", {"price": 71500})
    orders = (("c-1", "w1", "005930", "BUY", "FILLED", 12, "ENTRY"),
              ("c-2", "w2", "000660", "SELL", "UNKNOWN", 10, "TAKE_PROFIT"),
              ("c-3", "w3", "035420", "BUY", "EXPIRED", 5, "ENTRY"),
              ("c-4", "w2", "000660", "BUY", "SENT", 3, "ENTRY"))
    for i, (coid, wid, sym, side, status, qty, purpose) in enumerate(orders):
        filled = qty if status == "FILLED" else 0
        oid = await conn.fetchval(
            """INSERT INTO orders (client_order_id, worker_id, trading_day, symbol, side,
                                   order_type, qty, status, filled_qty, filled_amount,
                                   fencing_token, purpose, sent_at)
               VALUES ($1, $2, $3, $4, $5, 'MARKET', $6, $7, $8, $11, $9, $10,
                       CASE WHEN $7 <> 'NEW' THEN now() END) RETURNING order_id""",
            coid, wid, DAY, sym, side, qty, status, filled, 10 + i, purpose, filled * 70000)
        if filled:
            await conn.execute(
                """INSERT INTO fills (order_id, broker_fill_key, symbol, side, qty, price,
                                      amount) VALUES ($1, 'k1', $2, $3, $4, 70000, $5)""",
                oid, sym, side, filled, filled * 70000)
    await conn.execute(
        """INSERT INTO daily_summaries (trading_day, worker_id, realized_pnl, trades_count,
                                        win_count)
           VALUES ($1, 'w2', 31000, 1, 1)""", DAY)
    await conn.execute(     # its tuning JSON: {"filters_passed": ["volume"]} (migration 0021)
        """INSERT INTO daily_tuning_notes (trading_day, worker_id, key, item)
           VALUES ($1, 'w2', 'filters_passed', '"volume"')""", DAY)
    await conn.execute(
        """INSERT INTO broker_tokens (appkey_hash, mode, token_cipher, expires_at)
           VALUES ($1, 'sim', $2, now() + interval '1 day')""", "a" * 64, SECRET_TOKEN_CIPHER)
