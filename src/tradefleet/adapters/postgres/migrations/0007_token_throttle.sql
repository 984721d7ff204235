-- KIS issues at most one access token a minute per appkey (HTTP 403 EGW00133 past that). A
-- refused issuance is remembered here for the whole fleet, judged by the database clock, so
-- that no process asks again before throttled_until; a still-valid stored token is used
-- meanwhile. A token handed back unchanged inside the refresh margin is held off the same way
-- (reason 'same_token'), so that the fleet does not ask on every call. Keyed like
-- broker_tokens by a SHA-256 of the appkey; the appkey itself is never stored.
CREATE TABLE broker_token_throttles (
    appkey_hash     TEXT PRIMARY KEY CHECK (appkey_hash ~ '^[0-9a-f]{64}$'),
    throttled_until TIMESTAMPTZ NOT NULL,
    reason          TEXT NOT NULL CHECK (reason IN ('EGW00133', 'same_token')),
    noted_at        TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    refusals        INTEGER NOT NULL DEFAULT 0 CHECK (refusals >= 0)   -- EGW00133s, in all
);
