"""Masking secrets wherever they appear in a log record: by key name, by shape (bearer
tokens, JWTs, account numbers) and by value (the decrypted secrets the worker registers)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

MASK = "***"
_SECRET_KEYS = re.compile(
    r"(app_?key|app_?secret|secret_?key|secret|token|access_token|authorization|approval_key|"
    r"password|passwd|cano|account_?(no|number)?)$", re.IGNORECASE)
_PATTERNS = [
    re.compile(r"(?i)bearer\s+[A-Za-z0-9._~+/=-]+"),
    re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"),   # JWT
    re.compile(r"(?<!\d)\d{8}-?\d{2}(?!\d)"),                                 # CANO(+product)
    re.compile(r"(?i)(appkey|appsecret|secretkey)=([^&\s]+)"),
]
_registered: set[str] = set()


def register_secret(value: str | None) -> None:
    """Mask this exact value in every later log line (decrypted appkey/appsecret...)."""
    if value and len(value) >= 4:
        _registered.add(value)


def redact_text(text: str) -> str:
    for secret in _registered:
        if secret in text:
            text = text.replace(secret, MASK)
    for pattern in _PATTERNS:
        text = pattern.sub(MASK, text)
    return text


def redact(value: Any, key: str | None = None) -> Any:
    if key is not None and _SECRET_KEYS.search(key) and value not in (None, ""):
        return MASK
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        return {k: redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(redact(v) for v in value)
    return value


def redaction_processor(_logger: Any, _method: str, event_dict: dict) -> dict:
    """structlog processor: runs after exception formatting, right before rendering."""
    return {k: redact(v, k) for k, v in event_dict.items()}
