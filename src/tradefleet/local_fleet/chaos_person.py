"""A person trading by hand on the fleet's own account: the ``manual_trades`` chaos kind.

Many KIS users trade by hand on the account their bots use. The person here
- holds shares from before the day: the simulator's opening holdings (``--holding``), a few
  symbols of the universe, each about one or two of a worker's entries in size;
- from the moment the kind is injected, for ``MANUAL_S`` real seconds, sends a market order
  every 0.3-1.0 s straight to the exchange over its KIS HTTP API (its own appkey and token,
  never through our order rows): a copy of one of the workers' orders of the day or open
  positions (same symbol, side and size: while they trade), a buy of a symbol sized as a worker
  would size it (before they trade it), or a sale of its own shares. A sale never exceeds
  what the person holds: the opening holdings plus its own executions at the exchange;
- is followed by its own order numbers (ODNO): whatever the fleet does, the person's holdings
  are its opening holdings plus what its own orders bought minus what they sold.

Every draw is seeded; what the person copies depends on the fleet's rows at that moment, so a
run is reproducible as far as the fleet's own trades are."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import aiohttp
import asyncpg

from tradefleet.adapters.sim.exchange.books_client import fetch_books
from tradefleet.adapters.sim.ledger import Execution
from tradefleet.adapters.sim.universe import build_universe

PERSON_APPKEY = "chaos-person"        # its own appkey: its own token and rate window
MANUAL_S = 6.0                        # real seconds the person trades for
PAUSE_S = (0.3, 1.0)                  # real seconds between two of its orders
OPENING_SYMBOLS = 4                   # symbols held from before the day
_ORDER = "/uapi/domestic-stock/v1/trading/order-cash"
_TR = {"BUY": "TTTC0012U", "SELL": "TTTC0011U"}
_ROWS = """SELECT symbol, side, qty FROM orders WHERE trading_day = $1
           UNION ALL
           SELECT symbol, 'BUY', qty FROM positions WHERE status = 'OPEN'
           ORDER BY 1, 2, 3"""


def odno_key(value: str) -> str:
    return value.strip().lstrip("0")


@dataclass
class PersonLedger:
    """What the person holds and sent: the opening holdings and its own order numbers."""

    opening: dict[str, int] = field(default_factory=dict)
    odnos: set[str] = field(default_factory=set)           # normalised (odno_key)
    orders: list[dict[str, Any]] = field(default_factory=list)   # every order it tried

    def owns(self, odno: str) -> bool:
        return odno_key(odno) in self.odnos

    @property
    def active(self) -> bool:
        return bool(self.opening or self.odnos)

    def holdings(self, executions: Iterable[Execution]) -> dict[str, int]:
        """Opening holdings plus the person's own executions at the exchange."""
        out = dict(self.opening)
        for e in executions:
            if self.owns(e.odno):
                out[e.symbol] = out.get(e.symbol, 0) + (e.qty if e.side.value == "BUY"
                                                        else -e.qty)
        return {s: q for s, q in sorted(out.items()) if q}


def split_holdings(held: Mapping[str, int], person: Mapping[str, int]
                   ) -> tuple[dict[str, int], dict[str, int]]:
    """The account's holdings per symbol against the person's: (shares beyond the
    person's, which can only be ours; the person's shares the account lacks, which only
    the fleet can have sold)."""
    symbols = sorted(set(held) | set(person))
    ours = {s: held.get(s, 0) - person.get(s, 0) for s in symbols
            if held.get(s, 0) > person.get(s, 0)}
    missing = {s: person.get(s, 0) - held.get(s, 0) for s in symbols
               if person.get(s, 0) > held.get(s, 0)}
    return ours, missing


def opening_holdings(seed: int, symbols: int, capital_limit: int, rng: random.Random
                     ) -> dict[str, int]:
    """A few symbols of the day's universe, each one or two worker entries in size."""
    u = build_universe(seed, symbols)
    picked = rng.sample(range(len(u.symbols)), min(OPENING_SYMBOLS, len(u.symbols)))
    return {u.symbols[i]: max(1, capital_limit // int(u.prev_close[i])) * rng.choice((1, 2))
            for i in sorted(picked)}


def next_order(rng: random.Random, n: int, fleet: Sequence[tuple[str, str, int]],
               mine: Mapping[str, int], sizes: Mapping[str, int]
               ) -> tuple[str, str, int]:
    """The person's ``n``-th order (symbol, side, qty). ``fleet``: the workers' orders of the
    day and open positions; ``mine``: what the person holds; ``sizes``: a worker-sized
    entry per symbol of the universe. A sale is never more than the person holds. The first
    sells some of what the person holds, the second buys (each side at least once)."""
    held = sorted(s for s, q in mine.items() if q > 0)
    if n == 1:
        buys = [f for f in fleet if f[1] == "BUY"]
        if buys:
            symbol, _, qty = rng.choice(buys)
            return symbol, "BUY", qty
        symbol = rng.choice(sorted(sizes))
        return symbol, "BUY", sizes[symbol]
    draw = 0.0 if n == 0 else rng.random()
    if held and draw < 0.35:
        traded = {s for s, _, _ in fleet}
        symbol = rng.choice([s for s in held if s in traded] or held)
        return symbol, "SELL", min(mine[symbol], max(1, rng.choice(
            (mine[symbol], sizes.get(symbol, 1), mine[symbol] // 2))))
    if fleet and draw < 0.8:
        symbol, side, qty = rng.choice(list(fleet))
        if side == "SELL" and mine.get(symbol, 0) > 0:
            return symbol, "SELL", min(qty, mine[symbol])
        return symbol, "BUY", qty
    symbol = rng.choice(sorted(sizes))
    return symbol, "BUY", sizes[symbol]


class HandTrader:
    """The person's own KIS client: a token of its own appkey, market orders by hand."""

    def __init__(self, base_url: str, http: aiohttp.ClientSession) -> None:
        self._base_url = base_url
        self._http = http
        self._token: str | None = None
        self._secret = "chaos-person-secret"    # noqa: S105 - the simulator accepts any pair

    async def _headers(self, tr_id: str) -> dict[str, str]:
        if self._token is None:
            async with self._http.post(self._base_url + "/oauth2/tokenP", json={
                    "grant_type": "client_credentials", "appkey": PERSON_APPKEY,
                    "appsecret": self._secret}) as resp:
                self._token = str((await resp.json())["access_token"])
        return {"authorization": f"Bearer {self._token}", "appkey": PERSON_APPKEY,
                "appsecret": self._secret, "tr_id": tr_id, "custtype": "P"}

    async def place(self, symbol: str, side: str, qty: int) -> tuple[str | None, str]:
        """(ODNO, "") when the exchange accepted the order, (None, its code) when it refused.
        A lost answer raises: the person could not tell whether it traded, and nor could
        the judge."""
        body = {"CANO": "50000000", "ACNT_PRDT_CD": "01", "PDNO": symbol, "ORD_DVSN": "01",
                "ORD_QTY": str(qty), "ORD_UNPR": "0"}
        async with self._http.post(self._base_url + _ORDER, json=body,
                                   headers=await self._headers(_TR[side])) as resp:
            answer = await resp.json()
        if answer.get("rt_cd") == "0":
            return str(answer["output"]["ODNO"]), ""
        return None, str(answer.get("msg_cd", "?"))


@dataclass
class HandStats:
    placed: int = 0
    buys: int = 0
    sells: int = 0
    refused: int = 0


async def trade_by_hand(base_url: str, http: aiohttp.ClientSession, dsn: str, day: date,
                        ledger: PersonLedger, rng: random.Random, sizes: Mapping[str, int],
                        seconds: float = MANUAL_S) -> HandStats:
    """Orders by hand for ``seconds``, each drawn from the fleet's rows of the moment."""
    trader = HandTrader(base_url, http)
    stats = HandStats()
    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        until = time.time() + seconds
        while time.time() < until:
            fleet = [(r["symbol"], r["side"], int(r["qty"]))
                     for r in await conn.fetch(_ROWS, day, timeout=10)]
            mine = ledger.holdings((await fetch_books(base_url, http)).executions)
            symbol, side, qty = next_order(rng, len(ledger.orders), fleet, mine, sizes)
            odno, refused = await trader.place(symbol, side, qty)
            ledger.orders.append({"symbol": symbol, "side": side, "qty": qty, "odno": odno,
                                  "refused": refused or None, "at": time.time()})
            if odno is None:
                stats.refused += 1
            else:
                ledger.odnos.add(odno_key(odno))
                stats.placed += 1
                stats.buys += side == "BUY"
                stats.sells += side == "SELL"
            await asyncio.sleep(rng.uniform(*PAUSE_S))
    finally:
        await conn.close()
    return stats


def worker_sizes(seed: int, symbols: int, capital_limit: int) -> dict[str, int]:
    """A worker's entry size per symbol of the universe, at the previous close."""
    u = build_universe(seed, symbols)
    return {s: max(1, capital_limit // int(p)) for s, p in zip(u.symbols, u.prev_close,
                                                                strict=True)}
