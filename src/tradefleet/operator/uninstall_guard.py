"""The chart's pre-delete hook: `helm uninstall` must not take the operator away while a
TradingWorker exists, since only the operator's finalizer sells a worker's shares before it
lets go (without it the shares stay on the account and the TradingWorker hangs on its
finalizer). The hook lists the TradingWorkers of the watched namespaces and fails, naming
them, while any is left; helm then stops the uninstall with everything still running.

    python -m tradefleet.operator.uninstall_guard      (TRADEFLEET_OPERATOR_NAMESPACES)"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Iterable

from kubernetes_asyncio import client, config

from tradefleet.operator.resources import GROUP, VERSION, WORKERS


async def workers_left(api: client.ApiClient, namespaces: Iterable[str]) -> list[str]:
    """``namespace/name`` of every TradingWorker in ``namespaces``."""
    custom = client.CustomObjectsApi(api)
    left = []
    for namespace in namespaces:
        listed = await custom.list_namespaced_custom_object(GROUP, VERSION, namespace, WORKERS)
        left += [f"{namespace}/{item['metadata']['name']}" for item in listed.get("items", [])]
    return sorted(left)


def refusal(left: list[str]) -> str | None:
    if not left:
        return None
    shown = ", ".join(left[:20]) + (f" and {len(left) - 20} more" if len(left) > 20 else "")
    return (f"refusing to uninstall: {len(left)} TradingWorker(s) still exist ({shown}); "
            "delete them first (kubectl delete tw --all -n <namespace>) and wait until they "
            "are gone: the operator sells their shares before it lets them go. Meanwhile helm "
            "has marked the release 'uninstalling' and will not upgrade it: `helm rollback "
            "<release> <revision>` marks it deployed again")


async def _main() -> int:
    namespaces = [n.strip() for n in os.environ.get("TRADEFLEET_OPERATOR_NAMESPACES", "")
                  .split(",") if n.strip()]
    configuration = client.Configuration()
    try:
        config.load_incluster_config(client_configuration=configuration)
    except config.ConfigException:
        await config.load_kube_config(client_configuration=configuration)
    async with client.ApiClient(configuration) as api:
        message = refusal(await workers_left(api, namespaces))
    print(message or f"no TradingWorker left in {', '.join(namespaces)}: uninstall may go on")
    return 1 if message else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(_main()))
