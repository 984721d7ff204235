"""Running a whole fleet on one machine (``tradefleet demo``): the exchange simulator and N
worker processes on embedded Postgres, supervised, with a live dashboard. Kept apart from
``worker/`` because it supervises processes rather than trading."""
