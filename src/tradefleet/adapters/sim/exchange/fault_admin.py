"""``/_admin/faults``: arm, list and drop fault rules over HTTP (the market's ``FaultPlan``).

- ``POST /_admin/faults`` body ``{"operation", "kind", "count"?, "probability"?, "delay"?,
  "code"?, "message"?, "appkey"?, "worker"?, "seed"?}`` → 200 ``{"ok": true, "id": N,
  "rule": {...}}``; a body naming an unknown field, a wrong type or a rule that could never
  fire → 400 ``{"error": "<field>: ..."}`` and nothing is armed.
- ``GET /_admin/faults`` → ``{"rules": [{"id", ..., "remaining", "fired", "active"}]}``
  (spent rules included, so a test can read how often each fired);
  ``GET /_admin/faults/{id}`` → one rule (404 if unknown).
- ``DELETE /_admin/faults`` (``?operation=`` to drop one operation's rules) →
  ``{"ok": true, "cleared": N}``; ``DELETE /_admin/faults/{id}`` → ``{"ok": true}`` / 404."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from tradefleet.adapters.sim.faults import OPERATIONS, Fault, FaultPlan

PLAN = web.AppKey("fault_plan", FaultPlan)
FIELDS = ("operation", "kind", "count", "probability", "delay", "code", "message", "appkey",
          "worker", "seed")
# the path segments the simulator used to key faults by: a hint towards the operation names
_LEGACY = {"order-cash": "place_order", "order-rvsecncl": "cancel_order or modify_order",
           "inquire-daily-ccld": "get_order or find_orders", "inquire-balance": "get_balance",
           "inquire-psbl-order": "get_buyable_qty", "inquire-price": "get_quotes",
           "intstock-multprice": "get_quotes", "inquire-asking-price-exp-ccn": "get_quotes",
           "inquire-time-itemchartprice": "get_minute_bars", "tokenP": "authenticate"}


def _bad(message: str, status: int = 400) -> web.Response:
    return web.json_response({"error": message}, status=status)


def _number(body: dict[str, Any], name: str) -> float | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name}: expected a number or null, got {value!r}")
    return float(value)


def _integer(body: dict[str, Any], name: str) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name}: expected an integer or null, got {value!r}")
    return value


def _text(body: dict[str, Any], name: str, *, required: bool = False) -> str | None:
    value = body.get(name)
    if value is None:
        if required:
            raise ValueError(f"{name}: required")
        return None
    if not isinstance(value, str):
        raise ValueError(f"{name}: expected a string, got {value!r}")
    return value


def fault_from_json(body: object) -> Fault:
    """The rule a POST body describes, or ValueError naming the first bad field."""
    if not isinstance(body, dict):
        raise ValueError("body: expected a JSON object")
    unknown = sorted(set(body) - set(FIELDS))
    if unknown:
        raise ValueError(f"{unknown[0]}: unknown field; expected some of {list(FIELDS)}")
    operation = _text(body, "operation", required=True)
    if operation in _LEGACY:
        raise ValueError(f"operation: {operation!r} is a URL path; rules name the BrokerPort "
                         f"operation ({_LEGACY[operation]}); one of {list(OPERATIONS)}")
    return Fault(str(operation), str(_text(body, "kind", required=True)),
                 count=_integer(body, "count"), probability=_number(body, "probability"),
                 delay=_number(body, "delay"), code=_text(body, "code"),
                 message=_text(body, "message"), appkey=_text(body, "appkey"),
                 worker=_text(body, "worker"), seed=_integer(body, "seed"))


async def _post(request: web.Request) -> web.Response:
    try:
        body = await request.json()
    except ValueError:
        return _bad("body: not JSON")
    try:
        fault = fault_from_json(body)
    except ValueError as exc:
        return _bad(str(exc))
    plan = request.app[PLAN]
    rule_id = plan.arm(fault)
    state = plan.rule(rule_id)
    assert state is not None
    return web.json_response({"ok": True, "id": rule_id, "rule": state.as_json()})


async def _list(request: web.Request) -> web.Response:
    return web.json_response({"rules": [r.as_json() for r in request.app[PLAN].rules()]})


def _rule_id(request: web.Request) -> int | None:
    raw = request.match_info["rule_id"]
    return int(raw) if raw.isdigit() else None


async def _get_one(request: web.Request) -> web.Response:
    rule_id = _rule_id(request)
    state = request.app[PLAN].rule(rule_id) if rule_id is not None else None
    if state is None:
        return _bad(f"id: no rule {request.match_info['rule_id']!r}", status=404)
    return web.json_response(state.as_json())


async def _clear(request: web.Request) -> web.Response:
    operation = request.query.get("operation")
    try:
        cleared = request.app[PLAN].clear(operation)
    except ValueError as exc:
        return _bad(str(exc))
    return web.json_response({"ok": True, "cleared": cleared})


async def _delete_one(request: web.Request) -> web.Response:
    rule_id = _rule_id(request)
    if rule_id is None or not request.app[PLAN].remove(rule_id):
        return _bad(f"id: no rule {request.match_info['rule_id']!r}", status=404)
    return web.json_response({"ok": True})


def add_fault_routes(app: web.Application, plan: FaultPlan) -> None:
    app[PLAN] = plan
    app.router.add_post("/_admin/faults", _post)
    app.router.add_get("/_admin/faults", _list)
    app.router.add_delete("/_admin/faults", _clear)
    app.router.add_get("/_admin/faults/{rule_id}", _get_one)
    app.router.add_delete("/_admin/faults/{rule_id}", _delete_one)
