"""Each worker's feed mode for the demo's live table (``demo --feed``): live (exits decided on
each tick) or polling (exits on the poll only), as the worker itself last said it in its log
(``worker/tick_exits.py``). The logs are read incrementally: only what was appended since the
last look, and a line still being written is left for the next one."""

from __future__ import annotations

import json
from pathlib import Path

LIVE = "feed live: exits decided on each tick"
POLLING = "feed not live: exits decided on the poll only"
STOPPED = "feed stopped with the worker"
_MARKS = {LIVE: "live", POLLING: "polling", STOPPED: "stopped"}


class FeedMarks:
    def __init__(self) -> None:
        self._offsets: dict[Path, int] = {}
        self.marks: dict[str, str] = {}          # worker id -> live | polling | stopped

    def read(self, logs: dict[str, Path]) -> dict[str, str]:
        """``logs``: worker id -> its current log file; the marks after what was appended."""
        for wid, path in logs.items():
            for line in self._new_lines(path):
                if not any(event in line for event in _MARKS):
                    continue
                try:
                    event = json.loads(line).get("event")
                except (ValueError, AttributeError):
                    continue
                if event in _MARKS:
                    self.marks[wid] = _MARKS[event]
        return dict(self.marks)

    def _new_lines(self, path: Path) -> list[str]:
        start = self._offsets.get(path, 0)
        try:
            with path.open("rb") as f:
                f.seek(start)
                chunk = f.read()
        except FileNotFoundError:
            return []
        whole = chunk.rfind(b"\n") + 1              # a partial last line waits
        self._offsets[path] = start + whole
        return chunk[:whole].decode(errors="replace").splitlines()
