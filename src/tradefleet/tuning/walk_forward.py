"""Walk-forward validation: the search fits on the earlier days and the result is judged
on the later ones, which the search never sees. A parameter set that only fits noise of
the fit days shows it there (judge score far below the fit score)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

from tradefleet.domain.errors import ConfigError

Day = TypeVar("Day")


@dataclass(frozen=True, slots=True)
class Split:
    fit: tuple
    judge: tuple


def walk_forward(days: Sequence[Day], *, key=lambda d: d) -> Split:  # noqa: ANN001
    """``days`` (at least two) in date order: the last third (one at least) is judged, the
    rest fits. ``key`` gives a day's date."""
    ordered = sorted(days, key=key)
    if len(ordered) < 2:
        raise ConfigError(f"--days: walk-forward needs at least 2 recorded days "
                          f"(fit on earlier, judge on later), found {len(ordered)}")
    n_judge = max(1, len(ordered) // 3)
    split = Split(tuple(ordered[:-n_judge]), tuple(ordered[-n_judge:]))
    if max(key(d) for d in split.fit) >= min(key(d) for d in split.judge):
        raise AssertionError("walk-forward: a fit day is not before every judge day")
    return split
