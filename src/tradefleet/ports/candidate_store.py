"""Where scan results are kept (the ``candidates`` table): one call per scan."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Protocol, runtime_checkable
from uuid import UUID


@dataclass(frozen=True, slots=True)
class CandidateRow:
    symbol: str
    price: int
    volume: int
    traded_value: int
    change_rate: Decimal
    spread_ticks: int | None
    passed_filters: bool
    rejected_by: tuple[str, ...]
    indicators: dict[str, Any]
    signal: bool


@runtime_checkable
class CandidateStore(Protocol):
    async def save_scan(self, *, scan_id: UUID, worker_id: str, trading_day: date,
                        strategy_name: str, strategy_version: str, param_version: str,
                        rows: Sequence[CandidateRow]) -> int:
        """Store all rows of one scan in one statement; returns the row count."""
        ...
