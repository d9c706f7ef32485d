-- Deletion requests a network forwards for one of its users (Meta's
-- data-deletion callback, `changes.erasure-requested`; docs/privacy.md).
-- The confirmation code is the person's only key to the request's status
-- page. The network's user id is kept only until the erasure starts (the
-- erasure's plan holds it then, and is emptied when it ends).
CREATE TABLE deletion_requests (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code TEXT NOT NULL UNIQUE,
    channel_id BIGINT REFERENCES channel_accounts (id) ON DELETE SET NULL,
    network TEXT NOT NULL,
    external_user_id TEXT,
    -- received (not started yet), started (erasure_id runs it), done (nothing was held)
    status TEXT NOT NULL,
    erasure_id BIGINT REFERENCES erasures (id),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    finished_at BIGINT
);
CREATE INDEX deletion_requests_status ON deletion_requests (status);
