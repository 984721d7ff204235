"""The scan's per-symbol conversions done a column at a time (issue 21, speed): the
strategy's indicators as JSON values and the bars whose minute has ended are exactly what
the element-by-element definitions give."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import numpy as np
import pytest

from tradefleet.adapters.clock import SEOUL
from tradefleet.domain.market import Bar, Quote
from tradefleet.services.scan_service import (
    ONE_MINUTE,
    _json_column,
    _json_value,
    closed_bars,
)

COLUMNS = [
    np.array([1.23456789, np.nan, np.inf, -np.inf, 2.5e-5, -0.00005, 0.00015, 1e300]),
    np.array([1.23456789, 2.5e-5], dtype=np.float32),
    np.array([0.5, 3.25], dtype=np.float16),
    np.array([1, -2, 2**40]),
    np.array([1, 2], dtype=np.int8),
    np.array([1, 200], dtype=np.uint8),
    np.array([True, False]),
    np.array([1.5, 2.5], dtype=np.longdouble),
    np.array([1, 2.5, True], dtype=object),
    np.array([[1.0, 2.0], [3.0, 4.0]]),
    np.array(["a", "b"]),
    np.array(3.5),
]


def _each(values: np.ndarray, n: int) -> object:
    try:
        return json.dumps([_json_value(values[k]) for k in range(n)])
    except Exception as exc:  # noqa: BLE001 - the same failure is what is compared
        return type(exc)


@pytest.mark.parametrize("values", COLUMNS, ids=lambda v: f"{v.dtype}{v.shape}")
@pytest.mark.parametrize("short", [0, 1, -1])
def test_a_column_of_indicators_is_the_elements_json_values(values, short) -> None:  # noqa: ANN001
    """Every dtype, the whole column, one less than it has, and one more (which fails as
    the element-by-element loop fails)."""
    n = (values.shape[0] if values.ndim else 1) - short
    want = _each(values, n)
    try:
        got: object = json.dumps(_json_column(values, n))
    except Exception as exc:  # noqa: BLE001
        got = type(exc)
    assert got == want


def _bars(day: date) -> list[Bar]:
    start = datetime.combine(day, time(9, 0), tzinfo=SEOUL)
    return [Bar("005930", start + timedelta(minutes=m), 1, 1, 1, 1, 1) for m in range(30)]


def _quote(at: datetime) -> Quote:
    return Quote("005930", 1, 1, 1, Decimal(0), 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, at)


def test_closed_bars_are_those_whose_minute_has_ended_by_the_quotes_time() -> None:
    """At every second of half an hour, in Seoul's zone and in UTC, against the
    definition: a bar's minute has ended when its start plus one minute is not after the
    quote's time."""
    bars = _bars(date(2026, 11, 24))
    at = bars[0].start - timedelta(seconds=5)
    seen = set()
    while at <= bars[-1].start + timedelta(minutes=2):
        for when in (at, at.astimezone(UTC)):
            want = [b for b in bars if b.start + ONE_MINUTE <= when]
            assert closed_bars(bars, _quote(when)) == want, when
            seen.add(len(want))
        at += timedelta(seconds=1)
    assert seen == set(range(31))
