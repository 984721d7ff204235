-- Shared snapshots are claimed by inserting an empty row, then filled in: the fetching worker
-- holds no connection (and no lock) while it waits on the broker, so a fleet of workers with
-- small pools can never tie each other's connections up waiting for one another.
ALTER TABLE shared_quotes ALTER COLUMN quotes DROP NOT NULL;
ALTER TABLE shared_quotes ADD COLUMN claimed_by TEXT NULL;
