-- Egress log (docs/security.md): every outgoing request of every plugin call,
-- refused ones included, kept for a limited time (host/src/egress.rs).
CREATE TABLE egress (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at BIGINT NOT NULL,
    plugin TEXT NOT NULL,
    version TEXT NOT NULL,
    account TEXT,
    call TEXT NOT NULL,
    method TEXT NOT NULL,
    scheme TEXT NOT NULL,
    host TEXT NOT NULL,
    port BIGINT NOT NULL,
    -- The path only: query strings carry values (search terms, tokens).
    path TEXT NOT NULL,
    status BIGINT,
    request_bytes BIGINT NOT NULL,
    response_bytes BIGINT NOT NULL,
    duration_ms BIGINT NOT NULL,
    refused TEXT,
    error TEXT
);
CREATE INDEX egress_plugin ON egress (plugin, id);
CREATE INDEX egress_at ON egress (at);
