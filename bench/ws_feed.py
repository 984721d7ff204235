"""WebSocket feed benchmark (issue 20, the protocol layer). Run: python3 bench/ws_feed.py
[--n 300] (about 20 s; everything on 127.0.0.1 in one event loop).

Measures, interleaved so load drift hits all alike, against the bare paths in the same run:
- bare WS hop: a text frame echoed by a bare aiohttp WebSocket server (round trip / 2);
- bare HTTP POST: a round trip to a bare aiohttp handler;
- tick push: the simulator's tape steps, its feed is woken, until our client has decoded the
  H0STCNT0 frame (pump + hop + parse);
- order to notice: a market order POSTed to the simulator's order-cash until our client has
  decoded its encrypted H0STCNI0 fill notice (REST round trip + pump + hop + AES + parse).
The end-to-end goals of issue 20 (tick-to-order at the worker, fill-to-record) need the
worker wiring of a later session; these are the feed's share of them."""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

from aiohttp import web
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.feed_env import APPKEY, HTS_ID, SECRET, Received, feed_env, running  # noqa: E402

from tradefleet.adapters.sim.universe import STEP_SECONDS  # noqa: E402


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


async def bare_server() -> tuple[web.AppRunner, str]:
    async def echo(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for msg in ws:
            await ws.send_str(msg.data)
        return ws

    async def post(request: web.Request) -> web.Response:
        await request.read()
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_get("/ws", echo)
    app.router.add_post("/post", post)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner, f"127.0.0.1:{runner.addresses[0][1]}"


async def main(n: int) -> None:
    runner, bare = await bare_server()
    series: dict[str, list[float]] = {k: [] for k in ("hop", "post", "tick", "notice")}
    async with feed_env(push_interval=0.5, ping_interval=60) as env:
        got = Received()
        feed = env.feed(got)
        symbols = [s for i, s in enumerate(env.market.universe.symbols)
                   if not env.market.universe.thin[i]][:10]
        async with running(feed), env.http.ws_connect(f"http://{bare}/ws") as echo:
            for s in symbols:
                await feed.subscribe("H0STCNT0", s)
            await feed.subscribe("H0STCNI0", HTS_ID)
            await got.until(lambda: feed.state == "live")
            async with env.http.post(env.base_url + "/oauth2/tokenP", json={
                    "grant_type": "client_credentials", "appkey": APPKEY,
                    "appsecret": SECRET}) as r:
                token = (await r.json())["access_token"]
            headers = {"authorization": f"Bearer {token}", "appkey": APPKEY,
                       "appsecret": SECRET, "tr_id": "TTTC0012U", "custtype": "P"}
            body = {"CANO": "50001234", "ACNT_PRDT_CD": "01", "ORD_DVSN": "01",
                    "ORD_QTY": "1", "ORD_UNPR": "0"}
            for i in range(n):
                await asyncio.sleep(0.06)        # orders under KIS's 20 a second
                t0 = time.perf_counter()
                await echo.send_str("x")
                await echo.receive()
                series["hop"].append((time.perf_counter() - t0) / 2)

                t0 = time.perf_counter()
                async with env.http.post(f"http://{bare}/post", json=body) as r:
                    await r.read()
                series["post"].append(time.perf_counter() - t0)

                ticks = len(got.ticks)
                env.clock.advance(STEP_SECONDS)
                t0 = time.perf_counter()
                env.server.wake()
                await got.until(lambda t=ticks: len(got.ticks) > t)
                series["tick"].append(time.perf_counter() - t0)

                t0 = time.perf_counter()
                async with env.http.post(
                        env.base_url + "/uapi/domestic-stock/v1/trading/order-cash",
                        json=body | {"PDNO": symbols[i % len(symbols)]},
                        headers=headers) as r:
                    answer = await r.json()
                    assert answer["rt_cd"] == "0", answer
                odno = answer["output"]["ODNO"]
                await got.until(lambda o=odno: any(n.is_fill and n.order_no == o
                                                   for n in got.notices[-3:]))
                series["notice"].append(time.perf_counter() - t0)
    await runner.cleanup()

    hop, post = statistics.median(series["hop"]), statistics.median(series["post"])
    table = Table(title=f"KIS WebSocket feed vs bare paths, 127.0.0.1, n={n} each")
    for col in ("path", "p50 ms", "p99 ms", "p50 / bare"):
        table.add_column(col, justify="right" if col != "path" else "left")
    rows = (("bare WS hop (echo RTT / 2)", "hop", hop),
            ("bare HTTP POST", "post", post),
            ("tick: tape step -> H0STCNT0 decoded", "tick", hop),
            ("order POST -> H0STCNI0 fill decoded", "notice", hop + post))
    for label, key, base in rows:
        v = series[key]
        table.add_row(label, f"{pct(v, 0.5) * 1e3:.2f}", f"{pct(v, 0.99) * 1e3:.2f}",
                      f"{pct(v, 0.5) / base:.1f}x")
    Console().print(table)
    print("tick ratio is against one bare hop; the notice ratio against one bare hop plus one "
          "bare POST (its path: a REST order, then the push)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=300)
    asyncio.run(main(parser.parse_args().n))
