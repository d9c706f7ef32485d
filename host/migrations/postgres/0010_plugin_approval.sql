-- Consent to permissions (docs/security.md): an upgrade that widens what a
-- plugin may do is stored waiting for an admin's approval, with the list of
-- what it widens (JSON array of lines); NULL once granted. Versions installed
-- before this migration keep the permissions they run with: granted.
ALTER TABLE plugins ADD COLUMN awaiting_approval TEXT;
