-- Installed plugins: every version kept (upgrade keeps the previous one for
-- rollback); exactly one active version per name once installed.
CREATE TABLE plugins (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    version TEXT NOT NULL,
    kind TEXT NOT NULL,
    -- Hex SHA-256 of the wasm, and of the package (what a signature signs).
    digest TEXT NOT NULL,
    package_digest TEXT NOT NULL,
    manifest TEXT NOT NULL,
    wasm BLOB NOT NULL,
    -- The key id and name of the trusted key that signed it; NULL when unsigned.
    signer TEXT,
    active INTEGER NOT NULL DEFAULT 0,
    enabled INTEGER NOT NULL DEFAULT 1,
    -- When this version last became the active one (rollback goes to the newest before).
    activated_at BIGINT,
    installed_at BIGINT NOT NULL,
    installed_by TEXT NOT NULL,
    UNIQUE (name, version)
);
CREATE INDEX plugins_active ON plugins (name, active);

-- Publisher keys the admin trusts (Ed25519, raw 32-byte public key, base64).
CREATE TABLE trusted_keys (
    key_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    public_key TEXT NOT NULL,
    added_at BIGINT NOT NULL
);

-- Host settings such as the `require-signatures` policy.
CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
