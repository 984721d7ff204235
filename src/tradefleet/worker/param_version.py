"""The parameter version a worker trades with, taken once at the start of its session
(issue 21): the settings name a version id or ``latest-approved``; only an approved version
is taken, and the first start of the day pins it, so a restart later that day (a pod
rescheduled) trades the same one even if another was approved meanwhile."""

from __future__ import annotations

from pydantic import ValidationError

from tradefleet.adapters.clock import SEOUL
from tradefleet.adapters.postgres.database import Database
from tradefleet.adapters.postgres.param_version_store import take_session_version
from tradefleet.domain.errors import ConfigError
from tradefleet.ports.clock import Clock
from tradefleet.settings import Settings


async def take_param_version(settings: Settings, db: Database, clock: Clock) -> Settings:
    """``settings`` with the session's parameter version in (unchanged without one)."""
    wanted = settings.strategy.param_version
    if wanted is None:
        return settings
    version = await take_session_version(
        db.pool, worker_id=settings.worker_id,
        trading_day=clock.now().astimezone(SEOUL).date(),
        strategy=settings.strategy.name, wanted=wanted)
    try:
        strategy = settings.strategy.with_version(version.label, version.params)
    except (ValidationError, ValueError) as exc:
        raise ConfigError(f"strategy.param_version: version {version.version_id} no longer "
                          f"fits {settings.strategy.name}: {exc}") from None
    return settings.model_copy(update={"strategy": strategy})
