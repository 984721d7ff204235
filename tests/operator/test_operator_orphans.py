"""The operator's own orphan selling, over real HTTP to the exchange simulator and a real
Postgres: shares of a dead worker are adopted through their lock and sold by the operator's
worker identity, which buys nothing; after the close the broker account holds none of the
day's shares. And the account comparison itself."""

from __future__ import annotations

import asyncio
import os
import secrets
from datetime import date, timedelta
from datetime import time as dtime
from decimal import Decimal

import aiohttp
from tests.exchange_thread import ExchangeThread

from tradefleet.adapters.kis.client import KisConfig
from tradefleet.adapters.kis.fleet import build_fleet_kis_broker
from tradefleet.adapters.postgres.event_sink import PostgresEventSink
from tradefleet.adapters.postgres.lock_store import PostgresLockStore
from tradefleet.adapters.postgres.order_store import PostgresOrderStore
from tradefleet.adapters.postgres.worker_store import PostgresWorkerStore
from tradefleet.domain.market import Balance, Holding
from tradefleet.operator.liquidation import Firing
from tradefleet.operator.orphan_seller import WorkerOrphanSeller, seller_id, shares_left
from tradefleet.operator.resources import OrphanSeller
from tradefleet.ports.orphan_store import SymbolBook
from tradefleet.services.lock_service import LockService
from tradefleet.services.order_service import OrderService
from tradefleet.services.worker_registry import WorkerRegistry
from tradefleet.settings.secrets import encrypt, generate_key_file, read_key


def test_shares_left_counts_only_what_todays_orders_could_have_bought():
    books = {"005930": SymbolBook("005930", open_qty=0, bought_ordered_qty=10,
                                  sold_filled_qty=6, open_orders=0),
             "000660": SymbolBook("000660", open_qty=3, bought_ordered_qty=3,
                                  sold_filled_qty=0, open_orders=0)}
    balance = Balance(cash=0, holdings=(
        Holding("005930", 100, Decimal(1)),      # 96 were the account's own before today
        Holding("000660", 3, Decimal(1)),        # still in an open position: not "left"
        Holding("035420", 7, Decimal(1))))       # never traded today by us
    assert shares_left(balance, books) == {"005930": 4}
    assert seller_id("tradefleet-operator", "KRX.Close") == "tradefleet-operator-krx-close"


async def _dead_worker_holding(db, ex, http, symbol: str, qty: int,  # noqa: ANN001
                               mode: str = "real") -> None:
    sink = PostgresEventSink(db)
    epoch = await WorkerRegistry(PostgresWorkerStore(db), sink).register(
        "w-dead", pid=os.getpid(), host="t", mode="sim", lock_ttl_seconds=30)
    locks = LockService(PostgresLockStore(db), sink, ttl_seconds=30)
    lock = await locks.acquire_lock(symbol, "w-dead", epoch=epoch)
    broker = await build_fleet_kis_broker(
        KisConfig(base_url=ex.base_url, appkey="sim-appkey-0000", appsecret="sim-appsecret-0000",
                  cano="50000000", product_code="01", mode=mode, timeout_seconds=5),
        http, db, ex.clock, share_quotes_window=None)
    orders = OrderService(PostgresOrderStore(db), broker, sink, ex.clock)
    row = await orders.send_order(await orders.create_order(
        lock, side="BUY", qty=qty, order_type="MARKET", limit_price=None, purpose="ENTRY"))
    assert (await orders.track(row, timeout_s=3)).filled_qty == qty
    await db.pool.execute("UPDATE workers SET status = 'EXIT' WHERE worker_id = 'w-dead'")
    await db.pool.execute("DELETE FROM stock_locks WHERE worker_id = 'w-dead'")


async def test_the_operator_sells_a_dead_workers_shares_and_the_account_ends_flat(db):
    with ExchangeThread(n_symbols=20, at=dtime(14, 50)) as ex:
        symbol = max(ex.market.symbols(), key=lambda s: ex.market.quote(s).traded_value)
        async with aiohttp.ClientSession() as http:
            await _dead_worker_holding(db, ex, http, symbol, 5)
        day: date = ex.market.day
        seller = WorkerOrphanSeller(
            schedule="krx", identity="tradefleet-operator", db=db, clock=ex.clock,
            spec=OrphanSeller(namespace="trading", mode="sim",
                              broker={"baseUrl": ex.base_url}),
            read_secret=None)  # type: ignore[arg-type] - sim: no Secret is read
        close = ex.clock.now().replace(hour=15, minute=30)
        await seller.start(Firing(day, close - timedelta(minutes=15), close))
        for _ in range(200):
            if not await db.pool.fetchval("SELECT count(*) FROM positions WHERE status='OPEN'"):
                break
            await asyncio.sleep(0.1)
        assert await seller.stop() == 1
        pos = await db.pool.fetchrow("SELECT * FROM positions")
        assert pos["status"] == "CLOSED" and pos["adopted_from"] == "w-dead"
        assert pos["worker_id"] == "tradefleet-operator-krx" and pos["exit_reason"] == "ORPHAN"
        buys = await db.pool.fetch("SELECT worker_id FROM orders WHERE side = 'BUY'")
        assert [b["worker_id"] for b in buys] == ["w-dead"]          # it bought nothing
        assert await seller.account_left(day) == {}
        assert await db.pool.fetchval("SELECT count(*) FROM stock_locks") == 0
        assert await db.pool.fetchval(
            "SELECT status FROM workers WHERE worker_id = 'tradefleet-operator-krx'") == "EXIT"


async def test_the_paper_orphan_seller_masks_its_decrypted_credentials_in_every_line(
        db, tmp_path, logs):
    """Paper mode reads the broker credentials from Secrets, encrypted, and decrypts them in
    memory. The exchange refuses the seller's first sell with a message that echoes the
    appkey, the appsecret and the account number (a careless gateway): every log line of the
    seller masks them, as a worker's do."""
    plain = {"appkey": "PS" + secrets.token_hex(16), "appsecret": secrets.token_urlsafe(24),
             "cano": f"{secrets.randbelow(10 ** 8):08d}"}
    generate_key_file(tmp_path / "key")
    fernet = read_key(tmp_path / "key")
    stored = {"kis": {k: encrypt(fernet, v) for k, v in plain.items()},
              "kis-key": {"key": (tmp_path / "key").read_text()}}

    async def read_secret(namespace: str, name: str) -> dict[str, str] | None:
        assert namespace == "trading"
        return stored.get(name)

    with ExchangeThread(mode="paper", n_symbols=20, at=dtime(14, 50)) as ex:
        symbol = max(ex.market.symbols(), key=lambda s: ex.market.quote(s).traded_value)
        async with aiohttp.ClientSession() as http:
            await _dead_worker_holding(db, ex, http, symbol, 5, mode="paper")
        echo = (f"rejected: request from {plain['appkey']} / {plain['appsecret']} "
                f"for account {plain['cano']}")
        ex.market.faults.set("place_order", "reject", count=1, code="APBK0952", message=echo,
                             appkey=plain["appkey"])
        seller = WorkerOrphanSeller(
            schedule="krx", identity="tradefleet-operator", db=db, clock=ex.clock,
            spec=OrphanSeller(namespace="trading", mode="paper",
                              broker={"baseUrl": ex.base_url},
                              credentials={"secretName": "kis", "keySecretName": "kis-key"}),
            read_secret=read_secret)
        close = ex.clock.now().replace(hour=15, minute=30)
        await seller.start(Firing(ex.market.day, close - timedelta(minutes=15), close))
        for _ in range(600):
            if not await db.pool.fetchval("SELECT count(*) FROM positions WHERE status='OPEN'"):
                break
            await asyncio.sleep(0.1)
        assert await seller.stop() == 1
        await seller.account_left(ex.market.day)
        assert ex.gateway_counters()["tokens_issued"] == {"sim-appkey-0000": 1,
                                                          plain["appkey"]: 1}
    assert await db.pool.fetchval("SELECT reject_code FROM orders WHERE side = 'SELL' "
                                  "AND status = 'REJECTED'") == "APBK0952"
    [rejected] = [r for r in logs.records if r.get("event_type") == "OrderRejectedEvent"]
    assert "***" in rejected["reason"] and "rejected: request from" in rejected["reason"]
    for value in plain.values():
        assert value not in logs.text
