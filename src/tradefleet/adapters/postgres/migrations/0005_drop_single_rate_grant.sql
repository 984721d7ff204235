-- tf_rate_acquire_batch (0004) grants one or more requests; the single-grant function of 0002
-- has no caller left, and two ways to take budget would be one too many.
DROP FUNCTION IF EXISTS tf_rate_acquire(TEXT, INTEGER, DOUBLE PRECISION);
