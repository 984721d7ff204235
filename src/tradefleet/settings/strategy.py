"""The ``strategy`` section: which strategy the worker runs, from where, with which
parameters; built once while the settings are validated, so a bad one stops start-up."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from tradefleet.domain.errors import ConfigError
from tradefleet.domain.strategies import StrategyParamsError
from tradefleet.settings.env_names import env_name
from tradefleet.strategy_plugins import load_strategy


class StrategySettings(BaseModel):
    """``name``: a shipped strategy, an entry point of ``tradefleet.strategies``, or a
    class in the file/package at ``path`` (the user's own code; see strategy_plugins).
    ``param_version``: take the parameters from a stored, approved parameter version (its id,
    or ``latest-approved``) at the start of the session instead of ``params``
    (worker/param_version.py; the entries then record ``pv-ID``)."""

    model_config = ConfigDict(extra="forbid")

    name: str = "ma_breakout"
    path: Path | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    param_version: str | None = None
    _version_label: str | None = PrivateAttr(default=None)

    @field_validator("param_version")
    @classmethod
    def _version_id_or_latest(cls, value: str | None) -> str | None:
        if value is None or value == "latest-approved":
            return value
        if not value.isdigit() or int(value) < 1:
            raise ValueError(f"must be a version id (a positive integer) or "
                             f"'latest-approved', got {value!r}")
        return str(int(value))

    @field_validator("params", mode="before")
    @classmethod
    def _env_text_to_values(cls, value: Any) -> Any:
        """Env vars carry text: ``TRADEFLEET_STRATEGY__PARAMS__SHORT=3`` means the number 3."""
        if isinstance(value, dict):
            return {k: _scalar(v) for k, v in value.items()}
        return value

    @model_validator(mode="after")
    def _strategy_accepts_params(self) -> StrategySettings:
        """Built once here, so a bad parameter stops start-up before anything is migrated
        or written (wiring builds it again from the same, now known-good, values)."""
        if self.param_version is not None and self.params and self._version_label is None:
            raise ValueError("strategy.params (TRADEFLEET_STRATEGY__PARAMS): set params or "
                             "param_version, not both (a version brings its own params)")
        try:
            self.build()
        except StrategyParamsError as exc:
            raise ValueError("\n".join(
                f"strategy.params.{name} ({env_name(['strategy', 'params', name])}): {msg}"
                for name, msg in exc.problems.items())) from None
        except ConfigError as exc:
            raise ValueError(named_strategy_problem(str(exc))) from None
        return self

    def build(self) -> Any:
        """The configured strategy (a ``domain.strategies.Strategy``); with a taken
        parameter version, its entries record that version's label."""
        strategy = load_strategy(self.name, dict(self.params), self.path)
        if self._version_label is not None:
            strategy.param_version = self._version_label
        return strategy

    @property
    def taken_version(self) -> str | None:
        """The label of the parameter version taken for this session (``pv-ID``), if any."""
        return self._version_label

    def with_version(self, label: str, params: dict[str, Any]) -> StrategySettings:
        """These settings trading a taken parameter version (validated again: a version
        written for another schema revision is refused here, naming the parameter)."""
        taken = self.model_copy(update={"params": dict(params)})
        taken._version_label = label
        return taken._strategy_accepts_params()


def named_strategy_problem(text: str) -> str:
    """``strategy.FIELD: message`` with the field's env var, as every settings error reads."""
    head, sep, rest = text.partition(": ")
    parts = head.split(".")
    if sep and len(parts) >= 2 and parts[0] == "strategy":
        return f"{head} ({env_name(parts)}): {rest}"
    return f"strategy.name (TRADEFLEET_STRATEGY__NAME): {text}"


def _scalar(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        parsed = json.loads(value)
    except ValueError:
        return value
    return parsed if isinstance(parsed, int | float | bool) else value
