-- API bearer tokens: only the SHA-256 of the secret is kept (the token is
-- random and long, so a fast hash is enough). Revoking deletes the row; the
-- audit log keeps the history.
CREATE TABLE api_tokens (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL,
    hash TEXT NOT NULL UNIQUE,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT
);
