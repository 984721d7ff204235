"""The chart knows about the account's feed (issue 20): ``feed.enabled`` reaches every worker
pod through the operator (no feed Deployment: the workers elect the holder among themselves),
the bundled exchange serves its WebSocket then, and nothing changes when it is off."""

from __future__ import annotations

from tests.packaging.chart_render import COMBOS, NAMESPACE, RELEASE, one, render, run_helm
from tests.packaging.test_chart import _operator_environ, _worker_pod

from tradefleet.operator.config import load_operator_config

FEED_ON = COMBOS["bundled-feed"]


def _env(pod: dict) -> dict[str, dict]:
    (c,) = pod["spec"]["containers"]
    return {e["name"]: e for e in c["env"]}


def test_the_feed_reaches_every_worker_pod_and_the_exchange_serves_it():
    docs = render(FEED_ON)
    config = load_operator_config(_operator_environ(docs))
    ws = f"ws://{RELEASE}-exchange.{NAMESPACE}.svc:8901"
    assert (config.feed_ws_url, config.feed_lease_seconds) == (ws, 3.0)
    env = _env(_worker_pod(FEED_ON))
    assert env["TRADEFLEET_FEED__ENABLED"]["value"] == "true"
    assert env["TRADEFLEET_FEED__WS_URL"]["value"] == ws
    assert env["TRADEFLEET_FEED__HTS_ID"]["value"] == "tradefleet"   # the exchange's
    (c,) = one(docs, "Deployment", f"{RELEASE}-exchange")["spec"]["template"]["spec"][
        "containers"]
    assert "--ws-port=8901" in c["args"] and "--hts-id=tradefleet" in c["args"]
    ports = {p["name"]: p["port"] for p in one(docs, "Service", f"{RELEASE}-exchange")["spec"][
        "ports"]}
    assert ports == {"http": 8900, "ws": 8901}
    assert not [d for d in docs if d["kind"] == "Deployment"
                and d["metadata"]["name"].endswith("-feed")]       # elected among workers


def test_off_by_default_the_pods_are_as_before():
    env = _env(_worker_pod(COMBOS["bundled-all"]))
    assert not [name for name in env if name.startswith("TRADEFLEET_FEED__")]


def test_an_enabled_feed_without_a_url_or_exchange_is_refused_naming_the_field():
    values = {**COMBOS["bundled-all"], "exchange": {"enabled": False},
              "feed": {"enabled": True}}
    done = run_helm("template", RELEASE, "--namespace", NAMESPACE, values=values)
    assert done.returncode != 0 and "feed.wsUrl" in done.stderr
    bad = {**FEED_ON, "feed": {"enabled": True, "wsUrl": "http://x:1"}}
    done = run_helm("template", RELEASE, "--namespace", NAMESPACE, values=bad)
    assert done.returncode != 0 and "wsUrl" in done.stderr
