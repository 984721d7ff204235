"""Waiting in wall-clock time for something a separate process (a worker, an operator, an
exchange) will make true: the check may be sync or async; the timeout names what was awaited."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any


async def until(check: Callable[[], Any], what: str, timeout: float = 60.0,
                step: float = 0.2) -> Any:
    """The first truthy result of ``check()``; AssertionError naming ``what`` past ``timeout``
    real seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(step)
