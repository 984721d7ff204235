"""structlog, imported without its optional console extras.

At import, structlog's dev console looks for rich (which pulls in pygments and attrs),
colorama and better_exceptions, to draw coloured tracebacks. Our log chain never asks for
them: it renders the stack itself (so that redaction sees it) and prints without colours.
Hiding the extras while structlog is first imported saves a worker process about 70 ms of
CPU and 5 MB at every start. A process that has already imported one of them (a command
that prints tables) keeps structlog's ordinary behaviour; nothing else sees them hidden."""

from __future__ import annotations

import sys
from types import ModuleType

OPTIONAL_EXTRAS = ("rich", "colorama", "better_exceptions")


def import_structlog() -> ModuleType:
    if "structlog" in sys.modules:
        return sys.modules["structlog"]
    hidden = [name for name in OPTIONAL_EXTRAS if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]  # import of it: ImportError
    try:
        import structlog
    finally:
        for name in hidden:
            if name in sys.modules and sys.modules[name] is None:
                del sys.modules[name]
    return structlog


structlog = import_structlog()
