-- Data-subject rights (host/src/privacy, docs/privacy.md).

-- Why a post's text and raw payload are gone: erased (a data subject's
-- erasure), deleted (by its author, on the network) or expired (retention).
-- A tombstone keeps its row so that replies, threads and the (channel,
-- external id) key that stops a re-ingest still hold.
ALTER TABLE posts ADD COLUMN tombstone TEXT;

-- One row per erasure. `plan` holds what the erasure looks for (ids, handles,
-- emails) only while it runs, so that a crash resumes it; it is emptied when
-- the erasure ends, and the row is the receipt: who, when, what was removed.
CREATE TABLE erasures (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    receipt TEXT NOT NULL UNIQUE,
    requested_by TEXT NOT NULL,
    -- running, done
    status TEXT NOT NULL,
    -- The next step to run (resumption).
    step BIGINT NOT NULL DEFAULT 0,
    plan TEXT NOT NULL,
    -- JSON object: rows removed or redacted per kind.
    counts TEXT NOT NULL DEFAULT '{}',
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    finished_at BIGINT
);
CREATE INDEX erasures_status ON erasures (status);

-- Authors whose posts are never stored again: HMAC-SHA256 (under a key
-- derived from the instance's secret key) of `network:handle` and of
-- `network:external user id`, never the handle itself.
CREATE TABLE do_not_track (
    hash TEXT PRIMARY KEY,
    erasure_id BIGINT,
    created_at BIGINT NOT NULL
);
