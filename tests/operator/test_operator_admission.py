"""What the CRDs refuse at admission, the operator refuses again when it parses a spec (an
object stored before the CRD was tightened, or an apiserver without the schema): it becomes
InvalidSpec naming the field, never a run that does something other than kubectl shows."""

from __future__ import annotations

import pytest

from tradefleet.domain.calendar import CLOSING_AUCTION
from tradefleet.operator.resources import SpecError, parse_schedule_spec

ORPHANS = {"namespace": "trading", "mode": "real", "confirmRealTrading": True,
           "credentials": {"secretName": "a", "keySecretName": "b"}}


def test_a_schedule_offset_inside_the_closing_auction_is_refused_naming_the_field():
    minimum = int(CLOSING_AUCTION.total_seconds() // 60)
    assert parse_schedule_spec({"offsetMinutes": minimum}).offset_minutes == minimum
    with pytest.raises(SpecError) as refused:
        parse_schedule_spec({"offsetMinutes": minimum - 1})
    assert "spec.offsetMinutes" in str(refused.value)


def test_a_schedule_selling_orphans_in_real_mode_over_http_is_refused():
    https = {**ORPHANS, "broker": {"baseUrl": "https://openapi.koreainvestment.com:9443"}}
    assert parse_schedule_spec({"orphans": https}).orphans is not None
    with pytest.raises(SpecError) as refused:
        parse_schedule_spec({"orphans": {**ORPHANS,
                                         "broker": {"baseUrl": "http://openapi.example:9443"}}})
    assert "spec.orphans" in str(refused.value) and "broker.baseUrl" in str(refused.value)
    assert "https only" in str(refused.value)
