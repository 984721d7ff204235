"""The operator's login: kopf's own, through kubernetes_asyncio (the service account in a pod,
else the kubeconfig), plus the namespace the operator runs in.

kubernetes_asyncio has no notion of a current namespace, so kopf's login leaves
``default_namespace`` empty and kopf then posts the Events of cluster-scoped objects (the
LiquidationSchedules) into ``default``, where the chart grants nothing: on a real API every
such Event was refused (403) and lost. The chart grants Event creation in the release's own
namespace, which is where they belong."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import kopf

SERVICE_ACCOUNT_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")


def own_namespace(env: Mapping[str, str] = os.environ,
                  service_account: Path = SERVICE_ACCOUNT_NAMESPACE) -> str | None:
    """POD_NAMESPACE (the chart sets it from the downward API), else the pod's service
    account namespace file; None outside a pod without it."""
    if env.get("POD_NAMESPACE", "").strip():
        return env["POD_NAMESPACE"].strip()
    try:
        return service_account.read_text().strip() or None
    except OSError:
        return None


def in_own_namespace(info: kopf.ConnectionInfo | None,
                     namespace: str | None) -> kopf.ConnectionInfo | None:
    if info is None or info.default_namespace or not namespace:
        return info
    return dataclasses.replace(info, default_namespace=namespace)


async def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
    return in_own_namespace(await kopf.login_via_async_client(**kwargs), own_namespace())
