"""skaffold.yaml against the chart it deploys (no skaffold binary exists for CI machines):
the artifact is the chart's image.repository, every value it sets is a value of the chart,
the Jaeger UI it forwards is the chart's Jaeger service, and the kind profile loads the
image instead of pushing it. With the chart in the tree, `helm template` with skaffold's
values must run the built image everywhere (operator, worker pods, exchange)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from tests.packaging.chart_facts import (
    CHART,
    CONTRACT,
    JAEGER_UI_PORT,
    ROOT,
    chart_present,
    chart_values,
    has_value,
    render,
)
from tests.packaging.skaffold_config import (
    TEMPLATE,
    apply_patch,
    load,
    template_key,
    with_profile,
)

SKAFFOLD = ROOT / "skaffold.yaml"
BUILT_REPO, BUILT_TAG = "registry.test/tradefleet", "skaffold-0123abcd"


def config() -> dict[str, Any]:
    return load(SKAFFOLD)


def release(cfg: dict[str, Any]) -> dict[str, Any]:
    releases = cfg["deploy"]["helm"]["releases"]
    assert len(releases) == 1, "one release: the chart"
    return releases[0]


def test_is_a_skaffold_v4beta_config():
    cfg = config()
    assert re.fullmatch(r"skaffold/v4beta\d+", cfg["apiVersion"]), cfg["apiVersion"]
    assert cfg["kind"] == "Config"


def test_builds_the_chart_image_from_the_dockerfile():
    artifacts = config()["build"]["artifacts"]
    assert [a["image"] for a in artifacts] == [CONTRACT["image"]["repository"]]
    assert artifacts[0]["image"] == chart_values()["image"]["repository"], \
        "the artifact must be the chart's image.repository"
    context = ROOT / artifacts[0].get("context", ".")
    assert (context / artifacts[0]["docker"]["dockerfile"]).is_file()


def test_deploys_the_chart_with_the_built_image():
    cfg = config()
    rel = release(cfg)
    assert (ROOT / rel["chartPath"]).resolve() == CHART.resolve()
    key = template_key(cfg["build"]["artifacts"][0]["image"])
    templates = rel["setValueTemplates"]
    assert templates["image.repository"] == f"{{{{.IMAGE_REPO_{key}}}}}"
    assert templates["image.tag"] == f"{{{{.IMAGE_TAG_{key}}}}}"
    built = {template_key(a["image"]) for a in cfg["build"]["artifacts"]}
    for name, text in templates.items():
        for var in TEMPLATE.findall(str(text)):
            kind, _, artifact = var.partition("_")[2].partition("_")
            assert var.startswith("IMAGE_") and kind in ("REPO", "TAG", "DIGEST") \
                and artifact in built, f"setValueTemplates.{name}: {var} is no built image"


@pytest.mark.parametrize("profile", [None, "kind"])
def test_every_value_skaffold_sets_is_a_value_of_the_chart(profile: str | None):
    cfg = config() if profile is None else with_profile(config(), profile)
    rel = release(cfg)
    keys = [*rel.get("setValues", {}), *rel.get("setValueTemplates", {})]
    values = chart_values()
    source = "charts/tradefleet/values.yaml" if chart_present() else "the helpers' contract"
    missing = [k for k in keys if not has_value(values, k)]
    assert not missing, f"skaffold sets values that {source} does not have: {missing}"
    assert {"exchange.enabled", "postgresql.enabled", "jaeger.enabled"} <= set(keys)


def test_forwards_the_charts_jaeger_ui():
    cfg = config()
    rel = release(cfg)
    forwards = [f for f in cfg.get("portForward", []) if f.get("port") == JAEGER_UI_PORT]
    assert len(forwards) == 1, "forward the Jaeger UI port once"
    fwd = forwards[0]
    assert fwd["resourceType"].lower() == "service"
    assert fwd["resourceName"] == f"{rel['name']}-jaeger"
    assert fwd["namespace"] == rel["namespace"]
    assert fwd.get("localPort", JAEGER_UI_PORT) == JAEGER_UI_PORT


def test_kind_profile_loads_the_image_instead_of_pushing():
    base = config()
    assert "push" not in base["build"].get("local", {}), \
        "leave push to skaffold's cluster detection outside the kind profile"
    kind = with_profile(base, "kind")
    assert kind["build"]["local"]["push"] is False
    # skaffold runs `kind load docker-image` for a kind-<name> context with push false
    assert re.fullmatch(r"kind-[a-z0-9.-]+", kind["deploy"]["kubeContext"])
    assert kind["build"]["artifacts"] == base["build"]["artifacts"]
    assert release(kind)["setValues"]["image.pullPolicy"] in ("IfNotPresent", "Never")


def test_patch_helper_follows_json_patch():
    doc = {"a": {"b": [1, 2]}, "c": 1}
    out = apply_patch(doc, [{"op": "add", "path": "/a/b/1", "value": 9},
                            {"op": "add", "path": "/a/x.y", "value": True},
                            {"op": "replace", "path": "/c", "value": 2},
                            {"op": "remove", "path": "/a/b/0"},
                            {"op": "add", "path": "/a/b/-", "value": 7}])
    assert out == {"a": {"b": [9, 2, 7], "x.y": True}, "c": 2}
    assert doc == {"a": {"b": [1, 2]}, "c": 1}
    with pytest.raises(KeyError):
        apply_patch(doc, [{"op": "replace", "path": "/nope", "value": 1}])


def _containers(docs: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for doc in docs:
        spec = doc.get("spec") or {}
        pod = (spec.get("template") or {}).get("spec") or (spec if doc.get("kind") == "Pod"
                                                           else {})
        for c in [*pod.get("initContainers", []), *pod.get("containers", [])]:
            out.append((f"{doc['kind']}/{doc['metadata']['name']}", c))
    return out


def _environment(docs: list[dict[str, Any]], containers: list[dict[str, Any]]) -> dict[str, Any]:
    """The containers' environment: literal env entries and the ConfigMaps of envFrom."""
    maps = {d["metadata"]["name"]: d.get("data") or {} for d in docs
            if d.get("kind") == "ConfigMap"}
    env: dict[str, Any] = {}
    for c in containers:
        for source in c.get("envFrom", []):
            env.update(maps.get((source.get("configMapRef") or {}).get("name"), {}))
        env.update({e["name"]: e.get("value") for e in c.get("env", [])})
    return env


def test_rendered_chart_runs_the_image_skaffold_built():
    """Needs the chart (and helm): the lead merges it. Without it, the minimal check: what
    skaffold would pass to helm turns the simulator, PostgreSQL and Jaeger on."""
    rel = release(config())
    values = {**rel.get("setValues", {}), "image.repository": BUILT_REPO,
              "image.tag": BUILT_TAG}
    if not chart_present():
        assert all(values[f"{part}.enabled"] is True
                   for part in ("exchange", "postgresql", "jaeger")), values
        return
    docs = render(rel["name"], rel["namespace"], values)
    built = f"{BUILT_REPO}:{BUILT_TAG}"
    ours = [(where, c) for where, c in _containers(docs)
            if str(c.get("image", "")).startswith(BUILT_REPO)]
    assert ours, "no container runs the image skaffold built"
    assert all(c["image"] == built for _, c in ours), [(w, c["image"]) for w, c in ours]
    env = _environment(docs, [c for _, c in ours])
    assert env.get("TRADEFLEET_OPERATOR_WORKER_IMAGE") == built, \
        "the operator's worker pods must run the built image too"
    exchange = [c for _, c in ours if "exchange" in [*c.get("command", []), *c.get("args", [])]]
    assert exchange, "exchange.enabled: no container runs `tradefleet exchange`"
    words = " ".join([*exchange[0].get("command", []), *exchange[0].get("args", [])])
    assert re.search(r"--host[= ]0\.0\.0\.0\b", words), \
        "the simulator must listen beyond loopback in its pod (--host 0.0.0.0)"
    services = {d["metadata"]["name"]: d for d in docs if d.get("kind") == "Service"}
    jaeger = services.get(f"{rel['name']}-jaeger")
    assert jaeger, f"no Service {rel['name']}-jaeger: {sorted(services)}"
    assert JAEGER_UI_PORT in [p["port"] for p in jaeger["spec"]["ports"]]
