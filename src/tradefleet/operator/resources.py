"""Typed views of the custom resources. The apiserver validates them against the CRD schema
(crds/); the operator parses them again so that anything the schema let through that it
cannot run (or an apiserver without the schema) becomes a Degraded condition naming the
field, never a crash or a half-started worker."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from tradefleet.domain.liquidation import DEFAULT_ENTRY_CUTOFF_MINUTES, LIQUIDATION_NEEDS_MINUTES

GROUP = "tradefleet.io"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
WORKERS = "tradingworkers"
SCHEDULES = "liquidationschedules"
DNS_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
WORKER_ID = r"^[a-z0-9][a-z0-9-]{0,62}$"
OPERATOR_NAME = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"


class SpecError(ValueError):
    """Every problem of a spec, each line naming its field (``spec.broker.baseUrl: ...``)."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


PARAM_VERSION = r"^(latest-approved|[1-9][0-9]{0,17})$"


class _Spec(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid",
                              frozen=True)


class Credentials(_Spec):
    secret_name: str = Field(pattern=DNS_SUBDOMAIN, max_length=253)
    key_secret_name: str = Field(pattern=DNS_SUBDOMAIN, max_length=253)


class Broker(_Spec):
    base_url: str = Field(pattern=r"^https?://[^\s/]+(:\d+)?/?$", max_length=255)
    rate_limit_per_second: int | None = Field(None, ge=1, le=1000)


class Strategy(_Spec):
    name: str = Field("ma_breakout", pattern=r"^[a-z][a-z0-9_]{0,62}$")
    version: str | None = Field(None, max_length=64)
    params: dict[str, Any] = Field(default_factory=dict)
    # a stored parameter version (issue 21): its id, or follow the latest approved one;
    # the worker takes it at the start of each session (worker/param_version.py)
    param_version: str | None = Field(None, pattern=PARAM_VERSION)

    @model_validator(mode="after")
    def _params_or_version(self) -> Strategy:
        if self.param_version is not None and self.params:
            raise ValueError("paramVersion: set params or paramVersion, not both (a version "
                             "brings its own params)")
        return self


class Locks(_Spec):
    ttl_seconds: int = Field(30, ge=3, le=3600)
    heartbeat_interval_seconds: float = Field(5.0, ge=0.1, le=600)

    @model_validator(mode="after")
    def _beats_within_ttl(self) -> Locks:
        if self.heartbeat_interval_seconds * 3 > self.ttl_seconds:
            raise ValueError("heartbeatIntervalSeconds must be at most a third of ttlSeconds")
        return self


class PodOverrides(_Spec):
    image: str | None = Field(None, min_length=1, max_length=512)
    image_pull_policy: Literal["Always", "IfNotPresent", "Never"] | None = None
    resources: dict[str, dict[str, str | int]] | None = None
    node_selector: dict[str, str] = Field(default_factory=dict)
    tolerations: list[dict[str, Any]] = Field(default_factory=list)
    termination_grace_period_seconds: int = Field(90, ge=30, le=3600)


class LiquidateNow(_Spec):
    """A person's order to liquidate this worker now (the console patches it): the operator
    turns it into the worker's liquidation control row for the day of ``requestedAt``; a
    request of another trading day is ignored and said so in status."""

    requested_at: AwareDatetime
    by: str = Field(pattern=r"^\S.*$", max_length=100)
    reason: str = Field("", max_length=200)


class TradingWorkerSpec(_Spec):
    mode: Literal["sim", "paper", "real"]
    confirm_real_trading: bool = False
    credentials: Credentials | None = None
    broker: Broker
    capital_limit: int = Field(ge=1, le=100_000_000_000)
    daily_loss_limit: int = Field(ge=1, le=100_000_000_000)
    liquidation_offset_minutes: int = Field(15, ge=10, le=15)
    # no new entry from liquidation time minus this (risk.entry_cutoff_minutes)
    entry_cutoff_minutes: int = Field(DEFAULT_ENTRY_CUTOFF_MINUTES, le=240)
    poll_interval_seconds: float = Field(5.0, ge=1, le=60)
    universe: list[str] = Field(min_length=1, max_length=500)
    strategy: Strategy = Field(default_factory=Strategy)
    locks: Locks = Field(default_factory=Locks)
    paused: bool = False
    liquidate_now: LiquidateNow | None = None
    pod: PodOverrides = Field(default_factory=PodOverrides)

    @field_validator("entry_cutoff_minutes")
    @classmethod
    def _cutoff_leaves_the_liquidation_its_time(cls, value: int) -> int:
        if value < LIQUIDATION_NEEDS_MINUTES:
            raise ValueError(f"must be at least {LIQUIDATION_NEEDS_MINUTES} minutes, the time "
                             f"a forced liquidation needs to undo an entry, got {value}")
        return value

    @model_validator(mode="after")
    def _cross_field(self) -> TradingWorkerSpec:
        problems = []
        if self.mode == "real" and not self.confirm_real_trading:
            problems.append("mode real trades real money: set confirmRealTrading: true")
        if self.mode != "sim" and self.credentials is None:
            problems.append("credentials: required in paper and real mode")
        if self.mode == "real" and not self.broker.base_url.startswith("https://"):
            problems.append("broker.baseUrl: real mode talks to the broker over https only")
        bad = [s for s in self.universe if not _is_symbol(s)]
        if bad:
            problems.append(f"universe: not 6-character KRX codes: {', '.join(bad[:5])}")
        if len(set(self.universe)) != len(self.universe):
            problems.append("universe: duplicate symbols")
        if problems:
            raise ValueError("; ".join(problems))
        return self


class WorkerSelector(_Spec):
    namespaces: list[str] = Field(default_factory=list)
    match_labels: dict[str, str] = Field(default_factory=dict)

    def covers(self, namespace: str, labels: dict[str, str]) -> bool:
        if self.namespaces and namespace not in self.namespaces:
            return False
        return all(labels.get(k) == v for k, v in self.match_labels.items())


class OrphanSeller(_Spec):
    namespace: str = Field(pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", max_length=63)
    mode: Literal["sim", "paper", "real"]
    confirm_real_trading: bool = False
    broker: Broker
    credentials: Credentials | None = None

    @model_validator(mode="after")
    def _cross_field(self) -> OrphanSeller:
        if self.mode == "real" and not self.confirm_real_trading:
            raise ValueError("mode real trades real money: set confirmRealTrading: true")
        if self.mode != "sim" and self.credentials is None:
            raise ValueError("credentials: required in paper and real mode")
        if self.mode == "real" and not self.broker.base_url.startswith("https://"):
            raise ValueError("broker.baseUrl: real mode talks to the broker over https only")
        return self


class LiquidationScheduleSpec(_Spec):
    # the operator that runs the schedule (ownership.py); None only on a schedule stored
    # before the CRD required it, which no operator runs
    operator: str | None = Field(None, pattern=OPERATOR_NAME, max_length=63)
    calendar: Literal["KRX"] = "KRX"
    time_zone: Literal["Asia/Seoul"] = "Asia/Seoul"
    # never inside the closing auction (CLOSING_AUCTION): a smaller offset would be clamped
    # at run time while kubectl's Offset column showed the unclamped value
    offset_minutes: int = Field(15, ge=10, le=60)
    check_after_close_minutes: int = Field(5, ge=1, le=120)
    suspend: bool = False
    workers: WorkerSelector = Field(default_factory=WorkerSelector)
    orphans: OrphanSeller | None = None


def _is_symbol(value: str) -> bool:
    return len(value) == 6 and all(c.isdigit() or ("A" <= c <= "Z") for c in value)


def _problems(exc: ValidationError) -> list[str]:
    out = []
    for err in exc.errors(include_url=False, include_input=False):
        where = ".".join(["spec", *(str(p) for p in err["loc"])])
        msg = str(err["msg"]).removeprefix("Value error, ")
        out.append(f"{where}: {'is required' if err['type'] == 'missing' else msg}")
    return out


def parse_worker_spec(spec: Any) -> TradingWorkerSpec:
    """The spec as the operator runs it; SpecError lists every bad field."""
    try:
        return TradingWorkerSpec.model_validate(spec if spec is not None else {})
    except ValidationError as exc:
        raise SpecError(_problems(exc)) from None


def paused_as_written(spec: Any) -> bool | None:
    """``spec.paused`` alone, whatever the rest of the spec holds: a pause must reach a
    running worker even while its spec is invalid."""
    paused = spec.get("paused") if isinstance(spec, dict) else None
    return paused if isinstance(paused, bool) else None


def liquidate_now_as_written(spec: Any) -> LiquidateNow | None:
    """``spec.liquidateNow`` alone (None: absent or itself invalid): like a pause, a valid
    liquidation request reaches a running worker whose spec is otherwise invalid."""
    raw = spec.get("liquidateNow") if isinstance(spec, dict) else None
    if raw is None:
        return None
    try:
        return LiquidateNow.model_validate(raw)
    except ValidationError:
        return None


def parse_schedule_spec(spec: Any) -> LiquidationScheduleSpec:
    try:
        return LiquidationScheduleSpec.model_validate(spec if spec is not None else {})
    except ValidationError as exc:
        raise SpecError(_problems(exc)) from None
