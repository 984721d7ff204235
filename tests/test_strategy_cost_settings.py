"""Strategy parameters and cost settings are validated with the rest of the settings: every
bad field named with its env var, before anything is migrated or written."""

from __future__ import annotations

from decimal import Decimal

import pytest
from tests.db_facts import public_tables
from tests.test_settings import env  # noqa: F401 - fixture

from tradefleet.cli import main
from tradefleet.domain.errors import ConfigError
from tradefleet.domain.markets import Market
from tradefleet.settings import load_settings


def test_unknown_strategy_param_is_named_with_its_env_var(env):  # noqa: F811
    env(TRADEFLEET_STRATEGY__PARAMS__FAST_WINDOW="3")
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert ("strategy.params.fast_window (TRADEFLEET_STRATEGY__PARAMS__FAST_WINDOW): unknown "
            "parameter for ma_breakout") in str(info.value)


def test_every_bad_param_reported_with_the_other_bad_fields(env, tmp_path):  # noqa: F811
    path = tmp_path / "c.yaml"
    path.write_text("strategy: {params: {short: 0, breakout_window: 'wide', fast: 1}}\n")
    env(TRADEFLEET_POLL_INTERVAL_SECONDS="99")
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    text = str(info.value)
    for line in ("poll_interval_seconds (TRADEFLEET_POLL_INTERVAL_SECONDS)",
                 "strategy.params.short (TRADEFLEET_STRATEGY__PARAMS__SHORT): must be an int",
                 "strategy.params.breakout_window (TRADEFLEET_STRATEGY__PARAMS__BREAKOUT_WINDOW)"
                 ": must be an int in 1..240, got 'wide'",
                 "strategy.params.fast (TRADEFLEET_STRATEGY__PARAMS__FAST): unknown"):
        assert line in text


def test_params_relating_to_each_other_and_unknown_strategy(env):  # noqa: F811
    env(TRADEFLEET_STRATEGY__PARAMS__SHORT="30", TRADEFLEET_STRATEGY__PARAMS__LONG="20")
    with pytest.raises(ConfigError, match=r"strategy.params.short \(TRADEFLEET_STRATEGY__PARAMS_"
                                          r"_SHORT\): must be smaller than strategy.params.long"):
        load_settings()
    env(TRADEFLEET_STRATEGY__NAME="moonshot")
    with pytest.raises(ConfigError, match=r"strategy.name \(TRADEFLEET_STRATEGY__NAME\): unknown"):
        load_settings()


def test_params_from_env_text_are_numbers(env):  # noqa: F811
    env(TRADEFLEET_STRATEGY__PARAMS__SHORT="3", TRADEFLEET_STRATEGY__PARAMS__LONG="12",
        TRADEFLEET_STRATEGY__PARAMS__MIN_SCORE="0.01")
    assert load_settings().strategy.params == {"short": 3, "long": 12, "min_score": 0.01}


def test_bad_params_stop_the_worker_before_the_database_is_touched(env, empty_pg_dsn,  # noqa: F811
                                                                   capsys):
    env(TRADEFLEET_DB__DSN=empty_pg_dsn, TRADEFLEET_STRATEGY__PARAMS__FAST_WINDOW="3")
    assert main(["worker", "--sim"]) == 2
    assert "strategy.params.fast_window" in capsys.readouterr().out

    import asyncio
    assert asyncio.run(public_tables(empty_pg_dsn)) == 0        # nothing migrated, nothing written


def test_commission_is_the_accounts_and_markets_can_be_named(env, tmp_path):  # noqa: F811
    path = tmp_path / "c.yaml"
    path.write_text("costs: {buy_commission_rate: '0.000140527', sell_commission_rate: "
                    "'0.000140527', markets: {'069500': etf, '091990': KOSDAQ}}\n")
    env()
    costs = load_settings(path).costs
    assert costs.buy_commission_rate == Decimal("0.000140527")
    assert costs.markets == {"069500": Market.ETF, "091990": Market.KOSDAQ}
    env(TRADEFLEET_COSTS__MARKETS='{"005930": "KOSPI"}')
    assert load_settings().costs.markets == {"005930": Market.KOSPI}


def test_bad_cost_settings_are_named(env, tmp_path):  # noqa: F811
    path = tmp_path / "c.yaml"
    path.write_text("costs: {markets: {'069500': NYSE, '12AB': ETF}}\n")
    env(TRADEFLEET_COSTS__BUY_COMMISSION_RATE="0.5")
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    text = str(info.value)
    assert "costs.buy_commission_rate (TRADEFLEET_COSTS__BUY_COMMISSION_RATE)" in text
    assert "costs.markets (TRADEFLEET_COSTS__MARKETS): not 6-character KRX codes: 12AB" in text
    path.write_text("costs: {markets: {'069500': NYSE}}\n")
    with pytest.raises(ConfigError, match=r"costs.markets .*'NYSE' is not a market"):
        load_settings(path)


def test_the_old_flat_tax_rate_is_refused_with_what_to_do(env):  # noqa: F811
    env(TRADEFLEET_COSTS__SELL_TAX_RATE="0.0020")
    with pytest.raises(ConfigError) as info:
        load_settings()
    text = str(info.value)
    assert "costs (TRADEFLEET_COSTS): sell_tax_rate is no longer a setting" in text
    assert "costs.markets" in text
