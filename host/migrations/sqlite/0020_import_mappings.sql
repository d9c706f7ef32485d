-- Saved CSV import mappings (docs/imports.md): which column of a file fills
-- which field, as JSON, for contacts or transactions.
CREATE TABLE import_mappings (
    name TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    mapping TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
