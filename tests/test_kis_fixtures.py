"""Parsing the recorded KIS response shapes (space padding, paper codes, unpadded ODNOs)."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from tradefleet.adapters.clock import SEOUL
from tradefleet.adapters.kis.account import buyable_qty, cash_from_summary, holding_from_row
from tradefleet.adapters.kis.auth import parse_kst
from tradefleet.adapters.kis.envelope import parse_envelope
from tradefleet.adapters.kis.orders import ack_from_output, report_from_row, same_odno
from tradefleet.adapters.kis.quotes import quote_from_inquire_price
from tradefleet.domain.orders import Side

FIXTURES = Path(__file__).parent / "fixtures" / "kis"


def load(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def test_token_expiry_is_read_as_kst() -> None:
    body = load("token.json")
    at = parse_kst(body["access_token_token_expired"])
    assert at == datetime(2026, 7, 10, 9, 12, 33, tzinfo=SEOUL)
    assert at.utcoffset().total_seconds() == 9 * 3600


def test_gateway_envelopes() -> None:
    throttled = parse_envelope(403, load("token_throttled.json"))
    assert (throttled.ok, throttled.code) == (False, "EGW00133")
    limited = parse_envelope(500, load("rate_limited.json"))
    assert (limited.ok, limited.code) == (False, "EGW00201")
    limited_200 = parse_envelope(200, load("rate_limited.json"))   # some clients see 200
    assert not limited_200.ok and limited_200.code == "EGW00201"


def test_rejection_with_rt_cd_7_and_padded_msg1() -> None:
    env = parse_envelope(200, load("order_insufficient_funds.json"))
    assert not env.ok and env.code == "APBK0952"
    assert env.message == env.message.strip() and env.message


def test_inquire_price_output() -> None:
    body = load("inquire_price.json")
    at = datetime(2026, 7, 9, 10, 0, tzinfo=SEOUL)
    q = quote_from_inquire_price(body["output"], "000660", at)
    out = body["output"]
    assert q.price == int(out["stck_prpr"]) and isinstance(q.price, int)
    assert (q.upper_limit, q.lower_limit, q.prev_close) == \
        (int(out["stck_mxpr"]), int(out["stck_llam"]), int(out["stck_sdpr"]))
    assert q.change_rate == Decimal(out["prdy_ctrt"])
    assert q.traded_value == int(out["acml_tr_pbmn"])
    assert (q.ask, q.bid) == (0, 0)         # the real output carries no book


@pytest.mark.parametrize("name", ["order_cash_real.json", "order_cash_paper.json",
                                  "order_cash_paper_old.json"])
def test_order_acks_real_and_paper(name: str) -> None:
    body = load(name)
    env = parse_envelope(200, body)
    assert env.ok and env.code in ("APBK0013", "40600000")
    ack = ack_from_output(body["output"], "cid", date(2026, 7, 9))
    assert ack.broker_order_id == body["output"]["ODNO"]
    assert ack.broker_branch == body["output"]["KRX_FWDG_ORD_ORGNO"]
    tmd = body["output"]["ORD_TMD"]
    assert ack.accepted_at.strftime("%H%M%S") == tmd and ack.accepted_at.tzinfo is not None


def test_unpadded_paper_odno_matches_padded() -> None:
    old = load("order_cash_paper_old.json")["output"]["ODNO"]
    assert same_odno(old, old.rjust(10, "0"))
    assert not same_odno(old, "0000047580")


def test_daily_ccld_rows_and_ctx_stripped() -> None:
    body = load("inquire_daily_ccld.json")
    env = parse_envelope(200, body, tr_cont="D")
    assert env.ok and not env.has_more
    assert env.ctx_nk == "" and not env.ctx_fk.endswith(" ")
    row = body["output1"][0]
    rep = report_from_row(row)
    assert rep.side is Side.BUY and rep.symbol == row["pdno"]
    assert (rep.qty, rep.remaining_qty, rep.filled_qty) == \
        (int(row["ord_qty"]), int(row["rmn_qty"]), int(row["tot_ccld_qty"]))
    assert rep.ordered_at == datetime(2022, 1, 3, 17, 1, tzinfo=SEOUL)
    assert isinstance(body["output2"], dict)


def test_balance_output2_is_a_one_element_array() -> None:
    body = load("inquire_balance.json")
    holdings = [h for h in map(holding_from_row, body["output1"]) if h]
    assert [h.symbol for h in holdings] == ["005930"]          # qty 0 row skipped
    assert holdings[0].avg_price == Decimal(body["output1"][0]["pchs_avg_pric"])
    assert cash_from_summary(body["output2"]) == \
        int(body["output2"][0]["prvs_rcdl_excc_amt"])


def test_buyable_uses_no_credit_qty() -> None:
    out = load("inquire_psbl_order.json")["output"]
    assert buyable_qty(out) == int(out["nrcvb_buy_qty"])
