"""Configuration: env vars and an optional YAML file, validated at start-up, secrets
decrypted from ``enc:`` values. Loading is wiring, so it lives beside, not inside, the domain."""

from tradefleet.settings.loading import load_database_settings, load_settings
from tradefleet.settings.model import DatabaseSettings, Settings

__all__ = ["DatabaseSettings", "Settings", "load_database_settings", "load_settings"]
