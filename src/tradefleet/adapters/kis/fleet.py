"""The KIS broker as a fleet member: one token and one request budget per appkey, shared
through Postgres by every process that uses the appkey, and optionally one quote fetch per
poll window for the whole fleet.

KIS issues a token at most once a minute (and alerts the account holder each time) and counts
requests per appkey, not per process, so the per-process token cache and rate window of
``in_process_kis_broker`` are only right for a single process. This is the wiring a worker
uses when several processes share an appkey."""

from __future__ import annotations

from collections.abc import Callable

import aiohttp

from tradefleet.adapters.kis.auth import Credentials, KisTokenIssuer
from tradefleet.adapters.kis.broker import KisBroker
from tradefleet.adapters.kis.client import KisConfig
from tradefleet.adapters.postgres.database import Database
from tradefleet.adapters.postgres.rate_budget import PostgresRateBudget, budget_key
from tradefleet.adapters.postgres.shared_quotes import SharedQuotesBroker
from tradefleet.adapters.postgres.token_store import (
    SharedTokenProvider,
    TokenCipher,
    appkey_hash,
)
from tradefleet.adapters.telemetry.metered_limiter import MeteredRateLimiter
from tradefleet.ports.broker import BrokerPort
from tradefleet.ports.clock import Clock

# KIS per-appkey request limits (requests per second); see reference/kis-api.md.
MODE_RATE_LIMITS: dict[str, int] = {"real": 20, "paper": 2}


def fleet_account_key(config: KisConfig) -> str:
    """Non-secret scope for shared quotes: mode plus a hash of appkey and account, so two
    accounts never read each other's snapshots and no key or account number is stored."""
    return f"{config.mode}:{appkey_hash(config.appkey + '/' + config.cano)[:32]}"


async def build_fleet_kis_broker(
    config: KisConfig, session: aiohttp.ClientSession, db: Database, clock: Clock, *,
    cipher: TokenCipher | None = None, share_quotes_window: float | None,
    limit_per_second: int | None = None,
    on_budget_wait: Callable[[float, bool], None] | None = None,
) -> BrokerPort:
    """A ``KisBroker`` whose token and request budget are shared fleet-wide through ``db``;
    wrapped in ``SharedQuotesBroker`` when ``share_quotes_window`` (seconds) is given.
    ``cipher`` encrypts the stored token (required outside the simulator).
    ``limit_per_second`` overrides the mode's KIS limit (for a simulator whose clock runs
    faster than real time); None = 20 real / 2 paper. ``on_budget_wait(seconds, granted)``
    hears how long each request waited for the budget (the worker's metrics)."""
    if share_quotes_window is not None and not share_quotes_window > 0:
        raise ValueError(
            f"share_quotes_window: must be > 0 seconds or None, got {share_quotes_window!r}")
    if limit_per_second is not None and limit_per_second < 1:
        raise ValueError(f"limit_per_second: must be >= 1 or None, got {limit_per_second!r}")
    issuer = KisTokenIssuer(session, Credentials(config.base_url, config.appkey,
                                                 config.appsecret),
                            timeout_seconds=config.timeout_seconds)
    tokens = SharedTokenProvider(db, appkey=config.appkey, mode=config.mode,
                                 issue=issuer, cipher=cipher)
    budget = PostgresRateBudget(db, budget_key(config.appkey, config.mode),
                                limit_per_second=limit_per_second
                                or MODE_RATE_LIMITS[config.mode])
    limiter = budget if on_budget_wait is None else MeteredRateLimiter(budget, on_budget_wait)
    broker: BrokerPort = KisBroker(config, session, tokens, limiter, clock=clock)
    if share_quotes_window is not None:
        broker = SharedQuotesBroker(broker, db, clock, account_key=fleet_account_key(config),
                                    window_seconds=share_quotes_window)
    return broker
