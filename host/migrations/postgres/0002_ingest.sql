-- Channel accounts, the identities of authors, and their posts.
CREATE TABLE channel_accounts (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    plugin TEXT NOT NULL,
    network TEXT NOT NULL,
    config TEXT NOT NULL DEFAULT '{}',
    -- Encrypted (ChaCha20-Poly1305) JSON of the account's secrets; never handed to the plugin.
    secrets TEXT NOT NULL DEFAULT '',
    -- Admin setting: requests may reach loopback and private addresses (1) or not (0).
    allow_private INTEGER NOT NULL DEFAULT 0,
    -- The plugin's opaque cursor, committed with the posts it led to.
    state TEXT NOT NULL DEFAULT '',
    -- The plugin's key-value store: JSON object of base64 values.
    kv TEXT NOT NULL DEFAULT '{}',
    status TEXT NOT NULL DEFAULT 'active',
    last_error TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- Keyed on the network's stable user id: handles change.
CREATE TABLE identities (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    network TEXT NOT NULL,
    external_user_id TEXT NOT NULL,
    handle TEXT NOT NULL,
    display_name TEXT,
    profile_url TEXT,
    avatar_url TEXT,
    bio TEXT,
    followers BIGINT,
    fields TEXT NOT NULL DEFAULT '[]',
    first_seen BIGINT NOT NULL,
    last_seen BIGINT NOT NULL,
    UNIQUE (network, external_user_id)
);
CREATE INDEX identities_handle ON identities (network, handle);

CREATE TABLE posts (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    channel_id BIGINT NOT NULL REFERENCES channel_accounts (id),
    external_id TEXT NOT NULL,
    identity_id BIGINT NOT NULL REFERENCES identities (id),
    kind TEXT NOT NULL,
    direction TEXT NOT NULL,
    text TEXT NOT NULL,
    url TEXT,
    thread_id TEXT,
    in_reply_to TEXT,
    created_at BIGINT NOT NULL,
    language TEXT,
    raw TEXT NOT NULL,
    inbox_status TEXT NOT NULL DEFAULT 'open',
    assignee TEXT,
    ingested_at BIGINT NOT NULL,
    UNIQUE (channel_id, external_id)
);
CREATE INDEX posts_identity ON posts (identity_id, created_at);
CREATE INDEX posts_inbox ON posts (inbox_status, created_at);
