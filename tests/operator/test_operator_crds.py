"""The CRDs in crds/: good examples are admitted, bad ones refused for the reason they carry,
every CEL rule compiles and is exercised, printer columns point at fields that exist, and
the schemas are structural (what the apiserver demands of a v1 CRD)."""

from __future__ import annotations

import re
from pathlib import Path

import celpy
import jsonschema
import pytest
import yaml
from tests.operator.crd_schema import (
    FILES,
    apply_defaults,
    compile_rule,
    load_crd,
    rules_of,
    schema_of,
    validate,
)

EXAMPLES = Path(__file__).parent / "examples"
EXPECT = "test.tradefleet.io/expect"


def _examples(plural: str, kind: str) -> list[dict]:
    return list(yaml.safe_load_all((EXAMPLES / f"{plural}-{kind}.yaml").read_text()))


def _cases(kind: str) -> list:
    return [pytest.param(plural, doc, id=f"{plural}/{doc['metadata']['name']}")
            for plural in FILES for doc in _examples(plural, kind)]


@pytest.mark.parametrize(("plural", "doc"), _cases("good"))
def test_good_examples_are_admitted(plural: str, doc: dict) -> None:
    assert validate(plural, doc) == []


@pytest.mark.parametrize(("plural", "doc"), _cases("bad"))
def test_bad_examples_are_refused_for_their_reason(plural: str, doc: dict) -> None:
    errors = validate(plural, doc)
    expected = doc["metadata"]["annotations"][EXPECT]
    assert any(expected in e for e in errors), errors


@pytest.mark.parametrize("plural", FILES)
def test_every_cel_rule_compiles_and_some_bad_example_breaks_it(plural: str) -> None:
    rules = list(rules_of(schema_of(load_crd(plural))))
    assert rules, "a CRD without cross-field rules"
    reasons = [e for doc in _examples(plural, "bad") for e in validate(plural, doc)]
    for path, rule in rules:
        compile_rule(rule["rule"])
        assert rule.get("message"), f"{path}: rule without a message"
        assert any(rule["message"] in r for r in reasons), \
            f"{path}: no bad example breaks {rule['rule']!r}"


def _resolve(schema: dict, json_path: str) -> dict | None:
    """The schema node a column's JSONPath reads; ``name[?(@.key=="value")]`` steps into the
    list's items (the Ready column reads one condition)."""
    node = schema
    for part, selects in re.findall(r'([A-Za-z0-9_]+)(\[\?\(@\.[A-Za-z]+=="[^"]*"\)\])?',
                                    json_path):
        if part == "creationTimestamp" and node is schema["properties"]["metadata"]:
            return {"type": "string"}
        node = (node.get("properties") or {}).get(part)
        if node is not None and selects:
            key = selects.split("@.")[1].split("==")[0]
            node = node.get("items") if node.get("type") == "array" else None
            if node is not None and key not in (node.get("properties") or {}):
                return None
        if node is None:
            return None
    return node


@pytest.mark.parametrize("plural", FILES)
def test_printer_columns_point_at_schema_fields_of_their_type(plural: str) -> None:
    crd = load_crd(plural)
    (version,) = crd["spec"]["versions"]
    schema = version["schema"]["openAPIV3Schema"]
    for column in version["additionalPrinterColumns"]:
        node = _resolve(schema, column["jsonPath"])
        assert node is not None, column
        wanted = {"date": "string", "string": "string", "integer": "integer"}[column["type"]]
        assert node["type"] == wanted, column


def _nodes(schema: dict, path: str = ""):
    yield path, schema
    for name, sub in (schema.get("properties") or {}).items():
        yield from _nodes(sub, f"{path}.{name}")
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            yield from _nodes(schema[key], f"{path}.{key}")


@pytest.mark.parametrize("plural", FILES)
def test_schemas_are_structural_and_defaults_valid(plural: str) -> None:
    crd = load_crd(plural)
    assert crd["metadata"]["name"] == f"{crd['spec']['names']['plural']}.{crd['spec']['group']}"
    (version,) = crd["spec"]["versions"]
    assert version["subresources"] == {"status": {}}
    schema = version["schema"]["openAPIV3Schema"]
    for path, node in _nodes(schema):
        special = node.get("x-kubernetes-int-or-string") or \
            node.get("x-kubernetes-preserve-unknown-fields")
        assert "type" in node or special, f"{path}: no type"
        assert not (node.get("properties") and isinstance(node.get("additionalProperties"),
                                                         dict)), path
        if "default" in node:
            jsonschema.validate(apply_defaults(node, node["default"]), node)


def _defaults(schema: dict, path: str = ""):
    if "default" in schema:
        yield path, schema
    for name, sub in (schema.get("properties") or {}).items():
        yield from _defaults(sub, f"{path}.{name}")
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            yield from _defaults(schema[key], f"{path}.{key}")


@pytest.mark.parametrize("plural", FILES)
def test_every_default_passes_its_own_cel_rules_as_written(plural: str) -> None:
    """The apiserver refuses a CRD whose default fails a CEL rule of its node, evaluated on
    the default as written (nested defaults are not applied first): found by creating the
    CRD on a real apiserver (tests/real_k8s)."""
    schema = schema_of(load_crd(plural))
    for path, node in _defaults(schema):
        for rule in node.get("x-kubernetes-validations") or []:
            result = compile_rule(rule["rule"]).evaluate(
                {"self": celpy.json_to_cel(node["default"])})
            assert not isinstance(result, celpy.CELEvalError), f"{path}: {result}"
            assert bool(result), f"{path}: default {node['default']} breaks {rule['rule']}"


def test_a_defaulted_sim_worker_has_every_field_the_operator_reads() -> None:
    doc = _examples("tradingworkers", "good")[0]
    spec = apply_defaults(schema_of(load_crd("tradingworkers")), doc)["spec"]
    assert spec["liquidationOffsetMinutes"] == 15
    assert spec["entryCutoffMinutes"] == 10
    assert spec["strategy"] == {"name": "ma_breakout"}
    assert spec["locks"] == {"ttlSeconds": 30, "heartbeatIntervalSeconds": 5}
    assert spec["pod"] == {"terminationGracePeriodSeconds": 90}
    assert spec["paused"] is False and spec["confirmRealTrading"] is False
