"""The console is read-only without credentials; an action needs the token (bearer, or a
signed-in session plus its CSRF token from this origin); no page or API answer shows a secret;
it binds to loopback unless told otherwise."""

from __future__ import annotations

import re

from tests.console.console_client import TOKEN, served, sign_in
from tests.console.console_seed import ACCOUNT_NO, DAY, SECRET_TOKEN_CIPHER, seed_day

PAGES = ("/", "/orders", "/day", "/events", "/worker/w1", "/api/fleet", "/login",
         "/events?type=BrokerCallFailedEvent", "/orders?worker=w2")
# what a leak looks like: our own secrets by value, and credentials by shape
# (a value masked as *** is no leak)
LEAKS = [re.compile(p) for p in (
    r"(?i)app_?key\W{0,3}[:=]\s*(?!\*{3})\S", r"(?i)app_?secret\W{0,3}[:=]\s*(?!\*{3})\S",
    r"(?i)access_token\W{0,3}[:=]\s*(?!\*{3})\S", r"(?i)bearer\s+[A-Za-z0-9._-]{8,}",
    r"(?<!\d)\d{8}-?\d{2}(?!\d)")]


async def _plant_secrets(db) -> None:
    """A broker call whose event (wrongly) carries an account number and an appsecret."""
    await db.pool.execute(
        "INSERT INTO events (event_type, worker_id, payload) VALUES "
        "('BrokerCallFailedEvent', 'w1', $1)",
        {"endpoint": "order", "appsecret": "s3cr3t-planted-value", "cano": ACCOUNT_NO,
         "error": f"account {ACCOUNT_NO} refused; appkey=PLANTEDKEY123"})
    await db.pool.execute(
        "UPDATE orders SET reject_message = $1 WHERE client_order_id = 'c-3'",
        f"bearer eyJplanted.token.value for {ACCOUNT_NO}")


async def _post(http, data: dict, headers: dict | None = None) -> int:
    async with http.post("/actions", data=data, headers=headers or {}) as resp:
        return resp.status


async def test_actions_need_the_token_and_csrf_and_this_origin(db):
    async with db.pool.acquire() as conn:
        await seed_day(conn)
    form = {"action": "pause", "worker": "w1", "reason": "test"}
    async with served(db, day=DAY) as (_, http):
        assert await _post(http, form) == 401                                   # nobody
        assert await _post(http, form, {"Authorization": "Bearer wrong-token"}) == 401
        async with http.post("/login", data={"name": "eve", "token": "guess"},
                             allow_redirects=False) as resp:
            assert resp.status == 401
        csrf = await sign_in(http)
        assert await _post(http, form) == 403                                   # no CSRF
        assert await _post(http, {**form, "csrf": csrf[:-1] + "x"}) == 403       # wrong CSRF
        assert await _post(http, {**form, "csrf": csrf},
                           {"Origin": "http://evil.example"}) == 403            # other site
        assert await db.pool.fetchval("SELECT count(*) FROM worker_controls") == 0
        assert await _post(http, {**form, "csrf": csrf}) == 200
        assert await _post(http, {**form, "action": "resume"},
                           {"Authorization": f"Bearer {TOKEN}"}) == 200          # a script
    by = await db.pool.fetch("SELECT payload->>'by' AS by FROM events "
                             "WHERE event_type = 'ConsoleActionEvent' ORDER BY event_id")
    assert by[0]["by"] == "kim" and by[1]["by"].startswith("bearer@")


async def test_without_a_token_the_console_is_read_only(db):
    async with db.pool.acquire() as conn:
        await seed_day(conn)
    async with served(db, day=DAY, token=None) as (server, http):
        async with http.get("/") as resp:
            assert resp.status == 200 and 'id="actions"' not in await resp.text()
        assert await _post(http, {"action": "pause", "reason": "x"},
                           {"Authorization": "Bearer anything-at-all"}) == 403
        assert server.host == "127.0.0.1"                 # loopback unless told otherwise
        assert await db.pool.fetchval("SELECT count(*) FROM worker_controls") == 0


async def test_no_page_or_api_answer_shows_a_secret(db):
    async with db.pool.acquire() as conn:
        await seed_day(conn)
    await _plant_secrets(db)
    async with served(db, day=DAY) as (_, http):
        for signed_in in (False, True):
            if signed_in:
                await sign_in(http)
            for path in PAGES:
                async with http.get(path) as resp:
                    assert resp.status == 200, path
                    text = await resp.text() + str(dict(resp.headers))
                for secret in (TOKEN, SECRET_TOKEN_CIPHER, ACCOUNT_NO, "s3cr3t-planted-value",
                               "PLANTEDKEY123", "eyJplanted"):
                    assert secret not in text, (path, secret)
                for leak in LEAKS:
                    assert not leak.search(text), (path, leak.pattern, leak.search(text))
                assert "Content-Security-Policy" in resp.headers
        async with http.get("/events?type=BrokerCallFailedEvent") as resp:
            assert "BrokerCallFailedEvent" in await resp.text()     # shown, masked
