"""The search: optuna's TPE sampler, seeded, one trial at a time (so the same days, seed
and trial count give the same trials and the same result), over the strategy's search
space (tuning/space.py), each draw validated by the strategy's pydantic schema, scored on
the walk-forward fit days only; the best draw and the starting parameters are then judged
on the later days. The result carries its evidence for the parameter version."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna

from tradefleet.domain.errors import ConfigError
from tradefleet.domain.exits import ExitParams
from tradefleet.strategy_plugins import load_strategy
from tradefleet.tuning.day_bars import DayBars
from tradefleet.tuning.scorer import Rules, score_days
from tradefleet.tuning.space import json_params, search_space, suggest
from tradefleet.tuning.walk_forward import walk_forward

OnTrial = Callable[[int, int, float | None], None]      # (done, of, best fit score so far)


@dataclass(frozen=True, slots=True)
class TuneRequest:
    strategy: str
    base_params: Mapping[str, Any]
    exits: ExitParams
    rules: Rules
    trials: int
    seed: int = 0
    path: Path | None = None
    avoid: Collection[str] = ()


@dataclass(frozen=True, slots=True)
class TuneResult:
    strategy: str
    params: dict[str, Any]
    evidence: dict[str, Any]


def tune(request: TuneRequest, days: Sequence[DayBars], *,
         on_trial: OnTrial | None = None) -> TuneResult:
    split = walk_forward(days, key=lambda d: d.day)
    base = _build(request, dict(request.base_params))
    space = search_space(type(base), type(base.params))
    if not space:
        raise ConfigError(f"strategy.name: {request.strategy} has no parameter to search "
                          f"(no search_space and no numeric defaults)")

    def judge(strategy: Any, on: Sequence[DayBars]) -> tuple[float, int]:
        return score_days(strategy, strategy.exit_params(request.exits), on, request.rules,
                          request.avoid)

    def objective(trial: optuna.Trial) -> float:
        drawn = {**json_params(base.params), **suggest(trial, space)}
        try:
            strategy = _build(request, drawn)
        except ConfigError as exc:          # the schema refuses this combination
            trial.set_user_attr("refused", str(exc))
            raise optuna.TrialPruned() from None
        trial.set_user_attr("params", json_params(strategy.params))
        fit_days = split.fit
        trial.set_user_attr("days", [d.day.isoformat() for d in fit_days])
        score, trades = judge(strategy, fit_days)
        trial.set_user_attr("trades", trades)
        return score

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize",
                                sampler=optuna.samplers.TPESampler(seed=request.seed))
    for done in range(1, request.trials + 1):
        study.optimize(objective, n_trials=1)
        if on_trial is not None:
            on_trial(done, request.trials, _best_value(study))
    scored = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if not scored:
        raise ConfigError(f"--trials: none of {request.trials} draws passed the "
                          f"{request.strategy} schema; try more trials")
    best = _build(request, study.best_trial.user_attrs["params"])
    fit_score, fit_trades = judge(best, split.fit)
    judge_score, judge_trades = judge(best, split.judge)
    base_fit, _ = judge(base, split.fit)
    base_judge, base_judge_trades = judge(base, split.judge)
    evidence = {
        "strategy_version": best.strategy_version,
        "fit_days": [d.day.isoformat() for d in split.fit],
        "judge_days": [d.day.isoformat() for d in split.judge],
        "fit_score": fit_score, "fit_trades": fit_trades,
        "judge_score": judge_score, "judge_trades": judge_trades,
        "baseline": {"params": json_params(base.params), "fit_score": base_fit,
                     "judge_score": base_judge, "judge_trades": base_judge_trades},
        "trials": {"asked": request.trials, "scored": len(scored),
                   "refused": request.trials - len(scored), "seed": request.seed,
                   "sampler": "optuna TPESampler", "optuna": optuna.__version__},
        "search_space": {k: [r.low, r.high] for k, r in space.items()},
        "score": "mean per-day sum of net trade returns (bar model, tuning/scorer.py)",
        "trial_table": [{"n": t.number, "params": t.params, "fit_score": t.value,
                         "days": t.user_attrs.get("days")} for t in scored],
    }
    return TuneResult(request.strategy, json_params(best.params), evidence)


def _best_value(study: optuna.Study) -> float | None:
    try:
        return study.best_value
    except ValueError:
        return None


def _build(request: TuneRequest, params: dict[str, Any]) -> Any:
    return load_strategy(request.strategy, params, request.path)
