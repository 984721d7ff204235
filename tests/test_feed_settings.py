"""The ``feed`` settings section (issue 20): off by default, every bad value named with its
environment variable, and nothing else loaded when one is wrong."""

from __future__ import annotations

import os

import pytest

from tradefleet.domain.errors import ConfigError
from tradefleet.settings import load_settings

BASE = {"TRADEFLEET_WORKER_ID": "w1", "TRADEFLEET_RISK__CAPITAL_LIMIT": "1000000",
        "TRADEFLEET_RISK__DAILY_LOSS_LIMIT": "200000"}


@pytest.fixture
def env(monkeypatch):
    for key in list(os.environ):
        if key.startswith("TRADEFLEET_"):
            monkeypatch.delenv(key)

    def set_env(**values: str) -> None:
        for k, v in {**BASE, **values}.items():
            monkeypatch.setenv(k, v)
    return set_env


def test_the_feed_is_off_by_default(env):
    env()
    feed = load_settings().feed
    assert feed.enabled is False and feed.ws_url is None and feed.stand_for_holder


def test_an_enabled_feed_loads_from_the_environment(env):
    env(TRADEFLEET_FEED__ENABLED="true", TRADEFLEET_FEED__WS_URL="ws://127.0.0.1:21000",
        TRADEFLEET_FEED__STAND_FOR_HOLDER="false", TRADEFLEET_FEED__LEASE_SECONDS="6",
        TRADEFLEET_FEED__STALE_AFTER_SECONDS="2.5")
    feed = load_settings().feed
    assert (feed.enabled, feed.ws_url, feed.stand_for_holder) == (
        True, "ws://127.0.0.1:21000", False)
    assert (feed.lease_seconds, feed.stale_after_seconds, feed.renew_seconds) == (6, 2.5, 1)
    assert (feed.hts_id, feed.give_up_seconds) == (None, 10.0)


def test_the_hts_id_and_the_give_up_time_load(env):
    env(TRADEFLEET_FEED__HTS_ID="htsuser1", TRADEFLEET_FEED__GIVE_UP_SECONDS="25")
    feed = load_settings().feed
    assert (feed.hts_id, feed.give_up_seconds) == ("htsuser1", 25.0)


@pytest.mark.parametrize(("values", "named"), [
    ({"TRADEFLEET_FEED__ENABLED": "true"}, "feed.ws_url (TRADEFLEET_FEED__WS_URL): required"),
    ({"TRADEFLEET_FEED__WS_URL": "http://x:1"}, "feed.ws_url (TRADEFLEET_FEED__WS_URL)"),
    ({"TRADEFLEET_FEED__ENABLED": "sometimes"}, "feed.enabled (TRADEFLEET_FEED__ENABLED)"),
    ({"TRADEFLEET_FEED__LEASE_SECONDS": "0.5"},
     "feed.lease_seconds (TRADEFLEET_FEED__LEASE_SECONDS)"),
    ({"TRADEFLEET_FEED__STALE_AFTER_SECONDS": "0"},
     "feed.stale_after_seconds (TRADEFLEET_FEED__STALE_AFTER_SECONDS)"),
    ({"TRADEFLEET_FEED__LEASE_SECONDS": "30", "TRADEFLEET_FEED__STALE_AFTER_SECONDS": "5"},
     "feed.stale_after_seconds (TRADEFLEET_FEED__STALE_AFTER_SECONDS): must be at least "
     "two heartbeats"),
    ({"TRADEFLEET_FEED__HOLDER": "yes"}, "feed.holder"),
    ({"TRADEFLEET_FEED__HTS_ID": "user one"}, "feed.hts_id (TRADEFLEET_FEED__HTS_ID)"),
    ({"TRADEFLEET_FEED__GIVE_UP_SECONDS": "1"},
     "feed.give_up_seconds (TRADEFLEET_FEED__GIVE_UP_SECONDS)"),
])
def test_each_bad_feed_value_is_named(env, values, named):
    env(**values)
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert named in str(info.value)
