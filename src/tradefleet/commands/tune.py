"""``tradefleet tune``: search a strategy's parameters over the last N recorded days.

Walk-forward: the search (optuna's TPE sampler, seeded: the same days, seed and trials give
the same version) fits on the earlier days and the best draw is judged on the later third,
which the search never sees. Each draw passes the strategy's pydantic schema first. The
symbols the stored SC-011 notes of those days show as thin books are not bought. The
result is written as a new, unapproved parameter version with its evidence (scores, days,
trials); `tradefleet params approve ID --by NAME` lets the fleet take it at the next
session. Settings (strategy, exits, risk, costs) come from --config as for a backtest; the
database from TRADEFLEET_DB__DSN (or the embedded one). Progress goes to stderr."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from tradefleet.commands.arguments import int_in, positive_int


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("tune", help="search parameters over recorded days; store a "
                              "parameter version", description=__doc__.split("\n\n", 1)[1]
                              if __doc__ else None)
    p.add_argument("--data", type=Path, required=True, metavar="DIR",
                   help="data directory of recorded days (tradefleet record --out)")
    p.add_argument("--days", type=int_in(2, 3650), required=True, metavar="N",
                   help="the last N recorded days (2 at least: fit and judge)")
    p.add_argument("--trials", type=int_in(1, 100_000), required=True, metavar="K",
                   help="parameter draws to try")
    p.add_argument("--strategy", default=None, metavar="NAME",
                   help="strategy by name (default: the config's)")
    p.add_argument("--seed", type=positive_int, default=1, help="sampler seed (1)")
    p.add_argument("--config", type=Path, default=None, metavar="FILE",
                   help="worker settings YAML (strategy, exits, risk, costs)")
    p.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from tradefleet.commands.console import command_console
    from tradefleet.domain.errors import ConfigError

    console = command_console()
    console.stderr = True
    try:
        import optuna  # noqa: F401 - the search
        import pyarrow  # noqa: F401 - the recorded days
    except ModuleNotFoundError as exc:
        console.print(f"[red]tune:[/red] needs {exc.name}: pip install "
                      f"'tradefleet[tuning,replay]'", highlight=False)
        return 2
    try:
        return asyncio.run(_tune(args, console))
    except ConfigError as exc:
        console.print(f"[red]tune:[/red] {exc}", highlight=False)
        return 2


def chosen_days(data: Path, n: int) -> list[Path]:
    from tradefleet.domain.errors import ConfigError
    from tradefleet.replay.day_format import recorded_days

    if not data.is_dir():
        raise ConfigError(f"--data {data}: no such directory")
    folders = list(recorded_days(data))
    if len(folders) < n:
        raise ConfigError(f"--days: {n} asked, {data} holds {len(folders)} recorded day(s)")
    return folders[-n:]


async def _tune(args: argparse.Namespace, console) -> int:  # noqa: ANN001
    from tradefleet.adapters.postgres.connect import connect_database, migrate_database
    from tradefleet.adapters.postgres.param_version_store import insert_version
    from tradefleet.replay.backtest_fleet import fleet_settings
    from tradefleet.settings import load_database_settings
    from tradefleet.tuning.day_bars import load_day_bars
    from tradefleet.tuning.sc011 import read_tuning_notes
    from tradefleet.tuning.tuner import tune

    # every flag and file checked before the database is touched
    settings = fleet_settings(1, config=args.config, strategy=args.strategy)[0]
    folders = chosen_days(args.data, args.days)
    days = [load_day_bars(f) for f in folders]
    cfg = load_database_settings(args.config)
    db = await connect_database(cfg.dsn.get_secret_value() if cfg.dsn else None,
                                sslmode=cfg.sslmode, max_size=2,
                                sslrootcert=str(cfg.sslrootcert) if cfg.sslrootcert else None)
    try:
        await migrate_database(db)
        notes = await read_tuning_notes(db.pool, [d.day for d in days])
        request = tune_request(settings, args, notes.thin_symbols)
        console.print(f"tune: {request.strategy}, {len(days)} day(s) "
                      f"{days[0].day}..{days[-1].day}, {args.trials} trial(s), seed {args.seed}"
                      f"; avoiding {len(notes.thin_symbols)} thin-book symbol(s) (SC-011)",
                      highlight=False)
        step = max(1, args.trials // 10)

        def on_trial(done: int, of: int, best: float | None) -> None:
            if done % step == 0 or done == of:
                shown = "-" if best is None else f"{best:+.4f}"
                console.print(f"  trial {done}/{of}: best fit score {shown}", highlight=False)

        result = await asyncio.to_thread(tune, request, days, on_trial=on_trial)
        evidence = {**result.evidence, "sc011": notes.as_evidence()}
        if request.path is not None:        # the user's own file: approve checks it again
            evidence["strategy_path"] = str(request.path.absolute())
        version = await insert_version(db.pool, strategy=result.strategy,
                                       params=result.params, evidence=evidence)
    finally:
        await db.close()
    ev = result.evidence
    sys.stdout.write(
        f"parameter version {version.version_id} ({version.label}) of {version.strategy}, "
        f"unapproved\n  params: {result.params}\n"
        f"  fit   {', '.join(ev['fit_days'])}: score {ev['fit_score']:+.4f} "
        f"({ev['fit_trades']} trades)\n"
        f"  judge {', '.join(ev['judge_days'])}: score {ev['judge_score']:+.4f} "
        f"({ev['judge_trades']} trades); starting params {ev['baseline']['judge_score']:+.4f}\n"
        f"  approve: tradefleet params approve {version.version_id} --by NAME\n")
    return 0


def tune_request(settings, args: argparse.Namespace, avoid) -> object:  # noqa: ANN001
    from tradefleet.domain.exits import ExitParams
    from tradefleet.tuning.scorer import Rules
    from tradefleet.tuning.tuner import TuneRequest

    e = settings.exits          # as configured: each draw's strategy adjusts them itself
    exits = ExitParams(e.stop_loss_pct, e.take_profit_pct, e.trend_ma_window,
                       e.time_exit_minutes)
    rules = Rules(liquidation_offset_minutes=settings.risk.liquidation_offset_minutes,
                  entry_cutoff_minutes=settings.risk.entry_cutoff_minutes,
                  buy_commission_rate=settings.costs.buy_commission_rate,
                  sell_commission_rate=settings.costs.sell_commission_rate)
    return TuneRequest(strategy=settings.strategy.name, base_params=settings.strategy.params,
                       exits=exits, rules=rules, trials=args.trials, seed=args.seed,
                       path=settings.strategy.path, avoid=tuple(avoid))
