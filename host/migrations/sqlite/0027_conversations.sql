-- Conversations (docs/conversations.md). How long the brand may answer a
-- conversation (a channel's thread) with free text, as the channel's plugin
-- reported it (`conversations.reply-window`): the latest end wins.
CREATE TABLE conversation_windows (
    channel_id INTEGER NOT NULL REFERENCES channel_accounts (id) ON DELETE CASCADE,
    conversation_id TEXT NOT NULL,
    open_until INTEGER NOT NULL,
    PRIMARY KEY (channel_id, conversation_id)
);
-- A reply sent as a template message: its name, language and parameters (JSON).
ALTER TABLE replies ADD COLUMN template TEXT;
-- A conversation's history.
CREATE INDEX posts_thread ON posts (channel_id, thread_id, created_at);
