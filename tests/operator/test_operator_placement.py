"""The operator's worker-placement settings: bad ones stop start-up naming the variable."""

from __future__ import annotations

import pytest

from tradefleet.domain.errors import ConfigError
from tradefleet.operator.config import load_operator_config

BASE = {"TRADEFLEET_OPERATOR_NAMESPACES": "trading", "TRADEFLEET_OPERATOR_WORKER_IMAGE": "tf:1",
        "TRADEFLEET_OPERATOR_POD_DB_DSN": "postgresql://x"}


@pytest.mark.parametrize(("name", "value", "says"), [
    ("WORKER_PRIORITY_CLASS", "Trading Critical", "not a PriorityClass name"),
    ("WORKER_AFFINITY", "{nodeAffinity", "not JSON"),
    ("WORKER_AFFINITY", "[]", "a JSON object"),
    ("WORKER_TOLERATIONS", '{"key": "a"}', "a JSON list"),
    ("WORKER_TOLERATIONS", '["a"]', "every toleration is a JSON object"),
])
def test_bad_worker_placement_is_refused_naming_the_variable(name, value, says) -> None:  # noqa: ANN001
    with pytest.raises(ConfigError) as refused:
        load_operator_config({**BASE, f"TRADEFLEET_OPERATOR_{name}": value})
    assert f"TRADEFLEET_OPERATOR_{name}: {says}" in str(refused.value)


def test_the_operator_name_must_be_a_name() -> None:
    assert load_operator_config(BASE).name == "tradefleet"
    with pytest.raises(ConfigError, match="TRADEFLEET_OPERATOR_NAME"):
        load_operator_config({**BASE, "TRADEFLEET_OPERATOR_NAME": "Desk_A"})
