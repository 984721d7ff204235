"""A strategy's search space: the ranges ``tradefleet tune`` draws its parameters from.

A strategy may say them itself: ``search_space = {"short": (2, 10), "min_score": (0.0,
0.02)}`` on its class (int bounds draw ints, float bounds floats; both inclusive). Without
one, every int or float parameter with a numeric default is searched from half to twice
its default, kept inside the schema's own ``ge``/``gt``/``le``/``lt`` bounds; the others keep
their defaults. Whatever is drawn still passes the strategy's pydantic schema, which refuses
a combination it does not allow (the trial is then counted as refused, never scored)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import annotated_types
from pydantic import BaseModel

from tradefleet.domain.errors import ConfigError


@dataclass(frozen=True, slots=True)
class Range:
    low: float
    high: float
    integer: bool


def search_space(strategy_class: type, schema: type[BaseModel]) -> dict[str, Range]:
    declared: Mapping[str, Any] | None = getattr(strategy_class, "search_space", None)
    if declared:
        return {name: _declared(name, bounds, schema) for name, bounds in declared.items()}
    space: dict[str, Range] = {}
    for name, info in schema.model_fields.items():
        default = info.default
        if isinstance(default, bool) or not isinstance(default, int | float) or default <= 0:
            continue
        integer = isinstance(default, int)
        low, high = (max(1, default // 2), max(default * 2, default + 1)) if integer \
            else (default / 2, default * 2)
        low, high = _within(info.metadata, low, high, integer)
        if low < high:
            space[name] = Range(low, high, integer)
    return space


def _declared(name: str, bounds: Any, schema: type[BaseModel]) -> Range:
    if name not in schema.model_fields:
        raise ConfigError(f"search_space.{name}: not a parameter of the schema "
                          f"(known: {', '.join(schema.model_fields)})")
    if not (isinstance(bounds, tuple) and len(bounds) == 2
            and all(isinstance(b, int | float) and not isinstance(b, bool) for b in bounds)
            and bounds[0] < bounds[1]):
        raise ConfigError(f"search_space.{name}: must be (low, high) numbers, low < high, "
                          f"got {bounds!r}")
    integer = all(isinstance(b, int) for b in bounds)
    return Range(bounds[0], bounds[1], integer)


def _within(metadata: list[Any], low: float, high: float, integer: bool) -> tuple[float, float]:
    step = 1 if integer else 0.0
    for m in metadata:
        if isinstance(m, annotated_types.Ge):
            low = max(low, m.ge)
        elif isinstance(m, annotated_types.Gt):
            low = max(low, m.gt + step if integer else float(m.gt) * 1.0001)
        elif isinstance(m, annotated_types.Le):
            high = min(high, m.le)
        elif isinstance(m, annotated_types.Lt):
            high = min(high, m.lt - step if integer else float(m.lt) * 0.9999)
    return low, high


def suggest(trial: Any, space: Mapping[str, Range]) -> dict[str, Any]:
    """One draw from ``space`` (an optuna trial's suggest calls, in the space's order)."""
    out: dict[str, Any] = {}
    for name, r in space.items():
        if r.integer:
            out[name] = trial.suggest_int(name, int(r.low), int(r.high))
        else:
            out[name] = round(trial.suggest_float(name, float(r.low), float(r.high)), 6)
    return out


def json_params(params: BaseModel) -> dict[str, Any]:
    """A validated params model as JSON-safe values (Decimal as its exact text)."""
    return {k: (str(v) if isinstance(v, Decimal) else v)
            for k, v in params.model_dump().items()}
