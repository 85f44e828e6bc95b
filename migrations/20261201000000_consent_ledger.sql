-- The consent ledger. Portable SQL: the same file runs on SQLite and PostgreSQL.
-- Row ids are made by the application (no SERIAL/AUTOINCREMENT, which differ between the two);
-- times are integer seconds since the epoch from the site's clock.

CREATE TABLE consents (
    row_id BIGINT PRIMARY KEY,
    -- NGI's consent id; NULL only while an integrated consent is registering or was refused.
    consent_id TEXT UNIQUE,
    -- The partner's reference: client_consent_id of an integrated consent, or the signed
    -- application reference of a redirect flow.
    reference TEXT,
    source TEXT NOT NULL CHECK (source IN ('redirect', 'integrated')),
    purpose TEXT NOT NULL CHECK (purpose IN ('presentation', 'processing')),
    -- NULL: single use.
    duration_days INTEGER CHECK (duration_days IS NULL OR (duration_days >= 1 AND duration_days <= 365)),
    expires_at BIGINT,
    -- Masked only: the full identity number is never stored.
    nin_masked TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN (
        'registering', 'active', 'used', 'revoking', 'revoked', 'ended_at_ngi', 'refused', 'expired'
    )),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    -- A keyed digest of an integrated registration's body, to know the same body again.
    request_digest TEXT,
    revoke_attempts INTEGER NOT NULL DEFAULT 0,
    revoke_next_at BIGINT
);

-- Listings, newest first, continued by (created_at, row_id): all, per status, per reference.
CREATE INDEX consents_newest ON consents (created_at DESC, row_id DESC);
CREATE INDEX consents_status_newest ON consents (status, created_at DESC, row_id DESC);
CREATE INDEX consents_reference_newest ON consents (reference, created_at DESC, row_id DESC);
-- An integrated consent's reference is its client_consent_id at NGI: one row per reference.
CREATE UNIQUE INDEX consents_integrated_reference ON consents (reference) WHERE source = 'integrated';
-- Revocations to try again.
CREATE INDEX consents_revoking_due ON consents (revoke_next_at) WHERE status = 'revoking';

CREATE TABLE consent_history (
    row_id BIGINT NOT NULL REFERENCES consents (row_id),
    -- 1, 2, 3… per consent, in the order the changes were made.
    seq INTEGER NOT NULL,
    at BIGINT NOT NULL,
    -- NULL for the row's first status.
    from_status TEXT,
    to_status TEXT NOT NULL,
    reason TEXT NOT NULL,
    PRIMARY KEY (row_id, seq)
);
