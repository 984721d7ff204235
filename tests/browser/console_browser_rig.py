"""What the console's browser test stands on: a simulated fleet (the chaos bench's
SessionRig: the exchange simulator and worker processes on one SimClock), the console serving
its database, and a chromium driven by Playwright. Nothing downloads a browser: the system's
chromium is the executable, and without it (or without Playwright) the test is skipped with
the reason."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")


def chromium_path() -> str | None:
    given = os.environ.get("TRADEFLEET_CHROMIUM")
    for path in (given, *CHROMIUM_CANDIDATES, shutil.which("chromium")):
        if path and os.access(path, os.X_OK):
            return path
    return None


def why_no_browser() -> str | None:
    """None when the browser test can run here, else why not."""
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        return "Playwright for Python is not installed (pip install playwright)"
    if chromium_path() is None:
        return "no chromium executable (/usr/bin/chromium; CI installs Debian's chromium)"
    return None


def artefact_dir() -> Path:
    """Where the screenshots go: TRADEFLEET_ARTEFACTS, else a fresh temporary directory."""
    base = os.environ.get("TRADEFLEET_ARTEFACTS")
    out = Path(base) / "console" if base else Path(tempfile.mkdtemp(prefix="tf-console-shots-"))
    out.mkdir(parents=True, exist_ok=True)
    return out


def copy_for_readme(shots: list[Path]) -> None:
    """With TRADEFLEET_CONSOLE_DOCS set (a maintainer refreshing README's pictures), the
    screenshots are copied there too."""
    target = os.environ.get("TRADEFLEET_CONSOLE_DOCS")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        for shot in shots:
            shutil.copy2(shot, Path(target) / shot.name)
