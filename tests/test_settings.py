"""Settings (spec SC-001, §5.2): every bad field named, env over file, nothing started."""

from __future__ import annotations

import pytest

from tradefleet.domain.errors import ConfigError
from tradefleet.settings import load_database_settings, load_settings

BASE = {"TRADEFLEET_WORKER_ID": "w1", "TRADEFLEET_RISK__CAPITAL_LIMIT": "1000000",
        "TRADEFLEET_RISK__DAILY_LOSS_LIMIT": "200000"}


@pytest.fixture
def env(monkeypatch):
    for key in list(__import__("os").environ):
        if key.startswith("TRADEFLEET_"):
            monkeypatch.delenv(key)

    def set_env(**values: str) -> None:
        for k, v in {**BASE, **values}.items():
            if v is None:
                monkeypatch.delenv(k, raising=False)
            else:
                monkeypatch.setenv(k, v)
    return set_env


def test_valid_minimal_settings_load_with_risk_defaults(env):
    env()
    s = load_settings()
    assert s.worker_id == "w1" and s.mode == "sim"
    assert s.risk.capital_limit == 1_000_000 and s.risk.liquidation_offset_minutes == 15
    assert s.rate_limit == 20


@pytest.mark.parametrize(("key", "value", "field"), [
    ("TRADEFLEET_WORKER_ID", None, "worker_id (TRADEFLEET_WORKER_ID)"),
    ("TRADEFLEET_WORKER_ID", "Bad_Id", "worker_id (TRADEFLEET_WORKER_ID)"),
    ("TRADEFLEET_MODE", "live", "mode (TRADEFLEET_MODE)"),
    ("TRADEFLEET_RISK__CAPITAL_LIMIT", None, "risk.capital_limit"),
    ("TRADEFLEET_RISK__CAPITAL_LIMIT", "-5", "risk.capital_limit"),
    ("TRADEFLEET_RISK__DAILY_LOSS_LIMIT", "lots", "risk.daily_loss_limit"),
    ("TRADEFLEET_RISK__LIQUIDATION_OFFSET_MINUTES", "5", "risk.liquidation_offset_minutes"),
    ("TRADEFLEET_POLL_INTERVAL_SECONDS", "0.5", "poll_interval_seconds"),
    ("TRADEFLEET_POLL_INTERVAL_SECONDS", "61", "poll_interval_seconds"),
    ("TRADEFLEET_UNIVERSE", "005930,12AB", "universe"),
    ("TRADEFLEET_LOCKS__HEARTBEAT_INTERVAL_SECONDS", "20", "locks"),
    ("TRADEFLEET_ACCOUNT__PRODUCT_CODE", "1", "account.product_code"),
    ("TRADEFLEET_DB__SSLMODE", "verify-full", "db"),
    ("TRADEFLEET_DB__SSLMODE", "maybe", "db.sslmode"),
    ("TRADEFLEET_BROKER__BASE_URL", "ftp://x", "broker.base_url"),
])
def test_each_invalid_field_is_named(env, key, value, field):
    env(**{key: value})
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert field in str(info.value)


def test_all_errors_are_reported_together(env):
    env(TRADEFLEET_WORKER_ID="X", TRADEFLEET_POLL_INTERVAL_SECONDS="99",
        TRADEFLEET_RISK__CAPITAL_LIMIT=None)
    with pytest.raises(ConfigError) as info:
        load_settings()
    text = str(info.value)
    for field in ("worker_id", "poll_interval_seconds", "risk.capital_limit"):
        assert field in text


def test_real_mode_needs_separate_confirmation(env, tmp_path):
    env(TRADEFLEET_MODE="real")
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert "confirm_real_trading" in str(info.value)


def test_yaml_file_with_env_overrides_and_unknown_keys_refused(env, tmp_path):
    env(TRADEFLEET_POLL_INTERVAL_SECONDS="7")
    path = tmp_path / "c.yaml"
    path.write_text("poll_interval_seconds: 3\nuniverse: ['005930', '000660']\n"
                    "exits: {stop_loss_pct: '1.5'}\n")
    s = load_settings(path)
    assert s.poll_interval_seconds == 7 and s.universe == ["005930", "000660"]
    assert str(s.exits.stop_loss_pct) == "1.5"
    path.write_text("poll_intervall_seconds: 3\n")
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    assert "poll_intervall_seconds" in str(info.value)


def test_database_settings_load_alone(env, monkeypatch):
    monkeypatch.setenv("TRADEFLEET_DB__DSN", "postgresql://u:pw@db/x")
    monkeypatch.setenv("TRADEFLEET_DB__SSLMODE", "require")
    db = load_database_settings()
    assert db.sslmode == "require" and "pw" not in repr(db)
