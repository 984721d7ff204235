"""The frames of KIS's WebSocket API (reference/kis-api.md §5), in and out.

Three kinds arrive as text: data frames ``<enc>|<TR_ID>|<count>|<payload>`` (``enc`` 0 plain,
1 AES-encrypted; ``count`` records joined with ``^``), JSON control frames answering a
subscribe/unsubscribe (``header.tr_id``/``tr_key``, ``body.rt_cd``/``msg_cd``/``msg1``, and
``body.output.key``/``iv`` for encrypted TRs), and the server's PINGPONG JSON. Anything else
is a ``FrameError`` naming the field, never a guess."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

SUBSCRIBE = "1"
UNSUBSCRIBE = "2"

SUBSCRIBED = "OPSP0000"
UNSUBSCRIBED = "OPSP0001"
ALREADY_SUBSCRIBED = "OPSP0002"
NOT_SUBSCRIBED = "OPSP0003"
INTERNAL_ERROR = "OPSP0007"
MAX_SUBSCRIBE_OVER = "OPSP0008"
APPKEY_IN_USE = "OPSP8996"
INVALID_APPROVAL = "OPSP0011"      # third-party reports; not in KIS's published samples
ACK_OK = frozenset({SUBSCRIBED, UNSUBSCRIBED, ALREADY_SUBSCRIBED, NOT_SUBSCRIBED})
PINGPONG = "PINGPONG"


class FrameError(ValueError):
    """A frame that is not in KIS's form; the message names the field."""


@dataclass(frozen=True, slots=True)
class DataFrame:
    encrypted: bool
    tr_id: str
    count: int
    payload: str


@dataclass(frozen=True, slots=True)
class ControlAck:
    """The answer to one subscribe/unsubscribe. ``key``/``iv`` decrypt the TR's frames."""

    tr_id: str
    tr_key: str
    rt_cd: str
    code: str
    message: str
    key: str | None = None
    iv: str | None = None

    @property
    def ok(self) -> bool:
        return self.rt_cd == "0" and self.code in ACK_OK

    def __repr__(self) -> str:      # the AES key and iv stay out of tracebacks and logs
        return (f"ControlAck(tr_id={self.tr_id!r}, code={self.code!r}, "
                f"message={self.message!r}, key={'***' if self.key else None})")


@dataclass(frozen=True, slots=True)
class PingPong:
    """The server's keep-alive; the client sends ``text`` back unchanged."""

    text: str


Frame = DataFrame | ControlAck | PingPong


def classify(text: str) -> Frame:
    """One received text frame as what it is."""
    if not text:
        raise FrameError("frame: empty")
    if text[0] in "01":
        return _data_frame(text)
    if text[0] == "{":
        return _control(text)
    raise FrameError(f"frame: starts with {text[:1]!r}, expected '0', '1' or '{{'")


def _data_frame(text: str) -> DataFrame:
    parts = text.split("|", 3)
    if len(parts) != 4:
        raise FrameError(f"frame: {len(parts)} '|'-separated parts, expected 4 "
                         "(enc|tr_id|count|payload)")
    enc, tr_id, count, payload = parts
    if enc not in ("0", "1"):
        raise FrameError(f"enc: {enc!r}, expected '0' or '1'")
    if not tr_id or not tr_id.isalnum():
        raise FrameError(f"tr_id: {tr_id!r} is not a TR id")
    if not (count.isdigit() and int(count) > 0):
        raise FrameError(f"count: {count!r}, expected a positive record count like '001'")
    if not payload:
        raise FrameError("payload: empty")
    return DataFrame(enc == "1", tr_id, int(count), payload)


def _control(text: str) -> ControlAck | PingPong:
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise FrameError(f"frame: not JSON ({exc.msg})") from None
    header = data.get("header") if isinstance(data, dict) else None
    if not isinstance(header, dict):
        raise FrameError("header: missing or not an object")
    tr_id = _text(header, "tr_id", "header.tr_id")
    if tr_id == PINGPONG:
        return PingPong(text)
    body = data.get("body")
    if not isinstance(body, dict):
        raise FrameError(f"body: missing or not an object (tr_id {tr_id})")
    output = body.get("output")
    key = iv = None
    if isinstance(output, dict) and (output.get("key") or output.get("iv")):
        key = _text(output, "key", "body.output.key")
        iv = _text(output, "iv", "body.output.iv")
    return ControlAck(tr_id, str(header.get("tr_key", "") or ""),
                      _text(body, "rt_cd", "body.rt_cd"), _text(body, "msg_cd", "body.msg_cd"),
                      str(body.get("msg1", "")).strip(), key, iv)


def _text(obj: dict[str, Any], key: str, name: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str) or not value.strip():
        raise FrameError(f"{name}: missing or not a non-empty string")
    return value.strip()


def registration(approval_key: str, tr_id: str, tr_key: str, *, subscribe: bool = True,
                 custtype: str = "P") -> str:
    """The JSON text that (un)registers ``tr_id``/``tr_key`` on the session."""
    return json.dumps({
        "header": {"approval_key": approval_key, "custtype": custtype,
                   "tr_type": SUBSCRIBE if subscribe else UNSUBSCRIBE,
                   "content-type": "utf-8"},
        "body": {"input": {"tr_id": tr_id, "tr_key": tr_key}},
    })
