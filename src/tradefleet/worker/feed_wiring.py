"""The account's feed built from ``Settings`` for a KIS-dialect worker (paper/real KIS, or a
``tradefleet exchange --ws-port`` simulator): the approval key shared fleet-wide like the
REST token, the holder candidate over the fenced lease, and a listener on its own database
connection (a pooled one cannot keep a LISTEN). Imported only when ``feed.enabled``."""

from __future__ import annotations

from collections.abc import Callable

import aiohttp
import asyncpg

from tradefleet.adapters.kis.auth import Credentials
from tradefleet.adapters.kis.client import KisConfig
from tradefleet.adapters.kis.fleet import fleet_account_key
from tradefleet.adapters.kis.ws_approval import KisApprovalIssuer, shared_approval_keys
from tradefleet.adapters.kis.ws_feed import KisRealtimeFeed
from tradefleet.adapters.kis.ws_notices import NOTICE_TRS
from tradefleet.adapters.postgres.connect import ssl_context
from tradefleet.adapters.postgres.database import Database
from tradefleet.adapters.postgres.feed_lease_store import PostgresFeedLeaseStore
from tradefleet.adapters.postgres.token_store import TokenCipher
from tradefleet.domain.errors import ConfigError
from tradefleet.feed.holder import FeedHolder
from tradefleet.feed.listener import PostgresTickListener
from tradefleet.ports.broker import BrokerPort
from tradefleet.ports.clock import Clock
from tradefleet.settings import Settings
from tradefleet.worker.feed_runtime import FeedParts, holder_id


def build_feed_parts(settings: Settings, config: KisConfig, *, db: Database,
                     http: aiohttp.ClientSession, broker: BrokerPort, clock: Clock,
                     cipher: TokenCipher | None,
                     on_mode: Callable[[bool], None]) -> FeedParts:
    feed = settings.feed
    if feed.ws_url is None:
        raise ConfigError("feed.ws_url (TRADEFLEET_FEED__WS_URL): required when feed.enabled "
                          "is true")
    if settings.db.dsn is None:
        raise ConfigError("feed.enabled (TRADEFLEET_FEED__ENABLED): the feed's listener needs "
                          "db.dsn (the embedded database is one process's)")
    account = fleet_account_key(config)
    dsn = settings.db.dsn.get_secret_value()
    tls = ssl_context(settings.db.sslmode,
                      str(settings.db.sslrootcert) if settings.db.sslrootcert else None)

    async def connect() -> asyncpg.Connection:
        return await asyncpg.connect(dsn, ssl=tls)

    def new_listener() -> PostgresTickListener:
        return PostgresTickListener(connect, account, stale_after_s=feed.stale_after_seconds)

    holder = None
    if feed.stand_for_holder:
        issuer = KisApprovalIssuer(http, Credentials(config.base_url, config.appkey,
                                                     config.appsecret),
                                   timeout_seconds=config.timeout_seconds)
        approvals = shared_approval_keys(db, appkey=config.appkey, mode=config.mode,
                                         issuer=issuer, cipher=cipher)
        ws_url = feed.ws_url

        def open_feed(on_event, on_state) -> KisRealtimeFeed:  # noqa: ANN001
            return KisRealtimeFeed(http, ws_url, approvals, on_event, on_state=on_state)

        store = PostgresFeedLeaseStore(db)
        holder = FeedHolder(store, account_key=account, holder_id=holder_id(settings.worker_id),
                            open_feed=open_feed, wanted=store.held_symbols,
                            ttl_s=feed.lease_seconds, renew_s=feed.renew_seconds,
                            retry_s=feed.renew_seconds, give_up_s=feed.give_up_seconds,
                            notices=None if feed.hts_id is None
                            else (NOTICE_TRS[config.mode], feed.hts_id))
    _strategy, _filters, exits = settings.trading_rules()
    return FeedParts(holder=holder, new_listener=new_listener, broker=broker, exits=exits,
                     clock=clock, on_mode=on_mode)
