-- Events out (host/src/events, docs/api.md "Events"): subscriptions of other
-- systems, the outbox written in the same transaction as each change it
-- reports, and one delivery per event and subscription (its log, its lease).

CREATE TABLE event_subscriptions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    url TEXT NOT NULL,
    -- The event types wanted, comma-separated, and as a bit mask (events::EventType::bit).
    types TEXT NOT NULL,
    types_mask INTEGER NOT NULL,
    -- Optional filters; an event that carries the attribute must match.
    channel TEXT,
    intent TEXT,
    min_priority REAL,
    -- 1: the URL may resolve to loopback or private addresses (CLI only).
    allow_private INTEGER NOT NULL DEFAULT 0,
    -- The signing secrets, sealed (secrets::SecretBox) and bound to `event-subscription:ID`.
    secret TEXT NOT NULL,
    -- Until when the secret before the last rotation still signs too (Unix ms; 0 = not).
    previous_secret_until INTEGER NOT NULL DEFAULT 0,
    -- active or disabled
    status TEXT NOT NULL,
    disabled_reason TEXT,
    -- The first failed attempt since the last success (NULL while it succeeds).
    failing_since INTEGER,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

-- One row per event of a type some active subscription wanted when it was written.
CREATE TABLE event_outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    -- The webhook-id: random, the same for every attempt and replay.
    uid TEXT NOT NULL UNIQUE,
    type TEXT NOT NULL,
    -- What the subscription filters look at, when the event carries it.
    channel TEXT,
    intent TEXT,
    priority REAL,
    -- The event's `data` (JSON).
    data TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    -- 1 once its deliveries are made (one per matching subscription).
    fanned_out INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX event_outbox_pending ON event_outbox (id) WHERE fanned_out = 0;
CREATE INDEX event_outbox_created ON event_outbox (created_at);

CREATE TABLE event_deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id INTEGER NOT NULL REFERENCES event_outbox (id) ON DELETE CASCADE,
    subscription_id INTEGER NOT NULL REFERENCES event_subscriptions (id) ON DELETE CASCADE,
    -- pending, delivered or failed (gave up; replay makes it pending again)
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    -- Which node is sending it until when (Unix ms; 0 = free).
    lease_owner TEXT,
    lease_until INTEGER NOT NULL DEFAULT 0,
    -- The last attempt: HTTP status (NULL when none came back), time taken, error.
    last_status INTEGER,
    last_latency_ms INTEGER,
    last_error TEXT,
    last_attempt_at INTEGER,
    delivered_at INTEGER,
    created_at INTEGER NOT NULL,
    UNIQUE (event_id, subscription_id)
);
CREATE INDEX event_deliveries_due ON event_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX event_deliveries_subscription ON event_deliveries (subscription_id, id);
