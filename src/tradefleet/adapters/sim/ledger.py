"""The exchange's own books (its ledger): every execution, the account's holdings, the
symbol list.

This is the truth a test or a chaos bench checks our rows against (holdings at the close,
every execution vs our fills), so it is plain data with its own JSON form: the simulator
serves it (``exchange/books.py``), ``exchange/books_client.py`` reads it back into these same
classes, and the in-process ``SimMarket.books()`` returns them directly. Money is int won;
the average price is a Decimal (as text in JSON), never a float."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from tradefleet.adapters.clock import SEOUL
from tradefleet.domain.orders import Side

MARKETS = ("KOSPI", "KOSDAQ", "ETF", "ETN")
_AVG = Decimal("0.0001")


@dataclass(frozen=True)
class Execution:
    """One fill at the exchange (a 체결), in the order they happened."""

    seq: int                 # 1, 2, ... in execution order
    odno: str                # the order it belongs to (KIS ODNO)
    symbol: str
    side: Side
    qty: int
    price: int               # won
    at: datetime             # KST, the session clock
    account: str             # masked account label, e.g. "5000****-01"

    @property
    def amount(self) -> int:
        return self.qty * self.price

    def as_json(self) -> dict[str, Any]:
        return {"seq": self.seq, "odno": self.odno, "symbol": self.symbol,
                "side": self.side.value, "qty": self.qty, "price": self.price,
                "amount": self.amount, "at": self.at.astimezone(SEOUL).isoformat(),
                "account": self.account}

    @classmethod
    def from_json(cls, row: dict[str, Any]) -> Execution:
        return cls(int(row["seq"]), str(row["odno"]), str(row["symbol"]), Side(row["side"]),
                   int(row["qty"]), int(row["price"]),
                   datetime.fromisoformat(str(row["at"])).astimezone(SEOUL),
                   str(row["account"]))


@dataclass(frozen=True)
class BookHolding:
    symbol: str
    qty: int
    cost: int                # won paid for the shares still held (sells take it pro rata)

    @property
    def avg_price(self) -> Decimal:
        return (Decimal(self.cost) / Decimal(self.qty)).quantize(_AVG)

    def as_json(self) -> dict[str, Any]:
        return {"symbol": self.symbol, "qty": self.qty, "cost": self.cost,
                "avg_price": str(self.avg_price)}

    @classmethod
    def from_json(cls, row: dict[str, Any]) -> BookHolding:
        return cls(str(row["symbol"]), int(row["qty"]), int(row["cost"]))


@dataclass(frozen=True)
class Holdings:
    account: str
    cash: int                # deposit after today's trades (KIS prvs_rcdl_excc_amt)
    orderable_cash: int      # cash less what open buy orders hold back
    holdings: tuple[BookHolding, ...]

    def of(self, symbol: str) -> BookHolding | None:
        return next((h for h in self.holdings if h.symbol == symbol), None)

    def as_json(self) -> dict[str, Any]:
        return {"account": self.account, "cash": self.cash,
                "orderable_cash": self.orderable_cash,
                "holdings": [h.as_json() for h in self.holdings]}

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> Holdings:
        return cls(str(body["account"]), int(body["cash"]), int(body["orderable_cash"]),
                   tuple(BookHolding.from_json(h) for h in body["holdings"]))


@dataclass(frozen=True)
class SymbolInfo:
    symbol: str
    name: str
    market: str              # one of MARKETS

    def as_json(self) -> dict[str, Any]:
        return {"symbol": self.symbol, "name": self.name, "market": self.market}

    @classmethod
    def from_json(cls, row: dict[str, Any]) -> SymbolInfo:
        return cls(str(row["symbol"]), str(row["name"]), str(row["market"]))


@dataclass(frozen=True)
class Books:
    executions: tuple[Execution, ...]
    holdings: Holdings
    symbols: tuple[SymbolInfo, ...]

    def executions_of(self, odno: str) -> list[Execution]:
        key = odno.strip().lstrip("0")
        return [e for e in self.executions if e.odno.lstrip("0") == key]

    def market_of(self, symbol: str) -> str | None:
        return next((s.market for s in self.symbols if s.symbol == symbol), None)


def mask_account(cano: str, product_code: str) -> str:
    """How an account is shown anywhere outside the broker call: ``5000****-01``."""
    return f"{cano[:4]}****-{product_code}"
