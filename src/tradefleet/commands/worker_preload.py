"""What the local fleet's fork server imports once, so that every worker it forks starts
with its modules already loaded (issue 17 item 4: a start-up costs the fork and the
worker's own I/O, not the imports). It sits beside the worker command whose imports it
mirrors; ``local_fleet.forked_start`` names it only by its module name. The list follows
``tradefleet worker``'s path to its
first scan (commands/worker.py ``_run``/``_run_kis``, then worker/launch.py).

Only imports: no event loop, no thread, no connection, no settings read. OpenBLAS reads
its thread count once, at numpy's import here, so it is held to one first (as a spawned
worker holds itself in ``_run``). The garbage collector is off while importing and the
imported objects are then frozen (the standard library's advice for fork without exec): a
child's collections never write to them, so their pages stay shared rather than copied
into every worker; ``forked_start`` turns collection back on in each child."""

from __future__ import annotations

import gc
import os

gc.disable()
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import aiohttp  # noqa: E402, F401

import tradefleet.adapters.calendar_cache  # noqa: E402, F401
import tradefleet.adapters.clock  # noqa: E402, F401
import tradefleet.adapters.kis.client  # noqa: E402, F401
import tradefleet.adapters.kis.fleet  # noqa: E402, F401
import tradefleet.adapters.postgres.connect  # noqa: E402, F401
import tradefleet.adapters.sim.exchange.books_client  # noqa: E402, F401
import tradefleet.adapters.telemetry.logging  # noqa: E402, F401
import tradefleet.adapters.telemetry.metrics  # noqa: E402, F401
import tradefleet.adapters.telemetry.tracing  # noqa: E402, F401
import tradefleet.cli  # noqa: E402, F401
import tradefleet.commands.worker  # noqa: E402, F401
import tradefleet.settings  # noqa: E402, F401
import tradefleet.settings.secrets  # noqa: E402, F401
import tradefleet.worker.launch  # noqa: E402, F401
import tradefleet.worker.wiring  # noqa: E402, F401

gc.freeze()
