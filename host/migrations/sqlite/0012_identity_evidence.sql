-- Identity evidence by source (docs/security.md): what an author writes (an
-- email, phone, website or order reference in a profile or a post) only
-- proposes a link. Links the resolver confirmed on such evidence go back to
-- review, audited; decisions of people stay.
INSERT INTO audit_log (at, actor, action, subject, details)
SELECT CAST(strftime('%s', 'now') AS INTEGER) * 1000, 'migration', 'identity.reopen', 'identity_link:' || id,
       '{"why":"confirmed automatically on evidence the author wrote; a person or verified evidence must confirm it"}'
FROM identity_links
WHERE status = 'confirmed' AND decided_by = 'resolver' AND method IN ('email', 'phone', 'website', 'order-reference');

UPDATE identity_links SET status = 'proposed', confidence = 0.9, decided_by = NULL, decided_at = NULL
WHERE status = 'confirmed' AND decided_by = 'resolver' AND method IN ('email', 'phone', 'website', 'order-reference');

-- Verification links: the customer confirms a proposed link from a link the
-- brand sent to an address on their record (host/src/crm/identity/verification.rs).
CREATE TABLE identity_verifications (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    link_id INTEGER NOT NULL REFERENCES identity_links (id),
    -- SHA-256 of the link's token: the token itself is never stored.
    token_hash TEXT NOT NULL UNIQUE,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    completed_at BIGINT
);
CREATE INDEX identity_verifications_link ON identity_verifications (link_id);
