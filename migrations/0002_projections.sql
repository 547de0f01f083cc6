-- Projections: pure functions of the event log, rebuilt by `reproject`.
-- Every row can be derived again from `events`; acknowledgements and the
-- receiver's own alerts cannot, and live in tables a rebuild leaves alone.

-- How far each projector has read the log.
CREATE TABLE projector_checkpoints (
    name    TEXT PRIMARY KEY,
    seq     INTEGER NOT NULL
);

-- Conversations: one per (sender, customer phone).
CREATE TABLE conversations (
    id              INTEGER PRIMARY KEY,
    sender_id       TEXT NOT NULL,
    phone           TEXT NOT NULL,
    last_message    TEXT NOT NULL,
    last_at         INTEGER NOT NULL,
    message_count   INTEGER NOT NULL,
    UNIQUE (sender_id, phone)
);

CREATE INDEX conversations_by_last_at ON conversations (last_at DESC, id DESC);

-- Inbound customer messages.
CREATE TABLE messages (
    id              INTEGER PRIMARY KEY,
    conversation_id INTEGER NOT NULL REFERENCES conversations (id),
    message_id      TEXT NOT NULL UNIQUE,
    phone           TEXT NOT NULL,
    text            TEXT NOT NULL,
    sent_at         INTEGER NOT NULL,
    seq             INTEGER NOT NULL
);

CREATE INDEX messages_by_conversation ON messages (conversation_id, sent_at);

-- Full-text search over message text and the customer's phone, reading
-- its content from `messages` (kept in step by the projector).
CREATE VIRTUAL TABLE message_search USING fts5 (
    text,
    phone,
    content = 'messages',
    content_rowid = 'id',
    tokenize = 'unicode61 remove_diacritics 2'
);

-- Delivery timelines: one per outbound message.
CREATE TABLE timelines (
    id              INTEGER PRIMARY KEY,
    message_id      TEXT NOT NULL UNIQUE,
    recipient       TEXT NOT NULL,
    sender_id       TEXT NOT NULL,
    status          TEXT NOT NULL,
    status_rank     INTEGER NOT NULL,
    error_code      TEXT,
    error_message   TEXT,
    first_at        INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);

-- "All messages to this recipient, newest first", filtered by status, error
-- code or time range.
CREATE INDEX timelines_by_recipient ON timelines (recipient, updated_at DESC, id DESC);
CREATE INDEX timelines_by_status ON timelines (status, updated_at DESC, id DESC);
CREATE INDEX timelines_by_error ON timelines (error_code, updated_at DESC, id DESC)
    WHERE error_code IS NOT NULL;
CREATE INDEX timelines_by_time ON timelines (updated_at DESC, id DESC);

-- Every distinct status of a message, once.
CREATE TABLE timeline_statuses (
    id              INTEGER PRIMARY KEY,
    timeline_id     INTEGER NOT NULL REFERENCES timelines (id),
    status          TEXT NOT NULL,
    at              INTEGER NOT NULL,
    error_code      TEXT,
    error_message   TEXT,
    -- Arrived after a status that ranks higher; recorded, never applied.
    out_of_order    INTEGER NOT NULL DEFAULT 0,
    seq             INTEGER NOT NULL,
    UNIQUE (timeline_id, status)
);

-- Templates: one per (sender, name, language).
CREATE TABLE templates (
    id              INTEGER PRIMARY KEY,
    sender_id       TEXT NOT NULL,
    name            TEXT NOT NULL,
    language        TEXT NOT NULL,
    category        TEXT,
    status          TEXT NOT NULL,
    reason          TEXT,
    updated_at      INTEGER NOT NULL,
    UNIQUE (sender_id, name, language)
);

CREATE TABLE template_history (
    id              INTEGER PRIMARY KEY,
    template_id     INTEGER NOT NULL REFERENCES templates (id),
    status          TEXT NOT NULL,
    category        TEXT,
    reason          TEXT,
    at              INTEGER NOT NULL,
    seq             INTEGER NOT NULL
);

CREATE INDEX template_history_by_template ON template_history (template_id, seq);

-- Alerts. Identity is `key`: `event:<seq>` for those the log raised (so an
-- acknowledgement survives a rebuild), `quiet:…` and `rejections:…` for the
-- receiver's own.
CREATE TABLE alerts (
    id              INTEGER PRIMARY KEY,
    key             TEXT NOT NULL UNIQUE,
    origin          TEXT NOT NULL CHECK (origin IN ('log', 'receiver')),
    kind            TEXT NOT NULL,
    title           TEXT NOT NULL,
    detail          TEXT,
    template_id     INTEGER REFERENCES templates (id),
    destination_id  INTEGER REFERENCES destinations (id),
    raised_at       INTEGER NOT NULL,
    seq             INTEGER
);

CREATE INDEX alerts_by_time ON alerts (raised_at DESC, id DESC);

-- Acknowledgements: staff actions, never derived from the log.
CREATE TABLE alert_acks (
    alert_key       TEXT PRIMARY KEY,
    acked_by        TEXT NOT NULL,
    acked_at        INTEGER NOT NULL
);
