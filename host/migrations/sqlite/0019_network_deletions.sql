-- Deletions and edits from the networks (docs/network-deletions.md).

-- Re-checking stored posts with a channel plugin's `upkeep` export: when the
-- account is due next, and where the last run stopped in its window (by
-- created_at, then id), so that runs take the window's posts in turn.
CREATE TABLE channel_upkeep (
    channel_id INTEGER PRIMARY KEY REFERENCES channel_accounts (id) ON DELETE CASCADE,
    due_at INTEGER NOT NULL,
    after_created_at INTEGER NOT NULL DEFAULT 0,
    after_post_id INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    updated_at INTEGER NOT NULL
);

-- A channel's posts by time: the window a re-check walks.
CREATE INDEX posts_channel_created ON posts (channel_id, created_at, id);
