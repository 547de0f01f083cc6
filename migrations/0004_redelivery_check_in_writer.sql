-- The redelivery check moves from a UNIQUE index into the event writer
-- (see src/store/digests.rs). SQLite cannot drop a table's UNIQUE
-- constraint, so the log is copied into a table without it, row for row
-- and with its sequence counter. `event_redeliveries`, the only table that
-- references `events`, is set aside and restored around the copy, so that
-- no foreign key ever points at a missing table.

CREATE TABLE event_redeliveries_copy AS SELECT * FROM event_redeliveries;
DROP TABLE event_redeliveries;

CREATE TABLE events_without_unique (
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
    remote_addr     TEXT
);

INSERT INTO events_without_unique
    (seq, destination_id, received_at, body, body_sha256, event_key, webhook_uid,
     sender_id, malformed, not_subscribed, uid_mismatch, while_inactive,
     signature_checked, token_checked, content_type, remote_addr)
SELECT seq, destination_id, received_at, body, body_sha256, event_key, webhook_uid,
       sender_id, malformed, not_subscribed, uid_mismatch, while_inactive,
       signature_checked, token_checked, content_type, remote_addr
FROM events ORDER BY seq;

-- Sequence numbers are never reused, even past the highest row.
UPDATE sqlite_sequence
SET seq = MAX(seq, (SELECT seq FROM sqlite_sequence WHERE name = 'events'))
WHERE name = 'events_without_unique';

DROP TABLE events;
ALTER TABLE events_without_unique RENAME TO events;

CREATE INDEX events_by_destination ON events (destination_id, received_at);
CREATE INDEX events_by_key ON events (event_key, seq);
-- What the writer loads its redelivery map from at start: ordered by
-- sequence, so each commit only adds to its end.
CREATE INDEX events_digests ON events (seq, destination_id, body_sha256);

CREATE TRIGGER events_are_append_only_update BEFORE UPDATE ON events
BEGIN
    SELECT RAISE(ABORT, 'events are append-only');
END;

CREATE TRIGGER events_are_append_only_delete BEFORE DELETE ON events
BEGIN
    SELECT RAISE(ABORT, 'events are append-only');
END;

CREATE TABLE event_redeliveries (
    seq             INTEGER PRIMARY KEY REFERENCES events (seq),
    count           INTEGER NOT NULL,
    last_received_at INTEGER NOT NULL
);
INSERT INTO event_redeliveries (seq, count, last_received_at)
SELECT seq, count, last_received_at FROM event_redeliveries_copy;
DROP TABLE event_redeliveries_copy;
