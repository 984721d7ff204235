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


# Session minutes a forced liquidation needs to undo one entry: the entry's own buy is
# followed to its end first (an order the broker does not show yet waits out its grace),
# then up to three market sells with the book refilling between them (EC-003), on a book
# that thins near the close. An entry cutoff shorter than this could buy what the
# liquidation has no time to sell.
LIQUIDATION_NEEDS_MINUTES = 5
DEFAULT_ENTRY_CUTOFF_MINUTES = 10
# A scan decides on its quotes; older than this (session seconds) it is not traded on.
DEFAULT_SCAN_MAX_AGE_SECONDS = 180
