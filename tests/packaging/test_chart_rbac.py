"""The chart's RBAC against what the operator does: every call the process end-to-end test
saw the operator make (tests/e2e/operator_api_calls.yaml, which that test enforces) is
allowed by the rendered Roles/ClusterRoles bound to the operator's ServiceAccount, in the
right scope (namespaced kinds in every watched namespace, cluster-scoped kinds cluster-wide),
and the chart grants nothing the operator never uses: no wildcard, no verb or resource
outside the list, no namespaced kind cluster-wide."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from tests.packaging.chart_render import COMBOS, NAMESPACE, RELEASE, ROOT, render

CALLS = ROOT / "tests" / "e2e" / "operator_api_calls.yaml"
CLUSTER = "<cluster>"
# scope of the core kinds the operator touches; the CRDs say their own
CORE_NAMESPACED = {"pods", "secrets", "events"}


@dataclass(frozen=True)
class Grant:
    where: str          # a namespace, or CLUSTER
    group: str
    resource: str       # plural[/subresource]
    verb: str


def _crd_scopes() -> dict[tuple[str, str], str]:
    out = {}
    for path in sorted((ROOT / "crds").glob("*.yaml")):
        crd = yaml.safe_load(path.read_text())
        out[(crd["spec"]["group"], crd["spec"]["names"]["plural"])] = crd["spec"]["scope"]
    return out


def namespaced(group: str, resource: str) -> bool:
    plural = resource.split("/", 1)[0]
    if group == "":
        assert plural in CORE_NAMESPACED, f"scope of core resource {plural!r} unknown to the test"
        return True
    return _crd_scopes()[(group, plural)] == "Namespaced"


def recorded_calls() -> list[tuple[str, str, str]]:
    doc = yaml.safe_load(CALLS.read_text())
    return [(r["group"], r["resource"], verb) for r in doc["resources"] for verb in r["verbs"]]


def granted(docs: list[dict], sa: str, sa_namespace: str) -> set[Grant]:
    """Every (scope, group, resource, verb) the ServiceAccount is given; wildcards kept as '*'
    so that the 'nothing unused' check sees them."""
    roles = {(d["kind"], d["metadata"].get("namespace"), d["metadata"]["name"]): d
             for d in docs if d["kind"] in ("Role", "ClusterRole")}
    out: set[Grant] = set()
    for b in docs:
        if b["kind"] not in ("RoleBinding", "ClusterRoleBinding"):
            continue
        if not any(s["kind"] == "ServiceAccount" and s["name"] == sa
                   and s.get("namespace") == sa_namespace for s in b.get("subjects") or []):
            continue
        ref = b["roleRef"]
        ns = b["metadata"].get("namespace") if b["kind"] == "RoleBinding" else None
        role = roles.get((ref["kind"], ns if ref["kind"] == "Role" else None, ref["name"]))
        assert role is not None, f"{b['kind']} {b['metadata']['name']}: role {ref} not rendered"
        where = ns if b["kind"] == "RoleBinding" else CLUSTER
        for rule in role.get("rules") or []:
            assert not rule.get("nonResourceURLs"), "discovery comes from system:discovery"
            assert not rule.get("resourceNames"), "the test does not model resourceNames"
            for group in rule.get("apiGroups") or []:
                for resource in rule.get("resources") or []:
                    for verb in rule.get("verbs") or []:
                        out.add(Grant(where, group, resource, verb))
    return out


def allows(grants: set[Grant], where: str, group: str, resource: str, verb: str) -> bool:
    """RBAC's own rule: a ClusterRole bound cluster-wide covers every namespace."""
    return any(g.group in (group, "*") and g.resource in (resource, "*")
               and g.verb in (verb, "*") and g.where in (where, CLUSTER) for g in grants)


def problems(docs: list[dict], watched: list[str], release_ns: str = NAMESPACE) -> list[str]:
    grants = granted(docs, f"{RELEASE}-operator", release_ns)
    calls = recorded_calls()
    out = []
    for group, resource, verb in calls:
        if namespaced(group, resource):
            # events of cluster-scoped LiquidationSchedules go to the operator's own namespace
            places = [*watched, release_ns] if resource == "events" else watched
        else:
            places = [CLUSTER]
        out += [f"missing: {verb} {group or 'core'}/{resource} in {w}" for w in places
                if not allows(grants, w, group, resource, verb)]
    used = set(calls)
    for g in sorted(grants, key=lambda g: (g.where, g.group, g.resource, g.verb)):
        if "*" in (g.group, g.resource, g.verb):
            out.append(f"wildcard: {g}")
        elif (g.group, g.resource, g.verb) not in used:
            out.append(f"unused: {g.verb} {g.group or 'core'}/{g.resource} in {g.where}")
        elif g.where == CLUSTER and namespaced(g.group, g.resource):
            out.append(f"too wide: {g.verb} {g.group or 'core'}/{g.resource} cluster-wide")
        elif g.where not in (CLUSTER, *watched) and g.resource != "events":
            out.append(f"unwatched namespace: {g.verb} {g.resource} in {g.where}")
    return out


RBAC_CASES = {
    "release-namespace": (COMBOS["external-db"], [NAMESPACE]),
    "two-other-namespaces": (COMBOS["external-db-key-two-namespaces"], ["desk-a", "desk-b"]),
    "release-and-other": ({**COMBOS["bundled-all"],
                           "operator": {"watchNamespaces": [NAMESPACE, "desk-a"]}},
                          [NAMESPACE, "desk-a"]),
}


@pytest.mark.parametrize("case", RBAC_CASES)
def test_the_chart_grants_exactly_what_the_operator_uses(case: str) -> None:
    values, watched = RBAC_CASES[case]
    assert problems(render(values), watched) == []


def test_the_recorded_calls_are_the_ones_the_e2e_enforces():
    calls = recorded_calls()
    assert ("create", "", "pods") in {(v, g, r) for g, r, v in calls}
    assert ("patch", "tradefleet.io", "liquidationschedules/status") in \
        {(v, g, r) for g, r, v in calls}
    e2e = (ROOT / "tests" / "e2e" / "test_e2e_operator_fleet.py").read_text()
    assert 'Path(__file__).with_name("operator_api_calls.yaml")' in e2e


def _rules(docs: list[dict], kind: str) -> list[dict]:
    (role,) = [d for d in docs if d["kind"] == kind
               and d["metadata"]["name"] == f"{RELEASE}-operator" + (
                   f"-{NAMESPACE}" if kind == "ClusterRole" else "")]
    return role["rules"]


def test_the_check_catches_a_missing_right_an_extra_one_and_a_wider_scope():
    base = render(COMBOS["external-db"])
    dropped = copy.deepcopy(base)
    pods = next(r for r in _rules(dropped, "Role") if r["resources"] == ["pods"])
    pods["verbs"].remove("delete")
    assert problems(dropped, [NAMESPACE]) == [f"missing: delete core/pods in {NAMESPACE}"]

    extra = copy.deepcopy(base)
    _rules(extra, "Role").append({"apiGroups": [""], "resources": ["secrets"],
                                  "verbs": ["update"]})
    assert problems(extra, [NAMESPACE]) == [f"unused: update core/secrets in {NAMESPACE}"]

    wide = copy.deepcopy(base)
    _rules(wide, "ClusterRole").append({"apiGroups": [""], "resources": ["pods"],
                                        "verbs": ["create"]})
    assert problems(wide, [NAMESPACE]) == ["too wide: create core/pods cluster-wide"]

    star = copy.deepcopy(base)
    _rules(star, "ClusterRole")[0]["verbs"] = ["*"]
    assert any(p.startswith("wildcard:") for p in problems(star, [NAMESPACE]))


def test_an_unwatched_namespace_gets_no_role():
    docs = render(COMBOS["external-db-key-two-namespaces"])
    grants = granted(docs, f"{RELEASE}-operator", NAMESPACE)
    # the release namespace only gets to post the schedules' events
    assert {(g.resource, g.verb) for g in grants if g.where == NAMESPACE} == {
        ("events", "create")}
    assert problems(docs, ["desk-a"]) != []      # desk-b's Role is outside what was asked
    assert Path(CALLS).is_file()


# ---- issue 22: the fleet console's ServiceAccount may patch TradingWorkers and nothing more --
CONSOLE_SA = f"{RELEASE}-console"
CONSOLE_CASES = {
    "release-namespace": ({**COMBOS["external-db"], "console": {"enabled": True}}, NAMESPACE),
    "watched-elsewhere": ({**COMBOS["external-db-key-two-namespaces"],
                           "console": {"enabled": True}}, "desk-a"),
    "named-namespace": ({**COMBOS["external-db-key-two-namespaces"],
                         "console": {"enabled": True, "namespace": "desk-b"}}, "desk-b"),
}


def console_problems(docs: list[dict], acts_in: str) -> list[str]:
    grants = granted(docs, CONSOLE_SA, NAMESPACE)
    wanted = Grant(acts_in, "tradefleet.io", "tradingworkers", "patch")
    out = [] if wanted in grants else [f"missing: patch tradingworkers in {acts_in}"]
    out += [f"more than patching TradingWorkers: {g}" for g in sorted(
        grants - {wanted}, key=lambda g: (g.where, g.group, g.resource, g.verb))]
    return out


@pytest.mark.parametrize("case", CONSOLE_CASES)
def test_the_console_may_patch_tradingworkers_and_nothing_more(case: str) -> None:
    values, acts_in = CONSOLE_CASES[case]
    docs = render(values)
    assert console_problems(docs, acts_in) == []
    (deploy,) = [d for d in docs if d["kind"] == "Deployment"
                 and d["metadata"]["name"] == CONSOLE_SA]
    spec = deploy["spec"]["template"]["spec"]
    assert spec["serviceAccountName"] == CONSOLE_SA
    assert f"--kube-namespace={acts_in}" in spec["containers"][0]["args"]
    # the operator keeps exactly its own rights beside the console
    assert problems(docs, values["operator"]["watchNamespaces"]
                    if "operator" in values else [NAMESPACE]) == []


def test_the_console_check_catches_an_extra_right_and_a_binding_to_the_operators_role():
    base = render(CONSOLE_CASES["release-namespace"][0])
    extra = copy.deepcopy(base)
    role = next(d for d in extra if d["kind"] == "Role"
                and d["metadata"]["name"] == CONSOLE_SA)
    role["rules"][0]["verbs"].append("delete")
    assert console_problems(extra, NAMESPACE) == [
        f"more than patching TradingWorkers: {Grant(NAMESPACE, 'tradefleet.io', 'tradingworkers', 'delete')}"]  # noqa: E501
    borrowed = copy.deepcopy(base)
    binding = next(d for d in borrowed if d["kind"] == "RoleBinding"
                   and d["metadata"]["name"] == CONSOLE_SA)
    binding["roleRef"]["name"] = f"{RELEASE}-operator"
    assert any(p.startswith("more than") for p in console_problems(borrowed, NAMESPACE))


def test_the_console_is_off_unless_asked_and_its_token_is_a_secret():
    assert not [d for d in render(COMBOS["external-db"])
                if d["metadata"]["name"].startswith(CONSOLE_SA)]
    docs = render({**COMBOS["external-db"], "console": {
        "enabled": True, "ingress": {"enabled": True, "host": "console.example"}}})
    kinds = {d["kind"] for d in docs if d["metadata"]["name"].startswith(CONSOLE_SA)}
    assert kinds == {"Secret", "ServiceAccount", "Role", "RoleBinding", "Service",
                     "Deployment", "Ingress"}
    (secret,) = [d for d in docs if d["kind"] == "Secret"
                 and d["metadata"]["name"] == f"{CONSOLE_SA}-token"]
    assert len(secret["data"]["token"]) >= 40
    (deploy,) = [d for d in docs if d["kind"] == "Deployment"
                 and d["metadata"]["name"] == CONSOLE_SA]
    container = deploy["spec"]["template"]["spec"]["containers"][0]
    assert "--token-file=/var/run/secrets/tradefleet/console/token" in container["args"]
    assert not any("token" in (e.get("value") or "").lower() for e in container["env"])
