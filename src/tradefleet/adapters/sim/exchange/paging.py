"""KIS continuation paging for the account inquiries (daily fills, balance, modifiable
orders).

The rules as KIS states them: a first request sends ``tr_cont`` blank and empty
``CTX_AREA_FK100``/``CTX_AREA_NK100``; the answer's ``tr_cont`` header is ``M`` while more pages
follow and ``D`` on the last one (clients loop on "F or M", some on ``M`` alone, so ``M`` is
what a first page with more to come carries); the next request sends header ``tr_cont: N``
and copies both context fields back. A request that breaks the rules is refused naming the
field, rather than silently answered with page 1: continuation keys without ``tr_cont: N``,
``N`` with a key this inquiry never issued, or a search key (FK100) from another query."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from tradefleet.adapters.sim.exchange.payloads import pad_ctx
from tradefleet.adapters.sim.exchange.replies import bad_input

MORE, LAST = "M", "D"


@dataclass(frozen=True)
class Page:
    rows: list[dict[str, str]]
    ctx: dict[str, str]         # ctx_area_fk100 / ctx_area_nk100 for the answer
    tr_cont: str                # the answer's header


def page_of(rows: list[dict[str, str]], query: dict[str, str], request: web.Request,
            size: int, search: str) -> Page | web.Response:
    """Rows ``[start, start + size)`` of ``rows``; ``search`` identifies the query (echoed in
    FK100 and checked on continuation)."""
    cont = request.headers.get("tr_cont", "").strip().upper()
    fk = query.get("CTX_AREA_FK100", "").strip()
    nk = query.get("CTX_AREA_NK100", "").strip()
    start = 0
    if cont == "N":
        if nk:
            if not nk.isdigit() or int(nk) <= 0 or int(nk) > len(rows):
                return bad_input("CTX_AREA_NK100", f"no such continuation key {nk!r}")
            if fk and fk != search:
                return bad_input("CTX_AREA_FK100", "search key of another query; copy it "
                                                   "from the previous answer")
            start = int(nk)
    elif cont:
        return bad_input("tr_cont", f"expected blank or N, got {cont!r}")
    elif nk:
        return bad_input("tr_cont", "continuation keys sent without tr_cont: N")
    end = start + size
    more = end < len(rows)
    ctx = {"ctx_area_fk100": pad_ctx(search), "ctx_area_nk100": pad_ctx(str(end) if more
                                                                         else "")}
    return Page(rows[start:end], ctx, MORE if more else LAST)
