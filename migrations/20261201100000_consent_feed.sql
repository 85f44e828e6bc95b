-- What NGI's consent feed told us. Portable SQL, as the ledger's first migration.

-- Each event once, by NGI's event id: a second delivery is counted here, never applied again.
CREATE TABLE feed_events (
    event_id TEXT PRIMARY KEY,
    sequence_nr BIGINT NOT NULL,
    -- The event's top-level consentId, the one acted on.
    consent_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    -- When it happened at NGI (seconds); does not follow the sequence.
    event_timestamp BIGINT NOT NULL,
    received_at BIGINT NOT NULL,
    -- What applying it did: applied, confirmed, unchanged, tombstoned, unknown_consent, skipped.
    outcome TEXT NOT NULL,
    duplicates INTEGER NOT NULL DEFAULT 0
);

CREATE INDEX feed_events_sequence ON feed_events (sequence_nr DESC);

-- The follower's place in the feed: the highest sequence number handled. One row; NULL before
-- the first page.
CREATE TABLE feed_cursor (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    cursor BIGINT,
    updated_at BIGINT NOT NULL
);

INSERT INTO feed_cursor (id, cursor, updated_at) VALUES (1, NULL, 0);

-- Consents NGI ended before we knew of them: a redirect flow's callback arriving later records
-- them as ended at NGI, never as active.
CREATE TABLE feed_tombstones (
    consent_id TEXT PRIMARY KEY,
    at BIGINT NOT NULL
);
