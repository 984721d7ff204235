#!/usr/bin/env python3
"""Build a real Kubernetes control plane from the Go module proxy, pinned and cached.

No registry ships kube-apiserver, but every part is a Go program in a published module
(shared/reference/kubernetes.md). ``k8s.io/kubernetes``'s published go.mod requires its ~30
staging modules at ``v0.0.0`` and points them at ``./staging/...``, which a dependency cannot
use; so a throwaway module requires ``k8s.io/kubernetes`` and replaces each staging module
(the list is read from that release's own go.mod) with its published ``v0.X.Y``. etcd gets its
own throwaway module with a three-line main around ``etcdmain.Main``.

kubectl is built the same way: Debian's ``/usr/bin/kubectl`` on these machines is the
google-cloud-sdk dispatcher ("v1.32.4-dispatcher"), not a client we can pin.

The binaries land in a cache outside the repository (``TRADEFLEET_TOOLS_DIR``, default
``~/.cache/tradefleet-tools``) under ``control-plane/<k8s>-etcd<etcd>/``; a second call
costs nothing. Builds run under ``nice`` with ``-trimpath -ldflags=-s -w`` (2 shared cores).

Usage: ``python3 .ci/control_plane.py`` builds (or reuses) and prints the paths and the build
time. Without a Go toolchain it prints why and exits 0: the tests that need the cluster skip
with that reason. Tests call ``built_binaries()`` (never builds) to find them."""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

KUBERNETES = "v1.34.4"
ETCD = "v3.6.17"
KUBE_COMMANDS = ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl")
BINARIES = (*KUBE_COMMANDS, "etcd")
GO_CANDIDATES = ("go", "/usr/local/go/bin/go")


def tools_dir() -> Path:
    raw = os.environ.get("TRADEFLEET_TOOLS_DIR")
    return Path(raw) if raw else Path.home() / ".cache" / "tradefleet-tools"


def bin_dir() -> Path:
    return tools_dir() / "control-plane" / f"{KUBERNETES}-etcd{ETCD}"


def built_binaries() -> dict[str, Path] | None:
    """The cached binaries by name, or None when any is missing (nothing is built here)."""
    found = {name: bin_dir() / name for name in BINARIES}
    if all(p.is_file() and os.access(p, os.X_OK) for p in found.values()):
        return found
    return None


def find_go() -> str | None:
    for candidate in GO_CANDIDATES:
        path = shutil.which(candidate)
        if path:
            return path
    return None


def _go(go: str, args: list[str], cwd: Path, env: dict[str, str]) -> str:
    cmd = ["nice", "-n", "10", go, *args]
    done = subprocess.run(cmd, cwd=cwd, env=env, text=True,  # noqa: S603
                          capture_output=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[3:])} failed in {cwd}:\n{done.stderr[-4000:]}")
    return done.stdout


def _go_env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("GOFLAGS", "-mod=mod")
    env["CGO_ENABLED"] = "0"
    env.setdefault("GOTOOLCHAIN", "local")
    return env


def staging_modules(go: str, work: Path, env: dict[str, str]) -> list[str]:
    """The staging modules of this release, as its own go.mod lists them (replace => ./staging)."""
    info = json.loads(_go(go, ["mod", "download", "-json", f"k8s.io/kubernetes@{KUBERNETES}"],
                          work, env))
    gomod = Path(info["GoMod"]).read_text()
    names = re.findall(r"^\s*(\S+)\s+=>\s+\./staging/", gomod, flags=re.MULTILINE)
    if not names:
        raise RuntimeError(f"k8s.io/kubernetes@{KUBERNETES}: no staging replaces in its go.mod")
    return names


def _version_ldflags() -> str:
    major, minor = KUBERNETES.lstrip("v").split(".")[:2]
    pairs = {"gitVersion": KUBERNETES, "gitMajor": major, "gitMinor": minor,
             "gitTreeState": "clean", "buildDate": "1970-01-01T00:00:00Z"}
    flags = ["-s", "-w"]
    for pkg in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        flags += [f"-X {pkg}.{key}={value}" for key, value in pairs.items()]
    return " ".join(flags)


def build_kubernetes(go: str, out: Path, env: dict[str, str]) -> None:
    with tempfile.TemporaryDirectory(prefix="tf-k8s-mod-") as tmp:
        work = Path(tmp)
        staged_version = "v0." + KUBERNETES.lstrip("v").split(".", 1)[1]
        _go(go, ["mod", "init", "tradefleet.local/controlplane"], work, env)
        names = staging_modules(go, work, env)
        replaces = "\n".join(f"\t{name} => {name} {staged_version}" for name in names)
        with (work / "go.mod").open("a") as gomod:
            gomod.write(f"\nrequire k8s.io/kubernetes {KUBERNETES}\n\nreplace (\n{replaces}\n)\n")
        packages = [f"k8s.io/kubernetes/cmd/{name}" for name in KUBE_COMMANDS]
        _go(go, ["build", "-trimpath", f"-ldflags={_version_ldflags()}", "-o", str(out),
                 *packages], work, env)


ETCD_MAIN = """package main

import (
\t"os"

\t"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
"""


def build_etcd(go: str, out: Path, env: dict[str, str]) -> None:
    with tempfile.TemporaryDirectory(prefix="tf-etcd-mod-") as tmp:
        work = Path(tmp)
        _go(go, ["mod", "init", "tradefleet.local/etcd"], work, env)
        (work / "main.go").write_text(ETCD_MAIN)
        _go(go, ["get", f"go.etcd.io/etcd/server/v3@{ETCD}"], work, env)
        _go(go, ["build", "-trimpath", "-ldflags=-s -w", "-o", str(out / "etcd"), "."],
            work, env)


def ensure_control_plane() -> dict[str, Path]:
    """The built binaries, building them once (under a lock, so concurrent callers wait)."""
    found = built_binaries()
    if found:
        return found
    go = find_go()
    if go is None:
        raise FileNotFoundError("no Go toolchain (go or /usr/local/go/bin/go)")
    target = bin_dir()
    target.parent.mkdir(parents=True, exist_ok=True)
    with (target.parent / ".build.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        found = built_binaries()
        if found:
            return found
        env = _go_env()
        staging = Path(tempfile.mkdtemp(prefix=".building-", dir=target.parent))
        try:
            started = time.monotonic()
            build_etcd(go, staging, env)
            etcd_seconds = time.monotonic() - started
            build_kubernetes(go, staging, env)
            total = time.monotonic() - started
            if target.exists():
                shutil.rmtree(target)
            staging.replace(target)      # atomic: nobody runs half a set of binaries
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        print(f"control plane {KUBERNETES} + etcd {ETCD}: cold build {total:.0f} s "
              f"(etcd {etcd_seconds:.0f} s, kubernetes {total - etcd_seconds:.0f} s)",
              file=sys.stderr)
    return built_binaries() or {}


def main() -> int:
    if built_binaries() is None and find_go() is None:
        print("control plane: no Go toolchain, not built; the real-cluster tests will skip",
              file=sys.stderr)
        return 0
    started = time.monotonic()
    found = ensure_control_plane()
    print(f"control plane ready in {time.monotonic() - started:.1f} s at {bin_dir()}",
          file=sys.stderr)
    for name, path in found.items():
        print(f"{name}\t{path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
