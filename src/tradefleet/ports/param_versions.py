"""What the operator reads of the stored parameter versions (issue 21): a version by its id,
and the one ``latest-approved`` names for a strategy. Written by ``tradefleet tune``,
approved by ``tradefleet params approve``; the operator never writes them."""

from __future__ import annotations

from typing import Any, Protocol


class StoredVersion(Protocol):
    @property
    def version_id(self) -> int: ...
    @property
    def strategy(self) -> str: ...
    @property
    def params(self) -> dict[str, Any]: ...
    @property
    def approved(self) -> bool: ...


class ParamVersionReader(Protocol):
    async def version(self, version_id: int) -> StoredVersion | None: ...
    async def latest_approved(self, strategy: str) -> StoredVersion | None: ...
