-- When each refreshable token of an account expires (docs/security.md): the
-- host refreshes it a margin before. The token itself stays sealed with the
-- account's other secrets; this row holds no secret.
CREATE TABLE credential_expiry (
    channel_id BIGINT NOT NULL REFERENCES channel_accounts (id) ON DELETE CASCADE,
    secret TEXT NOT NULL,
    -- Unix ms; NULL when the network did not say.
    expires_at BIGINT,
    refreshed_at BIGINT NOT NULL,
    PRIMARY KEY (channel_id, secret)
);
