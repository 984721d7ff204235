"""Which LiquidationSchedules an operator runs. They are cluster-scoped, so every tradefleet
release in a cluster sees all of them; each names its operator in ``spec.operator`` and only
that operator runs it (fires, checks, writes its status). Two releases never both order the
liquidation or overwrite each other's status. A schedule stored before the field was
required names no operator: each operator only marks it (Scheduled False, NoOwner), which
is the same write from all of them, and runs nothing."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def owner_of(spec: Mapping[str, Any] | None) -> str | None:
    owner = (spec or {}).get("operator")
    return owner if isinstance(owner, str) and owner else None


def looks_at_schedule(spec: Mapping[str, Any] | None, operator_name: str) -> bool:
    """kopf's filter for the schedule daemon: our own schedules, and unowned ones (to say
    that nobody runs them); never another operator's."""
    owner = owner_of(spec)
    return owner is None or owner == operator_name
