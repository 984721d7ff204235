"""Brings the cluster's CRDs up to the chart's: ``python -m tradefleet.operator.crd_upgrade
DIR`` replaces each of our CRDs with the file in DIR (the chart's ``crds/``, mounted from a
ConfigMap by the pre-upgrade hook Job, charts/tradefleet/templates/crd-upgrade.yaml) and
waits until the apiserver serves it (Established, NamesAccepted). Helm itself installs
``crds/`` only when they are absent and never upgrades them.

Why a replace (GET, then PUT with its resourceVersion) and not a server-side apply: an apply
keeps fields another manager set (Helm's create), so a property removed from the schema would
stay; a replace makes the CRD exactly the file. A CRD newer than the file (its
``tradefleet.io/crd-revision`` annotation higher: a newer release in the same cluster) is left
alone, so an older release's upgrade never takes a field away from a newer one. A CRD that
is missing is an error, not a create: the hook's ClusterRole may only get and update these
CRDs by name (RBAC cannot limit ``create`` by name), so it can touch nothing else."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from tradefleet.operator.kube import KubeApi, KubeError

OURS = ("tradingworkers.tradefleet.io", "liquidationschedules.tradefleet.io",
        "clusterkopfpeerings.kopf.dev")
REVISION = "tradefleet.io/crd-revision"
SERVED_TIMEOUT_S = 60.0


class CrdUpgradeError(RuntimeError):
    pass


def revision(crd: dict[str, Any]) -> int:
    raw = ((crd.get("metadata") or {}).get("annotations") or {}).get(REVISION, "0")
    try:
        return int(raw)
    except ValueError:
        return 0


def load_crds(directory: Path) -> list[dict[str, Any]]:
    """The CRDs in ``directory`` (*.yaml), each one of ours, each once."""
    crds = []
    for path in sorted(directory.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if not doc:
                continue
            name = (doc.get("metadata") or {}).get("name")
            if doc.get("kind") != "CustomResourceDefinition" or name not in OURS:
                raise CrdUpgradeError(f"{path.name}: not one of our CRDs ({', '.join(OURS)})")
            crds.append(doc)
    names = [c["metadata"]["name"] for c in crds]
    if not crds or len(set(names)) != len(names):
        raise CrdUpgradeError(f"{directory}: expected our CRDs once each, found {names}")
    return crds


def _served(crd: dict[str, Any]) -> bool:
    conditions = {c.get("type"): c.get("status")
                  for c in (crd.get("status") or {}).get("conditions") or []}
    return conditions.get("Established") == "True" and conditions.get("NamesAccepted") == "True"


class CrdUpgrader:
    def __init__(self, kube: KubeApi) -> None:
        self._kube = kube

    async def _get(self, name: str) -> dict[str, Any] | None:
        return await self._kube.read_crd(name)

    async def upgrade(self, wanted: dict[str, Any]) -> str:
        """What was done to one CRD, in words."""
        name = wanted["metadata"]["name"]
        for _attempt in range(3):
            current = await self._get(name)
            if current is None:
                raise CrdUpgradeError(
                    f"{name}: not installed. Helm installs crds/ on install (unless "
                    "--skip-crds); or: kubectl apply --server-side -f charts/tradefleet/crds/")
            if revision(current) > revision(wanted):
                return (f"{name}: left at revision {revision(current)} (newer than this "
                        f"chart's {revision(wanted)})")
            body = json.loads(json.dumps(wanted))
            body["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
            try:
                await self._kube.replace_crd(name, body)
            except KubeError as exc:
                if exc.status == 409:          # changed between our GET and PUT: again
                    continue
                raise CrdUpgradeError(f"{name}: the apiserver refused it: {exc.message}") \
                    from None
            await self._until_served(name)
            return (f"{name}: revision {revision(current)} -> {revision(wanted)}, "
                    "established")
        raise CrdUpgradeError(f"{name}: kept changing under us (409 three times)")

    async def _until_served(self, name: str) -> None:
        deadline = time.monotonic() + SERVED_TIMEOUT_S
        while True:
            crd = await self._get(name)
            if crd is not None and _served(crd):
                return
            if time.monotonic() > deadline:
                raise CrdUpgradeError(f"{name}: not Established within {SERVED_TIMEOUT_S:.0f}s: "
                                      f"{(crd or {}).get('status')}")
            await asyncio.sleep(0.5)


async def run(directory: Path, kubeconfig: str | None = None) -> list[str]:
    crds = load_crds(directory)
    kube = await KubeApi.from_environment(kubeconfig)
    try:
        upgrader = CrdUpgrader(kube)
        return [await upgrader.upgrade(crd) for crd in crds]
    finally:
        await kube.close()


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        print("usage: python -m tradefleet.operator.crd_upgrade CRD_DIR", file=sys.stderr)
        return 2
    try:
        for line in asyncio.run(run(Path(args[0]))):
            print(line, flush=True)
    except (CrdUpgradeError, KubeError) as exc:
        print(f"CRD upgrade failed: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
