"""tradefleet: intraday KRX auto-trading workers coordinated through PostgreSQL."""

__version__ = "0.1.0"
