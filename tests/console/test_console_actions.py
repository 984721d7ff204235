"""Actions go through the authority that already exists: locally the console writes the
operator's own ``worker_controls`` rows, in one transaction with a ConsoleActionEvent naming
who asked and why; bad requests write nothing."""

from __future__ import annotations

from tests.console.console_client import served, sign_in
from tests.console.console_seed import DAY, seed_day

from tradefleet.adapters.postgres.worker_controls_store import read_controls


async def _act(http, csrf: str, **form: str) -> tuple[int, dict]:
    async with http.post("/actions", data={"csrf": csrf, **form}) as resp:
        return resp.status, await resp.json()


async def _action_events(db) -> list[dict]:
    rows = await db.pool.fetch("SELECT worker_id, payload FROM events "
                               "WHERE event_type = 'ConsoleActionEvent' ORDER BY event_id")
    return [{"worker": r["worker_id"], **r["payload"]} for r in rows]


async def test_pause_resume_and_liquidate_write_worker_controls_and_events(db):
    async with db.pool.acquire() as conn:
        await seed_day(conn)
    async with served(db, day=DAY) as (_, http):
        csrf = await sign_in(http, "kim")
        status, answer = await _act(http, csrf, action="pause", worker="w2",
                                    reason="w2 keeps buying into a falling market")
        assert status == 200 and answer["workers"] == [
            {"worker": "w2", "changed": True, "via": "worker_controls"}]
        assert (await read_controls(db.pool, "w2")).buy_paused
        assert not (await read_controls(db.pool, "w1")).buy_paused
        await _act(http, csrf, action="resume", worker="w2", reason="news passed")
        assert not (await read_controls(db.pool, "w2")).buy_paused
        status, _ = await _act(http, csrf, action="liquidate", worker="w1", reason="flatten")
        assert status == 200
        w1 = await read_controls(db.pool, "w1")
        assert w1.liquidate_requested_at is not None
        assert w1.liquidate_requested_by == "console/kim"
        status, answer = await _act(http, csrf, action="pause", reason="halt the fleet")
        assert [w["worker"] for w in answer["workers"]] == ["w1", "w2", "w3"]
        assert all([(await read_controls(db.pool, w)).buy_paused for w in ("w1", "w2", "w3")])
    events = await _action_events(db)
    assert [(e["worker"], e["action"], e["by"], e["reason"]) for e in events[:3]] == [
        ("w2", "pause", "kim", "w2 keeps buying into a falling market"),
        ("w2", "resume", "kim", "news passed"), ("w1", "liquidate", "kim", "flatten")]
    assert len(events) == 6


async def test_an_action_without_a_reason_or_for_an_unknown_worker_writes_nothing(db):
    async with db.pool.acquire() as conn:
        await seed_day(conn)
    async with served(db, day=DAY) as (_, http):
        csrf = await sign_in(http)
        for form in ({"action": "pause", "worker": "w1", "reason": "  "},
                     {"action": "pause", "worker": "w9", "reason": "x"},
                     {"action": "sell-everything", "worker": "w1", "reason": "x"}):
            status, answer = await _act(http, csrf, **form)
            assert status == 400 and not answer["ok"], form
            field = "reason" if form["reason"].strip() == "" else (
                "worker" if form["worker"] == "w9" else "action")
            assert answer["error"].startswith(field), answer
    assert await db.pool.fetchval("SELECT count(*) FROM worker_controls") == 0
    assert await _action_events(db) == []
