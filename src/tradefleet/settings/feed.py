"""The ``feed`` section: the account's KIS WebSocket feed for this worker (issue 20).

Off by default: a worker then decides every exit on its poll, as before. Enabled, the
worker listens to the fleet's ticks (one holder per account, elected through PostgreSQL)
and, when ``stand_for_holder``, is itself a candidate to hold the account's feed."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

WS_URL = re.compile(r"^wss?://[^\s/:]+(:\d{1,5})?(/\S*)?$")


class FeedSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = False
    # KIS: ws://ops.koreainvestment.com:21000 (real), :31000 (paper); the simulator's --ws-port
    ws_url: str | None = None
    stand_for_holder: bool = True       # this worker may hold the account's feed
    # real seconds a silent holder keeps the lease (failover takes about this long)
    lease_seconds: float = Field(3.0, ge=1, le=60)
    # real seconds without the holder's heartbeat before exits go back to the poll
    stale_after_seconds: float = Field(2.0, gt=0, le=60)
    # the account's HTS id: the holder registers its fill notices (H0STCNI0/H0STCNI9) and
    # each worker records its own fills from them at once; None = fills by the follower only
    hts_id: str | None = Field(None, min_length=1, max_length=16, pattern=r"^[A-Za-z0-9_]+$")
    # real seconds a holder whose feed will not come up keeps the lease before giving it
    # up (and sitting out as long) for another candidate
    give_up_seconds: float = Field(10.0, ge=2, le=600)

    @field_validator("ws_url")
    @classmethod
    def _ws_url(cls, value: str | None) -> str | None:
        if value is not None and not WS_URL.match(value):
            raise ValueError(f"must be a ws:// or wss:// URL, got {value!r}")
        return value

    @property
    def renew_seconds(self) -> float:
        """The holder renews (and sends its heartbeat) six times per lease."""
        return self.lease_seconds / 6

    @model_validator(mode="after")
    def _consistent(self) -> FeedSettings:
        problems = []
        if self.enabled and self.ws_url is None:
            problems.append("feed.ws_url (TRADEFLEET_FEED__WS_URL): required when "
                            "feed.enabled is true")
        if self.stale_after_seconds < 2 * self.renew_seconds:
            problems.append(
                "feed.stale_after_seconds (TRADEFLEET_FEED__STALE_AFTER_SECONDS): must be at "
                f"least two heartbeats ({2 * self.renew_seconds:g} s = lease_seconds / 3), "
                f"got {self.stale_after_seconds:g}")
        if self.give_up_seconds <= self.renew_seconds:
            problems.append("feed.give_up_seconds (TRADEFLEET_FEED__GIVE_UP_SECONDS): must "
                            f"exceed one renewal ({self.renew_seconds:g} s)")
        if problems:
            raise ValueError("\n".join(problems))
        return self
