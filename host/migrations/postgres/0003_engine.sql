-- The ingest engine's schedule and leases, analyses, identity links, replies.

-- When the account is next due, how many calls failed in a row (for backoff),
-- and which node holds its lease until when (Unix ms; 0 = free).
ALTER TABLE channel_accounts ADD COLUMN next_poll_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE channel_accounts ADD COLUMN failures BIGINT NOT NULL DEFAULT 0;
ALTER TABLE channel_accounts ADD COLUMN lease_owner TEXT;
ALTER TABLE channel_accounts ADD COLUMN lease_until BIGINT NOT NULL DEFAULT 0;
CREATE INDEX channel_accounts_due ON channel_accounts (status, next_poll_at);

-- One row per post and analyzer version: re-running an analysis changes nothing.
CREATE TABLE analyses (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    post_id BIGINT NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
    plugin TEXT NOT NULL,
    version TEXT NOT NULL,
    sentiment DOUBLE PRECISION,
    label TEXT,
    -- JSON arrays of {"name", "confidence"} and of strings.
    intents TEXT NOT NULL DEFAULT '[]',
    topics TEXT NOT NULL DEFAULT '[]',
    language TEXT,
    created_at BIGINT NOT NULL,
    UNIQUE (post_id, plugin, version)
);

-- A link between an identity and a contact, with why it was made and who decided.
-- Never deleted: unlinking sets the status, so the history stays.
CREATE TABLE identity_links (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    identity_id BIGINT NOT NULL REFERENCES identities (id),
    contact_id BIGINT NOT NULL REFERENCES contacts (id),
    -- email, phone, website, order-reference, contact-handle, name, same-handle, manual
    method TEXT NOT NULL,
    confidence DOUBLE PRECISION NOT NULL,
    -- JSON array of {"kind", "value", "source"}.
    evidence TEXT NOT NULL DEFAULT '[]',
    -- proposed, confirmed, rejected
    status TEXT NOT NULL,
    decided_by TEXT,
    decided_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (identity_id, contact_id)
);
CREATE INDEX identity_links_contact ON identity_links (contact_id);
CREATE INDEX identity_links_status ON identity_links (status, created_at);

-- Outbound messages: stored before they are sent.
CREATE TABLE replies (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    channel_id BIGINT NOT NULL REFERENCES channel_accounts (id),
    post_id BIGINT REFERENCES posts (id),
    text TEXT NOT NULL,
    idempotency_key TEXT NOT NULL UNIQUE,
    -- queued, sent, failed
    status TEXT NOT NULL DEFAULT 'queued',
    external_id TEXT,
    url TEXT,
    error TEXT,
    attempts BIGINT NOT NULL DEFAULT 0,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX replies_post ON replies (post_id);
