"""The KIS WebSocket frame parsers against frames recorded from KIS (tests/fixtures/kis/ws).

Field positions are checked by what must hold between fields of real records, not by values
copied out of the fixture: within a batched frame each record's accumulated volume grows by
that record's trade quantity, the accumulated value by quantity x price, and every record's
price less its change is the same previous close."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from tradefleet.adapters.kis.ws_cipher import NoticeCipher
from tradefleet.adapters.kis.ws_frames import (
    ControlAck,
    DataFrame,
    FrameError,
    PingPong,
    classify,
    registration,
)
from tradefleet.adapters.kis.ws_notices import (
    LEGACY_NOTICE_FIELDS,
    NOTICE_FIELDS,
    parse_notices,
)
from tradefleet.adapters.kis.ws_ticks import TICK_FIELDS, parse_ticks
from tradefleet.domain.orders import Side

RECORDED = json.loads((Path(__file__).parent / "fixtures/kis/ws/recorded_frames.json")
                      .read_text(encoding="utf-8"))
KEY, IV = "k" * 32, "i" * 16


@pytest.mark.parametrize("name", ["h0stcnt0_005930_3_records", "h0stcnt0_000400_3_records"])
def test_recorded_batched_tick_frames_give_every_record_with_consistent_fields(name):
    raw = RECORDED[name]
    frame = classify(raw)
    assert isinstance(frame, DataFrame) and not frame.encrypted
    ticks = parse_ticks(frame)
    assert len(ticks) == frame.count == int(raw.split("|")[2]) > 1
    symbol = raw.split("|")[3].split("^")[0]
    prev_close = {t.price - t.change for t in ticks}
    assert len(prev_close) == 1
    (base,) = prev_close
    for before, after in zip(ticks, ticks[1:], strict=False):
        assert after.volume - before.volume == after.qty > 0
        assert after.traded_value - before.traded_value == after.qty * after.price
    for t in ticks:
        assert t.symbol == symbol and t.at.tzinfo is not None
        assert t.low <= t.price <= t.high and t.low <= t.open <= t.high
        assert t.bid < t.ask and t.bid <= t.price <= t.ask
        assert t.change_rate == (Decimal(t.change * 100) / base).quantize(Decimal("0.01"))
        assert t.at.strftime("%H%M%S") == raw.split("|")[3].split("^")[1]
        assert not t.halted


def test_recorded_encrypted_notice_decrypts_with_its_ack_key_into_26_fields():
    rec = RECORDED["h0stcni0_ack"]
    frame = classify(rec["frame"])
    assert isinstance(frame, DataFrame) and frame.encrypted and frame.tr_id == "H0STCNI0"
    cipher = NoticeCipher(rec["key"], rec["iv"])
    assert len(cipher.decrypt(frame.payload).split("^")) == len(NOTICE_FIELDS) == 26
    (notice,) = parse_notices(frame, cipher)
    # an acknowledgement (CNTG_YN 1): positions 9-10 carry the order, not a fill
    assert not notice.is_fill and not notice.rejected
    assert notice.qty == notice.order_qty > 0
    assert notice.side in (Side.BUY, Side.SELL) and len(notice.symbol) == 6
    assert notice.order_no.isdigit() and len(notice.time_hms) == 6
    assert notice.account not in repr(notice)     # never shown in full


def test_a_notice_under_the_wrong_key_is_a_clear_error():
    rec = RECORDED["h0stcni0_ack"]
    with pytest.raises(FrameError, match="key/iv"):
        parse_notices(classify(rec["frame"]), NoticeCipher(KEY, IV))


def _notice_record(fields: tuple[str, ...], **values: str) -> list[str]:
    row = [""] * len(fields)
    base = {"CUST_ID": "htsid01", "ACNT_NO": "1234567801", "ODER_NO": "0000012345",
            "SELN_BYOV_CLS": "01", "RCTF_CLS": "0", "ODER_KIND": "00",
            "STCK_SHRN_ISCD": "005930", "CNTG_QTY": "7", "CNTG_UNPR": "71900",
            "STCK_CNTG_HOUR": "100102", "RFUS_YN": "0", "CNTG_YN": "2", "ACPT_YN": "2",
            "BRNC_NO": "00950", "ODER_QTY": "10", "ODER_PRC": "71900"}
    for name, value in (base | values).items():
        row[fields.index(name)] = value
    return row


@pytest.mark.parametrize("fields", [NOTICE_FIELDS, LEGACY_NOTICE_FIELDS])
def test_fill_notices_parse_in_the_current_and_the_pre_2025_layout(fields):
    cipher = NoticeCipher(KEY, IV)
    rows = [_notice_record(fields), _notice_record(fields, CNTG_QTY="3", ODER_NO="12346")]
    payload = cipher.encrypt("^".join("^".join(r) for r in rows))
    notices = parse_notices(classify(f"1|H0STCNI9|002|{payload}"), cipher)
    assert [(n.order_no, n.qty, n.price, n.side, n.is_fill) for n in notices] == [
        ("0000012345", 7, 71900, Side.SELL, True), ("12346", 3, 71900, Side.SELL, True)]


def test_control_frames_acks_and_pingpong():
    ack = classify(json.dumps({"header": {"tr_id": "H0STCNI0", "tr_key": "htsid01",
                                          "encrypt": "Y"},
                               "body": {"rt_cd": "0", "msg_cd": "OPSP0000",
                                        "msg1": "SUBSCRIBE SUCCESS",
                                        "output": {"iv": IV, "key": KEY}}}))
    assert isinstance(ack, ControlAck) and ack.ok and (ack.key, ack.iv) == (KEY, IV)
    assert KEY not in repr(ack)
    refused = classify(json.dumps({"header": {"tr_id": "H0STCNT0", "tr_key": "005930"},
                                   "body": {"rt_cd": "1", "msg_cd": "OPSP0008",
                                            "msg1": "MAX SUBSCRIBE OVER"}}))
    assert isinstance(refused, ControlAck) and not refused.ok
    ping = '{"header":{"tr_id":"PINGPONG","datetime":"20261124100000"}}'
    assert classify(ping) == PingPong(ping)
    sent = json.loads(registration("APPROVAL", "H0STCNT0", "005930", subscribe=False))
    assert sent["header"]["tr_type"] == "2" and sent["body"]["input"] == {
        "tr_id": "H0STCNT0", "tr_key": "005930"}


def _tick_row(**values: str) -> list[str]:
    row = ["0"] * len(TICK_FIELDS)
    row[0], row[1], row[33], row[35], row[5] = "005930", "100000", "20261124", "N", "0.00"
    for name, value in values.items():
        row[TICK_FIELDS.index(name)] = value
    return row


@pytest.mark.parametrize(("raw", "field"), [
    ("", "frame: empty"),
    ("2|H0STCNT0|001|x", "frame: starts with"),
    ("0|H0STCNT0|001", "parts, expected 4"),
    ("0|H0STCNT0|abc|x", "count:"),
    ("0|H0ST-NT0|001|x", "tr_id:"),
    ('{"header": 3}', "header:"),
    ('{"header": {"tr_id": "H0STCNT0"}}', "body:"),
    ('{"header": {"tr_id": "H0STCNT0"}, "body": {"rt_cd": "0"}}', "body.msg_cd"),
    ("{not json", "not JSON"),
])
def test_malformed_frames_name_the_field(raw, field):
    with pytest.raises(FrameError, match=field.replace("(", r"\(")):
        classify(raw)


@pytest.mark.parametrize(("row", "count", "field"), [
    (_tick_row(STCK_PRPR="71,900"), 1, "field 2 STCK_PRPR"),
    (_tick_row(CNTG_VOL=""), 1, "field 12 CNTG_VOL"),
    (_tick_row(BSOP_DATE="2026-11-24"), 1, "BSOP_DATE"),
    (_tick_row(PRDY_CTRT="up"), 1, "field 5 PRDY_CTRT"),
    (_tick_row(), 3, "count=3"),
    (_tick_row()[:40], 1, "at least 46"),
])
def test_malformed_tick_records_name_the_field(row, count, field):
    with pytest.raises(FrameError, match=field):
        parse_ticks(classify(f"0|H0STCNT0|{count:03d}|" + "^".join(row)))


@pytest.mark.parametrize(("values", "field"), [
    ({"SELN_BYOV_CLS": "03"}, "field 4 SELN_BYOV_CLS"),
    ({"CNTG_YN": "9"}, "field 13 CNTG_YN"),
    ({"CNTG_QTY": "0"}, "field 9 CNTG_QTY"),
    ({"CNTG_UNPR": "7l900"}, "field 10 CNTG_UNPR"),
    ({"ODER_NO": ""}, "field 2 ODER_NO"),
    ({"STCK_CNTG_HOUR": "10:01"}, "field 11 STCK_CNTG_HOUR"),
])
def test_malformed_notice_records_name_the_field(values, field):
    cipher = NoticeCipher(KEY, IV)
    payload = cipher.encrypt("^".join(_notice_record(NOTICE_FIELDS, **values)))
    with pytest.raises(FrameError, match=field):
        parse_notices(classify(f"1|H0STCNI0|001|{payload}"), cipher)


def test_a_notice_cipher_needs_aes_256_key_and_16_byte_iv():
    with pytest.raises(FrameError, match="body.output.key"):
        NoticeCipher("short", IV)
    with pytest.raises(FrameError, match="body.output.iv"):
        NoticeCipher(KEY, "short")
    with pytest.raises(FrameError, match="base64"):
        NoticeCipher(KEY, IV).decrypt("***")
