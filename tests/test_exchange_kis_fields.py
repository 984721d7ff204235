"""Every response the simulator serves against the KIS field list (``kis_fields.SHAPES``):
no field, output section or response header KIS sends is missing, nothing beyond it (and the
listed simulator extras) is added; plus KIS's own answers to requests it refuses."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
from tests.kis_harness import Rig, rig

from tradefleet.adapters.sim import ticks
from tradefleet.adapters.sim.exchange.gateway import ExchangeConfig
from tradefleet.adapters.sim.exchange.kis_fields import SHAPES, missing
from tradefleet.adapters.sim.exchange.routes import paper_id
from tradefleet.domain.orders import OrderRequest, OrderType, Side

_V1 = "/uapi/domestic-stock/v1/"
_TR = {"quotations/inquire-price": "FHKST01010100", "quotations/search-info": "CTPF1604R",
       "quotations/intstock-multprice": "FHKST11300006",
       "quotations/inquire-asking-price-exp-ccn": "FHKST01010200",
       "quotations/inquire-time-itemchartprice": "FHKST03010200",
       "trading/order-cash": "TTTC0012U", "trading/order-rvsecncl": "TTTC0013U",
       "trading/inquire-psbl-order": "TTTC8908R", "trading/inquire-daily-ccld": "TTTC0081R",
       "trading/inquire-balance": "TTTC8434R", "trading/inquire-psbl-rvsecncl": "TTTC0084R"}
_ACCOUNT = {"CANO": "12345678", "ACNT_PRDT_CD": "01"}


class Raw:
    """Plain HTTP to the simulator as any KIS client sends it; records what it checked."""

    def __init__(self, r: Rig, token: str, mode: str) -> None:
        self.r, self.token, self.mode = r, token, mode
        self.checked: set[str] = set()

    def _headers(self, path: str, tr_cont: str = "") -> dict[str, str]:
        tr = _TR[path] if self.mode == "real" else paper_id(_TR[path])
        return {"authorization": f"Bearer {self.token}", "appkey": self.r.config.appkey,
                "appsecret": self.r.config.appsecret, "tr_id": tr, "custtype": "P",
                "tr_cont": tr_cont, "content-type": "application/json; charset=utf-8"}

    async def call(self, path: str, params: dict[str, str] | None = None,
                   body: dict[str, str] | None = None,
                   tr_cont: str = "") -> tuple[int, dict[str, Any], dict[str, str]]:
        url = self.r.base_url + _V1 + path
        method = "POST" if body is not None else "GET"
        while True:     # as clients do: EGW00201 (over the rate) is waited out and retried
            async with self.r.session.request(method, url, params=params, json=body,
                                              headers=self._headers(path, tr_cont)) as resp:
                data = await resp.json()
                if data.get("msg_cd") != "EGW00201":
                    return resp.status, data, dict(resp.headers)
            await asyncio.sleep(0.1)

    async def ok(self, path: str, params: dict[str, str] | None = None,
                 body: dict[str, str] | None = None, tr_cont: str = "") -> dict[str, Any]:
        status, data, headers = await self.call(path, params, body, tr_cont)
        assert status == 200 and data["rt_cd"] == "0", data
        assert missing(path, data, headers) == [], (path, missing(path, data, headers))
        assert headers["tr_id"] == self._headers(path)["tr_id"]
        assert len(headers["gt_uid"]) == 32
        self.checked.add(path)
        return data


def _liquid(r: Rig) -> list[str]:
    """Symbols whose book is not pinned at a limit, most liquid first."""
    u = r.market.universe
    order = sorted(range(len(u.symbols)), key=lambda i: -int(u.depth[i]))
    return [u.symbols[i] for i in order if not u.thin[i]]


async def _trade(r: Rig, symbols: list[str]) -> tuple[str, str]:
    """Market buys in several symbols (holdings over pages) and one resting limit buy that is
    then partly kept: returns (resting odno, its branch)."""
    for n, s in enumerate(symbols[:5]):
        await r.broker.place_order(OrderRequest(f"m{n}", s, Side.BUY, OrderType.MARKET, 1, None))
    q = r.market.quote(symbols[0])
    ack = await r.broker.place_order(OrderRequest("rest", symbols[0], Side.BUY,
                                                  OrderType.LIMIT, 3, q.lower_limit))
    return ack.broker_order_id, ack.broker_branch or ""


async def _every_endpoint(raw: Raw, r: Rig, real: bool) -> None:
    symbols = _liquid(r)
    s = symbols[0]
    one = {"FID_COND_MRKT_DIV_CODE": "J", "FID_INPUT_ISCD": s}
    await raw.ok("quotations/inquire-price", one)
    await raw.ok("quotations/inquire-asking-price-exp-ccn", one)
    for hour in ("000000", "100000", "093000"):
        data = await raw.ok("quotations/inquire-time-itemchartprice",
                            {**one, "FID_ETC_CLS_CODE": "", "FID_INPUT_HOUR_1": hour,
                             "FID_PW_DATA_INCU_YN": "N"})
        assert data["output2"], hour
    if real:
        await raw.ok("quotations/search-info", {"PDNO": s, "PRDT_TYPE_CD": "300"})
        await raw.ok("quotations/intstock-multprice",
                     {f"FID_INPUT_ISCD_{n + 1}": x for n, x in enumerate(symbols[:3])}
                     | {f"FID_COND_MRKT_DIV_CODE_{n + 1}": "J" for n in range(3)})
    await raw.ok("trading/inquire-psbl-order", {**_ACCOUNT, "PDNO": s, "ORD_UNPR": "0",
                                                "ORD_DVSN": "01", "CMA_EVLU_AMT_ICLD_YN": "N",
                                                "OVRS_ICLD_YN": "N"})
    odno, branch = await _trade(r, symbols)
    placed = await raw.ok("trading/order-cash", body={**_ACCOUNT, "PDNO": s, "ORD_DVSN": "00",
                                                      "ORD_QTY": "1", "ORD_UNPR": str(
                                                          r.market.quote(s).lower_limit)})
    if real:
        await raw.ok("trading/inquire-psbl-rvsecncl",
                     {**_ACCOUNT, "INQR_DVSN_1": "0", "INQR_DVSN_2": "0",
                      "CTX_AREA_FK100": "", "CTX_AREA_NK100": ""})
    await raw.ok("trading/order-rvsecncl", body={
        **_ACCOUNT, "KRX_FWDG_ORD_ORGNO": branch, "ORGN_ODNO": odno, "ORD_DVSN": "00",
        "RVSE_CNCL_DVSN_CD": "02", "ORD_QTY": "0", "ORD_UNPR": "0", "QTY_ALL_ORD_YN": "Y"})
    assert placed["output"]["ODNO"]
    day = r.market.day.strftime("%Y%m%d")
    fills = {**_ACCOUNT, "INQR_STRT_DT": day, "INQR_END_DT": day, "SLL_BUY_DVSN_CD": "00",
             "INQR_DVSN": "00", "PDNO": "", "CCLD_DVSN": "00", "ORD_GNO_BRNO": "", "ODNO": "",
             "INQR_DVSN_3": "00", "INQR_DVSN_1": "", "CTX_AREA_FK100": "",
             "CTX_AREA_NK100": ""}
    balance = {**_ACCOUNT, "AFHR_FLPR_YN": "N", "OFL_YN": "", "INQR_DVSN": "02",
               "UNPR_DVSN": "01", "FUND_STTL_ICLD_YN": "N", "FNCG_AMT_AUTO_RDPT_YN": "N",
               "PRCS_DVSN": "00", "CTX_AREA_FK100": "", "CTX_AREA_NK100": ""}
    for path, params, key in (("trading/inquire-daily-ccld", fills, "output1"),
                              ("trading/inquire-balance", balance, "output1")):
        rows, cont, pages = [], "", 0
        while True:
            status, data, headers = await raw.call(path, params, tr_cont=cont)
            assert status == 200 and missing(path, data, headers) == []
            rows += data[key]
            pages += 1
            if headers["tr_cont"] not in ("F", "M"):
                assert headers["tr_cont"] == "D"
                break
            assert headers["tr_cont"] == "M"          # more follow: what clients loop on
            params = {**params, "CTX_AREA_FK100": data["ctx_area_fk100"],
                      "CTX_AREA_NK100": data["ctx_area_nk100"]}
            cont = "N"
        assert pages >= 2, path
        raw.checked.add(path)
        if path == "trading/inquire-balance":
            held = {h.symbol: h.qty for h in r.market.balance().holdings}
            assert {x["pdno"]: int(x["hldg_qty"]) for x in rows} == held
        else:
            cancels = [x for x in rows if x["cncl_yn"] == "Y"]
            assert len(cancels) == 1 and cancels[0]["orgn_odno"] == odno
            assert int(cancels[0]["cnc_cfrm_qty"]) == r.market.report(odno).cancelled_qty


async def test_every_real_response_has_every_kis_field_and_header() -> None:
    cfg = ExchangeConfig(mode="real", fills_page_size=2, balance_page_size=2)
    async with rig(exchange=cfg) as r:
        raw = Raw(r, await r.tokens.get(), "real")
        await _every_endpoint(raw, r, real=True)
        assert raw.checked == set(SHAPES)


async def test_every_paper_response_has_every_kis_field_and_header() -> None:
    cfg = ExchangeConfig(mode="paper", fills_page_size=2, balance_page_size=2)
    async with rig(mode="paper", exchange=cfg, client_rate=2) as r:
        raw = Raw(r, await r.tokens.get(), "paper")
        await _every_endpoint(raw, r, real=False)
        paper_only = set(SHAPES) - {"quotations/search-info", "quotations/intstock-multprice",
                                    "trading/inquire-psbl-rvsecncl"}
        assert raw.checked == paper_only


async def test_kis_refusals_are_kis_envelopes_naming_the_field() -> None:
    async with rig() as r:
        raw = Raw(r, await r.tokens.get(), "real")
        s = next(x for x in _liquid(r) if r.market.quote(x).lower_limit >= 2_000)  # tick > 1
        # an unknown path, inside and outside the domestic-stock tree: JSON, not text
        for url in (_V1 + "quotations/no-such-api", "/uapi/overseas-price/v1/nothing"):
            async with r.session.get(r.base_url + url,
                                     headers=raw._headers("trading/inquire-balance")) as resp:
                assert resp.status == 404 and resp.content_type == "application/json"
                data = await resp.json()
                assert data["rt_cd"] == "1" and data["msg_cd"] == "OPSQ0002"
                assert {"tr_id", "tr_cont", "gt_uid"} <= {k.lower() for k in resp.headers}
        # bad parameters: KIS's OPSQ2001 naming the field
        for path, params, field in (
                ("quotations/inquire-time-itemchartprice",
                 {"FID_INPUT_ISCD": s, "FID_INPUT_HOUR_1": "9:30"}, "FID_INPUT_HOUR_1"),
                ("quotations/inquire-price", {"FID_COND_MRKT_DIV_CODE": "J"}, "FID_INPUT_ISCD"),
                ("trading/inquire-psbl-order", {**_ACCOUNT, "PDNO": s, "ORD_UNPR": "x"},
                 "ORD_UNPR"),
                ("quotations/search-info", {"PDNO": s}, "PRDT_TYPE_CD")):
            status, data, _ = await raw.call(path, params)
            assert status == 200 and data["msg_cd"] == "OPSQ2001", data
            assert data["msg1"].startswith(f"ERROR : INPUT_FIELD_NAME {field}")
        # a symbol search-info does not know: rt_cd 7, "no data"
        _, data, _ = await raw.call("quotations/search-info",
                                    {"PDNO": "999999", "PRDT_TYPE_CD": "300"})
        assert data["rt_cd"] == "7"
        # a limit price off the tick grid: KIS's APBK0506
        q = r.market.quote(s)
        off = q.lower_limit + 1
        assert not ticks.is_valid_tick(off)
        _, data, _ = await raw.call("trading/order-cash", body={
            **_ACCOUNT, "PDNO": s, "ORD_DVSN": "00", "ORD_QTY": "1", "ORD_UNPR": str(off)})
        assert data["rt_cd"] == "1" and data["msg_cd"] == "APBK0506"
        assert r.market.executions() == [] and r.gateway.counters()["orders_per_symbol"] == {}


async def test_paging_rules_broken_are_refused_not_answered_with_page_one() -> None:
    cfg = ExchangeConfig(mode="real", balance_page_size=2)
    async with rig(exchange=cfg) as r:
        raw = Raw(r, await r.tokens.get(), "real")
        await _trade(r, _liquid(r))
        params = {**_ACCOUNT, "INQR_DVSN": "02", "CTX_AREA_FK100": "", "CTX_AREA_NK100": ""}
        first = await raw.ok("trading/inquire-balance", params)
        later = {**params, "CTX_AREA_FK100": first["ctx_area_fk100"],
                 "CTX_AREA_NK100": first["ctx_area_nk100"]}
        for p, cont, field in ((later, "", "tr_cont"),              # keys without N
                               ({**later, "CTX_AREA_NK100": "77"}, "N", "CTX_AREA_NK100"),
                               ({**later, "CTX_AREA_FK100": "other"}, "N", "CTX_AREA_FK100")):
            _, data, _ = await raw.call("trading/inquire-balance", p, tr_cont=cont)
            assert data["rt_cd"] == "1" and data["msg_cd"] == "OPSQ2001", (field, data)
            assert field in data["msg1"]
        second = await raw.ok("trading/inquire-balance", later, tr_cont="N")
        assert {x["pdno"] for x in second["output1"]}.isdisjoint(
            {x["pdno"] for x in first["output1"]})


async def test_hashkey_echoes_the_body_with_its_hash() -> None:
    async with rig() as r:
        body = {**_ACCOUNT, "PDNO": "005930", "ORD_DVSN": "01", "ORD_QTY": "1", "ORD_UNPR": "0"}
        headers = {"appkey": r.config.appkey, "appsecret": r.config.appsecret}
        async with r.session.post(r.base_url + "/uapi/hashkey", json=body,
                                  headers=headers) as resp:
            data = await resp.json()
            assert missing("hashkey", data, dict(resp.headers)) == []
            assert data["BODY"] == body and len(data["HASH"]) == 64
        async with aiohttp.ClientSession() as bare, bare.post(
                r.base_url + "/uapi/hashkey", json=body) as resp:
            assert resp.status == 500 and (await resp.json())["msg_cd"] == "EGW00103"


def test_the_field_check_names_what_is_missing_or_added() -> None:
    """``missing`` itself: a complete body passes; a dropped field, section, header or
    paging key, a row of the wrong shape and an unlisted extra are each named."""
    shape = SHAPES["trading/inquire-balance"]
    row = {f: "0" for f in shape.sections["output1"]}
    summary = {f: "0" for f in shape.sections["output2"]}
    body = {"rt_cd": "0", "msg_cd": "KIOK0510", "msg1": "", "output1": [row],
            "output2": [summary], "ctx_area_fk100": "", "ctx_area_nk100": ""}
    headers = {"Content-Type": "application/json", "tr_id": "TTTC8434R", "tr_cont": "D",
               "gt_uid": "x"}
    path = "trading/inquire-balance"
    assert missing(path, body, headers) == []
    assert missing(path, {**body, "output1": [{**row, "extra": "1"}]}, headers) == \
        ["+output1.extra"]
    short = dict(row)
    del short["pchs_amt"]
    assert missing(path, {**body, "output1": [row, short]}, headers) == ["output1.pchs_amt"]
    no_ctx = {k: v for k, v in body.items() if k != "ctx_area_nk100"}
    assert missing(path, no_ctx, headers) == ["ctx_area_nk100"]
    assert missing(path, {**body, "output2": summary}, headers) == \
        ["output2: wrong shape (dict)"]
    assert missing(path, body, {k: v for k, v in headers.items() if k != "gt_uid"}) == \
        ["header:gt_uid"]
    price = SHAPES["quotations/inquire-price"]
    out = {f: "0" for f in price.sections["output"]} | {"prdy_hgpr": "1"}   # a listed extra
    assert missing("quotations/inquire-price", {"rt_cd": "0", "msg_cd": "", "msg1": "",
                                                "output": out}, headers) == []
