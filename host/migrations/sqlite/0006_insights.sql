-- Insights (host/src/insights, docs/insights.md): per-post priority, per-contact
-- value and churn risk, topics of posts for trends, spike alerts, advocacy.
-- Every score keeps the signals it was computed from, so its one-line
-- explanation is derived from the row.

-- Newest analysis per post and plugin, found by (plugin, post) in id order.
CREATE INDEX analyses_plugin_post ON analyses (plugin, post_id, id);
-- Buyers of a product (segments).
CREATE INDEX transactions_product ON transactions (product, contact_id);
-- Staff: identities that authored an outbound post.
CREATE INDEX posts_outbound ON posts (identity_id) WHERE direction = 'outbound';
-- Replies, and the post each one answers (advocacy).
CREATE INDEX posts_replies ON posts (channel_id, in_reply_to) WHERE in_reply_to IS NOT NULL;

-- One row per contact: value from transactions (as of the last scoring) and
-- churn risk. value_pct is the contact's cumulative share among customers
-- (contacts with a positive lifetime value) ordered by lifetime value.
CREATE TABLE contact_scores (
    contact_id INTEGER PRIMARY KEY REFERENCES contacts (id) ON DELETE CASCADE,
    ltv REAL NOT NULL DEFAULT 0,
    orders INTEGER NOT NULL DEFAULT 0,
    orders_year INTEGER NOT NULL DEFAULT 0,
    recent_orders INTEGER NOT NULL DEFAULT 0,
    last_order_at INTEGER,
    value_pct REAL NOT NULL DEFAULT 0,
    -- Churn: the signals, then the score in [0, 1].
    negative_week INTEGER NOT NULL DEFAULT 0,
    recent_sentiment REAL,
    earlier_sentiment REAL,
    churn_intent INTEGER NOT NULL DEFAULT 0,
    days_since_order INTEGER,
    churn REAL NOT NULL DEFAULT 0
);
CREATE INDEX contact_scores_churn ON contact_scores (churn);
CREATE INDEX contact_scores_ltv ON contact_scores (ltv);

-- One row per inbound post: its signals, the priority without waiting time
-- (base) and the inbox's sort key, base - w * created_at_hours.
CREATE TABLE post_scores (
    post_id INTEGER PRIMARY KEY REFERENCES posts (id) ON DELETE CASCADE,
    identity_id INTEGER NOT NULL,
    contact_id INTEGER,
    created_at INTEGER NOT NULL,
    sentiment REAL,
    intent TEXT,
    intent_confidence REAL,
    churn_risk REAL NOT NULL DEFAULT 0,
    question REAL NOT NULL DEFAULT 0,
    praise REAL NOT NULL DEFAULT 0,
    followers INTEGER,
    value_pct REAL NOT NULL DEFAULT 0,
    ltv REAL NOT NULL DEFAULT 0,
    recent_orders INTEGER NOT NULL DEFAULT 0,
    base REAL NOT NULL,
    priority_key REAL NOT NULL
);
CREATE INDEX post_scores_priority ON post_scores (priority_key, post_id);
CREATE INDEX post_scores_created ON post_scores (created_at);
CREATE INDEX post_scores_contact ON post_scores (contact_id, created_at);
CREATE INDEX post_scores_identity ON post_scores (identity_id, created_at);

-- The topics of each inbound post (newest intent analysis), with what trends
-- and spike detection read.
CREATE TABLE post_topics (
    topic TEXT NOT NULL,
    post_id INTEGER NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
    identity_id INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    sentiment REAL,
    PRIMARY KEY (topic, post_id)
);
CREATE INDEX post_topics_time ON post_topics (topic, created_at, sentiment);
CREATE INDEX post_topics_created ON post_topics (created_at);
CREATE INDEX post_topics_post ON post_topics (post_id);

-- Alerts: one per (kind, scope, subject, bucket); recomputing updates it.
CREATE TABLE alerts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    -- spike
    kind TEXT NOT NULL,
    -- topic
    scope TEXT NOT NULL,
    subject TEXT NOT NULL,
    bucket_start INTEGER NOT NULL,
    -- volume, negative-share, or both (comma-separated)
    signals TEXT NOT NULL,
    posts INTEGER NOT NULL,
    negative INTEGER NOT NULL,
    baseline_posts REAL NOT NULL,
    baseline_negative_share REAL NOT NULL,
    -- JSON array of post ids.
    examples TEXT NOT NULL DEFAULT '[]',
    message TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'open',
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (kind, scope, subject, bucket_start)
);
CREATE INDEX alerts_bucket ON alerts (bucket_start);

-- The advocacy points ledger: one row per event, never two for one key.
CREATE TABLE advocacy_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL UNIQUE,
    -- positive-mention, answered-question, accepted-answer
    kind TEXT NOT NULL,
    post_id INTEGER NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
    identity_id INTEGER NOT NULL,
    points INTEGER NOT NULL,
    -- JSON object: the posts and signals that earned the points.
    evidence TEXT NOT NULL,
    occurred_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX advocacy_events_identity ON advocacy_events (identity_id, occurred_at);
