"""``tradefleet exchange``: serve the KIS-dialect simulator (on 127.0.0.1 unless ``--host``).

The clock comes from ``TRADEFLEET_SIM_CLOCK`` (``SimClock.to_env()``) when set, so workers
started with the same value share the exchange's simulated time; otherwise it starts today at
``--start`` (Asia/Seoul) running ``--speed`` times real time. The market keeps the hours the
KRX calendar gives that day (10:00-16:30 on the CSAT day, say); 09:00-15:30 on a day it
does not list as a session.

``--mode paper --real-port N`` serves the paper API on ``--port`` and the real one on N over
one market, as KIS's two domains: a paper client points its paper base URL at the first and
its real one (quotations) at the second.

``--ws-port N`` also serves KIS's WebSocket dialect on N (approval keys from ``--port``'s
``/oauth2/Approval``; H0STCNT0 ticks from the same market; encrypted H0STCNI0/H0STCNI9
notices of the account's executions to ``--hts-id``; PINGPONG; faults on N's
``/_admin/ws/faults``)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys

from tradefleet.commands.arguments import float_in, int_in, positive_int


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("exchange", help="serve the KIS-dialect exchange simulator",
                              description=__doc__)
    p.add_argument("--port", type=int_in(0, 65535), default=8900, help="TCP port (8900)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (127.0.0.1; 0.0.0.0 in a container)")
    p.add_argument("--seed", type=int, default=7, help="market seed (7)")
    p.add_argument("--symbols", type=positive_int, default=60, help="universe size (60)")
    p.add_argument("--speed", type=float_in(0, 5000, low_open=True), default=1.0,
                   help="simulated seconds per real second, without TRADEFLEET_SIM_CLOCK (1)")
    p.add_argument("--start", default="09:00", help="simulated start HH:MM (09:00)")
    p.add_argument("--mode", choices=("real", "paper"), default="real",
                   help="which KIS environment to imitate (real: 20 req/s; paper: 2 req/s)")
    p.add_argument("--real-port", type=int_in(1, 65535), default=None,
                   help="with --mode paper: also serve the real-environment API on this port "
                        "over the same market (paper clients such as python-kis ask the real "
                        "domain for quotations)")
    p.add_argument("--ws-port", type=int_in(0, 65535), default=None,
                   help="also serve the KIS WebSocket feed on this port")
    p.add_argument("--hts-id", default=None,
                   help="with --ws-port: the HTS id whose fill notices are sent (any)")
    p.add_argument("--rate-limit", type=positive_int, default=None,
                   help="requests per second per appkey (default: 20 real, 2 paper)")
    p.add_argument("--initial-cash", type=positive_int, default=100_000_000,
                   help="account cash in won (100,000,000)")
    p.add_argument("--holding", type=_holding, action="append", default=[],
                   metavar="SYMBOL=QTY",
                   help="shares the account holds before the day (repeatable), bought at "
                        "the previous close: say a person's own investments")
    p.set_defaults(handler=_run)


def _holding(text: str) -> tuple[str, int]:
    symbol, sep, qty = text.partition("=")
    if not sep or not symbol.strip() or not qty.strip().isdigit() or int(qty) <= 0:
        raise argparse.ArgumentTypeError(f"expected SYMBOL=QTY with QTY > 0, got {text!r}")
    return symbol.strip(), int(qty)


async def _serve(args: argparse.Namespace) -> int:
    from tradefleet.adapters.clock import SEOUL, SimClock
    from tradefleet.adapters.sim.engine import SimMarket
    from tradefleet.adapters.sim.exchange.app import running_exchange
    from tradefleet.adapters.sim.exchange.gateway import ExchangeConfig

    env = os.environ.get("TRADEFLEET_SIM_CLOCK")
    if env:
        clock = SimClock.from_env(env)
    else:
        from datetime import datetime
        clock = SimClock.starting_at(datetime.now(SEOUL).date(), args.start, args.speed)
    from tradefleet.adapters.calendar_cache import krx_calendar
    from tradefleet.domain.calendar import regular_session

    day = clock.now().date()
    session = krx_calendar(day).session(day) or regular_session(day)
    market = SimMarket(args.seed, n_symbols=args.symbols, clock=clock,
                       initial_cash=args.initial_cash, session_open=session.open.time(),
                       session_close=session.close.time(),
                       opening_holdings=_opening(args.holding))
    if args.real_port is not None and args.mode != "paper":
        raise ValueError("--real-port: only with --mode paper (real mode serves it already)")
    config = ExchangeConfig(mode=args.mode, rate_limit_per_second=args.rate_limit)
    stopped_by: list[signal.Signals] = []
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, lambda s=sig: (stopped_by.append(s), stop.set()))
    async with contextlib.AsyncExitStack() as stack:
        url, app = await stack.enter_async_context(
            running_exchange(market, config, args.port, host=args.host))
        print(f"exchange simulator ({args.mode}) listening on {url}", flush=True)
        if args.ws_port is not None:
            ws_url = await stack.enter_async_context(_feed(market, app, args))
            print(f"exchange simulator WebSocket feed ({args.mode}) listening on {ws_url}",
                  flush=True)
        if args.real_port is not None:
            real = ExchangeConfig(mode="real", rate_limit_per_second=args.rate_limit)
            real_url, _ = await stack.enter_async_context(
                running_exchange(market, real, args.real_port, host=args.host))
            print(f"exchange simulator (real, same market) listening on {real_url}",
                  flush=True)
        await stop.wait()
    # SIGTERM (a pod or a supervisor stopping it) is a clean stop; Ctrl-C keeps its 130
    return 130 if stopped_by[:1] == [signal.SIGINT] else 0


def _feed(market, app, args: argparse.Namespace):  # noqa: ANN001, ANN202
    from tradefleet.adapters.sim.exchange.app import exchange_of
    from tradefleet.adapters.sim.exchange.approval import APPROVALS
    from tradefleet.adapters.sim.exchange.ws_server import FeedConfig, FeedServer, running_feed

    server = FeedServer(market, app[APPROVALS], exchange_of(app),
                        FeedConfig(mode=args.mode, hts_id=args.hts_id))
    return running_feed(server, args.ws_port, host=args.host)


def _opening(pairs: list[tuple[str, int]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for symbol, qty in pairs:
        out[symbol] = out.get(symbol, 0) + qty
    return out


def _run(args: argparse.Namespace) -> int:
    from tradefleet.adapters.telemetry.tracing import configure_tracing, flush_tracing
    from tradefleet.domain.errors import ConfigError

    try:
        configure_tracing("tradefleet-exchange")
        return asyncio.run(_serve(args))
    except (ValueError, ConfigError) as exc:
        print(f"exchange: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"exchange: --host/--port: cannot listen on {args.host}:{args.port}: {exc}",
              file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    finally:            # stopped by a signal: the server spans still queued go out
        flush_tracing()
