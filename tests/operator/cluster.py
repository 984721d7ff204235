"""kmock's in-memory Kubernetes API, a little closer to an apiserver where the operator
depends on it: objects get a uid, resourceVersion, generation (bumped by spec changes) and
creationTimestamp; a pod deleted with a grace period is only marked (deletionTimestamp)
until its "kubelet" lets it go, as a real kubelet does after the process has ended. Plus
small kubelet and kubectl helpers for tests, and the record of every request made."""

from __future__ import annotations

import asyncio
import datetime
import itertools
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp.web
import attrs
import jsonpatch
import yaml
from kmock._internal import apps, enums, k8s, references
from tests.operator.crd_schema import CRD_DIR, FILES, PEERING_FILE

PODS = references.resource("", "v1", "pods")


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds").replace(
        "+00:00", "Z")


@attrs.define(kw_only=True)
class Cluster(k8s.KubernetesEmulator):
    _versions: Any = attrs.field(factory=lambda: itertools.count(1000), init=False)
    _generations: dict = attrs.field(factory=dict, init=False)
    _failures: list = attrs.field(factory=list, init=False)
    refused: list = attrs.field(factory=list, init=False)     # (method, path) failed by us

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        self.resources.load_bundled()
        for file in (*FILES.values(), PEERING_FILE):
            crd = yaml.safe_load((CRD_DIR / file).read_text())
            names, (version,) = crd["spec"]["names"], crd["spec"]["versions"]
            key = f"{crd['spec']['group']}/{version['name']}/{names['plural']}"
            self.resources[key] = references.ResourceInfo(
                kind=names["kind"], singular=names["singular"],
                namespaced=crd["spec"]["scope"] == "Namespaced",
                verbs={"get", "list", "watch", "create", "update", "patch", "delete"},
                shortnames=set(names.get("shortNames", [])),
                subresources=set(version.get("subresources", {})))

    # ---- apiserver behaviour kmock lacks --------------------------------------------
    def _rv(self) -> str:
        return str(next(self._versions))

    def fail(self, method: str, path_contains: str, status: int, message: str, *,
             times: int = 1_000_000, reason: str = "InternalError") -> None:
        """The next ``times`` requests ``method`` whose path contains ``path_contains`` are
        answered ``status`` (an apiserver error), nothing done; ``heal`` ends it."""
        self._failures.append([method.upper(), path_contains, status, reason, message, times])

    def heal(self) -> None:
        self._failures.clear()

    async def _handle(self, request: Any) -> Any:
        for rule in self._failures:
            method, part, status, reason, message, times = rule
            if times > 0 and str(request.method).upper().endswith(method) \
                    and part in request.url.path:
                rule[-1] -= 1
                self.refused.append((method, request.url.path))
                raise k8s.KubernetesError(status=status, reason=reason, message=message)
        if request.resource is not None:
            if request.action == enums.action.CREATE and isinstance(request.data, dict):
                meta = request.data.setdefault("metadata", {})
                if not meta.get("name") and meta.get("generateName"):
                    meta["name"] = meta["generateName"] + uuid.uuid4().hex[:5]
                meta.setdefault("uid", str(uuid.uuid4()))
                meta.setdefault("creationTimestamp", _now())
                meta["resourceVersion"] = self._rv()
                meta["generation"] = 1
                key = (request.resource.plural, request.namespace or meta.get("namespace"),
                       meta.get("name"))
                self._generations[key] = 1
            elif request.action == enums.action.UPDATE and request.name is not None:
                self._stamp_update(request)
            elif (request.action == enums.action.DELETE and request.resource == PODS
                  and request.name is not None and self._graceful(request)):
                return await self._mark_terminating(request)
        try:
            return await super()._handle(request)
        except jsonpatch.JsonPatchTestFailed as exc:     # a stale resourceVersion: 422
            raise k8s.KubernetesError(status=422, reason="Invalid", message=str(exc)) from None

    def _stamp_update(self, request: Any) -> None:
        key = (request.resource.plural, request.namespace, request.name)
        data = request.data
        touches_spec = request.subresource is None and (
            ("spec" in data) if isinstance(data, dict) else
            any(op.get("path", "").startswith("/spec") for op in data or []))
        if touches_spec:
            self._generations[key] = self._generations.get(key, 1) + 1
        stamp = {"resourceVersion": self._rv()}
        if key in self._generations:
            stamp["generation"] = self._generations[key]
        if isinstance(data, dict):
            data.setdefault("metadata", {}).update(stamp)
        elif isinstance(data, list):
            data.extend({"op": "add", "path": f"/metadata/{k}", "value": v}
                        for k, v in stamp.items())

    def _graceful(self, request: Any) -> bool:
        raw = request.params.get("gracePeriodSeconds")
        if raw is None and isinstance(request.data, dict):
            raw = request.data.get("gracePeriodSeconds")
        return raw is None or int(raw) > 0

    async def _mark_terminating(self, request: Any) -> Any:
        obj = self._pod(request.namespace, request.name)
        if obj is None or obj.get("metadata", {}).get("deletionTimestamp"):
            return await super()._handle(request)     # 404, or already terminating
        grace = int(obj["spec"].get("terminationGracePeriodSeconds", 30))
        async with self._lock:
            obj.patch({"metadata": {"deletionTimestamp": _now(),
                                    "deletionGracePeriodSeconds": grace,
                                    "resourceVersion": self._rv()}})
            raw = obj.raw
            await self._buses[PODS].put({"type": "MODIFIED", "object": raw})
        return aiohttp.web.json_response(raw)

    # ---- the kubelet's side ----------------------------------------------------------
    def _pod(self, namespace: str, name: str) -> Any:
        for (resource, ns, n), obj in self.objects.items():
            if resource == PODS and ns == namespace and n == name and not obj.deleted:
                return obj
        return None

    def pods(self, namespace: str) -> list[dict[str, Any]]:
        return [dict(obj.raw) for (resource, ns, _), obj in self.objects.items()
                if resource == PODS and ns == namespace and not obj.deleted]

    def objects_of(self, plural: str, namespace: str | None = None) -> list[dict[str, Any]]:
        return [dict(obj.raw) for (resource, ns, _), obj in self.objects.items()
                if resource.plural == plural and not obj.deleted
                and (namespace is None or ns == namespace)]

    def events_for(self, name: str) -> list[tuple[str, str, str]]:
        return [(e.get("type"), e.get("reason"), e.get("message"))
                for e in self.objects_of("events")
                if (e.get("involvedObject") or {}).get("name") == name]

    async def set_pod_status(self, namespace: str, name: str, status: dict[str, Any]) -> None:
        """What a kubelet reports (phase, conditions, container statuses, reason)."""
        obj = self._pod(namespace, name)
        assert obj is not None, f"no pod {name}"
        async with self._lock:
            obj.patch({"status": status, "metadata": {"resourceVersion": self._rv()}})
            await self._buses[PODS].put({"type": "MODIFIED", "object": obj.raw})

    async def run_pod(self, namespace: str, name: str, *, ready: bool = True) -> None:
        await self.set_pod_status(namespace, name, {
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
            "containerStatuses": [{"name": "worker", "ready": ready, "restartCount": 0,
                                   "state": {"running": {"startedAt": _now()}}}]})

    async def end_pod(self, namespace: str, name: str, *, exit_code: int,
                      reason: str | None = None, pod_reason: str | None = None) -> None:
        status: dict[str, Any] = {
            "phase": "Succeeded" if exit_code == 0 else "Failed",
            "conditions": [{"type": "Ready", "status": "False"}],
            "containerStatuses": [{"name": "worker", "ready": False, "restartCount": 0,
                                   "state": {"terminated": {
                                       "exitCode": exit_code,
                                       "reason": reason or ("Completed" if exit_code == 0
                                                            else "Error")}}}]}
        if pod_reason:
            status["reason"] = pod_reason
        await self.set_pod_status(namespace, name, status)

    async def remove_pod(self, namespace: str, name: str) -> None:
        """The pod object goes (a terminated pod's kubelet, or a force delete)."""
        obj = self._pod(namespace, name)
        if obj is None:
            return
        async with self._lock:
            raw = obj.raw
            obj.delete()
            await self._buses[PODS].put({"type": "DELETED", "object": raw})

    # ---- kubectl ----------------------------------------------------------------------
    async def apply(self, obj: dict[str, Any]) -> dict[str, Any]:
        group, version = obj["apiVersion"].split("/")
        plural = {"TradingWorker": "tradingworkers",
                  "LiquidationSchedule": "liquidationschedules"}[obj["kind"]]
        ns = obj["metadata"].get("namespace")
        path = f"/apis/{group}/{version}" + (f"/namespaces/{ns}" if ns else "") + f"/{plural}"
        resp = await self.post(path, json=obj)
        assert resp.status in (200, 201), await resp.text()
        return await resp.json()

    async def patch_spec(self, plural: str, namespace: str | None, name: str,
                         spec: dict[str, Any]) -> None:
        ns = f"/namespaces/{namespace}" if namespace else ""
        resp = await self.patch(f"/apis/tradefleet.io/v1alpha1{ns}/{plural}/{name}",
                                json={"spec": spec},
                                headers={"Content-Type": "application/merge-patch+json"})
        assert resp.status == 200, await resp.text()

    async def delete_object(self, plural: str, namespace: str | None, name: str) -> None:
        ns = f"/namespaces/{namespace}" if namespace else ""
        resp = await self.delete(f"/apis/tradefleet.io/v1alpha1{ns}/{plural}/{name}")
        assert resp.status == 200, await resp.text()

    def find(self, plural: str, namespace: str | None, name: str) -> dict[str, Any] | None:
        for obj in self.objects_of(plural, namespace):
            if obj["metadata"]["name"] == name:
                return obj
        return None

    @property
    def seen(self) -> list[Any]:
        """Every request the server received, in order."""
        return list(self._requests)

    def requests_made(self) -> list[tuple[str, str]]:
        """(method, path) of every request the server saw: the operator's, for RBAC."""
        return [(str(r.method), r.url.path) for r in self.seen]

    def find_secret(self, namespace: str, name: str) -> dict[str, str] | None:
        import base64

        for (resource, ns, n), obj in self.objects.items():
            if resource.plural == "secrets" and ns == namespace and n == name \
                    and not obj.deleted:
                return {k: base64.b64decode(v).decode()
                        for k, v in (obj.raw.get("data") or {}).items()}
        return None

    async def write_secret(self, namespace: str, name: str, data: dict[str, str]) -> None:
        """Create or change a Secret through the API (a new resourceVersion, a watch event),
        as ``kubectl apply`` would; ``put_secret`` only plants one in the store."""
        import base64

        encoded = {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}
        path = f"/api/v1/namespaces/{namespace}/secrets"
        resp = await self.patch(f"{path}/{name}", json={"data": encoded},
                                headers={"Content-Type": "application/merge-patch+json"})
        if resp.status == 404:
            resp = await self.post(path, json={
                "apiVersion": "v1", "kind": "Secret",
                "metadata": {"name": name, "namespace": namespace}, "data": encoded})
        assert resp.status in (200, 201), await resp.text()

    def put_secret(self, namespace: str, name: str, data: dict[str, str]) -> None:
        import base64

        self.objects["v1/secrets", namespace, name] = {
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": name, "namespace": namespace, "uid": str(uuid.uuid4())},
            "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}}


@asynccontextmanager
async def running_cluster() -> AsyncIterator[Cluster]:
    async with Cluster() as cluster, apps.Server(cluster):
        yield cluster


async def eventually(check, *, timeout: float = 120.0, step: float = 0.5,  # noqa: ANN001
                     what: str = "condition") -> Any:
    """Wait (loop time) until ``check()`` returns something truthy; return it."""
    waited = 0.0
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        if waited >= timeout:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(step)
        waited += step


def write_kubeconfig(path: Path, url: str, token: str = "operator-token") -> Path:
    """A kubeconfig for a process (the operator) to reach the in-memory cluster at ``url``."""
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "kmock",
        "clusters": [{"name": "kmock", "cluster": {"server": url}}],
        "users": [{"name": "op", "user": {"token": token}}],
        "contexts": [{"name": "kmock", "context": {"cluster": "kmock", "user": "op"}}]}))
    return path
