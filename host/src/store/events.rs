//! The tables of events out: subscriptions, the outbox, deliveries (the log,
//! leased while being sent), and the in-memory view of the event types an
//! active subscription wants, so a change nobody listens for writes nothing.

use std::sync::atomic::{AtomicI64, Ordering};

use sqlx::any::AnyRow;
use sqlx::{Any, AnyConnection, AssertSqlSafe, Executor, Row};

use super::{Backend, Db, audit, now_ms, placeholders};

/// How long the wanted types of another node's change may go unseen here.
pub const WANTED_TTL_MS: i64 = 1_000;

/// The wanted-types mask as last read, and until when it is taken as fresh.
#[derive(Debug, Default)]
pub struct Wanted {
    mask: AtomicI64,
    fresh_until: AtomicI64,
}

impl Wanted {
    /// The next [`wanted`] reads the table again (a change on this node).
    pub fn invalidate(&self) {
        self.fresh_until.store(0, Ordering::Relaxed);
    }
}

/// The bit mask of event types some active subscription wants, read at most
/// once per [`WANTED_TTL_MS`] per process: one small read a second whatever
/// the rate of changes, and none of it inside their transactions.
pub async fn wanted(db: &Db) -> Result<i64, sqlx::Error> {
    let cache = db.wanted();
    let now = now_ms();
    if now < cache.fresh_until.load(Ordering::Relaxed) {
        return Ok(cache.mask.load(Ordering::Relaxed));
    }
    let rows = sqlx::query("SELECT types_mask FROM event_subscriptions WHERE status = 'active'")
        .fetch_all(db.pool())
        .await?;
    let mut mask = 0;
    for row in &rows {
        mask |= row.try_get::<i64, _>("types_mask")?;
    }
    cache.mask.store(mask, Ordering::Relaxed);
    cache.fresh_until.store(now + WANTED_TTL_MS, Ordering::Relaxed);
    Ok(mask)
}

/// A subscription as stored (its secrets sealed).
#[derive(Clone, Debug)]
pub struct SubscriptionRow {
    pub id: i64,
    pub url: String,
    /// Comma-separated.
    pub types: String,
    pub types_mask: i64,
    pub channel: Option<String>,
    pub intent: Option<String>,
    pub min_priority: Option<f64>,
    pub allow_private: bool,
    pub secret: String,
    pub previous_secret_until: i64,
    pub status: String,
    pub disabled_reason: Option<String>,
    pub failing_since: Option<i64>,
    pub consecutive_failures: i64,
    pub created_by: String,
    pub created_at: i64,
    pub updated_at: i64,
}

const SUBSCRIPTION: &str = "id, url, types, types_mask, channel, intent, min_priority, allow_private, secret, \
     previous_secret_until, status, disabled_reason, failing_since, consecutive_failures, created_by, created_at, updated_at";

fn subscription_row(row: &AnyRow) -> Result<SubscriptionRow, sqlx::Error> {
    Ok(SubscriptionRow {
        id: row.try_get("id")?,
        url: row.try_get("url")?,
        types: row.try_get("types")?,
        types_mask: row.try_get("types_mask")?,
        channel: row.try_get("channel")?,
        intent: row.try_get("intent")?,
        min_priority: row.try_get("min_priority")?,
        allow_private: row.try_get::<i64, _>("allow_private")? != 0,
        secret: row.try_get("secret")?,
        previous_secret_until: row.try_get("previous_secret_until")?,
        status: row.try_get("status")?,
        disabled_reason: row.try_get("disabled_reason")?,
        failing_since: row.try_get("failing_since")?,
        consecutive_failures: row.try_get("consecutive_failures")?,
        created_by: row.try_get("created_by")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

/// The owner a subscription's sealed secrets are bound to.
pub fn secret_owner(id: i64) -> String {
    format!("event-subscription:{id}")
}

/// A subscription to store.
#[derive(Clone, Copy, Debug)]
pub struct NewSubscription<'a> {
    pub url: &'a str,
    pub types: &'a str,
    pub types_mask: i64,
    pub channel: Option<&'a str>,
    pub intent: Option<&'a str>,
    pub min_priority: Option<f64>,
    pub allow_private: bool,
    pub created_by: &'a str,
    pub now: i64,
}

/// Inserts `new` active, without a secret yet (it is sealed to the id: [`set_secret`]).
pub async fn insert_subscription(conn: &mut AnyConnection, new: &NewSubscription<'_>) -> Result<i64, sqlx::Error> {
    let row = sqlx::query(
        "INSERT INTO event_subscriptions (url, types, types_mask, channel, intent, min_priority, allow_private, \
         secret, status, created_by, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, '', 'active', $8, $9, $9) RETURNING id",
    )
    .persistent(false)
    .bind(new.url)
    .bind(new.types)
    .bind(new.types_mask)
    .bind(new.channel)
    .bind(new.intent)
    .bind(new.min_priority)
    .bind(i64::from(new.allow_private))
    .bind(new.created_by)
    .bind(new.now)
    .fetch_one(conn)
    .await?;
    row.try_get("id")
}

/// Stores the sealed secrets of subscription `id`; `previous_until` is when
/// the secret before the last rotation stops signing (0: there is none).
pub async fn set_secret(
    conn: &mut AnyConnection,
    id: i64,
    sealed: &str,
    previous_until: i64,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE event_subscriptions SET secret = $1, previous_secret_until = $2, updated_at = $3 WHERE id = $4",
    )
    .bind(sealed)
    .bind(previous_until)
    .bind(now)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn subscription<'e>(
    executor: impl Executor<'e, Database = Any>,
    id: i64,
) -> Result<Option<SubscriptionRow>, sqlx::Error> {
    let row = sqlx::query(AssertSqlSafe(format!(
        "SELECT {SUBSCRIPTION} FROM event_subscriptions WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(executor)
    .await?;
    row.as_ref().map(subscription_row).transpose()
}

/// Every subscription (or the active ones), oldest first.
pub async fn subscriptions<'e>(
    executor: impl Executor<'e, Database = Any>,
    active_only: bool,
) -> Result<Vec<SubscriptionRow>, sqlx::Error> {
    let filter = if active_only { "WHERE status = 'active'" } else { "" };
    let rows = sqlx::query(AssertSqlSafe(format!(
        "SELECT {SUBSCRIPTION} FROM event_subscriptions {filter} ORDER BY id"
    )))
    .fetch_all(executor)
    .await?;
    rows.iter().map(subscription_row).collect()
}

/// Deletes subscription `id` with its deliveries; whether it existed.
pub async fn delete_subscription(conn: &mut AnyConnection, id: i64) -> Result<bool, sqlx::Error> {
    sqlx::query("DELETE FROM event_deliveries WHERE subscription_id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    let done = sqlx::query("DELETE FROM event_subscriptions WHERE id = $1")
        .bind(id)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Enables (the failure run starts over) or disables subscription `id`
/// with `reason`; whether it existed.
pub async fn set_status(
    conn: &mut AnyConnection,
    id: i64,
    active: bool,
    reason: Option<&str>,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let sql = if active {
        "UPDATE event_subscriptions SET status = 'active', disabled_reason = NULL, failing_since = NULL, \
         consecutive_failures = 0, updated_at = $1 WHERE id = $2"
    } else {
        "UPDATE event_subscriptions SET status = 'disabled', disabled_reason = $3, updated_at = $1 WHERE id = $2"
    };
    let mut query = sqlx::query(sql).bind(now).bind(id);
    if !active {
        query = query.bind(reason);
    }
    Ok(query.execute(conn).await?.rows_affected() == 1)
}

/// An event to write to the outbox.
#[derive(Clone, Debug)]
pub struct NewEvent<'a> {
    pub uid: String,
    pub kind: &'a str,
    pub channel: Option<&'a str>,
    pub intent: Option<&'a str>,
    pub priority: Option<f64>,
    /// JSON.
    pub data: String,
    pub created_at: i64,
}

/// Rows per multi-row insert.
const CHUNK: usize = 500;

/// Writes `events` in the caller's transaction.
pub async fn insert_events(
    conn: &mut AnyConnection,
    backend: Backend,
    events: &[NewEvent<'_>],
) -> Result<(), sqlx::Error> {
    for chunk in events.chunks(CHUNK) {
        let sql = format!(
            "INSERT INTO event_outbox (uid, type, channel, intent, priority, data, created_at) VALUES {}",
            placeholders(chunk.len(), 7)
        );
        // An optional float is typed float4 when missing: not kept prepared (see store/mod.rs).
        let mut query = sqlx::query(backend.sql(sql)).persistent(false);
        for e in chunk {
            query = query
                .bind(e.uid.as_str())
                .bind(e.kind)
                .bind(e.channel)
                .bind(e.intent)
                .bind(e.priority)
                .bind(e.data.as_str())
                .bind(e.created_at);
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

/// An outbox event not yet handed to its subscriptions.
#[derive(Clone, Debug)]
pub struct Unfanned {
    pub id: i64,
    pub kind: String,
    pub channel: Option<String>,
    pub intent: Option<String>,
    pub priority: Option<f64>,
    pub created_at: i64,
}

/// The oldest `limit` events without deliveries yet.
pub async fn unfanned(conn: &mut AnyConnection, limit: i64) -> Result<Vec<Unfanned>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT id, type, channel, intent, priority, created_at FROM event_outbox \
         WHERE fanned_out = 0 ORDER BY id LIMIT $1",
    )
    .bind(limit)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Unfanned {
                id: r.try_get("id")?,
                kind: r.try_get("type")?,
                channel: r.try_get("channel")?,
                intent: r.try_get("intent")?,
                priority: r.try_get("priority")?,
                created_at: r.try_get("created_at")?,
            })
        })
        .collect()
}

/// Makes a pending delivery of each `(event, subscription)` pair (a pair
/// that has one already, from another node, is left alone) and marks the
/// `events` handed over.
pub async fn fan_out(
    conn: &mut AnyConnection,
    backend: Backend,
    events: &[i64],
    pairs: &[(i64, i64)],
    now: i64,
) -> Result<(), sqlx::Error> {
    for chunk in pairs.chunks(CHUNK) {
        let sql = format!(
            "INSERT INTO event_deliveries (event_id, subscription_id, status, next_attempt_at, created_at) \
             VALUES {} ON CONFLICT (event_id, subscription_id) DO NOTHING",
            placeholders(chunk.len(), 5)
        );
        let mut query = sqlx::query(backend.sql(sql));
        for (event, subscription) in chunk {
            query = query.bind(event).bind(subscription).bind("pending").bind(now).bind(now);
        }
        query.execute(&mut *conn).await?;
    }
    for chunk in events.chunks(CHUNK) {
        let sql = format!(
            "UPDATE event_outbox SET fanned_out = 1 WHERE id IN {}",
            placeholders(1, chunk.len())
        );
        let mut query = sqlx::query(backend.sql(sql));
        for id in chunk {
            query = query.bind(id);
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

/// A delivery leased to this node, with what sending it needs.
#[derive(Clone, Debug)]
pub struct DueDelivery {
    pub id: i64,
    pub attempts: i64,
    pub uid: String,
    pub kind: String,
    pub data: String,
    pub created_at: i64,
    pub subscription_id: i64,
    pub url: String,
    pub allow_private: bool,
    pub secret: String,
    pub previous_secret_until: i64,
}

/// Leases up to `limit` pending deliveries due at `now` whose subscription
/// is active and that nobody holds, until `until`. PostgreSQL skips the rows
/// other nodes are locking; SQLite has one writer, so the statement is atomic.
pub async fn lease_due(
    db: &Db,
    owner: &str,
    until: i64,
    now: i64,
    limit: i64,
) -> Result<Vec<DueDelivery>, sqlx::Error> {
    let skip_locked = if db.backend() == Backend::Postgres {
        " FOR UPDATE SKIP LOCKED"
    } else {
        ""
    };
    let leased = sqlx::query(AssertSqlSafe(format!(
        "UPDATE event_deliveries SET lease_owner = $1, lease_until = $2 WHERE id IN (\
         SELECT d.id FROM event_deliveries d WHERE d.status = 'pending' AND d.next_attempt_at <= $3 \
         AND d.lease_until < $3 AND d.subscription_id IN (SELECT id FROM event_subscriptions WHERE status = 'active') \
         ORDER BY d.next_attempt_at LIMIT $4{skip_locked}) AND lease_until < $3 RETURNING id"
    )))
    .bind(owner)
    .bind(until)
    .bind(now)
    .bind(limit)
    .fetch_all(db.pool())
    .await?;
    let ids: Vec<i64> = leased.iter().map(|r| r.try_get("id")).collect::<Result<_, _>>()?;
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT d.id, d.attempts, e.uid, e.type, e.data, e.created_at, s.id AS subscription_id, s.url, \
         s.allow_private, s.secret, s.previous_secret_until FROM event_deliveries d \
         JOIN event_outbox e ON e.id = d.event_id JOIN event_subscriptions s ON s.id = d.subscription_id \
         WHERE d.id IN {} ORDER BY d.id",
        placeholders(1, ids.len())
    );
    let mut query = sqlx::query(db.backend().sql(sql));
    for id in &ids {
        query = query.bind(id);
    }
    let rows = query.fetch_all(db.pool()).await?;
    rows.iter()
        .map(|r| {
            Ok(DueDelivery {
                id: r.try_get("id")?,
                attempts: r.try_get("attempts")?,
                uid: r.try_get("uid")?,
                kind: r.try_get("type")?,
                data: r.try_get("data")?,
                created_at: r.try_get("created_at")?,
                subscription_id: r.try_get("subscription_id")?,
                url: r.try_get("url")?,
                allow_private: r.try_get::<i64, _>("allow_private")? != 0,
                secret: r.try_get("secret")?,
                previous_secret_until: r.try_get("previous_secret_until")?,
            })
        })
        .collect()
}

/// How one attempt ended.
#[derive(Clone, Debug)]
pub struct Attempt<'a> {
    pub delivery_id: i64,
    pub subscription_id: i64,
    pub owner: &'a str,
    pub ok: bool,
    pub status: Option<i64>,
    pub latency_ms: i64,
    pub error: Option<&'a str>,
    /// `pending` (retried at `next_attempt_at`), `delivered` or `failed`.
    pub outcome: &'a str,
    pub next_attempt_at: i64,
    pub now: i64,
}

/// Records `attempt` and frees the lease, if the lease is still ours (else
/// another node took the delivery over, and its own attempt counts). On the
/// subscription, a success ends the failure run and a failure extends it;
/// a run longer than `disable_after_ms` disables the subscription, audited.
/// Returns whether it was disabled now.
pub async fn record_attempt(db: &Db, attempt: &Attempt<'_>, disable_after_ms: i64) -> Result<bool, sqlx::Error> {
    let mut tx = db.begin().await?;
    let recorded = sqlx::query(
        "UPDATE event_deliveries SET status = $1, attempts = attempts + 1, next_attempt_at = $2, lease_owner = NULL, \
         lease_until = 0, last_status = $3, last_latency_ms = $4, last_error = $5, last_attempt_at = $6, \
         delivered_at = CASE WHEN $1 = 'delivered' THEN $6 ELSE delivered_at END \
         WHERE id = $7 AND lease_owner = $8",
    )
    .bind(attempt.outcome)
    .bind(attempt.next_attempt_at)
    .bind(attempt.status)
    .bind(attempt.latency_ms)
    .bind(attempt.error)
    .bind(attempt.now)
    .bind(attempt.delivery_id)
    .bind(attempt.owner)
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    if !recorded {
        return Ok(false);
    }
    if attempt.ok {
        sqlx::query(
            "UPDATE event_subscriptions SET failing_since = NULL, consecutive_failures = 0 \
             WHERE id = $1 AND consecutive_failures > 0",
        )
        .bind(attempt.subscription_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        return Ok(false);
    }
    let row = sqlx::query(
        "UPDATE event_subscriptions SET failing_since = COALESCE(failing_since, $1), \
         consecutive_failures = consecutive_failures + 1 WHERE id = $2 \
         RETURNING status, failing_since, consecutive_failures",
    )
    .bind(attempt.now)
    .bind(attempt.subscription_id)
    .fetch_optional(&mut *tx)
    .await?;
    let mut disabled = false;
    if let Some(row) = row {
        let since: i64 = row.try_get::<Option<i64>, _>("failing_since")?.unwrap_or(attempt.now);
        let failures: i64 = row.try_get("consecutive_failures")?;
        let status: String = row.try_get("status")?;
        if status == "active" && attempt.now - since >= disable_after_ms {
            let reason = format!(
                "{failures} failed attempts in a row since {since} (Unix ms), the last: {}",
                attempt.error.unwrap_or("no answer")
            );
            set_status(&mut tx, attempt.subscription_id, false, Some(&reason), attempt.now).await?;
            let details = serde_json::json!({"reason": reason, "failing_since": since, "failures": failures});
            let subject = format!("event-subscription:{}", attempt.subscription_id);
            audit(&mut *tx, "events", "events.subscription.disabled", &subject, &details).await?;
            disabled = true;
        }
    }
    tx.commit().await?;
    Ok(disabled)
}

/// A delivery as the log lists it.
#[derive(Clone, Debug)]
pub struct DeliveryRow {
    pub id: i64,
    pub subscription_id: i64,
    pub event_uid: String,
    pub event_type: String,
    pub event_created_at: i64,
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at: i64,
    pub last_status: Option<i64>,
    pub last_latency_ms: Option<i64>,
    pub last_error: Option<String>,
    pub last_attempt_at: Option<i64>,
    pub delivered_at: Option<i64>,
}

const DELIVERY: &str = "d.id, d.subscription_id, e.uid, e.type, e.created_at AS event_created_at, d.status, d.attempts, \
     d.next_attempt_at, d.last_status, d.last_latency_ms, d.last_error, d.last_attempt_at, d.delivered_at";

fn delivery_row(r: &AnyRow) -> Result<DeliveryRow, sqlx::Error> {
    Ok(DeliveryRow {
        id: r.try_get("id")?,
        subscription_id: r.try_get("subscription_id")?,
        event_uid: r.try_get("uid")?,
        event_type: r.try_get("type")?,
        event_created_at: r.try_get("event_created_at")?,
        status: r.try_get("status")?,
        attempts: r.try_get("attempts")?,
        next_attempt_at: r.try_get("next_attempt_at")?,
        last_status: r.try_get("last_status")?,
        last_latency_ms: r.try_get("last_latency_ms")?,
        last_error: r.try_get("last_error")?,
        last_attempt_at: r.try_get("last_attempt_at")?,
        delivered_at: r.try_get("delivered_at")?,
    })
}

/// Deliveries with ids below `before` (of `subscription` and `status` when
/// given), newest first.
pub async fn deliveries(
    db: &Db,
    subscription: Option<i64>,
    status: Option<&str>,
    before: i64,
    limit: i64,
) -> Result<Vec<DeliveryRow>, sqlx::Error> {
    let rows = sqlx::query(AssertSqlSafe(format!(
        "SELECT {DELIVERY} FROM event_deliveries d JOIN event_outbox e ON e.id = d.event_id \
         WHERE d.id < $1 AND ($2 = 0 OR d.subscription_id = $2) AND ($3 = '' OR d.status = $3) \
         ORDER BY d.id DESC LIMIT $4"
    )))
    .bind(before)
    .bind(subscription.unwrap_or(0))
    .bind(status.unwrap_or_default())
    .bind(limit)
    .fetch_all(db.pool())
    .await?;
    rows.iter().map(delivery_row).collect()
}

pub async fn delivery<'e>(
    executor: impl Executor<'e, Database = Any>,
    id: i64,
) -> Result<Option<DeliveryRow>, sqlx::Error> {
    let row = sqlx::query(AssertSqlSafe(format!(
        "SELECT {DELIVERY} FROM event_deliveries d JOIN event_outbox e ON e.id = d.event_id WHERE d.id = $1"
    )))
    .bind(id)
    .fetch_optional(executor)
    .await?;
    row.as_ref().map(delivery_row).transpose()
}

/// Makes delivery `id` pending again, due at `now`, with a fresh run of
/// attempts; whether it exists.
pub async fn replay(conn: &mut AnyConnection, id: i64, now: i64) -> Result<bool, sqlx::Error> {
    let done =
        sqlx::query("UPDATE event_deliveries SET status = 'pending', attempts = 0, next_attempt_at = $1 WHERE id = $2")
            .bind(now)
            .bind(id)
            .execute(conn)
            .await?;
    Ok(done.rows_affected() == 1)
}

/// Deletes the events created before `settled_before` none of whose
/// deliveries is pending, and every event created before `all_before`, with
/// their deliveries. Returns the events deleted.
pub async fn prune(db: &Db, settled_before: i64, all_before: i64) -> Result<u64, sqlx::Error> {
    let mut tx = db.begin().await?;
    let doomed = "SELECT e.id FROM event_outbox e WHERE e.created_at < $2 OR (e.created_at < $1 AND e.fanned_out = 1 \
                  AND NOT EXISTS (SELECT 1 FROM event_deliveries d WHERE d.event_id = e.id AND d.status = 'pending'))";
    sqlx::query(AssertSqlSafe(format!(
        "DELETE FROM event_deliveries WHERE event_id IN ({doomed})"
    )))
    .bind(settled_before)
    .bind(all_before)
    .execute(&mut *tx)
    .await?;
    let deleted = sqlx::query(AssertSqlSafe(format!(
        "DELETE FROM event_outbox WHERE id IN ({doomed})"
    )))
    .bind(settled_before)
    .bind(all_before)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    tx.commit().await?;
    Ok(deleted)
}
