"""Who may act. Reading needs nothing; an action needs the console's token, either as
``Authorization: Bearer`` (scripts) or through a sign-in that sets an HttpOnly, SameSite=Strict
session cookie (the browser). A cookie-borne action must also carry the session's CSRF token
(synchronizer token in the form) and, when the browser sends one, an Origin of this host.
The token itself is never echoed into a page, a header or a log."""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from aiohttp import web

COOKIE = "tf_console_session"
MAX_SESSIONS = 1000


@dataclass(frozen=True)
class Actor:
    name: str
    csrf: str | None          # None: a bearer request (no cookie, so no CSRF to fear)


class Forbidden(web.HTTPForbidden):
    def __init__(self, why: str) -> None:
        super().__init__(text=why)


@dataclass
class ConsoleAuth:
    token: str | None                         # None: nobody may act (read-only console)
    secure_cookie: bool = False
    _sessions: dict[str, Actor] = field(default_factory=dict)

    @property
    def can_act(self) -> bool:
        return bool(self.token)

    def token_matches(self, given: str) -> bool:
        return bool(self.token) and hmac.compare_digest(given.encode(), self.token.encode())

    def sign_in(self, response: web.StreamResponse, name: str) -> Actor:
        if len(self._sessions) >= MAX_SESSIONS:
            self._sessions.pop(next(iter(self._sessions)))
        session_id = secrets.token_urlsafe(32)
        actor = Actor(name, secrets.token_urlsafe(32))
        self._sessions[session_id] = actor
        response.set_cookie(COOKIE, session_id, httponly=True, samesite="Strict",
                            secure=self.secure_cookie, path="/")
        return actor

    def sign_out(self, request: web.Request, response: web.StreamResponse) -> None:
        self._sessions.pop(request.cookies.get(COOKIE, ""), None)
        response.del_cookie(COOKIE, path="/")

    def session(self, request: web.Request) -> Actor | None:
        """The signed-in browser's actor, for showing who is signed in (not for acting)."""
        return self._sessions.get(request.cookies.get(COOKIE, ""))

    def actor(self, request: web.Request, form: dict[str, str]) -> Actor:
        """Who asks for this action; raises Forbidden (403) or HTTPUnauthorized (401)."""
        if not self.can_act:
            raise Forbidden("this console is read-only: no action token is configured")
        bearer = request.headers.get("Authorization", "")
        if bearer.startswith("Bearer "):
            if not self.token_matches(bearer[7:].strip()):
                raise web.HTTPUnauthorized(text="wrong token")
            by = request.headers.get("X-Console-User", "").strip()[:64] or "bearer"
            return Actor(f"{by}@{request.remote}", None)
        actor = self.session(request)
        if actor is None:
            raise web.HTTPUnauthorized(text="sign in first (or send a bearer token)")
        self.check_origin(request)
        if not hmac.compare_digest(form.get("csrf", "").encode(), (actor.csrf or "").encode()):
            raise Forbidden("CSRF token missing or wrong: reload the page")
        return actor

    @staticmethod
    def check_origin(request: web.Request) -> None:
        """A browser names the page a POST came from; it must be this console."""
        origin = request.headers.get("Origin") or request.headers.get("Referer")
        if origin and urlsplit(origin).netloc != request.host:
            raise Forbidden(f"cross-origin request from {urlsplit(origin).netloc!r} refused")
