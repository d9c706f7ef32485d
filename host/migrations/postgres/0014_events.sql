-- Events out (host/src/events, docs/api.md "Events"): subscriptions of other
-- systems, the outbox written in the same transaction as each change it
-- reports, and one delivery per event and subscription (its log, its lease).

CREATE TABLE event_subscriptions (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    url TEXT NOT NULL,
    -- The event types wanted, comma-separated, and as a bit mask (events::EventType::bit).
    types TEXT NOT NULL,
    types_mask BIGINT NOT NULL,
    -- Optional filters; an event that carries the attribute must match.
    channel TEXT,
    intent TEXT,
    min_priority DOUBLE PRECISION,
    -- 1: the URL may resolve to loopback or private addresses (CLI only).
    allow_private BIGINT NOT NULL DEFAULT 0,
    -- The signing secrets, sealed (secrets::SecretBox) and bound to `event-subscription:ID`.
    secret TEXT NOT NULL,
    -- Until when the secret before the last rotation still signs too (Unix ms; 0 = not).
    previous_secret_until BIGINT NOT NULL DEFAULT 0,
    -- active or disabled
    status TEXT NOT NULL,
    disabled_reason TEXT,
    -- The first failed attempt since the last success (NULL while it succeeds).
    failing_since BIGINT,
    consecutive_failures BIGINT NOT NULL DEFAULT 0,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- One row per event of a type some active subscription wanted when it was written.
CREATE TABLE event_outbox (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- The webhook-id: random, the same for every attempt and replay.
    uid TEXT NOT NULL UNIQUE,
    type TEXT NOT NULL,
    -- What the subscription filters look at, when the event carries it.
    channel TEXT,
    intent TEXT,
    priority DOUBLE PRECISION,
    -- The event's `data` (JSON).
    data TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    -- 1 once its deliveries are made (one per matching subscription).
    fanned_out BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX event_outbox_pending ON event_outbox (id) WHERE fanned_out = 0;
CREATE INDEX event_outbox_created ON event_outbox (created_at);

CREATE TABLE event_deliveries (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id BIGINT NOT NULL REFERENCES event_outbox (id) ON DELETE CASCADE,
    subscription_id BIGINT NOT NULL REFERENCES event_subscriptions (id) ON DELETE CASCADE,
    -- pending, delivered or failed (gave up; replay makes it pending again)
    status TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    -- Which node is sending it until when (Unix ms; 0 = free).
    lease_owner TEXT,
    lease_until BIGINT NOT NULL DEFAULT 0,
    -- The last attempt: HTTP status (NULL when none came back), time taken, error.
    last_status BIGINT,
    last_latency_ms BIGINT,
    last_error TEXT,
    last_attempt_at BIGINT,
    delivered_at BIGINT,
    created_at BIGINT NOT NULL,
    UNIQUE (event_id, subscription_id)
);
CREATE INDEX event_deliveries_due ON event_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX event_deliveries_subscription ON event_deliveries (subscription_id, id);
