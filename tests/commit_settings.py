"""A deferred trigger that notes, per order row, the ``synchronous_commit`` in force when
its transaction commits: how the one-statement money writes are shown to wait for the disk
on a pool whose default does not."""

from __future__ import annotations


def note_commit_settings(on: str) -> str:
    """The SQL that installs it for ``on`` (``INSERT`` or ``UPDATE``) of ``orders``."""
    return f"""
CREATE TABLE commit_settings (order_id bigint, synchronous_commit text);
CREATE FUNCTION note_commit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO commit_settings VALUES (NEW.order_id, current_setting('synchronous_commit'));
  RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER note_commit AFTER {on} ON orders
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION note_commit();
"""
