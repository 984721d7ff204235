"""Order of forced liquidation (SC-008): the least liquid names go first, while there is
still time and book depth to work them."""

from __future__ import annotations

from collections.abc import Sequence


def liquidation_priority(items: Sequence[tuple[str, int, int]]) -> list[str]:
    """(symbol, qty, traded_value) → every symbol, lowest traded value first.

    Ties: larger position first (more to unwind), then symbol for a stable order. Nothing
    is dropped (a zero-qty row still needs its lock released), but such rows go last.
    """
    return [sym for sym, qty, tv in sorted(items, key=lambda i: (i[1] <= 0, i[2], -i[1], i[0]))]
