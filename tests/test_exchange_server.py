"""The exchange simulator itself: CLI process, trace context, request validation."""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import datetime

import aiohttp
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from tests.kis_harness import rig

from tradefleet.adapters.clock import SEOUL, SimClock
from tradefleet.local_fleet.processes import free_port


async def test_exchange_command_serves_on_localhost_with_shared_clock() -> None:
    port = free_port()
    clock = SimClock(datetime(2026, 11, 24, 10, 0, tzinfo=SEOUL), 1.0)
    env = {**os.environ, "TRADEFLEET_SIM_CLOCK": clock.to_env()}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tradefleet.cli", "exchange", "--port", str(port), "--seed", "3",
        "--symbols", "5", env=env, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    try:
        async with aiohttp.ClientSession() as session:
            for _ in range(100):
                try:
                    async with session.get(f"http://127.0.0.1:{port}/_admin/health") as resp:
                        if resp.status == 200:
                            break
                except aiohttp.ClientConnectorError:
                    await asyncio.sleep(0.1)
            else:
                raise AssertionError("exchange did not come up")
            body = {"grant_type": "client_credentials", "appkey": "k", "appsecret": "s"}
            async with session.post(f"http://127.0.0.1:{port}/oauth2/tokenP",
                                    json=body) as resp:
                token = (await resp.json())["access_token"]
            headers = {"authorization": f"Bearer {token}", "appkey": "k", "appsecret": "s",
                       "tr_id": "TTTC8434R", "custtype": "P"}
            async with session.get(f"http://127.0.0.1:{port}/uapi/domestic-stock/v1/"
                                   "trading/inquire-balance", headers=headers) as resp:
                data = await resp.json()
                assert resp.status == 200 and data["rt_cd"] == "0"
                assert data["output2"][0]["prvs_rcdl_excc_amt"] == "100000000"
    finally:
        proc.terminate()
        await proc.wait()


def _memory_exporter() -> InMemorySpanExporter:
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
        provider = trace.get_tracer_provider()
    assert isinstance(provider, TracerProvider)
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return exporter


async def test_server_span_joins_the_callers_trace() -> None:
    exporter = _memory_exporter()
    async with rig() as r:
        await r.broker.authenticate()
        with trace.get_tracer("test").start_as_current_span("caller") as caller:
            await r.broker.get_balance()
            trace_id = caller.get_span_context().trace_id
            caller_id = caller.get_span_context().span_id
    spans = [s for s in exporter.get_finished_spans() if s.context.trace_id == trace_id]
    servers = [s for s in spans if s.kind is trace.SpanKind.SERVER]
    clients = [s for s in spans if s.kind is trace.SpanKind.CLIENT]
    assert len(servers) == 1 and len(clients) == 1
    # caller -> our CLIENT span for the HTTP call -> the simulator's SERVER span
    assert clients[0].parent is not None and clients[0].parent.span_id == caller_id
    assert servers[0].parent is not None
    assert servers[0].parent.span_id == clients[0].context.span_id
    assert servers[0].attributes["kis.tr_id"] == "TTTC8434R"


async def test_order_body_must_have_uppercase_string_fields() -> None:
    async with rig() as r:
        token = await r.tokens.get()
        headers = {"authorization": f"Bearer {token}", "appkey": r.config.appkey,
                   "appsecret": r.config.appsecret, "tr_id": "TTTC0012U", "custtype": "P"}
        url = r.base_url + "/uapi/domestic-stock/v1/trading/order-cash"
        symbol = r.market.symbols()[0]
        for body, field in (({"pdno": symbol, "ORD_DVSN": "01", "ORD_QTY": "1",
                              "ORD_UNPR": "0"}, "pdno"),
                            ({"PDNO": symbol, "ORD_DVSN": "01", "ORD_QTY": 1,
                              "ORD_UNPR": "0"}, "ORD_QTY")):
            async with r.session.post(url, json=body, headers=headers) as resp:
                data = await resp.json()
                assert resp.status == 200 and data["rt_cd"] != "0"
                assert field in data["msg1"]
        assert r.gateway.counters()["orders_per_symbol"] == {}
        headers["authorization"] = "Bearer not-a-token"
        async with r.session.post(url, json={}, headers=headers) as resp:
            assert (await resp.json())["msg_cd"] == "EGW00121"
