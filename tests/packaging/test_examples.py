"""The examples a user applies: every document admitted by the CRD's schema (defaults
applied) and CEL rules as the apiserver would, the Secrets valid Kubernetes objects, and each
runnable by the operator: the sim worker points at the chart's exchange Service and trades
codes the simulator lists, the paper worker's placeholders are refused until replaced by what
`tradefleet secrets` makes. Negative examples (fixtures/bad-examples.yaml) are refused for
their reason."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.operator.crd_schema import apply_defaults, load_crd, schema_of, validate
from tests.packaging.chart_render import CHART, RELEASE, ROOT

from tradefleet.adapters.sim.universe import build_universe
from tradefleet.operator.config import OperatorConfig, SecretKeyRef
from tradefleet.operator.preflight import preflight
from tradefleet.operator.resources import parse_schedule_spec, parse_worker_spec

EXAMPLES = ROOT / "examples"
BAD = Path(__file__).parent / "fixtures" / "bad-examples.yaml"
PLURAL = {"TradingWorker": "tradingworkers", "LiquidationSchedule": "liquidationschedules"}
CONFIG = OperatorConfig(namespaces=("tradefleet",), worker_image="tradefleet:0.1.0",
                        db_secret=SecretKeyRef("tradefleet-postgresql", "dsn"))


def _docs(name: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((EXAMPLES / name).read_text()) if d]


def _custom(name: str, kind: str) -> dict[str, Any]:
    (doc,) = [d for d in _docs(name) if d["kind"] == kind]
    return doc


def _defaulted(doc: dict[str, Any]) -> dict[str, Any]:
    return apply_defaults(schema_of(load_crd(PLURAL[doc["kind"]])), doc)


ALL = [pytest.param(name, i, id=f"{name}#{i}") for name in
       ("tradingworker.yaml", "tradingworker-paper.yaml", "liquidationschedule.yaml")
       for i in range(len(_docs(name)))]


@pytest.mark.parametrize(("name", "index"), ALL)
def test_every_example_document_is_admitted(name: str, index: int) -> None:
    doc = _docs(name)[index]
    if doc["kind"] in PLURAL:
        assert doc["apiVersion"] == "tradefleet.io/v1alpha1"
        assert validate(PLURAL[doc["kind"]], doc) == []
        parse = parse_worker_spec if doc["kind"] == "TradingWorker" else parse_schedule_spec
        parse(_defaulted(doc)["spec"])          # the operator's own reading of it
        assert "namespace" not in doc["metadata"], "kubectl -n chooses the namespace"
    else:
        done = subprocess.run([sys.executable, "-m", "kubernetes_validate", "--strict",
                               "--quiet", "-"], input=yaml.safe_dump(doc),
                              capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0, done.stdout + done.stderr


def test_the_sim_example_trades_against_the_charts_exchange_and_its_symbols():
    values = yaml.safe_load((CHART / "values.yaml").read_text())["exchange"]
    doc = _custom("tradingworker.yaml", "TradingWorker")
    assert doc["spec"]["mode"] == "sim" and "credentials" not in doc["spec"]
    assert doc["spec"]["broker"]["baseUrl"] == f"http://{RELEASE}-exchange:{values['port']}"
    listed = set(build_universe(values["seed"], values["symbols"]).symbols)
    assert set(doc["spec"]["universe"]) <= listed
    schedule = _custom("liquidationschedule.yaml", "LiquidationSchedule")["spec"]
    assert schedule["orphans"]["broker"]["baseUrl"] == doc["spec"]["broker"]["baseUrl"]


async def test_the_sim_example_passes_the_operators_preflight_after_a_default_install():
    spec = parse_worker_spec(_defaulted(_custom("tradingworker.yaml", "TradingWorker"))["spec"])

    async def read(namespace: str, name: str) -> dict[str, str] | None:
        # what the chart's bundled PostgreSQL creates in the release namespace
        return {"dsn": "postgresql://x"} if (namespace, name) == (
            "tradefleet", "tradefleet-postgresql") else None

    assert await preflight(spec, "tradefleet", read, CONFIG) == []


def _paper_secrets() -> dict[str, dict[str, str]]:
    return {d["metadata"]["name"]: d["stringData"] for d in _docs("tradingworker-paper.yaml")
            if d["kind"] == "Secret"}


async def _paper_problems(secrets: dict[str, dict[str, str]]) -> list[tuple[str, str]]:
    doc = _custom("tradingworker-paper.yaml", "TradingWorker")
    spec = parse_worker_spec(_defaulted(doc)["spec"])

    async def read(namespace: str, name: str) -> dict[str, str] | None:
        return {"dsn": "postgresql://x"} if name == "tradefleet-postgresql" else \
            secrets.get(name)

    return [(p.reason, p.message.split(":")[0])
            for p in await preflight(spec, "tradefleet", read, CONFIG)]


def _tradefleet(*args: str, stdin: str = "") -> str:
    done = subprocess.run([sys.executable, "-m", "tradefleet.cli", *args], input=stdin,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


async def test_the_paper_placeholders_are_refused_until_replaced_by_real_encrypted_values(
        tmp_path: Path) -> None:
    secrets = _paper_secrets()
    for values in secrets.values():
        assert values and all("REPLACE-ME" in v for v in values.values())
    assert ("KeyInvalid", "spec.credentials.keySecretName") in await _paper_problems(secrets)
    # what the file's instructions produce: `tradefleet secrets keygen`, then `encrypt`
    key_file = tmp_path / "fleet.key"
    _tradefleet("secrets", "keygen", "--out", str(key_file))
    made = {"fleet-key": {"key": key_file.read_text().strip()}, "kis-paper": {}}
    for field, plain in (("appkey", "PSFAKEAPPKEY0000"), ("appsecret", "fake-appsecret"),
                         ("cano", "50001234")):
        value = _tradefleet("secrets", "encrypt", "--key-file", str(key_file),
                            stdin=plain + "\n").strip()
        assert value.startswith("enc:") and plain not in value
        made["kis-paper"][field] = value
    assert set(made["kis-paper"]) == set(secrets["kis-paper"])
    assert await _paper_problems(made) == []


def _merge(doc: Any, patch: Any) -> Any:
    if not isinstance(patch, dict) or not isinstance(doc, dict):
        return copy.deepcopy(patch)
    out = copy.deepcopy(doc)
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = _merge(out.get(key), value)
    return out


BAD_CASES = yaml.safe_load(BAD.read_text())


@pytest.mark.parametrize("case", BAD_CASES, ids=[c["name"] for c in BAD_CASES])
def test_negative_examples_are_refused_for_their_reason(case: dict[str, Any]) -> None:
    assert case["why"] and case["expect"]
    (base,) = [d for d in _docs(case["base"]) if d["kind"] in PLURAL]
    assert validate(PLURAL[base["kind"]], base) == []
    errors = validate(PLURAL[base["kind"]], _merge(base, case["patch"]))
    assert any(case["expect"] in e for e in errors), errors
