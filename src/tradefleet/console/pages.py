"""The five pages' content (the part the live updates replace): Fleet, Orders, Day, Events
and one Worker's timeline. Each takes rows from the read model and the session day."""

from __future__ import annotations

import json
from decimal import Decimal

from tradefleet.adapters.telemetry.redaction import redact, redact_text
from tradefleet.console.equity_svg import equity_svg
from tradefleet.console.html import esc, hms, pnl, query, select, table, won
from tradefleet.console.session_day import SessionDay, session_hours
from tradefleet.domain.calendar import SEOUL

OPEN_STATUSES = ("NEW", "SENT", "PARTIALLY_FILLED")
ALARM_STATUSES = ("UNKNOWN", "EXPIRED")


def unrealised(row: dict) -> int | None:
    if not row["qty"] or row["entry_price"] is None or row["last_price"] is None:
        return None
    return int((Decimal(row["last_price"]) - row["entry_price"]) * row["qty"])


def _controls(row: dict, sd: SessionDay) -> str:
    marks = []
    if row["buy_paused"]:
        marks.append('<span class="badge paused">buying paused</span>')
    if row["buy_blocked"]:
        marks.append(f'<span class="badge blocked">blocked: {esc(row["buy_blocked"])}</span>')
    asked = row["liquidate_requested_at"]       # written in session time (actions.py)
    asked = asked.astimezone(SEOUL) if asked is not None else None
    if asked is not None and asked.date() == sd.day:
        state = "liquidating" if row["qty"] else "liquidated"
        marks.append(f'<span class="badge {state}">{state} from {hms(asked)} '
                     f'({esc(row["liquidate_requested_by"])})</span>')
    return " ".join(marks)


def fleet_page(rows: list[dict], feed_holder: str | None, sd: SessionDay) -> str:
    body, classes = [], []
    for r in rows:
        open_qty = r["qty"] or 0
        body.append([
            f'<a href="/worker/{esc(r["worker_id"])}">{esc(r["worker_id"])}</a>',
            esc(r["status"]) + (" (stopped)" if r["stopped_at"] else ""),
            esc(r["position_symbol"] or r["current_symbol"] or ""),
            f'<span class="qty">{won(open_qty) if open_qty else ""}</span>',
            won(r["entry_price"]) if open_qty else "",
            won(r["last_price"]) if open_qty else "",
            pnl(unrealised(r)), pnl(r["realized_pnl"]), str(r["trades"]),
            f'{r["heartbeat_age"]:.1f} s', str(r["restarts"]), str(r["epoch"]),
            _feed_mode(r), _controls(r, sd)])
        classes.append(f'worker w-{esc(r["worker_id"])}' + (" holding" if open_qty else ""))
    total_u = sum(unrealised(r) or 0 for r in rows)
    total_r = sum(r["realized_pnl"] for r in rows)
    head = ["worker", "state", "symbol", "qty", "entry", "last", "unrealised", "realised today",
            "trades", "heartbeat age", "restarts", "epoch", "feed", "controls"]
    holder = f"feed held by {esc(feed_holder)}" if feed_holder else "no live feed holder"
    return (f'<h1>Fleet <small>{len(rows)} workers · unrealised {pnl(total_u)} · realised '
            f'{pnl(total_r)} won · {holder} · heartbeat ages by the database clock'
            '</small></h1>'
            + table(head, body, row_classes=classes, table_id="fleet"))


def _feed_mode(row: dict) -> str:
    """How this worker decides its exits, as it last said (``workers.feed_mode``): on each
    tick of the account's feed (live), or on its poll only (polling); "off": it runs without
    the feed, or has not said yet."""
    mode = row.get("feed_mode")
    return f'<span class="badge feed-{esc(mode)}">{esc(mode)}</span>' if mode else "off"


def _life(o: dict, sd: SessionDay) -> str:
    steps = [f"NEW {hms(sd.shown(o['created_at']))}"]
    if o["sent_at"]:
        steps.append(f"SENT {hms(sd.shown(o['sent_at']))}")
    if o["fills"]:
        steps.append(f"{o['fills']} fill{'s' if o['fills'] > 1 else ''} "
                     f"{hms(sd.shown(o['first_fill_at']))}")
    if o["status"] not in ("NEW", "SENT"):
        steps.append(f"{o['status']} {hms(sd.shown(o['updated_at']))}")
    return " → ".join(esc(s) for s in steps)


def orders_page(rows: list[dict], workers: list[str], symbols: list[str], worker: str | None,
                symbol: str | None, sd: SessionDay) -> str:
    body, classes = [], []
    for o in rows:
        avg = o["filled_amount"] // o["filled_qty"] if o["filled_qty"] else None
        why = redact_text(" ".join(x for x in (o["reject_code"], o["reject_message"]) if x))
        body.append([str(o["order_id"]), esc(o["worker_id"]), esc(o["symbol"]), esc(o["side"]),
                     esc(o["purpose"]), f'{won(o["filled_qty"])}/{won(o["qty"])}', won(avg),
                     f'<b>{esc(o["status"])}</b>', _life(o, sd), esc(why)])
        classes.append("alarm" if o["status"] in ALARM_STATUSES
                       else "open" if o["status"] in OPEN_STATUSES else "")
    form = (f'<form method="get" class="filters">{select("worker", workers, worker, "workers")}'
            f'{select("symbol", symbols, symbol, "symbols")}</form>')
    unknown = sum(1 for o in rows if o["status"] in ALARM_STATUSES)
    return (f'<h1>Orders <small>{len(rows)} today · {unknown} UNKNOWN/EXPIRED · '
            f'{esc(sd.clock_label)}</small></h1>{form}'
            + table(["id", "worker", "symbol", "side", "purpose", "filled/qty", "avg price",
                     "status", "life", "reject"], body, row_classes=classes,
                    table_id="orders"))


def _tuning(tuning: dict) -> str:
    """SC-011: the next day's tuning data, one line a key."""
    if not tuning:
        return ""
    return "<br>".join(f"<b>{esc(k)}</b>: {esc(json.dumps(v, default=str)[:300])}"
                       for k, v in sorted(tuning.items()))


def day_page(summaries: list[dict], closed: list[dict], sd: SessionDay) -> str:
    body = [[f'<a href="/worker/{esc(s["worker_id"])}">{esc(s["worker_id"])}</a>',
             pnl(s["realized_pnl"]), str(s["trades_count"]), str(s["win_count"]),
             str(s["loss_count"]),
             "" if s["win_rate"] is None else f'{float(s["win_rate"]) * 100:.0f}%',
             won(s["avg_pnl"]), pnl(s["max_loss"]), won(s["fees"]), won(s["taxes"]),
             _tuning(s["tuning"] or {})] for s in summaries]
    points = [(sd.shown(c["exit_at"]), int(c["realized_pnl"] or 0)) for c in closed]
    hours = session_hours(sd.day)
    opens, closes = (hours.open, hours.close) if hours else (None, None)
    total = sum(s["realized_pnl"] for s in summaries)
    trades = sum(s["trades_count"] for s in summaries)
    return (f'<h1>Day {esc(sd.day)} <small>realised {pnl(total)} won · {trades} trades</small>'
            f'</h1><h2>Equity curve <small>cumulative realised PnL, won; '
            f'{esc(sd.clock_label)}</small></h2>{equity_svg(points, opens, closes)}'
            '<h2>Daily summary <small>with the SC-011 tuning fields</small></h2>'
            + table(["worker", "realised", "trades", "wins", "losses", "win rate", "avg PnL",
                     "max loss", "fees", "taxes", "tuning (SC-011)"], body,
                    table_id="summary"))


def _event_rows(rows: list[dict], sd: SessionDay, with_worker: bool) -> list[list[str]]:
    out = []
    for e in rows:
        payload = e["payload"] if isinstance(e["payload"], dict) else json.loads(e["payload"])
        payload = redact(payload)          # events carry no secret; a page never shows one
        detail = ", ".join(f"{k}={v}" for k, v in payload.items() if v not in (None, "", []))
        cells = [hms(sd.shown(e["occurred_at"])), esc(e["event_type"])]
        if with_worker:
            cells.append(f'<a href="/worker/{esc(e["worker_id"])}">{esc(e["worker_id"])}</a>'
                         if e["worker_id"] else "")
        out.append([*cells, esc(e["symbol"]), esc(detail[:240])])
    return out


def events_page(rows: list[dict], workers: list[str], types: list[str], worker: str | None,
                event_type: str | None, sd: SessionDay) -> str:
    form = (f'<form method="get" class="filters">{select("worker", workers, worker, "workers")}'
            f'{select("type", types, event_type, "types")}</form>')
    return (f'<h1>Events <small>newest first · {esc(sd.clock_label)}</small></h1>{form}'
            + table(["time", "type", "worker", "symbol", "detail"],
                    _event_rows(rows, sd, True), table_id="events"))


def worker_page(worker_id: str, fleet_row: dict | None, rows: list[dict],
                sd: SessionDay) -> str:
    if fleet_row is None:
        return f"<h1>Worker {esc(worker_id)}</h1><p class='empty'>no such worker</p>"
    head = fleet_page([fleet_row], None, sd).split("</h1>", 1)[1]
    classes = ["risk" if "Risk" in e["event_type"] or "Liquidation" in e["event_type"]
               else "" for e in rows]
    return (f'<h1>Worker {esc(worker_id)} <small>timeline: state, locks, orders, fills, risk'
            f' · <a href="/orders{query(worker=worker_id)}">orders</a></small></h1>{head}'
            + table(["time", "event", "symbol", "detail"], _event_rows(rows, sd, False),
                    row_classes=classes, table_id="timeline"))
