-- Whether a worker's exits are decided on the account's feed (live) or on its poll only
-- (polling), as the worker last said (issue 20); NULL: the worker runs without the feed, or
-- has not said yet in this life. The operator shows it in the TradingWorker's status.
ALTER TABLE workers ADD COLUMN feed_mode TEXT NULL CHECK (feed_mode IN ('live', 'polling'));
