-- Web UI sessions after single sign-on: only the SHA-256 of the session id
-- (the cookie's value) is kept. A session ends at its absolute expiry, after
-- idle_ms without a request, or at logout (the row is deleted).
CREATE TABLE sessions (
    hash TEXT PRIMARY KEY,
    actor TEXT NOT NULL,
    role TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX sessions_expires_at ON sessions (expires_at);
