"""A user's own strategy, as the source of a file in a temp folder (loaded by path): buys
what rose, or fell less than ``min_rise_pct``, over its window; with the shipped search
space it signals on most minutes of a simulated day, so a short session trades."""

USER_STRATEGY = '''
    """A user's strategy: buy what rose (or fell less than min_rise_pct) over the window."""
    import numpy as np
    from pydantic import Field

    from tradefleet.domain.strategies.base import SignalResult, StrategyBase, StrategyParams


    class RiseParams(StrategyParams):
        window: int = Field(3, ge=2, le=30, strict=True)
        min_rise_pct: float = Field(-0.5, ge=-5.0, le=5.0)


    class Rise(StrategyBase):
        name = "user_rise"
        strategy_version = "user_rise/1"
        Params = RiseParams
        search_space = {"window": (2, 6), "min_rise_pct": (-1.0, 0.0)}

        @property
        def bars_needed(self):
            return self.params.window

        def evaluate(self, closes, volumes, prices):
            first = np.asarray(closes, dtype=float)[:, -self.params.window]
            rise = (np.asarray(prices, dtype=float) / first - 1.0) * 100.0
            return SignalResult(signal=rise >= self.params.min_rise_pct, score=rise,
                                indicators={"rise_pct": rise})
'''
