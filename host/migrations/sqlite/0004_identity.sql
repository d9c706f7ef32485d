-- Identity resolution: indexes so that every piece of evidence is looked up by
-- equality, and what the resolver last saw of each identity.

CREATE INDEX contacts_phone ON contacts (phone);
CREATE INDEX contacts_website ON contacts (website);
CREATE INDEX contacts_name_lower ON contacts (lower(name));
CREATE INDEX contacts_updated ON contacts (updated_at);
-- One per network a contact can list a handle for (crm::contact::NETWORKS);
-- the resolver's queries use the same expressions.
CREATE INDEX contacts_handle_mastodon ON contacts (json_extract(handles, '$.mastodon'));
CREATE INDEX contacts_handle_bluesky ON contacts (json_extract(handles, '$.bluesky'));
CREATE INDEX contacts_handle_reddit ON contacts (json_extract(handles, '$.reddit'));
CREATE INDEX contacts_handle_x ON contacts (json_extract(handles, '$.x'));
CREATE INDEX contacts_handle_facebook ON contacts (json_extract(handles, '$.facebook'));
CREATE INDEX contacts_handle_instagram ON contacts (json_extract(handles, '$.instagram'));
CREATE INDEX contacts_handle_youtube ON contacts (json_extract(handles, '$.youtube'));
CREATE INDEX contacts_handle_tiktok ON contacts (json_extract(handles, '$.tiktok'));
CREATE INDEX transactions_reference ON transactions (reference);
CREATE INDEX transactions_updated ON transactions (updated_at);

-- The profile the resolver last looked at (a hash) and the CRM's state then
-- (the newest contact or transaction change): an identity whose profile and
-- CRM are unchanged is not looked up again, only its new posts are. The
-- handle's user part (`maya@demo.social`, `maya.bsky.social` → `maya`) finds
-- the same handle on other networks.
CREATE TABLE identity_resolution (
    identity_id INTEGER PRIMARY KEY REFERENCES identities (id),
    fingerprint TEXT NOT NULL,
    network TEXT NOT NULL,
    handle_key TEXT,
    crm_version INTEGER NOT NULL,
    resolved_at INTEGER NOT NULL
);
CREATE INDEX identity_resolution_handle ON identity_resolution (handle_key);
