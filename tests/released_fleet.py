"""Spawned child processes released together: each puts one item on ``ready`` when set up,
waits on ``go``, and puts its result on ``out``. The parent starts them, waits until all are
ready, releases them at once and collects what each reported (a child that hangs is killed)."""

from __future__ import annotations

import asyncio
import multiprocessing as mp
from collections.abc import Callable
from typing import Any


async def run_released(target: Callable[..., None], args: tuple, n: int, *,
                       before_go: Callable[[], None] | None = None
                       ) -> tuple[list[Any], list[mp.process.BaseProcess]]:
    """``target(*args, ready, go, out)`` in ``n`` spawned processes; returns (their results
    in arrival order, the processes). ``before_go`` runs once all are ready."""
    ctx = mp.get_context("spawn")
    ready, out, go = ctx.Queue(), ctx.Queue(), ctx.Event()
    procs = [ctx.Process(target=target, args=(*args, ready, go, out)) for _ in range(n)]
    for p in procs:
        p.start()
    try:
        for _ in procs:
            await asyncio.to_thread(ready.get, True, 60)
        if before_go is not None:
            before_go()
        go.set()
        results = [await asyncio.to_thread(out.get, True, 90) for _ in procs]
    finally:
        for p in procs:
            await asyncio.to_thread(p.join, 30)
            if p.is_alive():
                p.kill()
    return results, procs
