//! The delivery worker inside `serve`. Each round fans new events out to
//! their subscriptions, leases the deliveries that are due (a lease column
//! with an expiry: two nodes never send one delivery at once, and one that a
//! dead node held is sent again once its lease expires: at least once), sends
//! them signed, and records each attempt. A failure is retried after
//! `backoff · 2^(attempts−1)`, capped at `max_backoff`, ±20% jitter, up to
//! `max_attempts`; a subscription whose deliveries failed without a single
//! success for `disable_after` is disabled and the admin told (audit entry,
//! its status and reason). Delivered events are pruned after `retention`.

use std::time::{Duration, Instant};

use bytes::Bytes;
use chacha20poly1305::aead::OsRng;
use chacha20poly1305::aead::rand_core::RngCore;
use http::{HeaderMap, HeaderValue, Method, Uri, header};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::subscriptions::signing_secrets;
use super::{DeliveryStatus, EventError, outbox, sign};
use crate::runtime::http::{HttpRequest, NetworkTransport, SendOptions, Transport};
use crate::secrets::SecretBox;
use crate::store::events::{self as store, Attempt, DueDelivery};
use crate::store::{DAY_MS, Db, ms_after, now_ms};

/// How the worker delivers.
#[derive(Clone, Debug)]
pub struct DeliveryOptions {
    /// This node, as lease owner.
    pub node: String,
    /// One request's deadline, connection included; a slower receiver failed.
    pub timeout: Duration,
    /// The first retry's delay; doubled after each further failure.
    pub backoff: Duration,
    pub max_backoff: Duration,
    /// Attempts before a delivery is `failed` (replay starts a new run).
    pub max_attempts: i64,
    /// A subscription failing this long without a success is disabled.
    pub disable_after: Duration,
    /// Deliveries sent at once by this node.
    pub concurrency: usize,
    /// Pause between rounds that found nothing to do.
    pub idle: Duration,
    /// Events whose deliveries are all settled are deleted this long after they happened.
    pub retention: Duration,
}

impl Default for DeliveryOptions {
    /// 15 attempts over about a day (10 s doubling, at most 6 h apart);
    /// disabled after 5 days of failures; settled events kept 7 days.
    fn default() -> DeliveryOptions {
        DeliveryOptions {
            node: format!("{}/events", crate::ingest::SchedulerOptions::default().node),
            timeout: Duration::from_secs(10),
            backoff: Duration::from_secs(10),
            max_backoff: Duration::from_secs(6 * 3600),
            max_attempts: 15,
            disable_after: Duration::from_secs(5 * 24 * 3600),
            concurrency: 8,
            idle: Duration::from_secs(1),
            retention: Duration::from_secs(7 * 24 * 3600),
        }
    }
}

/// Whatever happens to an event, it is deleted this long after it happened.
const HARD_RETENTION_MS: i64 = 30 * DAY_MS;
/// How often the worker prunes.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);
/// The most of a receiver's answer read (the rest is not needed).
const MAX_ANSWER_BYTES: usize = 64 << 10;
/// The most of an error kept in the log.
const MAX_ERROR_CHARS: usize = 500;

/// Delivers events for one node.
pub struct Worker {
    db: Db,
    sbox: SecretBox,
    options: DeliveryOptions,
    transport: NetworkTransport,
}

impl Worker {
    pub fn new(db: Db, sbox: SecretBox, options: DeliveryOptions) -> Worker {
        Worker {
            db,
            sbox,
            options,
            transport: NetworkTransport,
        }
    }

    /// The lease of one delivery: the request's deadline, then time to record it.
    fn lease(&self) -> Duration {
        self.options.timeout * 2 + Duration::from_secs(1)
    }

    /// One round: fan out, then send what is due (at most `concurrency`).
    /// Returns the deliveries attempted.
    pub async fn round(&self) -> Result<usize, EventError> {
        while outbox::fan_out(&self.db).await? > 0 {}
        let now = now_ms();
        let due = store::lease_due(
            &self.db,
            &self.options.node,
            ms_after(self.lease()),
            now,
            self.options.concurrency.max(1) as i64,
        )
        .await?;
        let count = due.len();
        let mut sends = JoinSet::new();
        for delivery in due {
            let request = self.request(&delivery);
            let transport = self.transport;
            let options = SendOptions {
                allow_private: delivery.allow_private,
                timeout: self.options.timeout,
                max_response_bytes: MAX_ANSWER_BYTES,
            };
            sends.spawn(async move {
                let started = Instant::now();
                let result = match request {
                    Ok(request) => transport.send(request, options).await.map_err(|e| e.to_string()),
                    Err(e) => Err(e),
                };
                (delivery, result, started.elapsed())
            });
        }
        while let Some(joined) = sends.join_next().await {
            let Ok((delivery, result, elapsed)) = joined else {
                continue;
            };
            let (status, error) = match result {
                Ok(answer) if (200..300).contains(&answer.status) => (Some(answer.status), None),
                Ok(answer) => (Some(answer.status), Some(format!("HTTP status {}", answer.status))),
                Err(e) => (None, Some(e)),
            };
            self.record(&delivery, status, error, elapsed).await?;
        }
        Ok(count)
    }

    /// The signed POST of `delivery`.
    fn request(&self, delivery: &DueDelivery) -> Result<HttpRequest, String> {
        let now = now_ms();
        let secrets = signing_secrets(
            &self.sbox,
            delivery.subscription_id,
            &delivery.secret,
            delivery.previous_secret_until,
            now,
        )
        .map_err(|e| e.to_string())?;
        let body = Bytes::from(payload(delivery).to_string());
        let timestamp = now.div_euclid(1000);
        let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
        let signature = sign::signature(&secrets, &delivery.uid, timestamp, &body);
        let uri: Uri = delivery.url.parse().map_err(|e: http::uri::InvalidUri| e.to_string())?;
        let authority = uri.authority().map(|a| a.as_str()).unwrap_or_default();
        let value = |text: &str| HeaderValue::from_str(text).map_err(|e| e.to_string());
        let mut headers = HeaderMap::new();
        // hyper's bare connection does not add Host itself.
        headers.insert(header::HOST, value(authority)?);
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert(
            header::USER_AGENT,
            HeaderValue::from_static(concat!("socialcrm/", env!("CARGO_PKG_VERSION"))),
        );
        headers.insert("webhook-id", value(&delivery.uid)?);
        headers.insert("webhook-timestamp", value(&timestamp.to_string())?);
        headers.insert("webhook-signature", value(&signature)?);
        Ok(HttpRequest {
            method: Method::POST,
            uri,
            headers,
            body,
        })
    }

    /// Records one attempt: delivered, retried later, or given up.
    async fn record(
        &self,
        delivery: &DueDelivery,
        status: Option<u16>,
        error: Option<String>,
        elapsed: Duration,
    ) -> Result<(), EventError> {
        let now = now_ms();
        let attempts = delivery.attempts + 1;
        let ok = error.is_none();
        let outcome = if ok {
            DeliveryStatus::Delivered
        } else if attempts >= self.options.max_attempts {
            DeliveryStatus::Failed
        } else {
            DeliveryStatus::Pending
        }
        .as_str();
        let error = error.map(|e| e.chars().take(MAX_ERROR_CHARS).collect::<String>());
        let attempt = Attempt {
            delivery_id: delivery.id,
            subscription_id: delivery.subscription_id,
            owner: &self.options.node,
            ok,
            status: status.map(i64::from),
            latency_ms: i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX),
            error: error.as_deref(),
            outcome,
            next_attempt_at: now + retry_delay_ms(&self.options, attempts, jitter()),
            now,
        };
        let disable_after = i64::try_from(self.options.disable_after.as_millis()).unwrap_or(i64::MAX);
        if store::record_attempt(&self.db, &attempt, disable_after).await? {
            tracing::warn!(
                subscription = delivery.subscription_id,
                "event subscription disabled after failing too long"
            );
            self.db.wanted().invalidate();
        }
        Ok(())
    }

    /// Deletes settled events past the retention period, and every event past 30 days.
    pub async fn prune(&self) -> Result<u64, EventError> {
        let now = now_ms();
        let retention = i64::try_from(self.options.retention.as_millis()).unwrap_or(i64::MAX);
        Ok(store::prune(&self.db, now - retention, now - HARD_RETENTION_MS).await?)
    }
}

/// The body of a delivery: `{type, timestamp, data}` (the Standard Webhooks
/// payload shape), the same in every attempt.
fn payload(delivery: &DueDelivery) -> Value {
    let data: Value = serde_json::from_str(&delivery.data).unwrap_or(Value::Null);
    let timestamp = OffsetDateTime::from_unix_timestamp_nanos(i128::from(delivery.created_at) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok());
    json!({"type": delivery.kind, "timestamp": timestamp, "data": data})
}

/// A factor in [0.8, 1.2).
fn jitter() -> f64 {
    0.8 + 0.4 * (OsRng.next_u32() as f64 / (u32::MAX as f64 + 1.0))
}

/// The delay before the attempt after `attempts` failed ones:
/// `backoff · 2^(attempts−1)`, capped at `max_backoff`, times `jitter`.
fn retry_delay_ms(options: &DeliveryOptions, attempts: i64, jitter: f64) -> i64 {
    let exponent = attempts.clamp(1, 40) - 1;
    let base = options.backoff.as_secs_f64() * 2f64.powi(exponent as i32);
    let capped = base.min(options.max_backoff.as_secs_f64());
    (capped * jitter * 1000.0) as i64
}

/// Runs rounds until `stop` turns true; a round that fails (the database
/// away) is logged and retried after the idle pause.
pub async fn run(worker: Worker, mut stop: watch::Receiver<bool>) {
    let mut last_prune: Option<Instant> = None;
    while !*stop.borrow() {
        if last_prune.is_none_or(|at| at.elapsed() >= PRUNE_EVERY) {
            match worker.prune().await {
                Ok(_) => last_prune = Some(Instant::now()),
                Err(e) => tracing::warn!(error = %e, "pruning delivered events failed"),
            }
        }
        let busy = match worker.round().await {
            Ok(n) => n > 0,
            Err(e) => {
                tracing::warn!(error = %e, "delivering events failed; retrying");
                false
            }
        };
        if !busy {
            tokio::select! {
                _ = tokio::time::sleep(worker.options.idle) => {}
                _ = stop.changed() => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_exponentially_up_to_the_cap() {
        let options = DeliveryOptions::default();
        let delays: Vec<i64> = (1..=15).map(|n| retry_delay_ms(&options, n, 1.0)).collect();
        assert_eq!(&delays[..4], &[10_000, 20_000, 40_000, 80_000]);
        assert_eq!(delays[14], 6 * 3600 * 1000);
        // The documented schedule: 14 waits of about a day in all.
        let total: i64 = delays[..14].iter().sum();
        assert!((20 * 3600 * 1000..28 * 3600 * 1000).contains(&total), "{total}");
        assert_eq!(retry_delay_ms(&options, 1, 0.8), 8_000);
        for _ in 0..1000 {
            let j = jitter();
            assert!((0.8..1.2).contains(&j), "{j}");
        }
    }
}
