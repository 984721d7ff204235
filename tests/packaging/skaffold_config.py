"""skaffold.yaml as the packaging tests read it: the config, and a profile applied the way
skaffold applies ``patches`` (JSON Patch ops add / replace / remove)."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import yaml

TEMPLATE = re.compile(r"\{\{\s*\.([A-Za-z0-9_]+)\s*\}\}")


def load(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _pointer(path: str) -> list[str]:
    if not path.startswith("/"):
        raise ValueError(f"patch path {path!r}: a JSON pointer starts with /")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def apply_patch(doc: Any, ops: list[dict[str, Any]]) -> Any:
    out = copy.deepcopy(doc)
    for op in ops:
        *parents, last = _pointer(op["path"])
        node = out
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        kind = op["op"]
        if isinstance(node, list):
            index = len(node) if last == "-" else int(last)
            if kind == "add":
                node.insert(index, op["value"])
            elif kind == "replace":
                node[index] = op["value"]
            elif kind == "remove":
                del node[index]
            else:
                raise ValueError(f"patch op {kind!r} not supported here")
        elif kind in ("add", "replace"):
            if kind == "replace" and last not in node:
                raise KeyError(f"replace {op['path']}: no such key")
            node[last] = op["value"]
        elif kind == "remove":
            del node[last]
        else:
            raise ValueError(f"patch op {kind!r} not supported here")
    return out


def with_profile(config: dict[str, Any], name: str) -> dict[str, Any]:
    profiles = {p["name"]: p for p in config.get("profiles", [])}
    if name not in profiles:
        raise KeyError(f"no profile {name!r}")
    return apply_patch(config, profiles[name].get("patches", []))


def template_key(artifact: str) -> str:
    """Skaffold's name for an artifact in IMAGE_REPO_<name>: non-alphanumerics become _."""
    return re.sub(r"[^A-Za-z0-9]", "_", artifact)
