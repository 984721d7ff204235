"""A TradingWorker names a parameter version or follows the latest approved one (issue 21):
the operator passes it to the pod's environment, where the worker's settings loader reads
it back; a spec with both params and paramVersion is refused naming the field."""

from __future__ import annotations

from datetime import datetime

import pytest
from tests.operator.cluster import eventually, running_cluster
from tests.operator.factories import SPEC
from tests.operator.operator_harness import NS, LoopClock, running_operator, worker_body

from tradefleet.domain.calendar import SEOUL
from tradefleet.operator.resources import SpecError, parse_worker_spec
from tradefleet.settings import load_settings

TEN = datetime(2026, 11, 24, 10, 0, tzinfo=SEOUL)


@pytest.mark.parametrize("strategy", [{"paramVersion": "latest-approved", "params": {"short": 3}},
                                      {"paramVersion": "0"}, {"paramVersion": "newest"}])
def test_a_bad_param_version_is_refused_naming_the_field(strategy: dict) -> None:
    with pytest.raises(SpecError, match="paramVersion"):
        parse_worker_spec({**SPEC, "strategy": {"name": "ma_breakout", **strategy}})


async def test_the_pod_follows_the_version_the_spec_names(loop_db) -> None:  # noqa: ANN001
    async with running_cluster() as cluster, running_operator(cluster, loop_db,
                                                               LoopClock(TEN)):
        await cluster.apply(worker_body("w-latest", strategy={
            "name": "ma_breakout", "paramVersion": "latest-approved"}))
        await cluster.apply(worker_body("w-pinned", strategy={
            "name": "ma_breakout", "paramVersion": "42"}))
        pods = await eventually(lambda: len(cluster.pods(NS)) == 2 and cluster.pods(NS),
                                what="two pods")
    seen = {}
    for pod in pods:
        env = {e["name"]: e.get("value") for e in pod["spec"]["containers"][0]["env"]}
        assert "TRADEFLEET_STRATEGY__PARAMS" not in " ".join(env)     # the version's own
        settings = load_settings(None, {k: v for k, v in env.items() if v is not None})
        seen[settings.worker_id] = settings.strategy.param_version
    assert seen == {"w-latest": "latest-approved", "w-pinned": "42"}
