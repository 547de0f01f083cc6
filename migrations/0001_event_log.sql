-- Destinations: where Whats91 delivers. One row per receiver URL slug.
CREATE TABLE destinations (
    id                      INTEGER PRIMARY KEY,
    slug                    TEXT NOT NULL UNIQUE,
    name                    TEXT NOT NULL,
    webhook_uid             TEXT,
    sender_id               TEXT,
    signing_secret          TEXT,
    verification_header_key TEXT NOT NULL DEFAULT 'X-CRM-Webhook-Token',
    verification_token      TEXT,
    -- JSON array of subscribed event keys; empty means "everything".
    events                  TEXT NOT NULL DEFAULT '[]',
    status                  TEXT NOT NULL DEFAULT 'ACTIVE'
                            CHECK (status IN ('ACTIVE', 'INACTIVE')),
    quiet_period_secs       INTEGER NOT NULL DEFAULT 3600,
    created_at              INTEGER NOT NULL,
    updated_at              INTEGER NOT NULL,
    -- No route may accept unauthenticated writes.
    CHECK (signing_secret IS NOT NULL OR verification_token IS NOT NULL)
);

-- The event log: every accepted delivery, exactly as it arrived.
-- `seq` is the global order; AUTOINCREMENT keeps numbers from ever being
-- reused, so live clients can resume from the last one they saw.
CREATE TABLE events (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    destination_id  INTEGER NOT NULL REFERENCES destinations (id),
    received_at     INTEGER NOT NULL,            -- unix milliseconds
    body            BLOB NOT NULL,               -- raw bytes as received
    body_sha256     BLOB NOT NULL,
    event_key       TEXT,
    webhook_uid     TEXT,
    sender_id       TEXT,
    malformed       INTEGER NOT NULL DEFAULT 0,
    not_subscribed  INTEGER NOT NULL DEFAULT 0,
    uid_mismatch    INTEGER NOT NULL DEFAULT 0,
    while_inactive  INTEGER NOT NULL DEFAULT 0,
    -- Which checks the delivery passed: 1 verified, 0 not configured.
    signature_checked INTEGER NOT NULL,
    token_checked     INTEGER NOT NULL,
    content_type    TEXT,
    remote_addr     TEXT,
    UNIQUE (destination_id, body_sha256)
);

CREATE INDEX events_by_destination ON events (destination_id, received_at);
CREATE INDEX events_by_key ON events (event_key, seq);

CREATE TRIGGER events_are_append_only_update BEFORE UPDATE ON events
BEGIN
    SELECT RAISE(ABORT, 'events are append-only');
END;

CREATE TRIGGER events_are_append_only_delete BEFORE DELETE ON events
BEGIN
    SELECT RAISE(ABORT, 'events are append-only');
END;

-- Redeliveries of a stored body: counted here so the log stays untouched.
CREATE TABLE event_redeliveries (
    seq             INTEGER PRIMARY KEY REFERENCES events (seq),
    count           INTEGER NOT NULL,
    last_received_at INTEGER NOT NULL
);

-- Deliveries refused for authentication: a bounded log, no bodies.
CREATE TABLE rejected_attempts (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    at              INTEGER NOT NULL,
    slug            TEXT NOT NULL,
    destination_id  INTEGER REFERENCES destinations (id),
    reason          TEXT NOT NULL,
    remote_addr     TEXT
);

CREATE INDEX rejected_attempts_by_destination ON rejected_attempts (destination_id, at);
