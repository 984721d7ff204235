"""A TradingWorker names a parameter version or follows the latest approved one (issue 21):
the operator passes it to the pod's environment, where the worker's settings loader reads
it back; a spec with both params and paramVersion is refused naming the field. A version
that is not there, not approved (or none approved), of another strategy or no longer
fitting its schema starts no pod: the TradingWorker is Degraded with the reason and a
Warning Event names the version; once it is approved, the next resync starts the pod."""

from __future__ import annotations

from datetime import datetime

import pytest
from tests.operator.cluster import eventually, running_cluster
from tests.operator.factories import SPEC
from tests.operator.operator_harness import NS, LoopClock, running_operator, worker_body

from tradefleet.adapters.postgres.param_version_store import (
    PostgresParamVersions,
    approve_version,
    insert_version,
)
from tradefleet.domain.calendar import SEOUL
from tradefleet.operator.param_version_check import ParamVersionChecks
from tradefleet.operator.resources import SpecError, parse_worker_spec
from tradefleet.settings import load_settings

TEN = datetime(2026, 11, 24, 10, 0, tzinfo=SEOUL)


@pytest.mark.parametrize("strategy", [{"paramVersion": "latest-approved", "params": {"short": 3}},
                                      {"paramVersion": "0"}, {"paramVersion": "newest"}])
def test_a_bad_param_version_is_refused_naming_the_field(strategy: dict) -> None:
    with pytest.raises(SpecError, match="paramVersion"):
        parse_worker_spec({**SPEC, "strategy": {"name": "ma_breakout", **strategy}})


@pytest.mark.looptime
async def test_the_pod_follows_the_version_the_spec_names(loop_db) -> None:  # noqa: ANN001
    v1 = await insert_version(loop_db.pool, strategy="ma_breakout", params={"short": 3},
                              evidence={})
    await approve_version(loop_db.pool, v1.version_id, by="kim", reason=None)
    async with running_cluster() as cluster, running_operator(cluster, loop_db,
                                                               LoopClock(TEN)):
        await cluster.apply(worker_body("w-latest", strategy={
            "name": "ma_breakout", "paramVersion": "latest-approved"}))
        await cluster.apply(worker_body("w-pinned", strategy={
            "name": "ma_breakout", "paramVersion": str(v1.version_id)}))
        pods = await eventually(lambda: len(cluster.pods(NS)) == 2 and cluster.pods(NS),
                                what="two pods")
    seen = {}
    for pod in pods:
        env = {e["name"]: e.get("value") for e in pod["spec"]["containers"][0]["env"]}
        assert "TRADEFLEET_STRATEGY__PARAMS" not in " ".join(env)     # the version's own
        settings = load_settings(None, {k: v for k, v in env.items() if v is not None})
        seen[settings.worker_id] = settings.strategy.param_version
    assert seen == {"w-latest": "latest-approved", "w-pinned": str(v1.version_id)}


async def _versions(db) -> dict[str, int]:  # noqa: ANN001
    """Of ma_breakout: an approved version whose params no longer fit its schema, a good
    one approved after it (the latest approved) and an unapproved one; one of volume_surge,
    not approved."""
    made = {}
    for key, strategy, params, approved in [
            ("unfit", "ma_breakout", {"short": -1}, True),
            ("approved", "ma_breakout", {"short": 3, "long": 9}, True),
            ("unapproved", "ma_breakout", {"short": 4, "long": 12}, False),
            ("surge", "volume_surge", {}, False)]:
        v = await insert_version(db.pool, strategy=strategy, params=params, evidence={})
        if approved:
            await approve_version(db.pool, v.version_id, by="kim", reason=None)
        made[key] = v.version_id
    return made


async def _problems(db, name: str, wanted: str) -> list[tuple[str, str]]:  # noqa: ANN001
    spec = parse_worker_spec({**SPEC, "strategy": {"name": name, "paramVersion": wanted}})
    checks = ParamVersionChecks(PostgresParamVersions(db))
    return [(p.reason, p.message) for p in await checks.problems(spec)]


async def test_each_version_a_worker_cannot_start_on_is_named_with_its_reason(db) -> None:  # noqa: ANN001
    v = await _versions(db)
    assert await _problems(db, "ma_breakout", str(v["approved"])) == []
    assert await _problems(db, "ma_breakout", "latest-approved") == []
    cases = {
        ("ma_breakout", "999"): ("ParamVersionNotFound", "version 999 does not exist"),
        ("ma_breakout", str(v["unapproved"])): (
            "ParamVersionNotApproved", f"version {v['unapproved']} is not approved"),
        ("ma_breakout", str(v["surge"])): (
            "ParamVersionOtherStrategy", f"version {v['surge']} is for volume_surge"),
        ("ma_breakout", str(v["unfit"])): (
            "ParamVersionInvalid", f"version {v['unfit']} no longer fits ma_breakout"),
        ("volume_surge", "latest-approved"): (
            "ParamVersionNotApproved", "no parameter version of volume_surge is approved"),
    }
    for (name, wanted), (reason, says) in cases.items():
        found = await _problems(db, name, wanted)
        assert [r for r, _ in found] == [reason], (name, wanted, found)
        assert found[0][1].startswith("spec.strategy.paramVersion: ") and says in found[0][1]


def _condition(cluster, name: str, kind: str) -> dict:  # noqa: ANN001
    found = cluster.find("tradingworkers", NS, name) or {}
    return next((c for c in (found.get("status") or {}).get("conditions") or []
                 if c["type"] == kind), {})


@pytest.mark.looptime
async def test_no_pod_for_a_version_not_approved_until_it_is(loop_db) -> None:  # noqa: ANN001
    v = await insert_version(loop_db.pool, strategy="ma_breakout", params={"short": 3},
                             evidence={})
    async with running_cluster() as cluster, running_operator(cluster, loop_db,
                                                               LoopClock(TEN)):
        await cluster.apply(worker_body("w-wait", strategy={
            "name": "ma_breakout", "paramVersion": str(v.version_id)}))
        await cluster.apply(worker_body("w-gone", strategy={
            "name": "ma_breakout", "paramVersion": "999"}))
        for name, reason, named in (("w-wait", "ParamVersionNotApproved", v.version_id),
                                    ("w-gone", "ParamVersionNotFound", 999)):
            await eventually(lambda n=name: _condition(cluster, n, "Degraded").get("reason"),
                             what=f"{name} Degraded")
            degraded = _condition(cluster, name, "Degraded")
            assert (degraded["status"], degraded["reason"]) == ("True", reason)
            found = cluster.find("tradingworkers", NS, name)
            assert found["status"]["phase"] == "Degraded"
            assert [e for e in cluster.events_for(name)
                    if e[:2] == ("Warning", reason) and e[2].startswith(
                        "spec.strategy.paramVersion: ") and f"version {named} " in e[2]]
        # the passes that said so started no pod (the pass writes status after its actions)
        assert cluster.pods(NS) == []
        await approve_version(loop_db.pool, v.version_id, by="kim", reason=None)
        (pod,) = await eventually(lambda: cluster.pods(NS), what="the pod, once approved")
        assert pod["metadata"]["labels"]["tradefleet.io/worker"] == "w-wait"
        await eventually(lambda: _condition(cluster, "w-wait", "Degraded").get("status")
                         == "False", what="w-wait no longer Degraded")
        assert ("Normal", "Recovered", "no longer degraded") in cluster.events_for("w-wait")
        assert _condition(cluster, "w-gone", "Degraded")["reason"] == "ParamVersionNotFound"
