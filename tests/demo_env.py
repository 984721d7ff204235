"""The environment a test runs ``tradefleet demo`` in: its own state dir, a wide terminal,
and none of the caller's TRADEFLEET_* settings (they would steer the demo's fleet)."""

from __future__ import annotations

import os


def demo_env(state: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRADEFLEET_")}
    return {**env, "TRADEFLEET_STATE_DIR": state, "COLUMNS": "160"}
