"""Find and build a strategy by name: the user's own code is a first-class strategy.

Where a name is looked up, first match wins:

1. ``strategy.path`` set: that ``.py`` file, or package folder (with ``__init__.py``), is
   imported and the class whose ``name`` attribute equals ``strategy.name`` is taken (one
   file may hold several strategies). A relative path is taken from the working directory.
2. the shipped strategies (``ma_breakout``, ``volume_surge``);
3. the ``tradefleet.strategies`` entry points of installed distributions: in a plug-in's
   ``pyproject.toml``, ``[project.entry-points."tradefleet.strategies"]
   my_strategy = "my_pkg.module:MyStrategy"``. The entry point's name is the strategy's name.

Every failure is a ConfigError whose text starts with the field it is about
(``strategy.path: ...``, ``strategy.name: ...``, ``strategy.params.X: ...``), raised before
anything is written. Importing a path runs its code: it is the user's own, like a plug-in.
"""

from __future__ import annotations

import hashlib
import importlib.util
import sys
from collections.abc import Callable
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from types import ModuleType
from typing import Any

from tradefleet.domain.errors import ConfigError
from tradefleet.domain.strategies import REGISTRY, Strategy, StrategyParamsError

ENTRY_POINT_GROUP = "tradefleet.strategies"
Factory = Callable[[dict[str, Any]], Any]
_MEMBERS = ("name", "strategy_version", "param_version", "bars_needed", "params",
            "evaluate", "filter_params", "exit_params")
_modules: dict[tuple[str, int], ModuleType] = {}


def load_strategy(name: str, params: dict[str, Any], path: Path | str | None = None
                  ) -> Strategy:
    """The strategy ``name`` built with ``params``; ConfigError names the bad field."""
    if not isinstance(params, dict):
        raise ConfigError(f"strategy.params: must be a mapping, got {type(params).__name__}")
    factory = _factory(name, Path(path) if path is not None else None)
    try:
        strategy = factory(params)
    except (StrategyParamsError, ConfigError):
        raise
    except Exception as exc:  # noqa: BLE001 - the user's constructor: any error is config
        raise ConfigError(f"strategy.name: building {name!r} raised "
                          f"{type(exc).__name__}: {exc}") from None
    missing = [m for m in _MEMBERS if not hasattr(strategy, m)]
    if missing:
        raise ConfigError(f"strategy.name: {name!r} does not meet the strategy interface "
                          f"(domain/strategies/base.py): missing {', '.join(missing)}")
    if not isinstance(strategy.bars_needed, int) or strategy.bars_needed < 1:
        raise ConfigError(f"strategy.name: {name!r} bars_needed must be an int >= 1, "
                          f"got {strategy.bars_needed!r}")
    return strategy


def available_strategies() -> list[str]:
    """Names resolvable without a path: shipped and entry points."""
    return sorted(set(REGISTRY) | {ep.name for ep in _entry_points()})


def _factory(name: str, path: Path | None) -> Factory:
    if path is not None:
        return _from_path(name, path)
    if name in REGISTRY:
        return REGISTRY[name]
    for ep in _entry_points():
        if ep.name == name:
            try:
                return ep.load()
            except Exception as exc:  # noqa: BLE001 - a broken plug-in: name it
                raise ConfigError(f"strategy.name: entry point {name!r} ({ep.value}) failed "
                                  f"to load: {type(exc).__name__}: {exc}") from None
    raise ConfigError(f"strategy.name: unknown strategy {name!r}; known: "
                      f"{available_strategies()} (or set strategy.path to your own file)")


def _entry_points() -> list[EntryPoint]:
    return list(entry_points(group=ENTRY_POINT_GROUP))


def _from_path(name: str, path: Path) -> Factory:
    module = _import(path)
    found = {getattr(obj, "name", None): obj for obj in vars(module).values()
             if isinstance(obj, type) and isinstance(getattr(obj, "name", None), str)
             and callable(getattr(obj, "evaluate", None))
             and obj.__module__ == module.__name__}
    if name not in found:
        raise ConfigError(f"strategy.name: no strategy named {name!r} in {path} "
                          f"(it defines: {sorted(found) or 'none'})")
    return found[name]


def _import(path: Path) -> ModuleType:
    target = path / "__init__.py" if path.is_dir() else path
    if not target.is_file():
        what = "a folder without __init__.py" if path.is_dir() else "no such file"
        raise ConfigError(f"strategy.path: {path} is {what}")
    if target.suffix != ".py":
        raise ConfigError(f"strategy.path: {path} is not a .py file or a package folder")
    resolved = target.resolve()
    key = (str(resolved), resolved.stat().st_mtime_ns)
    if key in _modules:
        return _modules[key]
    digest = hashlib.sha256(key[0].encode()).hexdigest()[:10]
    module_name = f"tradefleet_user_strategy_{digest}"
    spec = importlib.util.spec_from_file_location(
        module_name, resolved,
        submodule_search_locations=[str(resolved.parent)] if path.is_dir() else None)
    if spec is None or spec.loader is None:
        raise ConfigError(f"strategy.path: {path} cannot be imported")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module      # dataclasses and pickling look modules up
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # noqa: BLE001 - the user's module: any error is config
        sys.modules.pop(module_name, None)
        raise ConfigError(f"strategy.path: importing {path} raised "
                          f"{type(exc).__name__}: {exc}") from None
    _modules[key] = module
    return module
