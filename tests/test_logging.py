"""Spec §6: levels per event type, mandatory fields, JSON lines, and secrets never logged."""

from __future__ import annotations

import io
import json
import logging
from datetime import UTC, datetime

import pytest
import structlog

from tradefleet.adapters.telemetry.logging import (
    configure_logging,
    get_logger,
    log_event,
    register_secret,
)
from tradefleet.domain import events as ev

NOW = datetime(2026, 11, 24, 9, 5, tzinfo=UTC)


@pytest.fixture
def captured():
    """Configure JSON logging into a buffer; return a function giving the parsed lines."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    buf = io.StringIO()
    configure_logging(json_output=True, level="DEBUG", stream=buf)

    def lines() -> list[dict]:
        # pytest-asyncio's loop set-up says which selector it uses (asyncio, DEBUG)
        return [parsed for parsed in (json.loads(line) for line in buf.getvalue().splitlines()
                                      if line.strip())
                if not (parsed.get("logger") == "asyncio"
                        and parsed["event"].startswith("Using selector"))]

    yield lines
    root.handlers[:], root.level = saved
    structlog.reset_defaults()


# (event, level spec §6.1 gives it, fields spec §6.2 requires on its line)
CASES = [
    (ev.WorkerStartedEvent(worker_id="w1", pid=42, host="h", status="IDLE", epoch=1,
                           capital_limit=1_000_000, daily_loss_limit=50_000),
     "info", {"worker_id": "w1", "pid": 42, "status": "IDLE"}),
    (ev.WorkerStoppedEvent(worker_id="w1", pid=42, status="STOPPED", reason="signal"),
     "info", {"worker_id": "w1", "pid": 42, "status": "STOPPED"}),
    (ev.StateTransitionedEvent(worker_id="w1", symbol="005930", from_status="IDLE",
                               to_status="SCANNING"),
     "info", {"from_status": "IDLE", "to_status": "SCANNING"}),
    (ev.LockAcquiredEvent(worker_id="w1", symbol="005930", fencing_token=7, locked_at=NOW,
                          ttl_seconds=30),
     "info", {"symbol": "005930", "worker_id": "w1", "locked_at": NOW,
              "fencing_token": 7}),
    (ev.LockRejectedEvent(worker_id="w2", symbol="005930", held_by="w1"),
     "warning", {"symbol": "005930", "worker_id": "w2"}),
    (ev.OrderSentEvent(worker_id="w1", symbol="005930", order_id=11, client_order_id="c-1",
                       broker_order_id="0000012345", side="BUY", qty=3, status="SENT"),
     "info", {"order_id": 11, "symbol": "005930", "side": "BUY", "qty": 3, "status": "SENT",
              "broker_order_id": "0000012345"}),
    (ev.OrderFilledEvent(worker_id="w1", symbol="005930", order_id=11, fill_id=5, side="BUY",
                         price="71500", qty=3, cumulative_qty=3, status="FILLED"),
     "info", {"fill_id": 5, "symbol": "005930", "price": "71500", "qty": 3}),
    (ev.OrderRejectedEvent(worker_id="w1", symbol="005930", order_id=11, client_order_id="c-1",
                           side="BUY", qty=3, status="REJECTED", code="APBK0952",
                           reason="insufficient funds"),
     "warning", {"order_id": 11, "symbol": "005930", "side": "BUY", "qty": 3,
                 "status": "REJECTED"}),
    (ev.OrderUnfilledEvent(worker_id="w1", symbol="005930", order_id=11, side="SELL", qty=3,
                           filled_qty=1, unfilled_qty=2, attempt=1, will_retry=True),
     "warning", {"order_id": 11, "symbol": "005930", "side": "SELL", "qty": 3}),
    (ev.PnlCalculatedEvent(worker_id="w1", symbol="005930", position_id=3, pnl=-1200,
                           result="loss", gross=-800, fees=100, taxes=300),
     "info", {"pnl": -1200, "result": "loss"}),
    (ev.RiskViolationEvent(worker_id="w1", rule="DAILY_LOSS_LIMIT", detail="over"),
     "warning", {"rule": "DAILY_LOSS_LIMIT"}),
    (ev.BrokerCallFailedEvent(worker_id="w1", operation="quote", error_type="BrokerTimeout",
                              error="timed out", attempts=3),
     "error", {"error_type": "BrokerTimeout"}),
    (ev.WorkerFailedEvent(worker_id="w3", last_heartbeat_at=NOW, locks_reclaimed=2),
     "error", {"worker_id": "w3", "locks_reclaimed": 2}),
]


@pytest.mark.parametrize(("event", "level", "required"), CASES,
                         ids=[type(c[0]).__name__ for c in CASES])
def test_event_line_has_spec_level_and_mandatory_fields(captured, event, level, required):
    log_event(event, component="runner")
    [line] = captured()
    assert line["level"] == level
    assert line["event"] == line["event_type"] == type(event).__name__
    assert line["message"] == type(event).message
    assert line["component"] == "runner"
    for key, value in required.items():
        got = line[key]
        if isinstance(value, datetime):
            got = datetime.fromisoformat(got.replace("Z", "+00:00"))
        assert got == value, key
    ts = datetime.fromisoformat(line["ts"].replace("Z", "+00:00"))
    assert ts.tzinfo is not None
    assert abs((datetime.now(UTC) - ts).total_seconds()) < 60


def test_error_line_carries_type_and_stack_trace(captured):
    def fail():
        raise TimeoutError("KIS did not answer")

    try:
        fail()
    except TimeoutError:
        get_logger(worker_id="w1").error("broker call failed", exc_info=True)
    [line] = captured()
    assert line["level"] == "error" and line["worker_id"] == "w1"
    assert line["error_type"] == "TimeoutError"
    assert "Traceback" in line["stack"] and "in fail" in line["stack"]
    assert "exception" not in line


def test_error_line_inside_except_carries_the_handled_exception(captured):
    """No exc_info given: an ERROR line written while an exception is handled still gets
    its type and stack; a warning does not, nor an error line outside any except block,
    nor one that says exc_info=False."""
    def fail():
        raise ConnectionResetError("database went away")

    log = get_logger(worker_id="w1")
    try:
        fail()
    except ConnectionResetError:
        log.error("poll failed")
        log.warning("retrying")
        log.error("quiet", exc_info=False)
    log.error("no exception here")
    first, warn, quiet, outside = captured()
    assert first["error_type"] == "ConnectionResetError"
    assert "in fail" in first["stack"] and "database went away" in first["stack"]
    for line in (warn, quiet, outside):
        assert "stack" not in line and "error_type" not in line


def test_stack_trace_is_redacted(captured):
    secret = "Zr8-registered-secret-in-a-traceback"
    register_secret(secret)

    def fail():
        raise RuntimeError(f"token {secret} refused")

    try:
        fail()
    except RuntimeError:
        get_logger().error("auth failed")
    [line] = captured()
    assert "in fail" in line["stack"] and secret not in line["stack"]


SECRETS = {
    "bearer": ("Authorization: Bearer abcDEF123.token-value", "abcDEF123.token-value"),
    "jwt": ("tok eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJrZXkifQ.c2lnbmF0dXJlLXBhcnQ end",
            "eyJhbGciOiJIUzI1NiJ9"),
    "account_dash": ("account 50123456-01 used", "50123456-01"),
    "account_plain": ("acct=5012345601 used", "5012345601"),
    "appkey_query": ("POST /oauth2?appkey=PSabcdefghijk&x=1", "PSabcdefghijk"),
}


@pytest.mark.parametrize("kind", list(SECRETS))
def test_secret_shapes_are_masked_everywhere(captured, kind):
    text, secret = SECRETS[kind]
    log = get_logger(worker_id="w1")
    log.info(text)                                            # the message itself
    log.info("nested", request={"headers": {"x": [text]}})    # deep inside a structure
    log.warning("positional %s", text)                        # positional argument
    try:
        raise RuntimeError(text)
    except RuntimeError:
        log.error("failed", exc_info=True)                    # exception message
    lines = captured()
    assert len(lines) == 4
    raw = json.dumps(lines)
    assert secret not in raw
    assert "***" in raw


def test_secret_keys_are_masked_but_ordinary_fields_are_not(captured):
    get_logger().info("kis call", appkey="PSkey", appsecret="sec", access_token="tk",
                      token="t2", authorization="Bearer x", approval_key="ak", CANO="50123456",
                      account="50123456-01", mode="real",
                      body={"appsecret": "sec2", "ACNT_PRDT_CD": "01", "qty": 3},
                      fencing_token=12, token_expires_at="2026-11-24T10:00:00+09:00",
                      order_id=11, broker_order_id="0000012345")
    [line] = captured()
    for key in ("appkey", "appsecret", "access_token", "token", "authorization",
                "approval_key", "CANO", "account", "mode"):
        assert line[key] == "***", key
    assert line["body"]["appsecret"] == "***"
    assert line["body"]["qty"] == 3
    assert line["fencing_token"] == 12
    assert line["token_expires_at"] == "2026-11-24T10:00:00+09:00"
    assert line["broker_order_id"] == "0000012345"


def test_registered_secret_values_are_masked(captured):
    decrypted = "Xq9-registered-appsecret-value"
    register_secret(decrypted)
    get_logger().info(f"debug dump {decrypted}", extra={"k": decrypted})
    [line] = captured()
    assert decrypted not in json.dumps(line)


def test_stdlib_logger_lines_go_through_redaction(captured):
    logging.getLogger("aiohttp.client").warning(
        "request failed: %s", "Authorization: Bearer s3cr3t-token for 50123456-01")
    [line] = captured()
    assert line["logger"] == "aiohttp.client"
    assert line["level"] == "warning"
    assert "ts" in line
    assert "s3cr3t-token" not in line["event"] and "50123456" not in line["event"]
    assert "request failed" in line["event"]


def test_console_renderer_in_terminal_and_still_redacted():
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    buf = Tty()
    try:
        configure_logging(stream=buf)
        get_logger().info("login", appsecret="plain-secret-text", symbol="005930")
    finally:
        root.handlers[:], root.level = saved
        structlog.reset_defaults()
    out = buf.getvalue()
    assert "login" in out and "005930" in out
    assert "plain-secret-text" not in out
    with pytest.raises(json.JSONDecodeError):
        json.loads(out)


async def test_the_broker_access_token_is_masked_once_the_client_has_used_it(logs):
    """A simulator token is no JWT (the shape the redaction patterns know): the client
    registers every token it sends, so a line that carries one never shows it."""
    import structlog
    from tests.kis_harness import rig

    async with rig() as r:
        await r.broker.get_balance()
        token = await r.tokens.get()
        structlog.get_logger("test").warning("echo", detail=f"server said {token}")
    assert token not in logs.text and "server said" in logs.text


def test_a_line_below_the_level_is_not_written_and_any_other_chain_hears_it_all() -> None:
    """At level error an info event's line is not written (nor built); a warning event's
    is, at level warning. A chain other than ours (structlog's capture: no level filter)
    hears an info event whatever the stdlib level is."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    started = CASES[0][0]
    rejected = next(e for e, level, _ in CASES if level == "warning")
    try:
        buf = io.StringIO()
        configure_logging(json_output=True, level="error", stream=buf)
        log_event(started)
        assert buf.getvalue() == ""
        configure_logging(json_output=True, level="warning", stream=buf)
        log_event(started)
        log_event(rejected)
        assert [json.loads(x)["event"] for x in buf.getvalue().splitlines()] == [
            type(rejected).__name__]
        root.setLevel(logging.ERROR)
        with structlog.testing.capture_logs() as heard:
            log_event(started)
        assert [h["event"] for h in heard] == [type(started).__name__]
    finally:
        root.handlers[:], root.level = saved
        structlog.reset_defaults()
