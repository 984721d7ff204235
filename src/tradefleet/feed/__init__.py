"""One KIS WebSocket feed per account for the whole fleet: a holder elected through
PostgreSQL (``holder.py``), its ticks fanned out by LISTEN/NOTIFY (``channels.py``,
``listener.py``)."""
