"""Masking secrets wherever they appear in a log record: by key name, by shape (bearer
tokens, JWTs, account numbers) and by value (the decrypted secrets the worker registers)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

MASK = "***"
# Whole key names only: ``fencing_token`` or ``token_expires_at`` are not secrets. Spec §5.1
# also keeps the trading ``mode`` (sim/paper/real) out of the logs.
_SECRET_KEYS = re.compile(
    r"(app_?key|app_?secret|secret_?key|secret|(access_|refresh_|api_|bearer_)?token|"
    r"authorization|approval_?key|password|passwd|cano|account(_?(no|num|number))?|"
    r"(trading_)?mode)",
    re.IGNORECASE)
_PATTERNS = [
    re.compile(r"(?i)bearer\s+[A-Za-z0-9._~+/=-]+"),
    re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"),   # JWT
    re.compile(r"(?i)\b(appkey|appsecret|secretkey|approval_key|access_token)"
               r"(['\"]?\s*[=:]\s*['\"]?)[^&\s'\",}]+"),
]
# CANO (8 digits) + product code (2), with or without a dash. Not applied to ``*_id`` keys:
# KIS order numbers are 10-digit identifiers too.
_ACCOUNT = re.compile(r"(?<!\d)\d{8}-?\d{2}(?!\d)")
_registered: set[str] = set()


def register_secret(value: str | None) -> None:
    """Mask this exact value in every later log line (decrypted appkey/appsecret...)."""
    if value and len(value) >= 4:
        _registered.add(value)


def redact_text(text: str, *, accounts: bool = True) -> str:
    for secret in sorted(_registered, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, MASK)
    for pattern in _PATTERNS:
        text = pattern.sub(_keep_key, text)
    if accounts:
        text = _ACCOUNT.sub(MASK, text)
    return text


def _keep_key(match: re.Match) -> str:
    """``appkey=abc`` -> ``appkey=***``; bearer/JWT matches are replaced whole."""
    if match.re.groups >= 2:
        return match.group(1) + match.group(2) + MASK
    return MASK


def redact(value: Any, key: str | None = None) -> Any:
    if key is not None and _SECRET_KEYS.fullmatch(key) and value not in (None, ""):
        return MASK
    if isinstance(value, str):
        return redact_text(value, accounts=not (key or "").endswith("_id"))
    if isinstance(value, Mapping):
        return {k: redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [redact(v) for v in value]
    if isinstance(value, int) and not isinstance(value, bool) and key and \
            not key.endswith("_id") and _ACCOUNT.fullmatch(str(value)):
        return MASK
    return value


def redaction_processor(_logger: Any, _method: str, event_dict: dict) -> dict:
    """structlog processor: runs after exception formatting, right before rendering."""
    return {k: redact(v, k) for k, v in event_dict.items()}
