"""The CI mutation check (.ci/mutants.py) stays in step with the code: every listed mutant
still finds its code exactly once, and every test it names exists."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _mutants():  # noqa: ANN202
    spec = importlib.util.spec_from_file_location("ci_mutants", ROOT / ".ci" / "mutants.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["ci_mutants"] = module
    spec.loader.exec_module(module)
    return module.MUTANTS


MUTANTS = _mutants()


@pytest.mark.parametrize("mutant", MUTANTS, ids=[m.name for m in MUTANTS])
def test_mutant_applies_once_and_names_real_tests(mutant):
    text = (ROOT / "src" / "tradefleet" / mutant.path).read_text()
    assert text.count(mutant.old) == 1
    assert mutant.new != mutant.old
    for test in mutant.tests:
        path, _, name = test.partition("::")
        assert (ROOT / path).is_file(), path
        if name:                     # a parametrized case names its function before "["
            assert f"def {name.partition('[')[0]}(" in (ROOT / path).read_text(), test


def test_names_are_unique():
    assert len({m.name for m in MUTANTS}) == len(MUTANTS)
