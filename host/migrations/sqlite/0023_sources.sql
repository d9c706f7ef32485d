-- Sources of customer data (docs/sources.md). A source account is a row of
-- channel_accounts of kind 'source': the same sealed secrets, network
-- policy, schedule, lease, backoff and pause as a channel's.
ALTER TABLE channel_accounts ADD COLUMN kind TEXT NOT NULL DEFAULT 'channel';
CREATE INDEX channel_accounts_kind_due ON channel_accounts (kind, status, next_poll_at);

-- What the admin chose for a source account: a contact deleted upstream is
-- erased ('erase') or kept and marked inactive ('inactive'); and when the
-- source last caught up.
CREATE TABLE source_settings (
    account_id INTEGER PRIMARY KEY REFERENCES channel_accounts (id) ON DELETE CASCADE,
    on_delete TEXT NOT NULL,
    last_synced_at INTEGER
);

-- A source's contacts, keyed on (account, the source's id), each a row of
-- `contacts` of its own, with what `contacts` has no column for (JSON).
-- `active` is 0 once the source deleted it (kept as inactive);
-- `erase_pending` is 1 from the commit that saw the deletion until the
-- erasure it asks for has started.
CREATE TABLE source_contacts (
    account_id INTEGER NOT NULL REFERENCES channel_accounts (id) ON DELETE CASCADE,
    external_id TEXT NOT NULL,
    contact_id INTEGER NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    emails TEXT NOT NULL DEFAULT '[]',
    phones TEXT NOT NULL DEFAULT '[]',
    websites TEXT NOT NULL DEFAULT '[]',
    custom_fields TEXT NOT NULL DEFAULT '{}',
    active INTEGER NOT NULL DEFAULT 1,
    erase_pending INTEGER NOT NULL DEFAULT 0,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (account_id, external_id)
);
CREATE INDEX source_contacts_contact ON source_contacts (contact_id);

-- A source's transactions, keyed on (account, the source's id).
CREATE TABLE source_transactions (
    account_id INTEGER NOT NULL REFERENCES channel_accounts (id) ON DELETE CASCADE,
    external_id TEXT NOT NULL,
    transaction_id INTEGER NOT NULL REFERENCES transactions (id) ON DELETE CASCADE,
    status TEXT,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (account_id, external_id)
);
CREATE INDEX source_transactions_transaction ON source_transactions (transaction_id);

-- The products of a transaction, one row each.
CREATE TABLE transaction_lines (
    transaction_id INTEGER NOT NULL REFERENCES transactions (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    external_id TEXT,
    sku TEXT,
    name TEXT NOT NULL,
    quantity INTEGER NOT NULL,
    amount REAL NOT NULL,
    PRIMARY KEY (transaction_id, position)
);

-- Two contacts that may be one person (the same email in two sources, or a
-- source and an import): proposed for a person to decide, never merged.
-- `contact_id` < `other_id`.
CREATE TABLE contact_match_proposals (
    contact_id INTEGER NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    other_id INTEGER NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    reason TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'proposed',
    created_at INTEGER NOT NULL,
    PRIMARY KEY (contact_id, other_id)
);
CREATE INDEX contact_match_proposals_other ON contact_match_proposals (other_id);
