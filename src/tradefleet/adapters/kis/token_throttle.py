"""KIS issues at most one access token a minute per appkey (HTTP 403 ``EGW00133`` past that).

A refused issuance says that someone (this process, another of the fleet, or any other
program using the appkey) got a token less than a minute ago; asking again before the minute
is out is refused too and only spins. So a refusal is remembered for ``THROTTLE_SECONDS``
(per process and, in the fleet, in Postgres), a still-valid token is used meanwhile, and with
no valid token callers get ``TokenIssueThrottled`` naming when to try again."""

from __future__ import annotations

from tradefleet.domain.errors import TokenIssueThrottled

__all__ = ["THROTTLE_SECONDS", "TokenIssueThrottled"]

THROTTLE_SECONDS = 60.0     # KIS: one issuance per minute per appkey (reference/kis-api.md §2)
