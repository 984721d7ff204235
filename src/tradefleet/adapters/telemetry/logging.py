"""Structured logs (spec §6) through structlog: JSON in production, readable in a terminal.

``log_event`` turns a domain event into its log line at the level spec §6.1 gives it, with
the mandatory fields of §6.2 as top-level keys. Redaction runs last, on every line, including
lines of the standard library's loggers (aiohttp, asyncpg)."""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

import structlog

from tradefleet.adapters.telemetry.redaction import redaction_processor
from tradefleet.domain.events import Event

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING,
           "error": logging.ERROR, "critical": logging.CRITICAL}
_base_context: dict[str, Any] = {}


def _add_pid(_l: Any, _m: str, event_dict: dict) -> dict:
    event_dict.setdefault("pid", os.getpid())
    return event_dict


def configure_logging(*, json_output: bool | None = None, level: str = "INFO",
                      stream: Any = None) -> None:
    stream = stream or sys.stderr
    if json_output is None:
        json_output = os.environ.get("TRADEFLEET_LOG_FORMAT", "").lower() == "json" or \
            not (hasattr(stream, "isatty") and stream.isatty())
    shared = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True, key="ts"),
        _add_pid,
        structlog.processors.StackInfoRenderer(),
        structlog.processors.format_exc_info,
    ]
    renderer = (structlog.processors.JSONRenderer(default=str) if json_output
                else structlog.dev.ConsoleRenderer(colors=False))
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    redaction_processor, renderer])
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(_LEVELS.get(level.lower(), logging.INFO))
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False)


def bind_context(**context: Any) -> None:
    """Fields every line of this process carries (worker_id, mode...)."""
    _base_context.update(context)
    structlog.contextvars.bind_contextvars(**context)


def get_logger(**bound: Any) -> Any:
    return structlog.get_logger("tradefleet").bind(**bound)


def log_event(event: Event, **context: Any) -> None:
    fields = {**context, **event.model_dump(mode="json")}
    fields = {k: v for k, v in fields.items() if v is not None or k in ("symbol",)}
    fields["event_type"] = event.event_type
    message = event.message or event.event_type
    logger = structlog.get_logger("tradefleet.events")
    getattr(logger, event.level)(message, **fields)
