"""Where worker pods may run, as the cluster team sets it for the whole fleet (the chart's
operator.workerPods): a PriorityClass, an affinity and tolerations. Applied after the spec
hash, like the pull settings: a changed placement applies to the next pod and never replaces
a running worker mid-session. A TradingWorker's own spec.pod.tolerations come first."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

PREFIX = "TRADEFLEET_OPERATOR_WORKER_"
PRIORITY_CLASS = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


@dataclass(frozen=True)
class WorkerPlacement:
    priority_class_name: str | None = None
    affinity: Mapping[str, Any] = field(default_factory=dict)
    tolerations: tuple[Mapping[str, Any], ...] = ()


def _json(env: Mapping[str, str], name: str, kind: type, problems: list[str]) -> Any:
    raw = env.get(PREFIX + name, "").strip()
    if not raw:
        return kind()
    try:
        value = json.loads(raw)
    except ValueError as exc:
        problems.append(f"{PREFIX}{name}: not JSON: {exc}")
        return kind()
    if not isinstance(value, kind):
        problems.append(f"{PREFIX}{name}: a JSON {'list' if kind is list else 'object'}")
        return kind()
    return value


def load_placement(env: Mapping[str, str], problems: list[str]) -> WorkerPlacement:
    priority = env.get(PREFIX + "PRIORITY_CLASS", "").strip() or None
    if priority is not None and (len(priority) > 253 or not PRIORITY_CLASS.match(priority)):
        problems.append(f"{PREFIX}PRIORITY_CLASS: not a PriorityClass name: {priority!r}")
    tolerations = _json(env, "TOLERATIONS", list, problems)
    if not all(isinstance(t, dict) for t in tolerations):
        problems.append(f"{PREFIX}TOLERATIONS: every toleration is a JSON object")
        tolerations = []
    return WorkerPlacement(priority, _json(env, "AFFINITY", dict, problems), tuple(tolerations))


def apply_placement(body: dict[str, Any], placement: WorkerPlacement) -> None:
    if placement.priority_class_name:
        body["priorityClassName"] = placement.priority_class_name
    if placement.affinity:
        body["affinity"] = json.loads(json.dumps(dict(placement.affinity)))
    if placement.tolerations:
        own = list(body.get("tolerations") or [])
        body["tolerations"] = own + [dict(t) for t in placement.tolerations if t not in own]
