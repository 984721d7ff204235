"""Leader election among operator replicas, with kopf's own peering rather than a Lease of
our own: every replica keeps alive its entry (priority, lifetime, last seen) in one
ClusterKopfPeering per release, and a replica that sees a live peer of higher priority pauses
all its watches, timers and daemons, so it reconciles nothing and fires no schedule. Peering
is mandatory when named: a replica starts paused and stays so while the object or its CRD is
missing (it fails closed, never into two leaders).

kopf pauses *every* replica when two share a priority, and a Deployment gives its replicas
one environment, so unless a priority is configured each replica takes one from its start
time: the oldest live replica leads, a new one (a rollout's surge, a restarted pod) waits.
Takeover: a leader that exits (SIGTERM) withdraws its entry and the next takes over at once;
one that dies outright is presumed dead ``lifetime`` seconds after its last keep-alive."""

from __future__ import annotations

import time

import kopf

from tradefleet.operator.config import OperatorConfig


def start_priority(started_ns: int) -> int:
    """Older replicas rank higher (microseconds: two replicas rarely start in one)."""
    return -(started_ns // 1000)


def apply_peering(settings: kopf.OperatorSettings, config: OperatorConfig,
                  started_ns: int | None = None) -> None:
    peering = settings.peering
    if config.peering_name is None:            # a local run: no peers to defer to
        peering.standalone = True
        return
    peering.standalone = False
    peering.mandatory = True
    peering.clusterwide = True     # one leader for every watched namespace and the schedules
    peering.name = config.peering_name
    peering.lifetime = config.peering_lifetime_seconds
    peering.priority = (config.peering_priority if config.peering_priority is not None
                        else start_priority(started_ns or time.time_ns()))
