"""HTTP simulator of the KIS REST dialect over ``SimMarket`` (binds 127.0.0.1 only)."""
