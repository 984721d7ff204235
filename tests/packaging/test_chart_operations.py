"""The chart's answers to issue 19: which LiquidationSchedules a release runs (its operator's
name), and what a cluster team needs around the operator (aggregated roles, worker pod
placement, ports, CRD upgrades, uninstall while TradingWorkers exist, calendar overrides)."""

from __future__ import annotations

import yaml
from tests.packaging.chart_render import EXTERNAL, RELEASE, ROOT, one, render

from tradefleet.operator.config import load_operator_config


def _config(values: dict) -> dict[str, str]:
    name = f"{values.get('fullnameOverride') or RELEASE}-operator"
    return one(render(values), "ConfigMap", name)["data"]


def _operator_config(values: dict):  # noqa: ANN202
    data = _config(values)
    return load_operator_config({**data, "TRADEFLEET_DB__DSN": "postgresql://x"})


def test_each_release_names_its_operator_and_the_example_schedule_names_the_default():
    assert _operator_config(EXTERNAL).name == RELEASE
    assert _operator_config({**EXTERNAL, "fullnameOverride": "desk-a"}).name == "desk-a"
    assert _operator_config({**EXTERNAL, "operator": {"name": "canary"}}).name == "canary"
    example = yaml.safe_load((ROOT / "examples" / "liquidationschedule.yaml").read_text())
    assert example["spec"]["operator"] == _operator_config(EXTERNAL).name
