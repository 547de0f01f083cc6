-- Staff accounts, API tokens and the audit log.

CREATE TABLE users (
    id              INTEGER PRIMARY KEY,
    username        TEXT NOT NULL UNIQUE,
    password_hash   TEXT NOT NULL,
    role            TEXT NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
    disabled        INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL,
    last_login_at   INTEGER
);

-- Only SHA-256 digests of tokens are kept; the token is shown once.
CREATE TABLE api_tokens (
    id              INTEGER PRIMARY KEY,
    name            TEXT NOT NULL UNIQUE,
    token_sha256    TEXT NOT NULL UNIQUE,
    role            TEXT NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
    created_at      INTEGER NOT NULL,
    last_used_at    INTEGER,
    revoked_at      INTEGER
);

CREATE TABLE audit_log (
    id              INTEGER PRIMARY KEY,
    at              INTEGER NOT NULL,
    actor           TEXT NOT NULL,
    action          TEXT NOT NULL,
    target          TEXT,
    detail          TEXT,
    remote_addr     TEXT
);

CREATE INDEX audit_log_by_time ON audit_log (at DESC, id DESC);
