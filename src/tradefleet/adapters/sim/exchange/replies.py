"""How the simulator answers, KIS-style: every value a string, ``msg1`` space-padded, a
business rejection as HTTP 200 with ``rt_cd`` ≠ "0", a malformed input as KIS's own
``OPSQ2001`` "ERROR : INPUT_FIELD_NAME <field>" (our reason after it, naming the field)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from tradefleet.adapters.sim.exchange.payloads import envelope

BAD_INPUT = "OPSQ2001"      # KIS: ERROR : INPUT_FIELD_NAME <field>


def reply(body: dict[str, Any], status: int = 200, tr_cont: str = "D") -> web.Response:
    """A JSON answer; ``tr_cont`` is the response header (M = more pages, D = the last)."""
    resp = web.json_response(body, status=status)
    resp.headers["tr_cont"] = tr_cont
    return resp


def reject(code: str, message: str, rt_cd: str = "1", status: int = 200) -> web.Response:
    return reply(envelope(code, message, rt_cd=rt_cd), status=status)


def bad_input(field: str, why: str) -> web.Response:
    return reject(BAD_INPUT, f"ERROR : INPUT_FIELD_NAME {field} ({why})")


def query_of(request: web.Request) -> dict[str, str]:
    """GET parameters by UPPERCASE name (KIS reads them case-insensitively)."""
    return {k.upper(): v for k, v in request.query.items()}
