"""Strategies as the user's own code (issue 21, item 4): loaded by name from the shipped
ones, the ``tradefleet.strategies`` entry points (a real installed distribution's metadata on
sys.path) or a file named by ``strategy.path``; every bad path, name or parameter is named
with its env var before anything is written; the pydantic schema, the fingerprint, and the
filters and exits a strategy brings."""

from __future__ import annotations

import asyncio
import shutil
import sys
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from tests.db_facts import public_tables
from tests.test_settings import env  # noqa: F401 - fixture

from tradefleet.cli import main
from tradefleet.domain.errors import ConfigError
from tradefleet.domain.strategies import Strategy
from tradefleet.settings import load_settings
from tradefleet.strategy_plugins import available_strategies, load_strategy

USER_FILE = Path(__file__).parent / "fixtures" / "strategies" / "user_strategies.py"


@pytest.fixture
def user_file(tmp_path: Path) -> Path:
    folder = tmp_path / "mine"
    folder.mkdir()
    return Path(shutil.copy(USER_FILE, folder / "strategies.py"))


def _error() -> str:
    with pytest.raises(ConfigError) as info:
        load_settings()
    return str(info.value)


def test_a_users_file_is_loaded_by_path_and_by_name(env, user_file):  # noqa: F811
    env(TRADEFLEET_STRATEGY__NAME="most_traded", TRADEFLEET_STRATEGY__PATH=str(user_file),
        TRADEFLEET_STRATEGY__PARAMS__TOP="2")
    settings = load_settings()
    strategy, _, _ = settings.trading_rules()
    assert isinstance(strategy, Strategy)
    assert strategy.name == "most_traded" and strategy.params.top == 2
    assert strategy.param_version != load_strategy("most_traded", {}, user_file).param_version
    volumes = np.array([[5], [9], [1], [9]])
    result = strategy.evaluate(volumes, volumes, np.array([10, 10, 10, 10]))
    assert result.signal.tolist() == [False, True, False, True]      # the two most traded


def test_a_package_folder_is_a_path_too(tmp_path):
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    shutil.copy(USER_FILE, pkg / "impl.py")
    (pkg / "__init__.py").write_text("from .impl import MostTraded  # noqa: F401\n")
    # a class imported into the package is not the package's own: say what is defined
    with pytest.raises(ConfigError, match=r"strategy.name: no strategy named 'most_traded'"):
        load_strategy("most_traded", {}, pkg)
    (pkg / "__init__.py").write_text((pkg / "impl.py").read_text())
    assert load_strategy("most_traded", {}, pkg).name == "most_traded"


@pytest.mark.parametrize("setup,field,text", [
    (lambda d: d / "missing.py", "strategy.path (TRADEFLEET_STRATEGY__PATH)", "no such file"),
    (lambda d: d, "strategy.path (TRADEFLEET_STRATEGY__PATH)", "folder without __init__.py"),
    (lambda d: _write(d / "s.txt", "x = 1"), "strategy.path (TRADEFLEET_STRATEGY__PATH)",
     "not a .py file"),
    (lambda d: _write(d / "bad.py", "def broken(:\n"), "strategy.path (TRADEFLEET_STRATEGY__PATH)",
     "raised SyntaxError"),
    (lambda d: _write(d / "boom.py", "raise RuntimeError('import-time bug')\n"),
     "strategy.path (TRADEFLEET_STRATEGY__PATH)", "RuntimeError: import-time bug"),
])
def test_a_bad_path_is_named(env, tmp_path, setup, field, text):  # noqa: F811
    env(TRADEFLEET_STRATEGY__NAME="mine", TRADEFLEET_STRATEGY__PATH=str(setup(tmp_path)))
    message = _error()
    assert f"{field}: " in message and text in message, message


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_a_wrong_name_or_bad_params_in_a_users_file_are_named(env, user_file):  # noqa: F811
    env(TRADEFLEET_STRATEGY__NAME="nope", TRADEFLEET_STRATEGY__PATH=str(user_file))
    message = _error()
    assert ("strategy.name (TRADEFLEET_STRATEGY__NAME): no strategy named 'nope' in "
            f"{user_file} (it defines: ['always_raises', 'most_traded'])") in message
    env(TRADEFLEET_STRATEGY__NAME="most_traded", TRADEFLEET_STRATEGY__PATH=str(user_file),
        TRADEFLEET_STRATEGY__PARAMS__TOP="0", TRADEFLEET_STRATEGY__PARAMS__BOTTOM="1")
    message = _error()
    assert "strategy.params.top (TRADEFLEET_STRATEGY__PARAMS__TOP): Input should be " \
           "greater than or equal to 1" in message
    assert "strategy.params.bottom (TRADEFLEET_STRATEGY__PARAMS__BOTTOM): unknown parameter " \
           "for most_traded (known: top)" in message


def test_hooks_that_raise_or_return_the_wrong_thing_are_named(env, tmp_path):  # noqa: F811
    base = USER_FILE.read_text()
    bad = tmp_path / "hooks.py"
    bad.write_text(base + "\n\nclass BadExits(MostTraded):\n    name = 'bad_exits'\n\n"
                   "    def exit_params(self, configured):\n        return {'stop': 1}\n\n\n"
                   "class BadFilters(MostTraded):\n    name = 'bad_filters'\n\n"
                   "    def filter_params(self, configured):\n        return 1 / 0\n\n\n"
                   "class BadInit(MostTraded):\n    name = 'bad_init'\n\n"
                   "    def __init__(self, params):\n        raise KeyError('cfg')\n")
    env(TRADEFLEET_STRATEGY__NAME="bad_exits", TRADEFLEET_STRATEGY__PATH=str(bad))
    assert ("strategy.name (TRADEFLEET_STRATEGY__NAME): 'bad_exits'.exit_params must return "
            "a ExitParams, got dict") in _error()
    env(TRADEFLEET_STRATEGY__NAME="bad_filters", TRADEFLEET_STRATEGY__PATH=str(bad))
    assert "'bad_filters'.filter_params raised ZeroDivisionError" in _error()
    env(TRADEFLEET_STRATEGY__NAME="bad_init", TRADEFLEET_STRATEGY__PATH=str(bad))
    assert "strategy.name (TRADEFLEET_STRATEGY__NAME): building 'bad_init' raised " \
           "KeyError" in _error()


def test_a_bad_path_stops_the_worker_before_the_database_is_touched(
        env, empty_pg_dsn, tmp_path, capsys):  # noqa: F811
    env(TRADEFLEET_DB__DSN=empty_pg_dsn, TRADEFLEET_STRATEGY__PATH=str(tmp_path / "no.py"))
    assert main(["worker", "--sim"]) == 2
    assert "strategy.path (TRADEFLEET_STRATEGY__PATH)" in capsys.readouterr().out
    assert asyncio.run(public_tables(empty_pg_dsn)) == 0        # nothing migrated or written


@pytest.fixture
def installed_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A distribution as pip leaves it on sys.path: its module and its dist-info with the
    ``tradefleet.strategies`` entry points (one good, one whose module does not import)."""
    site = tmp_path / "site"
    site.mkdir()
    shutil.copy(USER_FILE, site / "acme_strategies.py")
    info = site / "acme_strategies-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-strategies\n"
                                   "Version: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[tradefleet.strategies]\nacme_top = acme_strategies:MostTraded\n"
        "acme_broken = acme_missing_module:Nothing\n")
    monkeypatch.syspath_prepend(str(site))
    yield site
    sys.modules.pop("acme_strategies", None)


def test_entry_points_name_strategies_and_a_broken_one_is_named(env, installed_plugin):  # noqa: F811
    assert {"acme_top", "acme_broken", "ma_breakout", "volume_surge"} <= set(
        available_strategies())
    env(TRADEFLEET_STRATEGY__NAME="acme_top", TRADEFLEET_STRATEGY__PARAMS__TOP="3")
    strategy, _, _ = load_settings().trading_rules()
    assert type(strategy).__module__ == "acme_strategies" and strategy.params.top == 3
    env(TRADEFLEET_STRATEGY__NAME="acme_broken")
    assert ("strategy.name (TRADEFLEET_STRATEGY__NAME): entry point 'acme_broken' "
            "(acme_missing_module:Nothing) failed to load: ModuleNotFoundError") in _error()
    env(TRADEFLEET_STRATEGY__NAME="acme_nothing")
    assert "unknown strategy 'acme_nothing'; known: [" in _error()


def test_volume_surge_brings_its_own_exits_and_filters(env):  # noqa: F811
    env(TRADEFLEET_STRATEGY__NAME="volume_surge", TRADEFLEET_EXITS__STOP_LOSS_PCT="2.0",
        TRADEFLEET_EXITS__TAKE_PROFIT_PCT="3.0", TRADEFLEET_FILTERS__MIN_TRADED_VALUE="7")
    _, filters, exits = load_settings().trading_rules()
    assert (exits.stop_loss_pct, exits.take_profit_pct, filters.min_traded_value) == (
        Decimal("2.0"), Decimal("3.0"), 7)                       # unset: the settings' own
    env(TRADEFLEET_STRATEGY__NAME="volume_surge", TRADEFLEET_EXITS__STOP_LOSS_PCT="2.0",
        TRADEFLEET_STRATEGY__PARAMS__STOP_LOSS_PCT="1.25",
        TRADEFLEET_STRATEGY__PARAMS__MIN_TRADED_VALUE="900")
    strategy, filters, exits = load_settings().trading_rules()
    assert exits.stop_loss_pct == Decimal("1.25") and filters.min_traded_value == 900
    assert exits.take_profit_pct == Decimal("3.0")               # not set: kept
    assert strategy.param_version != load_strategy("volume_surge", {}).param_version


def test_volume_surge_signals_by_hand():
    s = load_strategy("volume_surge", {"window": 4, "surge_ratio": 2.0, "min_rise_pct": 1.0})
    volumes = np.array([[10, 10, 10, 30],      # 3x surge, price up 2 %: signal
                        [10, 10, 10, 30],      # surge, price up 0.5 %: no
                        [10, 10, 10, 15],      # no surge
                        [0, 0, 0, 50]])        # no base volume: no score, no signal
    closes = np.full((4, 4), 100)
    prices = np.array([102, 100.5, 110, 110])
    r = s.evaluate(closes, volumes, prices)
    for i in range(4):
        base = volumes[i, :-1].mean()
        ratio = volumes[i, -1] / base if base else float("nan")
        want = bool(ratio >= 2.0 and (prices[i] / closes[i, -1] - 1) * 100 >= 1.0)
        assert bool(r.signal[i]) == want
    assert r.signal.tolist() == [True, False, False, False]
    assert r.score[0] == pytest.approx(3.0) and np.isnan(r.score[3])
