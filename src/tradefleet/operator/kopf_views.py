"""What the operator sees of pods and Secrets through kopf's watches instead of asking the API
on every pass: an index of our pods by (namespace, worker), holding their metadata and status,
and an index of Secrets by (namespace, name) holding only their resourceVersion (never data).
One watch per namespace and kind costs the API server the same at 10 workers as at 500.

kopf hands its indexes to handlers only, so the handlers attach them here on every call
(the same live objects each time); until then, and in tests that call the controller without
kopf, every view answers "not known" and the controller asks the API as before."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tradefleet.operator.pods import WORKER_LABEL
from tradefleet.operator.secret_checks import UNKNOWN

POD_INDEX = "worker_pods"
SECRET_INDEX = "secret_versions"  # noqa: S105 (a kopf index id)


def index_pod(namespace: str, labels: Mapping[str, str], body: Mapping[str, Any],
              **_: Any) -> dict[tuple[str, str], dict[str, Any]]:
    """A pod of ours under its worker: what observe.pod_state reads (metadata and status)."""
    meta = {k: v for k, v in dict(body.get("metadata") or {}).items() if k != "managedFields"}
    return {(namespace, labels.get(WORKER_LABEL, "")): {
        "metadata": _plain(meta), "status": _plain(body.get("status") or {})}}


def index_secret(namespace: str, name: str, meta: Mapping[str, Any],
                 **_: Any) -> dict[tuple[str, str], str]:
    """A Secret's version only: its values are read (GET) when a check needs them."""
    return {(namespace, name): str(meta.get("resourceVersion") or "")}


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


class KopfViews:
    def __init__(self) -> None:
        self._pods: Mapping | None = None
        self._secrets: Mapping | None = None

    def attach(self, handler_kwargs: Mapping[str, Any]) -> None:
        self._pods = handler_kwargs.get(POD_INDEX, self._pods)
        self._secrets = handler_kwargs.get(SECRET_INDEX, self._secrets)

    def pods_of(self, namespace: str, worker: str) -> list[dict[str, Any]] | None:
        """The worker's pods as last watched; None: no index, list them."""
        if self._pods is None:
            return None
        return [_plain(p) for p in list(self._pods.get((namespace, worker), ()))]

    def secret_version(self, namespace: str, name: str) -> object:
        if self._secrets is None:
            return UNKNOWN
        return next(iter(list(self._secrets.get((namespace, name), ()))), None)
