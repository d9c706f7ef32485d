-- Deletion requests a network forwards for one of its users (Meta's
-- data-deletion callback, `changes.erasure-requested`; docs/privacy.md).
-- The confirmation code is the person's only key to the request's status
-- page. The network's user id is kept only until the erasure starts (the
-- erasure's plan holds it then, and is emptied when it ends).
CREATE TABLE deletion_requests (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    code TEXT NOT NULL UNIQUE,
    channel_id INTEGER REFERENCES channel_accounts (id) ON DELETE SET NULL,
    network TEXT NOT NULL,
    external_user_id TEXT,
    -- received (not started yet), started (erasure_id runs it), done (nothing was held)
    status TEXT NOT NULL,
    erasure_id INTEGER REFERENCES erasures (id),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    finished_at INTEGER
);
CREATE INDEX deletion_requests_status ON deletion_requests (status);
