"""The tuning loop (issue 21, item 5): search a strategy's parameter space over recorded
days with walk-forward validation, and store the result as a parameter version with its
evidence (``tradefleet tune``); a person approves it (``tradefleet params approve``)."""
