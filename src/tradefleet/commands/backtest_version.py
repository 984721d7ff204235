"""``tradefleet backtest --param-version N|latest-approved``: backtest exactly a stored
parameter version (its strategy and params), typically one ``tradefleet tune`` wrote and
nobody has approved yet, so that a person can judge it before ``tradefleet params approve``.

The version is read from the fleet's database, found where ``tradefleet params`` finds it
(the ``db`` section of ``--config``, then TRADEFLEET_DB__*: the one exception to a
backtest reading no environment), in one read-only transaction: a backtest never migrates,
pins or approves anything there. A named id may be unapproved (that is the point); only
``latest-approved`` needs an approved one. The workers then trade it under its label
(``pv-N``), as a live worker that took it would record on its entries."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:       # --help stays light: the database layers load only when used
    from tradefleet.adapters.postgres.param_version_store import ParamVersion
    from tradefleet.settings import Settings

FLAG = "--param-version"
LATEST = "latest-approved"


def version_wanted(text: str) -> str:
    """An argparse type: a version id (a positive integer) or ``latest-approved``."""
    if text == LATEST or (text.isdigit() and int(text) >= 1):
        return text if text == LATEST else str(int(text))
    raise argparse.ArgumentTypeError(f"a version id (a positive integer) or {LATEST!r}, "
                                     f"got {text!r}")


def refuse_beside_params(wanted: str | None, params: Path | None, *,
                         named: str = FLAG) -> None:
    from tradefleet.domain.errors import ConfigError

    if wanted is not None and params is not None:
        raise ConfigError(f"{named} {wanted}: not with --params {params} (a version brings "
                          f"its own params)")


async def read_version(wanted: str, *, strategy: str, strategy_asked: bool,
                       config: Path | None, named: str = FLAG) -> ParamVersion:
    """The stored version ``wanted`` names; ``strategy``: the one the backtest would run
    without it (``--strategy``, else the config's), whose latest approved version
    ``latest-approved`` names; a named version of another strategy is refused only when
    ``--strategy`` asked for one (``strategy_asked``), else its own strategy runs.
    ``named``: what asked for it (the flag, or the config's ``strategy.param_version``)."""
    import asyncpg

    from tradefleet.adapters.postgres import param_version_store as store
    from tradefleet.adapters.postgres.connect import connect_database
    from tradefleet.domain.errors import ConfigError
    from tradefleet.settings import load_database_settings

    try:
        cfg = load_database_settings(config)
        db = await connect_database(
            cfg.dsn.get_secret_value() if cfg.dsn else None, sslmode=cfg.sslmode,
            sslrootcert=str(cfg.sslrootcert) if cfg.sslrootcert else None, min_size=1,
            max_size=1)
    except ConfigError as exc:
        raise ConfigError(f"{named} {wanted}: the fleet's database: {exc}") from None
    try:
        async with db.pool.acquire() as conn, conn.transaction(readonly=True):
            if wanted == LATEST:
                version = await store.latest_approved(conn, strategy)
            else:
                version = await store.get_version(conn, int(wanted))
    except asyncpg.UndefinedTableError:
        raise ConfigError(f"{named} {wanted}: the fleet's database holds no parameter versions "
                          f"(not migrated: tradefleet db migrate)") from None
    finally:
        await db.close()
    if version is None and wanted == LATEST:
        raise ConfigError(f"{named} {LATEST}: no approved parameter version of {strategy} in "
                          f"the fleet's database (tradefleet params list)")
    if version is None:
        raise ConfigError(f"{named} {wanted}: no parameter version {wanted} in the fleet's "
                          f"database (tradefleet params list)")
    if strategy_asked and version.strategy != strategy:
        raise ConfigError(f"{named} {wanted}: version {wanted} is for {version.strategy}, "
                          f"--strategy asks for {strategy}")
    return version


def on_version(fleet: list[Settings], version: ParamVersion) -> list[Settings]:
    """The fleet trading ``version``'s params under its label; a ``strategy.param_version``
    of the config is dropped (the backtest's databases hold no versions to take)."""
    from pydantic import ValidationError

    from tradefleet.domain.errors import ConfigError

    taken = []
    for settings in fleet:
        plain = settings.strategy.model_copy(update={"param_version": None})
        try:
            strategy = plain.with_version(version.label, version.params)
        except (ValidationError, ValueError) as exc:
            raise ConfigError(f"{FLAG} {version.version_id}: the version no longer fits "
                              f"{version.strategy}: {exc}") from None
        taken.append(settings.model_copy(update={"strategy": strategy}))
    return taken
