"""Channel names and payloads of the fan-out (LISTEN/NOTIFY).

Why LISTEN/NOTIFY and not a small server of the holder's: every worker already talks to
PostgreSQL and nothing else of the fleet's; a holder's server would need an address the
workers discover and re-discover after each failover, and a fence of its own. Through
Postgres the channel outlives the holder (a new holder publishes on the same channels, the
listeners never reconnect), and the publish is fenced by the lease in the very statement that
sends it (adapters/postgres/feed_lease_store.py). The cost is one database round trip per
batch of ticks and Postgres's 8000-byte payload limit (a tick is ~60 bytes); bench/realtime.py
measures the hop against a bare round trip.

One channel per (account, symbol): a worker hears only the symbols it holds; one status
channel per account carries the holder's heartbeat (live or down, and why); one notice
channel per account carries every pushed fill of the account, and each worker records
those of its own orders (matched by the broker's order number)."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime

from tradefleet.domain.locks import check_symbol
from tradefleet.ports.feed import FeedState, FillNotice, PriceTick

PREFIX = "tf_feed_"


def _account(account_key: str) -> str:
    """A short, identifier-safe digest: channel names are at most 63 bytes and lower case,
    and the account number never appears in one."""
    return hashlib.sha256(account_key.encode()).hexdigest()[:12]


def tick_channel(account_key: str, symbol: str) -> str:
    check_symbol(symbol)
    return f"{PREFIX}{_account(account_key)}_t_{symbol.lower()}"


def status_channel(account_key: str) -> str:
    return f"{PREFIX}{_account(account_key)}_status"


def notice_channel(account_key: str) -> str:
    return f"{PREFIX}{_account(account_key)}_fills"


def notice_payload(n: FillNotice, token: int) -> str:
    return json.dumps({"o": n.order_no, "s": n.symbol, "d": n.side, "q": n.qty, "p": n.price,
                       "t": n.executed_hms, "k": token}, separators=(",", ":"))


def read_notice(payload: str) -> FillNotice:
    """ValueError naming the field."""
    try:
        raw = json.loads(payload)
        return FillNotice(str(raw["o"]), str(raw["s"]), str(raw["d"]), raw["q"], raw["p"],
                          str(raw["t"]))
    except (KeyError, TypeError) as exc:
        raise ValueError(f"notice payload: {exc}") from None


def tick_payload(tick: PriceTick, token: int) -> str:
    return json.dumps({"s": tick.symbol, "p": tick.price, "at": tick.at.isoformat(),
                       "k": token}, separators=(",", ":"))


def read_tick(payload: str) -> tuple[PriceTick, int]:
    """The tick and the lease token it was published under; ValueError naming the field."""
    try:
        raw = json.loads(payload)
        symbol, price, at, token = raw["s"], raw["p"], raw["at"], raw["k"]
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"tick payload: {exc}") from None
    if not isinstance(price, int) or price <= 0:
        raise ValueError(f"tick payload field p (price): {price!r} is not a positive int")
    when = datetime.fromisoformat(at)
    if when.tzinfo is None:
        raise ValueError(f"tick payload field at: {at!r} has no timezone")
    return PriceTick(str(symbol), price, when), int(token)


def status_payload(state: FeedState, why: str, token: int) -> str:
    return json.dumps({"state": state.value, "why": why[:200], "k": token},
                      separators=(",", ":"))


def read_status(payload: str) -> tuple[FeedState, str, int]:
    try:
        raw = json.loads(payload)
        return FeedState(raw["state"]), str(raw["why"]), int(raw["k"])
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"status payload: {exc}") from None
