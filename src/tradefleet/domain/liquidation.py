"""Order of forced liquidation (SC-008): the least liquid names go first, while there is
still time and book depth to work them."""

from __future__ import annotations

from collections.abc import Sequence


def liquidation_priority(items: Sequence[tuple[str, int, int]]) -> list[str]:
    """(symbol, qty, traded_value) → symbols, lowest traded value first.

    Ties: larger position first (more to unwind), then symbol for a stable order.
    Zero-qty entries have nothing to sell and are dropped.
    """
    live = [item for item in items if item[1] > 0]
    return [sym for sym, _qty, _tv in sorted(live, key=lambda i: (i[2], -i[1], i[0]))]
