"""``tradefleet params list|show|approve``: the stored parameter versions (issue 21). A
version written by ``tradefleet tune`` is taken by the fleet only after a person approves
it here; workers take it at the start of their next session, never mid-session."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from tradefleet.commands.arguments import positive_int
from tradefleet.commands.console import command_console


def _name(value: str) -> str:
    if not value.strip() or len(value) > 128:
        raise argparse.ArgumentTypeError("a person's name, 1..128 characters")
    return value.strip()


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("params", help="parameter versions: list, show, approve",
                              description=__doc__.split("\n", 1)[0] if __doc__ else None)
    sub = p.add_subparsers(dest="params_command", metavar="ACTION", required=True)
    ls = sub.add_parser("list", help="every version, newest last")
    ls.add_argument("--strategy", default=None, help="only this strategy's versions")
    show = sub.add_parser("show", help="one version: params and evidence")
    show.add_argument("id", type=positive_int, metavar="ID")
    show.add_argument("--params-only", action="store_true",
                      help="only the params, as JSON (for tradefleet backtest --params FILE)")
    ok = sub.add_parser("approve", help="approve a version for the fleet's next sessions")
    ok.add_argument("id", type=positive_int, metavar="ID")
    ok.add_argument("--by", type=_name, required=True, help="who approves (recorded)")
    ok.add_argument("--reason", default=None, help="why (recorded)")
    for s in (ls, show, ok):
        s.add_argument("--config", type=Path, default=None, help="YAML settings file")
        s.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    return asyncio.run(_main(args))


async def _main(args: argparse.Namespace) -> int:
    from tradefleet.adapters.postgres.connect import connect_database, migrate_database
    from tradefleet.domain.errors import ConfigError
    from tradefleet.settings import load_database_settings

    try:
        cfg = load_database_settings(args.config)
        db = await connect_database(
            cfg.dsn.get_secret_value() if cfg.dsn else None, sslmode=cfg.sslmode,
            sslrootcert=str(cfg.sslrootcert) if cfg.sslrootcert else None, max_size=2)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    try:
        await migrate_database(db)
        return await _act(args, db)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    finally:
        await db.close()


async def _act(args: argparse.Namespace, db: Any) -> int:
    from tradefleet.adapters.postgres import param_version_store as store
    from tradefleet.strategy_plugins import load_strategy

    console = command_console()
    if args.params_command == "list":
        _table(console, await store.list_versions(db.pool, args.strategy))
        return 0
    version = await store.get_version(db.pool, args.id)
    if version is None:
        print(f"ID: no parameter version {args.id}", file=sys.stderr)
        return 2
    if args.params_command == "show":
        if args.params_only:        # plain JSON on stdout, for a file
            sys.stdout.write(json.dumps(version.params, sort_keys=True, indent=2) + "\n")
        else:
            console.print_json(json.dumps(_as_dict(version), default=str))
        return 0
    # still valid for this build's schema (a user's strategy: from the file tune used)
    load_strategy(version.strategy, version.params, version.evidence.get("strategy_path"))
    approved = await store.approve_version(db.pool, args.id, by=args.by, reason=args.reason)
    console.print(f"approved {approved.label} ({approved.strategy}) by {approved.approved_by} "
                  f"at {_kst(approved.approved_at)}; workers following "
                  f"latest-approved take it at their next session")
    return 0


def _as_dict(v: Any) -> dict[str, Any]:
    return {"id": v.version_id, "label": v.label, "strategy": v.strategy, "params": v.params,
            "created_at": v.created_at, "approved_by": v.approved_by,
            "approved_at": v.approved_at, "approve_reason": v.approve_reason,
            "evidence": v.evidence}


def _table(console: Any, versions: list[Any]) -> None:
    from rich.table import Table

    table = Table(title="parameter versions")
    for col in ("id", "strategy", "params", "fit score", "judge score", "created",
                "approved by"):
        table.add_column(col)
    for v in versions:
        ev = v.evidence or {}
        table.add_row(str(v.version_id), v.strategy,
                      json.dumps(v.params, sort_keys=True, separators=(",", ":")),
                      _score(ev.get("fit_score")), _score(ev.get("judge_score")),
                      _kst(v.created_at),
                      f"{v.approved_by} {_kst(v.approved_at)}" if v.approved_at else "-")
    console.print(table)


def _kst(at: Any) -> str:
    """A database time in Seoul's zone, as every time the fleet shows."""
    from tradefleet.adapters.clock import SEOUL

    return f"{at.astimezone(SEOUL):%Y-%m-%d %H:%M:%S %Z}"


def _score(value: Any) -> str:
    return "-" if value is None else f"{float(value):.4f}"
