"""Runs inside a pod's own mount namespace (``unshare --mount``, started by the node agent):
bind-mounts the pod's prepared volumes at their mountPaths and its hosts file on /etc/hosts,
then becomes the container's command. Usage: ``python3 pod_launch.py <launch.json>``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def _bind(source: str, target: str, read_only: bool) -> None:
    path = Path(target)
    if Path(source).is_dir():
        path.mkdir(parents=True, exist_ok=True)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(exist_ok=True)
    subprocess.run(["mount", "--bind", source, target], check=True)  # noqa: S603, S607
    if read_only:
        subprocess.run(["mount", "-o", "remount,bind,ro", target],  # noqa: S603, S607
                       check=True)


KEEP_DIR = Path("/var/tmp/tradefleet-pod-keep")


def _hidden(path: str, targets: list[str]) -> bool:
    return any(path == t or path.startswith(t.rstrip("/") + "/") for t in targets)


def main() -> None:
    spec = json.loads(Path(sys.argv[1]).read_text())
    mounts = sorted(spec["mounts"], key=lambda m: m[1].count("/"))
    # the checkout's src and pod_site, when a volume would cover them (a checkout under /tmp
    # and an emptyDir at /tmp): parked on a bind first, put back at their own path after
    kept = [p for p in spec.get("keep", []) if _hidden(p, [m[1] for m in mounts])]
    for i, path in enumerate(kept):
        _bind(path, str(KEEP_DIR / str(i)), False)
    # outer mount points first (/tmp before /tmp/x); sources live outside every target
    for source, target, read_only in mounts:
        _bind(source, target, read_only)
    for i, path in enumerate(kept):
        _bind(str(KEEP_DIR / str(i)), path, True)
    os.chdir(spec.get("cwd") or "/")
    argv = spec["argv"]
    os.execvpe(argv[0], argv, spec["env"])  # noqa: S606


if __name__ == "__main__":
    main()
