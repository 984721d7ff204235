"""The console's web application: the pages, the live stream, sign-in and the actions."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path

from aiohttp import web

from tradefleet.adapters.postgres.database import Database
from tradefleet.adapters.telemetry.redaction import redact
from tradefleet.console import pages
from tradefleet.console.actions import ActionAuthority, ActionRefused, check_request
from tradefleet.console.auth import ConsoleAuth, Forbidden
from tradefleet.console.html import esc, frame
from tradefleet.console.live import ChangeFeed
from tradefleet.console.read_model import ReadModel
from tradefleet.console.session_day import SessionDay, current_day

STATIC = Path(__file__).with_name("static")
WORKER_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
SYMBOL = re.compile(r"^[0-9A-Z]{6}$")
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")


def _param(request: web.Request, name: str, pattern: re.Pattern[str]) -> str | None:
    value = request.query.get(name) or None
    if value is not None and not pattern.match(value):
        raise web.HTTPBadRequest(text=f"{name}: not a valid value")
    return value


@web.middleware
async def _headers(request: web.Request, handler):  # noqa: ANN001, ANN202 - aiohttp's shape
    resp = await handler(request)
    resp.headers.setdefault("Content-Security-Policy", CSP)
    resp.headers.setdefault("X-Content-Type-Options", "nosniff")
    resp.headers.setdefault("Referrer-Policy", "same-origin")
    resp.headers.setdefault("Cache-Control", "no-store")
    return resp


class ConsoleApp:
    def __init__(self, db: Database, auth: ConsoleAuth, authority: ActionAuthority | None,
                 *, day: date | None = None, poll_interval: float = 0.1) -> None:
        self.db = db
        self.auth = auth
        self.authority = authority
        self.read = ReadModel(db)
        self.live = ChangeFeed(db, poll_interval)
        self._day = day

    def build(self) -> web.Application:
        app = web.Application(middlewares=[_headers], client_max_size=64 * 1024)
        app.add_routes([
            web.get("/", self.fleet), web.get("/orders", self.orders),
            web.get("/day", self.day), web.get("/events", self.events),
            web.get("/worker/{worker_id}", self.worker), web.get("/live", self.live.stream),
            web.get("/api/fleet", self.api_fleet), web.get("/healthz", self.health),
            web.get("/login", self.login_form), web.post("/login", self.login),
            web.post("/logout", self.logout), web.post("/actions", self.act),
            web.static("/static", STATIC)])
        app.on_startup.append(lambda _: self.live.start())
        app.on_cleanup.append(lambda _: self.live.stop())
        return app

    async def _sd(self) -> SessionDay:
        return await current_day(self.db, self._day)

    def _page(self, request: web.Request, title: str, content: str, sd: SessionDay,
              workers: list[str] | None = None) -> web.Response:
        if request.headers.get("X-Fragment") == "1":
            return web.Response(text=content, content_type="text/html")
        actor = self.auth.session(request)
        bar = _action_bar(workers or [], request.query.get("worker") or
                          request.match_info.get("worker_id"), actor.csrf or "") if actor else ""
        body = frame(title, request.path, content, day=str(sd.day),
                     signed_in=actor.name if actor else None,
                     csrf=actor.csrf if actor else None)
        return web.Response(text=body.replace('<div id="flash"', bar + '<div id="flash"', 1),
                            content_type="text/html")

    async def fleet(self, request: web.Request) -> web.Response:
        sd = await self._sd()
        rows = await self.read.fleet(sd.day)
        content = pages.fleet_page(rows, await self.read.feed_holder(), sd)
        return self._page(request, "Fleet", content, sd, [r["worker_id"] for r in rows])

    async def orders(self, request: web.Request) -> web.Response:
        sd = await self._sd()
        worker, symbol = _param(request, "worker", WORKER_ID), _param(request, "symbol", SYMBOL)
        rows = await self.read.orders(sd.day, worker, symbol)
        workers = await self.read.worker_ids()
        content = pages.orders_page(rows, workers, await self.read.order_symbols(sd.day),
                                    worker, symbol, sd)
        return self._page(request, "Orders", content, sd, workers)

    async def day(self, request: web.Request) -> web.Response:
        sd = await self._sd()
        content = pages.day_page(await self.read.summaries(sd.day),
                                 await self.read.closed_trades(sd.day), sd)
        return self._page(request, "Day", content, sd, await self.read.worker_ids())

    async def events(self, request: web.Request) -> web.Response:
        sd = await self._sd()
        worker = _param(request, "worker", WORKER_ID)
        event_type = _param(request, "type", re.compile(r"^[A-Z][A-Za-z]+Event$"))
        workers = await self.read.worker_ids()
        content = pages.events_page(await self.read.events(worker, event_type), workers,
                                    await self.read.event_types(), worker, event_type, sd)
        return self._page(request, "Events", content, sd, workers)

    async def worker(self, request: web.Request) -> web.Response:
        wid = request.match_info["worker_id"]
        if not WORKER_ID.match(wid):
            raise web.HTTPBadRequest(text="worker: not a valid worker id")
        sd = await self._sd()
        row = next((r for r in await self.read.fleet(sd.day) if r["worker_id"] == wid), None)
        content = pages.worker_page(wid, row, await self.read.timeline(wid), sd)
        return self._page(request, f"Worker {wid}", content, sd, [wid])

    async def api_fleet(self, request: web.Request) -> web.Response:
        sd = await self._sd()
        rows = await self.read.fleet(sd.day)
        out = [redact({**r, "unrealised_pnl": pages.unrealised(r)}) for r in rows]
        return web.json_response({"trading_day": str(sd.day), "workers": out},
                                 dumps=lambda o: json.dumps(o, default=str))

    async def health(self, request: web.Request) -> web.Response:
        await self.db.pool.fetchval("SELECT 1")
        return web.Response(text="ok")

    async def login_form(self, request: web.Request) -> web.Response:
        sd = await self._sd()
        note = ("" if self.auth.can_act else
                "<p class='alarm'>This console has no action token: it is read-only.</p>")
        content = (f"<h1>Sign in to act</h1>{note}<form method='post' action='/login' "
                   "class='login'><label>your name <input name='name' required "
                   "maxlength='40' autocomplete='username'></label><label>console token "
                   "<input name='token' type='password' required "
                   "autocomplete='current-password'></label><button>sign in</button></form>")
        return self._page(request, "Sign in", content, sd)

    async def login(self, request: web.Request) -> web.Response:
        self.auth.check_origin(request)
        form = await request.post()
        name = " ".join(str(form.get("name", "")).split())[:40]
        if not name or not self.auth.token_matches(str(form.get("token", ""))):
            raise web.HTTPUnauthorized(text="wrong token, or no name given")
        resp = web.HTTPSeeOther("/")
        self.auth.sign_in(resp, name)
        raise resp

    async def logout(self, request: web.Request) -> web.Response:
        self.auth.check_origin(request)
        resp = web.HTTPSeeOther("/")
        self.auth.sign_out(request, resp)
        raise resp

    async def act(self, request: web.Request) -> web.Response:
        form = {k: str(v) for k, v in (await request.post()).items()}
        actor = self.auth.actor(request, form)
        if self.authority is None:
            raise Forbidden("this console cannot act here")
        try:
            reason = check_request(form.get("action", ""), form.get("reason", ""))
            target = form.get("worker", "")
            known = await self.read.worker_ids()
            if target and target not in known:
                raise ValueError(f"worker: no worker {target!r}")
            results = await self.authority.apply(form["action"], [target] if target else known,
                                                 actor.name, reason, await self._sd())
        except (ValueError, ActionRefused) as exc:
            return web.json_response({"ok": False, "error": str(exc)}, status=400)
        return web.json_response({"ok": True, "action": form["action"], "by": actor.name,
                                  "reason": reason,
                                  "workers": [{"worker": r.worker_id, "changed": r.changed,
                                               "via": r.via} for r in results]})


def _action_bar(workers: list[str], chosen: str | None, csrf: str) -> str:
    opts = "".join(f'<option value="{esc(w)}"{" selected" if w == chosen else ""}>{esc(w)}'
                   "</option>" for w in workers)
    return ('<form id="actions" method="post" action="/actions" class="actions">'
            f'<input type="hidden" name="csrf" value="{esc(csrf)}">'
            '<select name="worker"><option value="">all workers</option>' + opts +
            '</select><input name="reason" placeholder="reason (recorded)" required '
            'maxlength="200"><button name="action" value="pause">Pause buying</button>'
            '<button name="action" value="resume">Resume</button>'
            '<button name="action" value="liquidate" class="danger" data-confirm="Liquidate '
            'now? Every share the chosen worker(s) hold is sold at the market.">Liquidate now'
            '</button></form>')
