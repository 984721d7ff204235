"""``tradefleet exchange --ws-port`` as a process: the KIS adapter's feed client, pointed at
it by URL, takes an approval key from the REST port, registers a symbol and the notices of
its HTS id, and receives the simulated market's trades and an execution of its own order."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import datetime

import aiohttp
from tests.feed_env import Received, running

from tradefleet.adapters.clock import SEOUL, SimClock
from tradefleet.adapters.kis.auth import Credentials
from tradefleet.adapters.kis.ws_approval import KisApprovalIssuer, in_process_approval_keys
from tradefleet.adapters.kis.ws_feed import KisRealtimeFeed
from tradefleet.local_fleet.processes import free_port

DAY = datetime(2026, 11, 24, 10, 0, tzinfo=SEOUL)


async def test_the_exchange_command_serves_the_feed_on_its_own_port():
    port, ws_port = free_port(), free_port()
    env = {**os.environ, "TRADEFLEET_SIM_CLOCK": SimClock(DAY, 20.0).to_env()}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tradefleet.cli", "exchange", "--port", str(port), "--ws-port",
         str(ws_port), "--hts-id", "me", "--seed", "5", "--symbols", "8"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as http:
            for _ in range(150):
                try:
                    async with http.get(base + "/_admin/health") as r:
                        if r.ok:
                            break
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)
            else:
                raise AssertionError("exchange did not come up")
            async with http.get(base + "/_admin/books/symbols") as r:
                symbols = [s["symbol"] for s in (await r.json())["symbols"]]
            got = Received()
            issuer = KisApprovalIssuer(http, Credentials(base, "A" * 36, "S" * 180))
            feed = KisRealtimeFeed(http, f"ws://127.0.0.1:{ws_port}",
                                   in_process_approval_keys(issuer), got, on_state=got.state)
            async with running(feed):
                for s in symbols:
                    await feed.subscribe("H0STCNT0", s)
                await feed.subscribe("H0STCNI0", "me")
                await got.until(lambda: len({t.symbol for t in got.ticks}) >= 3, timeout=20)
                body = {"CANO": "50001234", "ACNT_PRDT_CD": "01", "PDNO": symbols[0],
                        "ORD_DVSN": "01", "ORD_QTY": "2", "ORD_UNPR": "0"}
                async with http.post(base + "/oauth2/tokenP", json={
                        "grant_type": "client_credentials", "appkey": "A" * 36,
                        "appsecret": "S" * 180}) as r:
                    token = (await r.json())["access_token"]
                headers = {"authorization": f"Bearer {token}", "appkey": "A" * 36,
                           "appsecret": "S" * 180, "tr_id": "TTTC0012U", "custtype": "P"}
                async with http.post(base + "/uapi/domestic-stock/v1/trading/order-cash",
                                     json=body, headers=headers) as r:
                    odno = (await r.json())["output"]["ODNO"]
                await got.until(lambda: sum(n.qty for n in got.notices
                                            if n.order_no == odno and n.is_fill) == 2,
                                timeout=10)
                (placed,) = {(n.symbol, n.order_kind) for n in got.notices}
                assert placed == (symbols[0], "01")            # a market order
                ack = got.notices[0]        # acknowledged first, with the order's quantity
                assert not ack.is_fill and ack.order_no == odno and ack.qty == 2
            for t in got.ticks:
                assert t.low <= t.price <= t.high and t.at.date() == DAY.date()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
