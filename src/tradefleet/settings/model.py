"""The worker's configuration (spec SC-001, §5.2). Every field is validated at start-up;
nothing runs and nothing is written until the whole configuration is valid."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from tradefleet.domain.errors import ConfigError
from tradefleet.domain.exits import ExitParams
from tradefleet.domain.filters import FilterParams
from tradefleet.domain.liquidation import (
    DEFAULT_ENTRY_CUTOFF_MINUTES,
    DEFAULT_SCAN_MAX_AGE_SECONDS,
    LIQUIDATION_NEEDS_MINUTES,
)
from tradefleet.domain.markets import Market, parse_market
from tradefleet.settings import secrets as sec
from tradefleet.settings.database_rules import check_database
from tradefleet.settings.env_names import env_name
from tradefleet.settings.feed import FeedSettings
from tradefleet.settings.strategy import StrategySettings, named_strategy_problem
from tradefleet.strategy_plugins.rules import strategy_rules

SYMBOL = re.compile(r"^[0-9A-Z]{6}$")
DEFAULT_RATE_LIMITS = {"real": 20, "paper": 2, "sim": 20}
REAL_UNSEEN_GRACE_S = 20.0     # the least unseen grace against a real broker (paper, real)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AccountSettings(_Section):
    cano: SecretStr = SecretStr("50000000")           # sim default; paper/real: enc: only
    product_code: str = Field("01", pattern=r"^\d{2}$")


class BrokerSettings(_Section):
    appkey: SecretStr = SecretStr("sim-appkey-0000")
    appsecret: SecretStr = SecretStr("sim-appsecret-0000")
    base_url: str | None = Field(None, pattern=r"^https?://[^\s/]+(:\d+)?/?$")
    # None: chosen by mode when the settings are loaded (20 real/sim, 2 paper)
    rate_limit_per_second: int | None = Field(None, ge=1, le=1000)
    timeout_seconds: float = Field(5.0, gt=0, le=60)
    # real seconds (database clock) an order the broker does not show may stay unseen before
    # it is judged never sent: KIS's order list may lag; the simulator's never does, so a
    # chaos run may shorten it in sim mode only (paper/real need the full 20 s or more)
    unseen_grace_seconds: float = Field(20.0, ge=1, le=600)


class RiskSettings(_Section):
    capital_limit: int = Field(gt=0, description="won per position")
    daily_loss_limit: int = Field(gt=0, description="won of realized loss per day")
    liquidation_offset_minutes: int = Field(15, ge=10, le=60)
    # no new entry from liquidation time minus this (session clock)
    entry_cutoff_minutes: int = Field(DEFAULT_ENTRY_CUTOFF_MINUTES, le=240)
    # a scan whose quotes are older than this (session seconds) is discarded, not traded on
    scan_max_age_seconds: float = Field(DEFAULT_SCAN_MAX_AGE_SECONDS, gt=0, le=3600)

    @field_validator("entry_cutoff_minutes")
    @classmethod
    def _cutoff_leaves_the_liquidation_its_time(cls, value: int) -> int:
        if value < LIQUIDATION_NEEDS_MINUTES:
            raise ValueError(
                f"must be at least {LIQUIDATION_NEEDS_MINUTES} minutes, the time a forced "
                f"liquidation needs to undo an entry (no new entry after liquidation time "
                f"minus this), got {value}")
        return value


class LockSettings(_Section):
    ttl_seconds: int = Field(30, ge=3, le=3600)
    heartbeat_interval_seconds: float = Field(5.0, gt=0, le=600)

    @model_validator(mode="after")
    def _heartbeat_within_ttl(self) -> LockSettings:
        if self.heartbeat_interval_seconds * 3 > self.ttl_seconds:
            raise ValueError("heartbeat_interval_seconds must be at most a third of "
                             "ttl_seconds (a worker must survive two missed beats)")
        return self


class ExitSettings(_Section):
    stop_loss_pct: Decimal = Field(Decimal("2.0"), gt=0, lt=30)
    take_profit_pct: Decimal = Field(Decimal("3.0"), gt=0, lt=30)
    trend_ma_window: int = Field(5, ge=2, le=120)
    time_exit_minutes: int = Field(5, ge=0, le=120)


class FilterSettings(_Section):
    min_volume: int = Field(50_000, ge=0)
    min_traded_value: int = Field(500_000_000, ge=0)
    max_spread_ticks: int = Field(3, ge=1, le=100)


class CostSettings(_Section):
    """The account's commission (it depends on the channel and promotion, so it is this
    account's setting), and symbols whose market the worker should take from here rather
    than from the broker or simulator. The sell-side taxes are law, by market: see
    domain/costs.py."""

    buy_commission_rate: Decimal = Field(Decimal("0.00015"), ge=0, lt=Decimal("0.01"))
    sell_commission_rate: Decimal = Field(Decimal("0.00015"), ge=0, lt=Decimal("0.01"))
    markets: dict[str, Market] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _no_flat_tax_rate(cls, data: Any) -> Any:
        if isinstance(data, dict) and "sell_tax_rate" in data:
            raise ValueError("sell_tax_rate is no longer a setting: the sell-side taxes follow "
                             "the symbol's market (KOSPI, KOSDAQ, KONEX, ETF, ETN; see "
                             "domain/costs.py); remove it, and list symbols whose market the "
                             "worker cannot tell under costs.markets")
        return data

    @field_validator("markets", mode="before")
    @classmethod
    def _market_names(cls, value: Any) -> Any:
        if isinstance(value, dict):
            bad = [str(k) for k in value if not SYMBOL.match(str(k))]
            if bad:
                raise ValueError(f"not 6-character KRX codes: {', '.join(bad[:5])}")
            return {str(k): parse_market(v) for k, v in value.items()}
        return value


class DatabaseSettings(_Section):
    dsn: SecretStr | None = None          # None: embedded PostgreSQL (local runs)
    sslmode: Literal["disable", "allow", "prefer", "require", "verify-ca",
                     "verify-full"] | None = None
    sslrootcert: Path | None = None
    # paper/real: a network database without verified TLS, accepted and logged as a WARNING
    allow_insecure: bool = False

    @model_validator(mode="after")
    def _verify_needs_root(self) -> DatabaseSettings:
        if self.sslmode in ("verify-ca", "verify-full") and self.sslrootcert is None:
            raise ValueError(f"sslmode={self.sslmode} needs sslrootcert (the CA certificate)")
        if self.sslrootcert is not None and not self.sslrootcert.is_file():
            raise ValueError(f"sslrootcert {self.sslrootcert} is not a readable file")
        return self


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TRADEFLEET_", env_nested_delimiter="__",
                                      extra="forbid", validate_default=True)

    worker_id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")
    mode: Literal["sim", "paper", "real"] = "sim"
    confirm_real_trading: bool = False
    key_file: Path | None = None
    account: AccountSettings = Field(default_factory=AccountSettings)
    broker: BrokerSettings = Field(default_factory=BrokerSettings)
    risk: RiskSettings = Field(default_factory=dict)  # type: ignore[arg-type]
    poll_interval_seconds: float = Field(5.0, ge=1, le=60)
    universe: Annotated[list[str], NoDecode] = Field(default_factory=list)
    strategy: StrategySettings = Field(default_factory=StrategySettings)
    exits: ExitSettings = Field(default_factory=ExitSettings)
    filters: FilterSettings = Field(default_factory=FilterSettings)
    costs: CostSettings = Field(default_factory=CostSettings)
    locks: LockSettings = Field(default_factory=LockSettings)
    db: DatabaseSettings = Field(default_factory=DatabaseSettings)
    feed: FeedSettings = Field(default_factory=FeedSettings)
    health_port: int = Field(0, ge=0, le=65535)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @field_validator("confirm_real_trading", mode="before")
    @classmethod
    def _exactly_true(cls, value: Any) -> Any:
        """Real money needs a deliberate ``true``: "yes", "1" or "on" are refused."""
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        raise ValueError("must be exactly true or false")

    @field_validator("universe", mode="before")
    @classmethod
    def _split_universe(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [s.strip() for s in value.split(",") if s.strip()]
        return value

    @field_validator("universe")
    @classmethod
    def _symbols(cls, value: list[str]) -> list[str]:
        bad = [s for s in value if not SYMBOL.match(s)]
        if bad:
            raise ValueError(f"not 6-character KRX codes: {', '.join(bad[:5])}")
        return value

    @model_validator(mode="wrap")
    @classmethod
    def _report_everything(cls, data: Any, handler: Any) -> Settings:
        """Field errors and the mode/secret rules reported together, not one after another."""
        try:
            return handler(data)
        except ValidationError as exc:
            lines = describe_errors(exc)
            if isinstance(data, dict):
                lines += [p for p in _raw_secret_problems(data) if p not in lines]
            raise ValueError("\n".join(lines)) from None

    @model_validator(mode="after")
    def _mode_and_secrets(self) -> Settings:
        problems: list[str] = []
        if self.mode == "real" and not self.confirm_real_trading:
            problems.append("mode (TRADEFLEET_MODE): real trading is refused unless "
                            "confirm_real_trading (TRADEFLEET_CONFIRM_REAL_TRADING) is true")
        fernet = None
        if self.key_file is not None:
            try:
                fernet = sec.read_key(self.key_file)
            except sec.SecretError as exc:
                problems.append(f"key_file (TRADEFLEET_KEY_FILE): {exc}")
        if self.mode != "sim" and self.broker.unseen_grace_seconds < REAL_UNSEEN_GRACE_S:
            problems.append(
                "broker.unseen_grace_seconds (TRADEFLEET_BROKER__UNSEEN_GRACE_SECONDS): must "
                f"be >= {REAL_UNSEEN_GRACE_S:g} in {self.mode} mode (the broker's order list "
                f"may lag), got {self.broker.unseen_grace_seconds:g}")
        problems += self._decrypt_broker_secrets(fernet)
        problems += self._decrypt_database(fernet)
        if problems:
            raise ValueError("\n".join(problems))
        if self.broker.rate_limit_per_second is None:
            object.__setattr__(self.broker, "rate_limit_per_second",
                               DEFAULT_RATE_LIMITS[self.mode])
        return self

    @model_validator(mode="after")
    def _strategy_rules_valid(self) -> Settings:
        """The strategy's own filters and exits (user code) checked before anything runs."""
        try:
            self.trading_rules()
        except ConfigError as exc:
            raise ValueError(named_strategy_problem(str(exc))) from None
        return self

    def trading_rules(self) -> tuple[Any, FilterParams, ExitParams]:
        """The strategy, and the filters and exits the worker uses (the configured sections
        as the strategy adjusts them)."""
        strategy = self.strategy.build()
        f, e = self.filters, self.exits
        filters, exits = strategy_rules(
            strategy, FilterParams(f.min_volume, f.min_traded_value, f.max_spread_ticks),
            ExitParams(e.stop_loss_pct, e.take_profit_pct, e.trend_ma_window,
                       e.time_exit_minutes))
        return strategy, filters, exits

    def _decrypt_broker_secrets(self, fernet: Any) -> list[str]:
        problems: list[str] = []
        for section, name in (("broker", "appkey"), ("broker", "appsecret"),
                              ("account", "cano")):
            holder = getattr(self, section)
            raw = getattr(holder, name).get_secret_value()
            where = f"{section}.{name} (TRADEFLEET_{section.upper()}__{name.upper()})"
            if sec.is_encrypted(raw):
                if fernet is None:
                    problems.append(f"{where}: is encrypted but key_file is not set")
                    continue
                try:
                    raw = sec.decrypt(fernet, raw)
                except sec.SecretError as exc:
                    problems.append(f"{where}: {exc}")
                    continue
                object.__setattr__(holder, name, SecretStr(raw))
            elif self.mode != "sim":
                problems.append(f"{where}: plaintext secrets are refused in {self.mode} "
                                f"mode; {sec.HOW_TO}")
                continue
            if name == "cano" and not re.fullmatch(r"\d{8}", raw):
                problems.append(f"{where}: must be 8 digits")
        return problems

    def _decrypt_database(self, fernet: Any) -> list[str]:
        """The DSN's password decrypted in place; the mode's TLS and plaintext rules."""
        db = check_database(
            self.db.dsn.get_secret_value() if self.db.dsn else None, sslmode=self.db.sslmode,
            allow_insecure=self.db.allow_insecure, mode=self.mode, fernet=fernet)
        if db.dsn is not None:
            object.__setattr__(self.db, "dsn", SecretStr(db.dsn))
        return db.problems

    @property
    def account_masked(self) -> str:
        cano = self.account.cano.get_secret_value()
        return f"{cano[:4]}****-{self.account.product_code}"

    def safe_summary(self) -> dict[str, Any]:
        """What the 'config loaded' log line shows: no secret, account masked, and no mode
        (spec §5.1 lists appkey/appsecret/mode as kept out of logs; mode is in the workers
        table)."""
        return {
            "worker_id": self.worker_id, "account": self.account_masked,
            "capital_limit": self.risk.capital_limit,
            "daily_loss_limit": self.risk.daily_loss_limit,
            "liquidation_offset_minutes": self.risk.liquidation_offset_minutes,
            "entry_cutoff_minutes": self.risk.entry_cutoff_minutes,
            "poll_interval_seconds": self.poll_interval_seconds,
            "universe_size": len(self.universe) or "all", "strategy": self.strategy.name,
            "db": "embedded" if self.db.dsn is None else f"dsn (sslmode={self.db.sslmode})",
        }

    @property
    def rate_limit(self) -> int:
        """Broker calls per second for this mode (KIS: 20/s real, 2/s paper)."""
        return self.broker.rate_limit_per_second or DEFAULT_RATE_LIMITS[self.mode]


_SECRET_FIELDS = (("broker", "appkey"), ("broker", "appsecret"), ("account", "cano"))


def describe_errors(exc: ValidationError) -> list[str]:
    lines = []
    for err in exc.errors(include_url=False, include_input=False):
        loc = [str(p) for p in err["loc"]]
        msg = str(err["msg"]).removeprefix("Value error, ")
        if not loc:
            lines.extend(msg.splitlines())
            continue
        if err["type"] == "missing":
            msg = "is required but missing"
        where = ".".join(loc)
        named = msg.splitlines()
        if named and all(line.startswith(f"{where}.") for line in named):
            lines.extend(named)          # a section's check that names its own fields
            continue
        lines.append(f"{where} ({env_name(loc)}): {msg}")
    return lines


def _raw_secret_problems(data: dict) -> list[str]:
    """The mode and plaintext rules, checked on raw input when other fields already failed."""
    mode = str(data.get("mode", "sim"))
    problems = []
    confirm = data.get("confirm_real_trading")
    if mode == "real" and confirm is not True and str(confirm).strip().lower() != "true":
        problems.append("mode (TRADEFLEET_MODE): real trading is refused unless "
                        "confirm_real_trading (TRADEFLEET_CONFIRM_REAL_TRADING) is true")
    if mode in ("paper", "real"):
        for section, name in _SECRET_FIELDS:
            raw = (data.get(section) or {}).get(name) if isinstance(data.get(section),
                                                                    dict) else None
            raw = raw.get_secret_value() if isinstance(raw, SecretStr) else raw
            if raw is None or not sec.is_encrypted(str(raw)):
                where = f"{section}.{name} ({env_name([section, name])})"
                problems.append(f"{where}: plaintext secrets are refused in {mode} "
                                f"mode; {sec.HOW_TO}")
    return problems + _raw_database_problems(data.get("db"), mode)


def _raw_database_problems(raw: Any, mode: str) -> list[str]:
    """The TLS rule on a db section that is valid by itself (the key may not be readable)."""
    try:
        db = DatabaseSettings.model_validate(raw if raw is not None else {})
    except ValidationError:
        return []
    return check_database(db.dsn.get_secret_value() if db.dsn else None,
                          sslmode=db.sslmode, allow_insecure=db.allow_insecure, mode=mode,
                          fernet=None, can_decrypt=False).problems
