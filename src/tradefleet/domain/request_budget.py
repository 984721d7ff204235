"""How the account's request limit is shared between orders and reads.

KIS counts every request of an appkey against one limit (20 a second real, 2 paper). A fleet
busy reading (scans, polls, order followers) fills it, and a sell on a stop would then wait
for the next free place behind reads. So reads leave a fifth of the limit to orders: they
are granted only below ``limit - order_reserve(limit)``, orders up to ``limit``. Paper's 2 a
second keeps no reserve (reads could not go on with one place)."""

from __future__ import annotations

ORDER_SHARE = 5          # one place in five per window is kept for orders


def order_reserve(limit_per_second: int) -> int:
    """Places per window only orders may take."""
    return limit_per_second // ORDER_SHARE
