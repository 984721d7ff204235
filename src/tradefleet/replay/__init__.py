"""Recorded market data and (to come) replay through the production worker (issue 21).

``day_format``: the on-disk format of one recorded day (Parquet; why, in its docstring);
``sim_source``: a whole simulated day written without waiting for it; ``live_recorder``:
a session recorded through the broker port (the exchange simulator over HTTP, or KIS within
the fleet's rate budget); ``csv_bars``: a user's own minute bars imported from CSV."""
