"""The few Kubernetes calls the operator makes besides kopf's own (pods, secrets, status of
its resources), on kubernetes_asyncio, returning plain dicts. Label selectors are applied
here as well as by the server, so a server that ignores them cannot hand back foreign pods."""

from __future__ import annotations

import base64
import json
from typing import Any

from kubernetes_asyncio import client

from tradefleet.operator.pods import WORKER_LABEL
from tradefleet.operator.resources import GROUP, SCHEDULES, VERSION, WORKERS

MERGE_PATCH = "application/merge-patch+json"


class KubeError(RuntimeError):
    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"Kubernetes API answered {status}: {body[:300]}")
        self.status = status
        self.reason, self.message = _status_of(body)


def _status_of(body: str) -> tuple[str, str]:
    """The reason and message of the API's Status answer (what kubectl would print)."""
    try:
        doc = json.loads(body)
    except ValueError:
        return "", body[:500]
    if not isinstance(doc, dict):
        return "", body[:500]
    return str(doc.get("reason") or ""), str(doc.get("message") or body[:500])


class KubeApi:
    def __init__(self, api: client.ApiClient) -> None:
        self._api = api
        self._core = client.CoreV1Api(api)
        self._custom = client.CustomObjectsApi(api)

    @classmethod
    def for_server(cls, url: str, token: str | None = None) -> KubeApi:
        config = client.Configuration(host=url.rstrip("/"))
        if token:
            config.api_key = {"BearerToken": token}
            config.api_key_prefix = {"BearerToken": "Bearer"}
        return cls(client.ApiClient(config))

    @classmethod
    async def from_environment(cls, kubeconfig: str | None = None) -> KubeApi:
        """In a pod: its service account; elsewhere: the kubeconfig (``KUBECONFIG`` or
        ``~/.kube/config``), the same way kopf logs in."""
        from kubernetes_asyncio import config

        configuration = client.Configuration()
        try:
            if kubeconfig is not None:
                raise config.ConfigException("kubeconfig given")
            config.load_incluster_config(client_configuration=configuration)
        except config.ConfigException:
            await config.load_kube_config(config_file=kubeconfig,
                                          client_configuration=configuration)
        return cls(client.ApiClient(configuration))

    async def close(self) -> None:
        await self._api.close()

    async def _call(self, method: Any, *args: Any, missing_ok: bool = True,
                    **kwargs: Any) -> dict[str, Any] | None:
        resp = await method(*args, _preload_content=False, **kwargs)
        try:
            body = await resp.read()
            if resp.status == 404 and missing_ok:
                return None
            if resp.status >= 400:
                raise KubeError(resp.status, body.decode(errors="replace"))
            return json.loads(body) if body else {}
        finally:
            resp.release()

    async def list_pods(self, namespace: str, worker: str) -> list[dict[str, Any]]:
        found = await self._call(self._core.list_namespaced_pod, namespace,
                                 label_selector=f"{WORKER_LABEL}={worker}", missing_ok=False)
        items = (found or {}).get("items") or []
        return [p for p in items
                if ((p.get("metadata") or {}).get("labels") or {}).get(WORKER_LABEL) == worker]

    async def create_pod(self, namespace: str, manifest: dict[str, Any]) -> bool:
        """False when a pod of that name exists already (a pass that raced us)."""
        try:
            await self._call(self._core.create_namespaced_pod, namespace, manifest,
                             missing_ok=False)
        except KubeError as exc:
            if exc.status == 409:
                return False
            raise
        return True

    async def delete_pod(self, namespace: str, name: str, grace_seconds: int | None) -> None:
        kwargs = {} if grace_seconds is None else {"grace_period_seconds": grace_seconds}
        await self._call(self._core.delete_namespaced_pod, name, namespace, **kwargs)

    async def read_secret(self, namespace: str, name: str) -> dict[str, str] | None:
        found = await self._call(self._core.read_namespaced_secret, name, namespace)
        if found is None:
            return None
        data = {k: base64.b64decode(v).decode() for k, v in (found.get("data") or {}).items()}
        data.update(found.get("stringData") or {})
        return data

    async def patch_worker_status(self, namespace: str, name: str,
                                  status: dict[str, Any]) -> None:
        await self._call(self._custom.patch_namespaced_custom_object_status, GROUP, VERSION,
                         namespace, WORKERS, name, {"status": status},
                         _content_type=MERGE_PATCH)

    async def patch_schedule_status(self, name: str, status: dict[str, Any]) -> None:
        await self._call(self._custom.patch_cluster_custom_object_status, GROUP, VERSION,
                         SCHEDULES, name, {"status": status}, _content_type=MERGE_PATCH)

    # ---- the console's one call (console/actions.py): a person's pause or resume ----------
    async def patch_worker_spec(self, namespace: str, name: str,
                                spec: dict[str, Any]) -> dict[str, Any] | None:
        """None when no such TradingWorker."""
        return await self._call(self._custom.patch_namespaced_custom_object, GROUP, VERSION,
                                namespace, WORKERS, name, {"spec": spec},
                                _content_type=MERGE_PATCH)

    # ---- the CRD upgrade hook's calls (operator/crd_upgrade.py), not the operator's --------
    async def read_crd(self, name: str) -> dict[str, Any] | None:
        return await self._call(client.ApiextensionsV1Api(self._api)
                                .read_custom_resource_definition, name)

    async def replace_crd(self, name: str, body: dict[str, Any]) -> None:
        await self._call(client.ApiextensionsV1Api(self._api)
                         .replace_custom_resource_definition, name, body, missing_ok=False)
