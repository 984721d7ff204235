"""Reading a KIS response: the body decides success, not the HTTP status.

Gateway errors (rate limit, token) come as HTTP 500 or even 200 with a ``msg_cd``; business
rejections are HTTP 200 with ``rt_cd`` != "0". ``msg1`` and ``ctx_area_*`` are space-padded."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

RATE_LIMITED = "EGW00201"
EXPIRED_TOKEN_CODE = "EGW00123"  # noqa: S105 - a message code, not a secret
INVALID_TOKEN_CODE = "EGW00121"  # noqa: S105
TOKEN_THROTTLED = "EGW00133"  # noqa: S105
TOKEN_CODES = frozenset({EXPIRED_TOKEN_CODE, INVALID_TOKEN_CODE})


@dataclass(frozen=True, slots=True)
class Envelope:
    http_status: int
    ok: bool
    code: str
    message: str
    body: dict[str, Any]
    tr_cont: str = ""

    @property
    def ctx_fk(self) -> str:
        return _ctx(self.body, "ctx_area_fk100")

    @property
    def ctx_nk(self) -> str:
        return _ctx(self.body, "ctx_area_nk100")

    @property
    def has_more(self) -> bool:
        return self.tr_cont in ("F", "M")


def _ctx(body: dict[str, Any], key: str) -> str:
    value = body.get(key)
    if value is None:
        value = body.get(key.upper(), "")
    return str(value).strip()


def parse_envelope(http_status: int, body: Any, tr_cont: str = "") -> Envelope:
    """Normalise any KIS body (``rt_cd`` style or ``/oauth2`` ``error_code`` style)."""
    if not isinstance(body, dict):
        return Envelope(http_status, False, "", f"non-JSON-object body (HTTP {http_status})", {})
    if "error_code" in body:
        return Envelope(http_status, False, str(body.get("error_code", "")).strip(),
                        str(body.get("error_description", "")).strip(), body, tr_cont.strip())
    rt_cd = str(body.get("rt_cd", "")).strip()
    code = str(body.get("msg_cd", "")).strip()
    message = str(body.get("msg1", "")).strip()
    ok = rt_cd == "0" and http_status < 400
    return Envelope(http_status, ok, code, message, body, tr_cont.strip())


def strip_fields(row: dict[str, Any]) -> dict[str, str]:
    """Lower-case keys and space-stripped string values (KIS pads many fields)."""
    return {str(k).lower(): str(v).strip() for k, v in row.items()}


def as_int(row: dict[str, str], key: str, default: int = 0) -> int:
    """Integer won / shares from a KIS string field; blank = ``default``. Never float."""
    raw = row.get(key, "")
    if raw == "":
        return default
    if "." in raw:
        whole, _, frac = raw.partition(".")
        if frac.strip("0"):
            raise ValueError(f"{key}: expected a whole number, got {raw!r}")
        raw = whole
    return int(raw)
