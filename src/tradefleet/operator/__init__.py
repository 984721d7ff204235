"""The Kubernetes operator (``tradefleet operator``): TradingWorker resources reconciled into
one pod per worker, failure judged by the worker's Postgres heartbeat, and the calendar-aware
liquidation schedule. kopf is only the transport (handlers.py); every decision is a plain
function of desired state (the spec) and observed state (the pod, the database)."""
