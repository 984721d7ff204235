"""The fleet console: a live web page of workers, positions, orders and PnL, with pause,
resume and liquidate-now through the authority that already exists (``tradefleet console``)."""
