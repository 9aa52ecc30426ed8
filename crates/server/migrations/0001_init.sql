-- The relay's first schema. Migrations are append-only: never edit this file, add 0002_….sql.
-- Times are unix milliseconds. Strings the relay only has to recognise (pairing codes, login
-- tokens, API tokens, phone cookies) are stored as lowercase hex SHA-256, never as is.

-- Paired workstations. `secret` is the HMAC key of the link: the relay must hold it to verify
-- signatures, so it cannot be hashed. That is why the database file is created mode 0600 in a
-- 0700 directory.
CREATE TABLE devices (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    secret       TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER,
    revoked_at   INTEGER
) STRICT;

-- One-time device pairing codes (`cr-server pair-code`).
CREATE TABLE pairing_codes (
    code_hash  TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER,
    device_id  TEXT
) STRICT;

-- One-time phone login tokens (`cr-server login-link`, `cr qr`).
CREATE TABLE login_tokens (
    token_hash TEXT PRIMARY KEY,
    minted_by  TEXT NOT NULL,          -- 'admin' or the device id that asked
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER
) STRICT;

-- Logged-in phones: the `cr_session` cookie's hash.
CREATE TABLE phone_sessions (
    id           INTEGER PRIMARY KEY,
    cookie_hash  TEXT NOT NULL UNIQUE,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    ended_at     INTEGER,
    remote_addr  TEXT NOT NULL,
    user_agent   TEXT NOT NULL
) STRICT;

-- Long-lived API tokens for scripts (`cr-server token create`).
CREATE TABLE api_tokens (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
) STRICT;

-- Nonces of signed device requests, kept past the clock-skew window so a replay is refused even
-- across a relay restart.
CREATE TABLE nonces (
    nonce     TEXT PRIMARY KEY,
    device_id TEXT NOT NULL,
    seen_at   INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX nonces_seen_at ON nonces (seen_at);

-- One `cr` run. `last_seq` is the highest event number committed: the link's acknowledgement.
-- `screen` is the latest screen as JSON, saved now and then and when the link drops.
CREATE TABLE sessions (
    id         TEXT PRIMARY KEY,
    device_id  TEXT NOT NULL REFERENCES devices (id),
    name       TEXT NOT NULL,
    command    TEXT NOT NULL,
    cwd        TEXT NOT NULL,
    title      TEXT NOT NULL DEFAULT '',
    status     TEXT NOT NULL,
    started_at INTEGER NOT NULL,
    ended_at   INTEGER,
    exit_code  INTEGER,
    last_seq   INTEGER NOT NULL DEFAULT 0,
    screen     TEXT
) STRICT;
CREATE INDEX sessions_started_at ON sessions (started_at);

-- Questions. `data` is the prompt as `cr` opened it (JSON); status and who settled it live in
-- their own columns.
CREATE TABLE prompts (
    id         TEXT PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES sessions (id),
    data       TEXT NOT NULL,
    status     TEXT NOT NULL,
    settled_by TEXT,
    created_at INTEGER NOT NULL,
    settled_at INTEGER
) STRICT;
CREATE INDEX prompts_session_status ON prompts (session_id, status);

-- Transcript lines: rows that scrolled off the top of a session's screen, and gap markers.
-- `seq` is the session's event number; `eid` the relay-wide feed event id (SSE resume).
CREATE TABLE output_log (
    session_id TEXT NOT NULL,
    seq        INTEGER NOT NULL,
    at         INTEGER NOT NULL,
    line       TEXT NOT NULL,
    eid        INTEGER NOT NULL,
    PRIMARY KEY (session_id, seq)
) STRICT, WITHOUT ROWID;
CREATE INDEX output_log_eid ON output_log (session_id, eid);

-- `prompt` and `prompt_response` feed events as sent, numbered by the same relay-wide `eid`
-- as transcript lines, so one SSE `Last-Event-ID` resumes both.
CREATE TABLE feed_log (
    eid        INTEGER PRIMARY KEY,
    session_id TEXT NOT NULL,
    event      TEXT NOT NULL,
    data       TEXT NOT NULL,
    at         INTEGER NOT NULL
) STRICT;

-- Every attempt to answer a prompt: who, from where, what, and how it ended (HTTP status).
CREATE TABLE answer_audit (
    id          INTEGER PRIMARY KEY,
    prompt_id   TEXT NOT NULL,
    actor       TEXT NOT NULL,
    remote_addr TEXT NOT NULL,
    user_agent  TEXT NOT NULL,
    answer      TEXT NOT NULL,
    outcome     INTEGER NOT NULL,
    detail      TEXT NOT NULL,
    at          INTEGER NOT NULL
) STRICT;
CREATE INDEX answer_audit_prompt ON answer_audit (prompt_id);
