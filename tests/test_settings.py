"""Settings (spec SC-001, §5.2): every bad field named, env over file, nothing started."""

from __future__ import annotations

import os

import pytest

from tradefleet.domain.errors import ConfigError
from tradefleet.domain.liquidation import (
    DEFAULT_ENTRY_CUTOFF_MINUTES,
    DEFAULT_SCAN_MAX_AGE_SECONDS,
    LIQUIDATION_NEEDS_MINUTES,
)
from tradefleet.settings import load_database_settings, load_settings

BASE = {"TRADEFLEET_WORKER_ID": "w1", "TRADEFLEET_RISK__CAPITAL_LIMIT": "1000000",
        "TRADEFLEET_RISK__DAILY_LOSS_LIMIT": "200000"}


@pytest.fixture
def env(monkeypatch):
    for key in list(os.environ):
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
    ("TRADEFLEET_RISK__ENTRY_CUTOFF_MINUTES", "soon", "risk.entry_cutoff_minutes"),
    ("TRADEFLEET_RISK__SCAN_MAX_AGE_SECONDS", "0", "risk.scan_max_age_seconds"),
])
def test_each_invalid_field_is_named(env, key, value, field):
    env(**{key: value})
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert field in str(info.value)


def test_entry_cutoff_and_scan_freshness_defaults(env):
    env()
    risk = load_settings().risk
    assert (risk.entry_cutoff_minutes, risk.scan_max_age_seconds) == \
        (DEFAULT_ENTRY_CUTOFF_MINUTES, DEFAULT_SCAN_MAX_AGE_SECONDS) == (10, 180)
    env(TRADEFLEET_RISK__ENTRY_CUTOFF_MINUTES=str(LIQUIDATION_NEEDS_MINUTES))
    assert load_settings().risk.entry_cutoff_minutes == LIQUIDATION_NEEDS_MINUTES


def test_an_entry_cutoff_shorter_than_a_liquidation_is_refused_naming_both(env):
    env(TRADEFLEET_RISK__ENTRY_CUTOFF_MINUTES=str(LIQUIDATION_NEEDS_MINUTES - 1))
    with pytest.raises(ConfigError) as info:
        load_settings()
    text = str(info.value)
    assert "risk.entry_cutoff_minutes (TRADEFLEET_RISK__ENTRY_CUTOFF_MINUTES)" in text
    assert f"at least {LIQUIDATION_NEEDS_MINUTES} minutes" in text
    assert "the time a forced liquidation needs" in text


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


def test_environ_mapping_is_read_instead_of_the_process_env(env, tmp_path):
    env(TRADEFLEET_WORKER_ID="from-process")
    path = tmp_path / "c.yaml"
    path.write_text("worker_id: from-file\nrisk: {capital_limit: 5000000, "
                    "daily_loss_limit: 100000}\n")
    given = {"TRADEFLEET_CONFIG": str(path), "TRADEFLEET_WORKER_ID": "from-mapping",
             "TRADEFLEET_RISK__CAPITAL_LIMIT": "3000000"}
    s = load_settings(environ=given)
    assert s.worker_id == "from-mapping"
    assert s.risk.capital_limit == 3_000_000 and s.risk.daily_loss_limit == 100_000
    with pytest.raises(ConfigError) as info:
        load_settings(environ={})
    assert "worker_id (TRADEFLEET_WORKER_ID)" in str(info.value)
    assert "risk.capital_limit (TRADEFLEET_RISK__CAPITAL_LIMIT)" in str(info.value)


@pytest.mark.parametrize("value", ["yes", "1", "on", "TRUE-ish"])
def test_real_trading_confirmation_must_be_exactly_true(env, value):
    env(TRADEFLEET_MODE="real", TRADEFLEET_CONFIRM_REAL_TRADING=value)
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert "confirm_real_trading (TRADEFLEET_CONFIRM_REAL_TRADING)" in str(info.value)


def test_sim_rate_limit_default_and_explicit_override(env):
    env()
    assert load_settings().broker.rate_limit_per_second == 20
    env(TRADEFLEET_BROKER__RATE_LIMIT_PER_SECOND="7")
    s = load_settings()
    assert s.broker.rate_limit_per_second == 7 and s.rate_limit == 7


def test_database_settings_from_yaml_and_environ_mapping(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("db: {dsn: 'postgresql://u:pw@file/x', sslmode: prefer}\n")
    db = load_database_settings(path, environ={"TRADEFLEET_DB__SSLMODE": "require"})
    assert db.sslmode == "require" and db.dsn.get_secret_value().endswith("@file/x")
    with pytest.raises(ConfigError) as info:
        load_database_settings(path, environ={"TRADEFLEET_DB__SSLMODE": "sometimes"})
    assert "db.sslmode (TRADEFLEET_DB__SSLMODE)" in str(info.value)


def test_nested_yaml_typo_is_refused_and_named(env, tmp_path):
    env()
    path = tmp_path / "c.yaml"
    path.write_text("risk: {capital_limt: 1000000}\nlocks: {ttl: 30}\n")
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    assert "risk.capital_limt" in str(info.value) and "locks.ttl" in str(info.value)


def test_secret_rule_reported_together_with_field_errors(env):
    env(TRADEFLEET_MODE="paper", TRADEFLEET_WORKER_ID="Not Valid",
        TRADEFLEET_BROKER__APPKEY="PSplaintextkey123")
    with pytest.raises(ConfigError) as info:
        load_settings()
    text = str(info.value)
    assert "worker_id (TRADEFLEET_WORKER_ID)" in text
    assert "broker.appkey (TRADEFLEET_BROKER__APPKEY)" in text
    assert "account.cano (TRADEFLEET_ACCOUNT__CANO)" in text
    assert "PSplaintextkey123" not in text


def test_config_loaded_summary_keeps_mode_and_secrets_out(env):
    env(TRADEFLEET_BROKER__APPKEY="sim-key-visible-only-here")
    summary = load_settings().safe_summary()
    assert "mode" not in summary and "sim-key-visible-only-here" not in str(summary)
    assert summary["account"].endswith("-01") and "****" in summary["account"]


def test_a_short_unseen_grace_is_for_the_simulator_only(env):
    """The grace before an order the broker does not show is judged never sent: KIS's list
    may lag, so paper and real mode refuse less than 20 s, by name; sim may shorten it."""
    env(TRADEFLEET_BROKER__UNSEEN_GRACE_SECONDS="2")
    assert load_settings().broker.unseen_grace_seconds == 2.0
    env(TRADEFLEET_MODE="paper", TRADEFLEET_BROKER__UNSEEN_GRACE_SECONDS="5")
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert "broker.unseen_grace_seconds (TRADEFLEET_BROKER__UNSEEN_GRACE_SECONDS)" in \
        str(info.value) and "paper" in str(info.value)
    env(TRADEFLEET_BROKER__UNSEEN_GRACE_SECONDS="0.5")
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert "broker.unseen_grace_seconds" in str(info.value)
