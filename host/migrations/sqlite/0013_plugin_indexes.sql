-- Plugin indexes an admin installs from (docs/plugin-index.md): where the
-- signed index is fetched, and the key it must be signed with (a publisher
-- key file's TOML text). `generated_at` is the newest index time verified
-- so far: an older signed index served again (a replay) is refused.
CREATE TABLE plugin_indexes (
    name TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    key_id TEXT NOT NULL,
    public_key TEXT NOT NULL,
    added_at BIGINT NOT NULL,
    added_by TEXT NOT NULL,
    generated_at BIGINT
);
