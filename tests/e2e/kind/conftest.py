"""Keeps each test's call report on its item (``item.rep_call``), so the kind e2e's fixture
can print the cluster's state after a failed test (a fixture never sees the exception)."""

from __future__ import annotations

import pytest


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):  # noqa: ANN201
    report = yield
    if report.when == "call":
        item.rep_call = report
    return report
