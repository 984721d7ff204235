"""The preflight of ``spec.strategy.paramVersion`` (issue 21): the version a TradingWorker
names must exist, be of its strategy, be approved and still fit the strategy's schema, as
the worker checks at start-up (worker/param_version.py). Checked by the operator first, so
that a version not there yet or not approved yet makes the worker Degraded with a reason
(ParamVersionNotFound, ParamVersionNotApproved, ParamVersionOtherStrategy,
ParamVersionInvalid) and a Warning Event naming it, and no pod is started: without this
the pod's worker exits at start-up and the operator replaces it again and again, its status
saying only that a pod failed.

Read again on every pass of such a worker (its resync timer): one indexed SELECT in
Postgres, nothing from the Kubernetes API, and status is written only when the answer
changes. So a version approved with ``tradefleet params approve`` starts the pod at the
next resync (``TRADEFLEET_OPERATOR_RESYNC_SECONDS``, 10 s by default). Approval is never
withdrawn, so a running worker is never stopped by this check; a spec that names a version
which fails it while a pod runs keeps that pod, as every Degraded spec does."""

from __future__ import annotations

from tradefleet.domain.errors import ConfigError
from tradefleet.domain.strategies import StrategyParamsError
from tradefleet.operator.plan import Problem
from tradefleet.operator.resources import TradingWorkerSpec
from tradefleet.ports.param_versions import ParamVersionReader
from tradefleet.strategy_plugins import load_strategy

LATEST = "latest-approved"
WHERE = "spec.strategy.paramVersion"


class ParamVersionChecks:
    def __init__(self, versions: ParamVersionReader) -> None:
        self._versions = versions

    async def problems(self, spec: TradingWorkerSpec) -> list[Problem]:
        wanted, name = spec.strategy.param_version, spec.strategy.name
        if wanted is None:
            return []
        if wanted == LATEST:
            version = await self._versions.latest_approved(name)
            if version is None:
                return [Problem("ParamVersionNotApproved", f"{WHERE}: {LATEST}, but no "
                                f"parameter version of {name} is approved yet (tradefleet "
                                f"params approve ID --by NAME); the pod starts once one is")]
        else:
            version = await self._versions.version(int(wanted))
            if version is None:
                return [Problem("ParamVersionNotFound", f"{WHERE}: parameter version "
                                f"{wanted} does not exist (tradefleet params list)")]
            if version.strategy != name:
                return [Problem("ParamVersionOtherStrategy", f"{WHERE}: version {wanted} is "
                                f"for {version.strategy}, spec.strategy.name is {name}")]
            if not version.approved:
                return [Problem("ParamVersionNotApproved", f"{WHERE}: version {wanted} is "
                                f"not approved (tradefleet params approve {wanted} --by "
                                f"NAME); the pod starts once it is")]
        try:
            load_strategy(name, dict(version.params))
        except StrategyParamsError as exc:
            return [Problem("ParamVersionInvalid", f"{WHERE}: version "
                            f"{version.version_id} no longer fits {name}: "
                            + "; ".join(f"{k}: {m}" for k, m in exc.problems.items()))]
        except ConfigError:         # an unknown strategy: check_strategy names it
            return []
        return []
