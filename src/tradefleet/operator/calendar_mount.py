"""The fleet's calendar overrides reach every worker pod: the chart keeps them in a ConfigMap
in each watched namespace, and the operator mounts it into each pod and points the worker's
TRADEFLEET_CALENDAR_OVERRIDES at the file. Added after the spec hash: editing the overrides
restarts no running worker (a pod reads them when it starts, before each session)."""

from __future__ import annotations

from typing import Any

MOUNT_DIR = "/etc/tradefleet/calendar"
FILE = "overrides.yaml"
VOLUME = "calendar-overrides"


def mount_calendar(body: dict[str, Any], configmap: str | None) -> None:
    if not configmap:
        return
    body.setdefault("volumes", []).append(
        {"name": VOLUME, "configMap": {"name": configmap, "optional": True}})
    (container,) = body["containers"]
    container.setdefault("volumeMounts", []).append(
        {"name": VOLUME, "mountPath": MOUNT_DIR, "readOnly": True})
    container.setdefault("env", []).append(
        {"name": "TRADEFLEET_CALENDAR_OVERRIDES", "value": f"{MOUNT_DIR}/{FILE}"})
