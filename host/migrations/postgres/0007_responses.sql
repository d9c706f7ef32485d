-- Responses (host/src/responses, docs/responses.md): reply templates, micro
-- and macro responses with a status per recipient, and per-channel approval.
-- What is sent goes through `replies` (one row per message, idempotency key
-- derived from the response), so these tables only say what was meant.

-- Admin setting: responses on this channel need a second person's approval (1) or not (0).
ALTER TABLE channel_accounts ADD COLUMN requires_approval BIGINT NOT NULL DEFAULT 0;

CREATE TABLE reply_templates (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    -- Text with {{variable}} and {{variable|fallback}} placeholders, checked when saved.
    body TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- One row per response. Texts are rendered when the response is created, so
-- an approver approves exactly what will be sent.
CREATE TABLE responses (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- micro (a reply to one post) or macro (a broadcast, and replies to a topic's or an alert's posts)
    kind TEXT NOT NULL,
    channel_id BIGINT NOT NULL REFERENCES channel_accounts (id) ON DELETE CASCADE,
    -- The template the text came from (its name then), if any.
    template TEXT,
    -- Macro: the broadcast; micro: the reply.
    text TEXT NOT NULL,
    -- Macro: the template of the replies, if any.
    reply_template TEXT,
    -- Macro: whose posts are answered.
    topic TEXT,
    alert_id BIGINT,
    -- pending-approval, approved, rejected, sending, sent, partially-failed, failed
    status TEXT NOT NULL,
    created_by TEXT NOT NULL,
    approved_by TEXT CHECK (approved_by <> created_by),
    rejected_by TEXT,
    reason TEXT,
    decided_at BIGINT,
    -- Macro: the broadcast's stored message once it is queued.
    broadcast_reply_id BIGINT REFERENCES replies (id) ON DELETE SET NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX responses_status ON responses (status, id);

-- One row per post a response answers.
CREATE TABLE response_recipients (
    response_id BIGINT NOT NULL REFERENCES responses (id) ON DELETE CASCADE,
    post_id BIGINT NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
    -- The rendered reply; NULL when skipped.
    text TEXT,
    -- queued, sent, failed, skipped
    status TEXT NOT NULL,
    reply_id BIGINT REFERENCES replies (id) ON DELETE SET NULL,
    -- Why it failed or was skipped.
    error TEXT,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (response_id, post_id)
);
