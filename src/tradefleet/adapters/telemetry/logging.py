"""Structured logs (spec §6) through structlog: JSON in production, readable in a terminal.

``log_event`` turns a domain event into its log line at the level spec §6.1 gives it, with
the mandatory fields of §6.2 as top-level keys. Redaction runs last, on every line, including
lines of the standard library's loggers (aiohttp, asyncpg). An error line carries the
exception's type and stack trace (``error_type``, ``stack``): passed as ``exc_info``, or the
exception being handled when the line is written inside an ``except`` block."""

from __future__ import annotations

import logging
import os
import sys
import traceback
from typing import Any

from tradefleet.adapters.telemetry.lean_structlog import structlog
from tradefleet.adapters.telemetry.redaction import redaction_processor, register_secret
from tradefleet.domain.events import Event

__all__ = ["bind_context", "configure_logging", "get_logger", "log_event", "register_secret"]

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING,
           "warn": logging.WARNING,
           "error": logging.ERROR, "critical": logging.CRITICAL}


def _add_pid(_l: Any, _m: str, event_dict: dict) -> dict:
    event_dict.setdefault("pid", os.getpid())
    return event_dict


def _exception_of(event_dict: dict, method: str) -> BaseException | None:
    """The exception a line is about: the one passed as ``exc_info`` (True: the one being
    handled), or, for an error line written inside an ``except`` block without it, the
    exception being handled there."""
    exc = event_dict.pop("exc_info", None)
    if exc is True or (exc is None and method in ("error", "critical", "exception")):
        exc = sys.exc_info()
    if isinstance(exc, tuple):
        exc = exc[1] if len(exc) == 3 else None
    return exc if isinstance(exc, BaseException) else None


def _render_exception(_l: Any, method: str, event_dict: dict) -> dict:
    """Spec §6.2: an error line names the exception type (``error_type``) and carries its
    stack trace (``stack``), rendered here so that redaction, which runs last, sees it."""
    exc = _exception_of(event_dict, method)
    if exc is not None:
        event_dict.setdefault("error_type", type(exc).__name__)
        event_dict["stack"] = "".join(traceback.format_exception(type(exc), exc,
                                                                 exc.__traceback__))
    return event_dict


def configure_logging(*, json_output: bool | None = None, level: str = "INFO",
                      stream: Any = None) -> None:
    """Route structlog and stdlib logging through one chain ending in redaction + renderer.

    ``stream`` defaults to stderr; JSON when asked, when TRADEFLEET_LOG_FORMAT=json, or when
    the stream is not a terminal (containers, files)."""
    stream = stream or sys.stderr
    if json_output is None:
        json_output = os.environ.get("TRADEFLEET_LOG_FORMAT", "").lower() == "json" or \
            not (hasattr(stream, "isatty") and stream.isatty())
    shared = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.PositionalArgumentsFormatter(),
        structlog.processors.TimeStamper(fmt="iso", utc=True, key="ts"),
        _add_pid,
        structlog.processors.StackInfoRenderer(),
        _render_exception,
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
    # a line below the level is dropped before the chain builds it (stdlib would drop it
    # after): the same lines are written, without the cost of the ones that are not (a
    # replay at level error builds thousands of info lines a day)
    structlog.configure(
        processors=[structlog.stdlib.filter_by_level, *shared,
                    structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False)


def bind_context(**context: Any) -> None:
    """Fields every later line of this process/task carries (worker_id, host...)."""
    structlog.contextvars.bind_contextvars(**context)


def get_logger(**bound: Any) -> Any:
    """A structlog BoundLogger with ``bound`` fields on every line it writes."""
    return structlog.get_logger("tradefleet").bind(**bound)


# the stdlib logger of events lines, looked up once: ``getLogger`` hands out one object per
# name for the process's life (and takes the logging lock to find it), and ``_dropped``
# asks it for every event published (a replayed fleet-day: ~46,000)
_EVENTS_LOGGER = logging.getLogger("tradefleet.events")


def _dropped(level: str) -> bool:
    """True when the configured chain would drop an events line of ``level`` unwritten:
    ``filter_by_level`` is in it (``configure_logging``) and the stdlib logger is below
    that level. Any other chain (a test's capture, structlog's default) hears every line."""
    number = _LEVELS.get(level)
    if number is None or _EVENTS_LOGGER.isEnabledFor(number):
        return False
    return structlog.stdlib.filter_by_level in structlog.get_config()["processors"]


def log_event(event: Event, **context: Any) -> None:
    """One line per event: ``event`` is the event type, ``message`` the human text, and the
    event's fields (worker_id, symbol, payload) are top-level keys, at ``event.level``.
    A line the chain would drop is not built (a backtest at level error publishes
    thousands of info events a day)."""
    if _dropped(event.level):
        return
    fields = {**context, **event.model_dump(mode="json")}
    fields["message"] = event.message or event.event_type
    fields["event_type"] = event.event_type      # same as ``event``; kept for filtering
    logger = structlog.get_logger("tradefleet.events")
    getattr(logger, event.level)(event.event_type, **fields)
