"""Argument types shared by the subcommands: a bad CLI value is refused by name before
anything starts."""

from __future__ import annotations

import argparse
from datetime import date


def int_in(low: int, high: int | None = None):  # noqa: ANN201 - an argparse type
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < low or (high is not None and value > high):
            bound = f"between {low} and {high}" if high is not None else f">= {low}"
            raise argparse.ArgumentTypeError(f"must be {bound}, got {value}")
        return value
    return parse


def float_in(low: float, high: float, *, low_open: bool = False):  # noqa: ANN201
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if (value <= low if low_open else value < low) or value > high:
            raise argparse.ArgumentTypeError(f"must be in {'(' if low_open else '['}{low:g}, "
                                             f"{high:g}], got {value:g}")
        return value
    return parse


positive_int = int_in(1)


def iso_day(text: str) -> date:
    """``--date``: a trading day as YYYY-MM-DD."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--date must be YYYY-MM-DD, got {text!r}") from None
