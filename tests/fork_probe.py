"""What a forked child sees of itself, printed as one JSON line: the entry that
tests/test_forked_workers.py hands to ``start_forked`` in place of the command line's main.
``args``: [exit code] or ["beat", exit code] (then it prints a line every 20 ms until
signalled)."""

from __future__ import annotations

import gc
import json
import os
import sys
import time


def main(args: list[str]) -> int:
    seen = {
        "environ": dict(os.environ), "argv": sys.argv[1:], "cwd": os.getcwd(),
        "pid": os.getpid(), "ppid": os.getppid(), "sid": os.getsid(0),
        "pgid": os.getpgid(0), "threads": len(os.listdir("/proc/self/task")),
        "stdin": os.readlink("/proc/self/fd/0"), "stdout": os.readlink("/proc/self/fd/1"),
        "stderr": os.readlink("/proc/self/fd/2"), "gc": gc.isenabled(),
        "frozen": gc.get_freeze_count(),
        "tradefleet_cli": "tradefleet.cli" in sys.modules,
    }
    import numpy

    numpy.ones((300, 300)) @ numpy.ones((300, 300))      # OpenBLAS starts its pool, if any
    seen["threads_after_blas"] = len(os.listdir("/proc/self/task"))
    print(json.dumps(seen))
    print("probe: to stderr", file=sys.stderr)
    if args[0] == "beat":
        for n in range(100_000):
            print(f"beat {n}", flush=True)
            time.sleep(0.02)
    return int(args[-1])
