"""The operator's own selling of shares no live worker owns (LiquidationSchedule
``spec.orphans``), by reuse rather than a second order path: from the liquidation time to the
close it runs an ordinary worker in-process under its own identity (``<identity>-<schedule>``)
with an empty universe, a capital limit of 1 won and its liquidation time already passed, so
it can buy nothing and does only what a live worker does with orphans — adopt them through
their lock (AccountReconciler) and sell them at market through the fenced order path. After
the close it compares the broker account with the day's books, as the reconciler does.

Broker credentials come from the Secrets the spec names, decrypted in memory; the key is on
disk only for the moment the settings loader reads it (in a private temporary directory)."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Awaitable, Callable, Mapping
from datetime import date
from pathlib import Path
from typing import Any

import aiohttp
import structlog

from tradefleet.adapters.postgres.database import Database
from tradefleet.adapters.postgres.orphan_store import PostgresOrphanStore
from tradefleet.domain.errors import ConfigError
from tradefleet.domain.market import Balance
from tradefleet.operator.liquidation import Firing
from tradefleet.operator.resources import OrphanSeller
from tradefleet.ports.clock import Clock
from tradefleet.ports.orphan_store import SymbolBook

SecretReader = Callable[[str, str], Awaitable[Mapping[str, str] | None]]


def shares_left(balance: Balance, books: Mapping[str, SymbolBook]) -> dict[str, int]:
    """Shares the broker still holds that today's orders of ours could account for and no
    open position does (what AccountReconciler would call an excess): after the close this
    must be empty. Shares the account held before today are not counted."""
    left: dict[str, int] = {}
    for holding in balance.holdings:
        book = books.get(holding.symbol)
        if book is None:
            continue
        possible = book.bought_ordered_qty - book.sold_filled_qty - book.open_qty
        excess = min(holding.qty - book.open_qty, possible)
        if excess > 0:
            left[holding.symbol] = excess
    return left


def seller_id(identity: str, schedule: str) -> str:
    raw = "".join(c if c.isalnum() or c == "-" else "-" for c in f"{identity}-{schedule}")
    return raw.lower()[:63].rstrip("-")


class WorkerOrphanSeller:
    def __init__(self, *, schedule: str, spec: OrphanSeller, identity: str, db: Database,
                 clock: Clock, read_secret: SecretReader) -> None:
        self._spec = spec
        self.worker_id = seller_id(identity, schedule)
        self._db = db
        self._clock = clock
        self._read_secret = read_secret
        self._session: aiohttp.ClientSession | None = None
        self._broker: Any = None
        self._worker: Any = None
        self._task: asyncio.Task | None = None
        self._log = structlog.get_logger("tradefleet.operator.orphans").bind(
            worker_id=self.worker_id)

    async def _environment(self, key_dir: Path) -> dict[str, str]:
        s = self._spec
        env = {"TRADEFLEET_WORKER_ID": self.worker_id, "TRADEFLEET_MODE": s.mode,
               "TRADEFLEET_CONFIRM_REAL_TRADING": "true" if s.confirm_real_trading else "false",
               "TRADEFLEET_BROKER__BASE_URL": s.broker.base_url,
               "TRADEFLEET_RISK__CAPITAL_LIMIT": "1", "TRADEFLEET_RISK__DAILY_LOSS_LIMIT": "1",
               "TRADEFLEET_RISK__LIQUIDATION_OFFSET_MINUTES": "60"}
        if s.credentials is None:
            return env
        secret = await self._read_secret(s.namespace, s.credentials.secret_name) or {}
        key = await self._read_secret(s.namespace, s.credentials.key_secret_name) or {}
        missing = [k for k in ("appkey", "appsecret", "cano") if not secret.get(k)]
        if missing or not key.get("key"):
            raise ConfigError(f"spec.orphans.credentials: Secrets in {s.namespace} lack "
                              f"{', '.join(missing) or 'key'}")
        key_file = key_dir / "key"
        key_file.write_text(key["key"])
        key_file.chmod(0o600)
        env.update({"TRADEFLEET_BROKER__APPKEY": secret["appkey"],
                    "TRADEFLEET_BROKER__APPSECRET": secret["appsecret"],
                    "TRADEFLEET_ACCOUNT__CANO": secret["cano"],
                    "TRADEFLEET_KEY_FILE": str(key_file)})
        return env

    async def start(self, firing: Firing) -> None:
        settings = await self.connect()
        from tradefleet.worker.wiring import build_worker

        self._worker = build_worker(settings, db=self._db, broker=self._broker,
                                    clock=self._clock, universe=[])
        self._task = asyncio.create_task(self._worker.run(), name=f"orphans:{self.worker_id}")
        self._log.info("selling orphans until the close", close=firing.close.isoformat())

    async def connect(self) -> Any:
        """The account access alone (the after-close check of an operator that restarted
        after the close); returns the seller's settings."""
        from tradefleet.adapters.kis.fleet import build_fleet_kis_broker
        from tradefleet.settings import load_settings
        from tradefleet.settings.secrets import FernetCipher, read_key
        from tradefleet.worker.wiring import kis_config, register_settings_secrets

        with tempfile.TemporaryDirectory(prefix="tf-orphans-") as tmp:
            settings = load_settings(None, await self._environment(Path(tmp)))
            cipher = FernetCipher(read_key(settings.key_file)) if settings.key_file else None
        register_settings_secrets(settings)
        config = kis_config(settings)
        self._session = aiohttp.ClientSession()
        self._broker = await build_fleet_kis_broker(
            config, self._session, self._db, self._clock, cipher=cipher,
            share_quotes_window=None, limit_per_second=settings.broker.rate_limit_per_second)
        return settings

    async def stop(self) -> int:
        """Stop the seller (it stops by itself at the close); the orphans it sold today."""
        if self._worker is not None and self._task is not None:
            self._worker.request_stop("liquidation check")
            try:
                await self._task
            except Exception as exc:  # noqa: BLE001 - reported; the check goes on
                self._log.error("orphan seller failed", error_type=type(exc).__name__,
                                error=str(exc))
        return int(await self._db.pool.fetchval(
            """SELECT count(*) FROM positions WHERE worker_id = $1 AND status = 'CLOSED'
                  AND adopted_from IS NOT NULL AND trading_day = $2""",
            self.worker_id, self._clock.now().date()))

    async def account_left(self, trading_day: date) -> dict[str, int]:
        try:
            if self._broker is None:
                return {}
            balance = await self._broker.get_balance()
            books = await PostgresOrphanStore(self._db).symbol_books(trading_day)
            return shares_left(balance, books)
        finally:
            if self._session is not None:
                await self._session.close()
                self._session = None
