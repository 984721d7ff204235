"""What the apiserver does with a custom resource before storing it, done offline: apply the
schema's defaults, validate the structural schema (jsonschema, Draft 7), enforce list types
(set, map), then evaluate every CEL rule (``x-kubernetes-validations``) with cel-python on
the node it is attached to. No apiserver can run on the CI machines (see the reference).
The apiserver's CEL quantity library (``quantity(s).compareTo(q)``) is provided here the way
Kubernetes defines it: a decimal number with an SI or binary suffix."""

from __future__ import annotations

import copy
import functools
import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import celpy
import jsonschema
import yaml

CRD_DIR = Path(__file__).resolve().parents[2] / "crds"
FILES = {"tradingworkers": "tradingworkers.tradefleet.io.yaml",
         "liquidationschedules": "liquidationschedules.tradefleet.io.yaml"}
# kopf's peering (leader election), served by the in-memory cluster too
PEERING_FILE = "clusterkopfpeerings.kopf.dev.yaml"


def load_crd(plural: str) -> dict[str, Any]:
    return yaml.safe_load((CRD_DIR / FILES[plural]).read_text(encoding="utf-8"))


def schema_of(crd: dict[str, Any], version: str = "v1alpha1") -> dict[str, Any]:
    (found,) = [v for v in crd["spec"]["versions"] if v["name"] == version]
    return found["schema"]["openAPIV3Schema"]


def apply_defaults(schema: dict[str, Any], value: Any) -> Any:
    """Structural defaulting as the apiserver does it: a missing property with a ``default``
    gets it (then defaulted itself), recursively into objects, arrays and maps."""
    if isinstance(value, dict) and schema.get("type") == "object":
        out = dict(value)
        for name, sub in (schema.get("properties") or {}).items():
            if name not in out and "default" in sub:
                out[name] = copy.deepcopy(sub["default"])
            if name in out:
                out[name] = apply_defaults(sub, out[name])
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            for name in out:
                if name not in (schema.get("properties") or {}):
                    out[name] = apply_defaults(extra, out[name])
        return out
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [apply_defaults(schema["items"], item) for item in value]
    return value


def walk(schema: dict[str, Any], value: Any, path: str = "") -> Iterator[tuple[str, dict, Any]]:
    """(path, schema node, value) for every node of ``value`` that the schema describes."""
    yield path, schema, value
    if isinstance(value, dict):
        props = schema.get("properties") or {}
        extra = schema.get("additionalProperties")
        for name, item in value.items():
            if name in props:
                yield from walk(props[name], item, f"{path}.{name}")
            elif isinstance(extra, dict):
                yield from walk(extra, item, f"{path}[{name!r}]")
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, item in enumerate(value):
            yield from walk(schema["items"], item, f"{path}[{i}]")


def rules_of(schema: dict[str, Any], path: str = "") -> Iterator[tuple[str, dict]]:
    """Every CEL rule of the schema, with where it sits."""
    for rule in schema.get("x-kubernetes-validations") or []:
        yield path, rule
    for name, sub in (schema.get("properties") or {}).items():
        yield from rules_of(sub, f"{path}.{name}")
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            yield from rules_of(schema[key], f"{path}.{key}")


_ENV = celpy.Environment()
_QUANTITY = re.compile(r"^([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))"
                       r"(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?[0-9]+)?$")
_SUFFIX = {None: Decimal(1), "n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"),
           "k": Decimal("1e3"), "M": Decimal("1e6"), "G": Decimal("1e9"), "T": Decimal("1e12"),
           "P": Decimal("1e15"), "E": Decimal("1e18"),
           **{s: Decimal(1024) ** (i + 1) for i, s in enumerate(("Ki", "Mi", "Gi", "Ti", "Pi",
                                                                  "Ei"))}}


class Quantity(celpy.celtypes.StringType):
    """A Kubernetes quantity as CEL's quantity() returns it (compared by value)."""

    def value(self) -> Decimal:
        found = _QUANTITY.match(str(self))
        if found is None:
            raise ValueError(f"not a quantity: {str(self)!r}")
        number, suffix = found.groups()
        if suffix and suffix[0] in "eE":
            return Decimal(number) * Decimal(10) ** int(suffix[1:])
        return Decimal(number) * _SUFFIX[suffix]


def _quantity(text: Any) -> Quantity:
    return Quantity(str(text))


def _compare_to(a: Quantity, b: Quantity) -> Any:
    left, right = a.value(), b.value()
    return celpy.celtypes.IntType((left > right) - (left < right))


K8S_FUNCTIONS = {"quantity": _quantity, "compareTo": _compare_to}


@functools.cache
def compile_rule(rule: str) -> Any:
    return _ENV.program(_ENV.compile(rule), functions=K8S_FUNCTIONS)


def _list_type_errors(path: str, schema: dict, value: Any) -> list[str]:
    if not isinstance(value, list):
        return []
    kind = schema.get("x-kubernetes-list-type")
    if kind == "set":
        seen: list[Any] = []
        for item in value:
            if item in seen:
                return [f"{path}: Duplicate value: {item!r}"]
            seen.append(item)
    if kind == "map":
        keys = schema.get("x-kubernetes-list-map-keys") or []
        seen_keys: set[tuple] = set()
        for item in value:
            key = tuple(item.get(k) for k in keys)
            if key in seen_keys:
                return [f"{path}: Duplicate value: {dict(zip(keys, key, strict=True))!r}"]
            seen_keys.add(key)
    return []


def validate(plural: str, obj: dict[str, Any]) -> list[str]:
    """Every reason the apiserver would refuse ``obj`` (empty: admitted)."""
    schema = schema_of(load_crd(plural))
    obj = apply_defaults(schema, obj)
    errors = [f"{'.'.join(str(p) for p in e.absolute_path) or '<root>'}: {e.message}"
              for e in jsonschema.Draft7Validator(schema).iter_errors(obj)]
    if errors:
        return errors             # the apiserver runs CEL only on a schema-valid object
    for path, node, value in walk(schema, obj):
        errors += _list_type_errors(path, node, value)
        for rule in node.get("x-kubernetes-validations") or []:
            result = compile_rule(rule["rule"]).evaluate({"self": celpy.json_to_cel(value)})
            if isinstance(result, celpy.CELEvalError):
                errors.append(f"{path}{rule.get('fieldPath', '')}: rule {rule['rule']!r} "
                              f"failed to evaluate: {result}")
            elif not bool(result):
                errors.append(f"{path}{rule.get('fieldPath', '')}: {rule['message']}")
    return errors
