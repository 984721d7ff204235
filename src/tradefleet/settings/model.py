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

from tradefleet.settings import secrets as sec

SYMBOL = re.compile(r"^[0-9A-Z]{6}$")
DEFAULT_RATE_LIMITS = {"real": 20, "paper": 2, "sim": 20}


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


class RiskSettings(_Section):
    capital_limit: int = Field(gt=0, description="won per position")
    daily_loss_limit: int = Field(gt=0, description="won of realized loss per day")
    liquidation_offset_minutes: int = Field(15, ge=10, le=60)


class LockSettings(_Section):
    ttl_seconds: int = Field(30, ge=3, le=3600)
    heartbeat_interval_seconds: float = Field(5.0, gt=0, le=600)

    @model_validator(mode="after")
    def _heartbeat_within_ttl(self) -> LockSettings:
        if self.heartbeat_interval_seconds * 3 > self.ttl_seconds:
            raise ValueError("heartbeat_interval_seconds must be at most a third of "
                             "ttl_seconds (a worker must survive two missed beats)")
        return self


class StrategySettings(_Section):
    name: str = "ma_breakout"
    params: dict[str, Any] = Field(default_factory=dict)


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
    buy_commission_rate: Decimal = Field(Decimal("0.00015"), ge=0, lt=Decimal("0.01"))
    sell_commission_rate: Decimal = Field(Decimal("0.00015"), ge=0, lt=Decimal("0.01"))
    sell_tax_rate: Decimal = Field(Decimal("0.0020"), ge=0, lt=Decimal("0.01"))


class DatabaseSettings(_Section):
    dsn: SecretStr | None = None          # None: embedded PostgreSQL (local runs)
    sslmode: Literal["disable", "allow", "prefer", "require", "verify-ca",
                     "verify-full"] | None = None
    sslrootcert: Path | None = None

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
        if problems:
            raise ValueError("\n".join(problems))
        if self.broker.rate_limit_per_second is None:
            object.__setattr__(self.broker, "rate_limit_per_second",
                               DEFAULT_RATE_LIMITS[self.mode])
        return self

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
            "poll_interval_seconds": self.poll_interval_seconds,
            "universe_size": len(self.universe) or "all", "strategy": self.strategy.name,
            "db": "embedded" if self.db.dsn is None else f"dsn (sslmode={self.db.sslmode})",
        }

    @property
    def rate_limit(self) -> int:
        """Broker calls per second for this mode (KIS: 20/s real, 2/s paper)."""
        return self.broker.rate_limit_per_second or DEFAULT_RATE_LIMITS[self.mode]


_SECRET_FIELDS = (("broker", "appkey"), ("broker", "appsecret"), ("account", "cano"))


def _env_name(loc: list[str]) -> str:
    return "TRADEFLEET_" + "__".join(p.upper() for p in loc)


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
        lines.append(f"{'.'.join(loc)} ({_env_name(loc)}): {msg}")
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
                where = f"{section}.{name} ({_env_name([section, name])})"
                problems.append(f"{where}: plaintext secrets are refused in {mode} "
                                f"mode; {sec.HOW_TO}")
    return problems
