"""The contract every entry strategy meets — the user's own code included — plus the
parameter fingerprint.

A strategy is four things (``Strategy`` below):

- **signal**: ``evaluate(closes, volumes, prices)`` scores the whole universe in one
  vectorised call (rows = symbols that passed the filters, columns = the last
  ``bars_needed`` closed minute bars, oldest first; ``prices`` = the current price per row)
  and returns a ``SignalResult`` (bool signal, float score, last-bar indicators, one per row);
- **filters**: ``filter_params(configured)`` returns the pre-filters it wants (the settings'
  ``filters`` section comes in; return it unchanged to keep it);
- **exit parameters**: ``exit_params(configured)`` likewise for the ``exits`` section;
- **parameter schema**: ``Params``, a pydantic model (extra keys forbidden). The validated
  model is ``params``; ``param_version`` is its fingerprint, recorded on every entry (SC-005)
  so a result can be traced to the exact parameters used.

``StrategyBase`` provides the schema check, the fingerprint and the unchanged filters/exits;
a strategy subclasses it and sets ``name``, ``strategy_version``, ``Params``, ``bars_needed``
and ``evaluate``; optionally ``search_space`` (parameter -> (low, high), what ``tradefleet
tune`` searches; see tuning/space.py). A model check that relates fields raises
``ValueError("FIELD: message")`` so the error names that field. Strategy code must be
pure (no I/O): a strategy that raises in the worker is caught there (``StrategyFailed``):
buying stops, held positions are still managed by the exit rules, which run no strategy
code.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np
from pydantic import BaseModel, ConfigDict, ValidationError

from tradefleet.domain.errors import ConfigError
from tradefleet.domain.exits import ExitParams
from tradefleet.domain.filters import FilterParams


class StrategyParamsError(ConfigError):
    """Bad strategy parameters, one message per parameter (settings name each one with its
    env var; the text alone reads ``strategy.params.NAME: message; ...``)."""

    def __init__(self, problems: dict[str, str]) -> None:
        self.problems = dict(problems)
        super().__init__("; ".join(f"strategy.params.{name}: {message}"
                                   for name, message in self.problems.items()))


class StrategyFailed(Exception):  # noqa: N818 - reads as what happened, like LockLost
    """The strategy's own code raised, or returned something malformed, while the worker
    ran it. Not a WorkerError: the cycle stops buying for the day and keeps managing what
    it holds; it is never retried as if the broker or the database had failed."""

    def __init__(self, strategy: str, cause: BaseException | str) -> None:
        self.strategy = strategy
        text = cause if isinstance(cause, str) else f"{type(cause).__name__}: {cause}"
        super().__init__(f"strategy {strategy!r} failed: {text}")


@dataclass(frozen=True, slots=True)
class SignalResult:
    signal: np.ndarray                  # bool per symbol
    score: np.ndarray                   # float per symbol (NaN when not computable)
    indicators: dict[str, np.ndarray]   # last-bar indicator values per symbol


@runtime_checkable
class Strategy(Protocol):
    name: str
    strategy_version: str
    param_version: str
    bars_needed: int
    params: BaseModel

    def evaluate(
        self, closes: np.ndarray, volumes: np.ndarray, prices: np.ndarray
    ) -> SignalResult: ...

    def filter_params(self, configured: FilterParams) -> FilterParams: ...

    def exit_params(self, configured: ExitParams) -> ExitParams: ...


class StrategyParams(BaseModel):
    """Base of every strategy's parameter schema: unknown keys are refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def param_hash(params: dict[str, Any]) -> str:
    """Stable short fingerprint of canonical params (key order and int/str noise removed)."""
    canonical = json.dumps(params, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:12]


def validate_params(strategy: str, schema: type[StrategyParams],
                    params: Mapping[str, Any]) -> StrategyParams:
    """``params`` checked against ``schema``; StrategyParamsError names every bad one."""
    if not isinstance(params, Mapping):
        raise ConfigError(f"strategy.params must be a mapping, got {type(params).__name__}")
    try:
        return schema.model_validate(dict(params))
    except ValidationError as exc:
        raise StrategyParamsError(_problems(strategy, schema, exc)) from None


def _problems(strategy: str, schema: type[StrategyParams],
              exc: ValidationError) -> dict[str, str]:
    known = ", ".join(schema.model_fields)
    problems: dict[str, str] = {}
    for err in exc.errors(include_url=False, include_input=False):
        msg = str(err["msg"]).removeprefix("Value error, ")
        loc = [str(p) for p in err["loc"]]
        if err["type"] == "extra_forbidden":
            msg = f"unknown parameter for {strategy} (known: {known})"
        if not loc:     # a model check: "FIELD: message" names its field
            head, sep, rest = msg.partition(": ")
            loc, msg = ([head], rest) if sep and head in schema.model_fields else (["*"], msg)
        problems.setdefault(".".join(loc), msg)
    return problems


class StrategyBase:
    """The parts every strategy shares; see the module docstring for the contract."""

    name: ClassVar[str]
    strategy_version: ClassVar[str]
    Params: ClassVar[type[StrategyParams]] = StrategyParams
    search_space: ClassVar[dict[str, tuple[float, float]]] = {}

    def __init__(self, params: Mapping[str, Any]) -> None:
        self.params = validate_params(self.name, self.Params, params)
        self.param_version = param_hash(self.params.model_dump())

    @property
    def bars_needed(self) -> int:
        raise NotImplementedError

    def evaluate(self, closes: np.ndarray, volumes: np.ndarray, prices: np.ndarray
                 ) -> SignalResult:
        raise NotImplementedError

    def filter_params(self, configured: FilterParams) -> FilterParams:
        return configured

    def exit_params(self, configured: ExitParams) -> ExitParams:
        return configured
