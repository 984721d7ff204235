-- SC-011's next-day tuning notes, one row a note (issue 21, speed).
--
-- Until now every note was appended to its daily summary's JSON: tuning[key] || [item],
-- rewritten on each closed trade. Each rewrite copied the whole (TOASTed) jsonb and left a new
-- row version, so a worker's day cost grew with the square of its trades (10 % of the server's
-- statement time on a replayed fleet-day). A note is now one plain insert into
-- daily_tuning_notes, and readers get the very same JSON back from daily_tuning(day, worker):
-- {key: [item, ...]} with each list in the order its notes were written, '{}' when none.
--
-- daily_summaries.tuning stays: a worker of the previous version still running while a newer
-- one migrated keeps appending to it, and dropping it would fail that worker's closes (fills
-- included). Its lists are moved here below and it is left '{}'; daily_tuning still reads it,
-- after the rows, so what such a worker notes afterwards is not lost either (in the one day a
-- worker is restarted onto this version after that, its older notes are listed last). Nothing
-- of this version writes it.

CREATE TABLE daily_tuning_notes (
    trading_day DATE NOT NULL,
    worker_id   TEXT NOT NULL,
    -- the order notes were written in (a close holds its summary row's lock while it inserts)
    note_id     BIGSERIAL,
    key         TEXT NOT NULL,
    item        JSONB NOT NULL,
    PRIMARY KEY (trading_day, worker_id, note_id),
    -- a note is only seen through its summary row: readers list daily_summaries
    FOREIGN KEY (trading_day, worker_id) REFERENCES daily_summaries (trading_day, worker_id)
);

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM daily_summaries d, jsonb_each(d.tuning) l(key, list)
                WHERE jsonb_typeof(l.list) <> 'array') THEN
        RAISE EXCEPTION 'daily_summaries.tuning holds a value that is not a list: '
                        'move it by hand before migrating (nothing was changed)';
    END IF;
END $$;

-- the old lists, in their order (by day, worker, key, then position in the list)
INSERT INTO daily_tuning_notes (trading_day, worker_id, key, item)
SELECT d.trading_day, d.worker_id, l.key, e.item
  FROM daily_summaries d
 CROSS JOIN LATERAL jsonb_each(d.tuning) l(key, list)
 CROSS JOIN LATERAL jsonb_array_elements(l.list) WITH ORDINALITY e(item, n)
 ORDER BY d.trading_day, d.worker_id, l.key, e.n;

UPDATE daily_summaries SET tuning = '{}' WHERE tuning <> '{}';

COMMENT ON COLUMN daily_summaries.tuning IS
    'no longer written (0021): notes are rows of daily_tuning_notes; read daily_tuning()';

-- The summary's tuning JSON as it was kept before 0021: {key: [item, ...]}, '{}' if none.
CREATE FUNCTION daily_tuning(p_day DATE, p_worker TEXT) RETURNS JSONB
LANGUAGE sql STABLE AS $$
SELECT coalesce(jsonb_object_agg(key, items), '{}'::jsonb)
  FROM (SELECT key, jsonb_agg(item ORDER BY part, seq) AS items
          FROM (SELECT key, 0 AS part, note_id AS seq, item FROM daily_tuning_notes
                 WHERE trading_day = p_day AND worker_id = p_worker
                UNION ALL
                SELECT l.key, 1, e.seq, e.item
                  FROM daily_summaries d
                 CROSS JOIN LATERAL jsonb_each(d.tuning) l(key, list)
                 CROSS JOIN LATERAL jsonb_array_elements(l.list) WITH ORDINALITY e(item, seq)
                 WHERE d.trading_day = p_day AND d.worker_id = p_worker) notes
         GROUP BY key) lists
$$;
