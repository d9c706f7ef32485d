//! What an admin manages: subscriptions (checked, their secret sealed and
//! shown once), secret rotation with a grace period, enabling and disabling,
//! the delivery log and replay. Every change is audited in its transaction.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

use serde::Serialize;
use serde_json::json;
use url::Url;

use super::types::{DeliveryStatus, EventType};
use super::{EventError, sign};
use crate::runtime::http::is_public;
use crate::secrets::SecretBox;
use crate::store::events::{self as store, DeliveryRow, SubscriptionRow};
use crate::store::{Db, audit, now_ms};

/// The longest subscription URL.
pub const MAX_URL: usize = 2048;
/// The highest `min_priority` (a base score is at most 100; waiting adds 12 a day).
pub const MAX_PRIORITY: f64 = 1000.0;
/// How long the secret before a rotation still signs, unless told otherwise.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(24 * 3600);
/// The longest grace period of a rotation.
pub const MAX_GRACE: Duration = Duration::from_secs(7 * 24 * 3600);

/// The sealed map's keys.
const CURRENT: &str = "current";
const PREVIOUS: &str = "previous";

/// A subscription to make.
#[derive(Clone, Debug, Default)]
pub struct NewSubscription {
    pub url: String,
    pub types: Vec<EventType>,
    pub channel: Option<String>,
    pub intent: Option<String>,
    pub min_priority: Option<f64>,
    /// The URL may resolve to loopback or private addresses.
    pub allow_private: bool,
}

/// A subscription as the admin sees it (never its secret).
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Subscription {
    pub id: i64,
    pub url: String,
    pub types: Vec<EventType>,
    pub channel: Option<String>,
    pub intent: Option<String>,
    pub min_priority: Option<f64>,
    pub allow_private: bool,
    /// `active`, or `disabled` (by an admin, or after failing for too long: see `disabled_reason`).
    #[schema(pattern = "^(active|disabled)$")]
    pub status: String,
    pub disabled_reason: Option<String>,
    /// The first failed attempt since the last success; null while deliveries succeed.
    pub failing_since: Option<i64>,
    pub consecutive_failures: i64,
    /// Until when the secret before the last rotation still signs too; null when it does not.
    pub previous_secret_until: Option<i64>,
    pub created_by: String,
    pub created_at: i64,
    pub updated_at: i64,
}

impl From<SubscriptionRow> for Subscription {
    fn from(row: SubscriptionRow) -> Subscription {
        Subscription {
            id: row.id,
            url: row.url,
            types: EventType::of_mask(row.types_mask),
            channel: row.channel,
            intent: row.intent,
            min_priority: row.min_priority,
            allow_private: row.allow_private,
            status: row.status,
            disabled_reason: row.disabled_reason,
            failing_since: row.failing_since,
            consecutive_failures: row.consecutive_failures,
            previous_secret_until: (row.previous_secret_until > now_ms()).then_some(row.previous_secret_until),
            created_by: row.created_by,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

/// A new subscription with its secret, shown only now.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Created {
    pub subscription: Subscription,
    /// `whsec_` + base64: verify the `webhook-signature` header with it.
    #[schema(pattern = "^whsec_[A-Za-z0-9+/]+=*$")]
    pub secret: String,
}

/// A rotated secret, shown only now.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Rotated {
    #[schema(pattern = "^whsec_[A-Za-z0-9+/]+=*$")]
    pub secret: String,
    /// Until when the previous secret signs too (both signatures are sent).
    pub previous_valid_until: i64,
}

/// One event's delivery to one subscription, as the log shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Delivery {
    pub id: i64,
    pub subscription_id: i64,
    /// The `webhook-id` header: the same in every attempt and replay.
    pub event_id: String,
    pub event_type: EventType,
    pub event_created_at: i64,
    pub status: DeliveryStatus,
    pub attempts: i64,
    pub next_attempt_at: i64,
    /// The HTTP status of the last attempt; null when none came back.
    pub last_status: Option<i64>,
    pub last_latency_ms: Option<i64>,
    pub last_error: Option<String>,
    pub last_attempt_at: Option<i64>,
    pub delivered_at: Option<i64>,
}

impl Delivery {
    fn of(row: DeliveryRow) -> Option<Delivery> {
        Some(Delivery {
            id: row.id,
            subscription_id: row.subscription_id,
            event_id: row.event_uid,
            event_type: EventType::parse(&row.event_type)?,
            event_created_at: row.event_created_at,
            status: DeliveryStatus::parse(&row.status)?,
            attempts: row.attempts,
            next_attempt_at: row.next_attempt_at,
            last_status: row.last_status,
            last_latency_ms: row.last_latency_ms,
            last_error: row.last_error,
            last_attempt_at: row.last_attempt_at,
            delivered_at: row.delivered_at,
        })
    }
}

use crate::store::events::secret_owner as owner;

/// What the audit log names a subscription.
fn subject(id: i64) -> String {
    owner(id)
}

/// Checks `url`: absolute http(s), a host, no user info, at most
/// [`MAX_URL`] long, and not a loopback or private address literal unless
/// allowed (a name is resolved and checked at each delivery).
pub fn check_url(url: &str, allow_private: bool) -> Result<Url, EventError> {
    let invalid = |why: &str| EventError::Invalid(format!("url `{url}`: {why}"));
    if url.len() > MAX_URL {
        return Err(invalid("longer than 2048 characters"));
    }
    let parsed = Url::parse(url).map_err(|e| invalid(&e.to_string()))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(invalid("not http or https"));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(invalid("user info is not allowed"));
    }
    let host = parsed.host_str().ok_or_else(|| invalid("no host"))?;
    let literal = host.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>();
    if !allow_private && literal.is_ok_and(|ip| !is_public(ip)) {
        return Err(EventError::Refused(format!(
            "{host} is a loopback or private address (allow private addresses from the command line: `socialcrm events subscribe --allow-private`)"
        )));
    }
    Ok(parsed)
}

/// Letters, digits, `-`, `_`, `.`, `@`: a channel's or an intent's name.
fn check_name(what: &str, value: &Option<String>) -> Result<(), EventError> {
    let Some(v) = value else { return Ok(()) };
    let ok = (1..=100).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'@'));
    if ok {
        Ok(())
    } else {
        Err(EventError::Invalid(format!(
            "{what} `{v}`: 1 to 100 letters, digits, `-`, `_`, `.` or `@`"
        )))
    }
}

/// Makes a subscription; its secret is returned only here.
pub async fn subscribe(db: &Db, sbox: &SecretBox, new: &NewSubscription, actor: &str) -> Result<Created, EventError> {
    let url = check_url(&new.url, new.allow_private)?;
    if new.types.is_empty() {
        return Err(EventError::Invalid("name at least one event type".into()));
    }
    check_name("channel", &new.channel)?;
    check_name("intent", &new.intent)?;
    if let Some(p) = new.min_priority
        && !(0.0..=MAX_PRIORITY).contains(&p)
    {
        return Err(EventError::Invalid(format!("min_priority {p}: 0 to {MAX_PRIORITY}")));
    }
    let mask = EventType::mask(&new.types);
    let types = EventType::of_mask(mask);
    let names: Vec<&str> = types.iter().map(|t| t.as_str()).collect();
    let now = now_ms();
    let secret = sign::new_secret();
    let mut tx = db.begin().await?;
    let row = store::NewSubscription {
        url: url.as_str(),
        types: &names.join(","),
        types_mask: mask,
        channel: new.channel.as_deref(),
        intent: new.intent.as_deref(),
        min_priority: new.min_priority,
        allow_private: new.allow_private,
        created_by: actor,
        now,
    };
    let id = store::insert_subscription(&mut tx, &row).await?;
    let sealed = sbox.seal(&BTreeMap::from([(CURRENT.to_string(), secret.clone())]), &owner(id));
    store::set_secret(&mut tx, id, &sealed, 0, now).await?;
    let details = json!({
        "url": url.as_str(), "types": names, "channel": new.channel, "intent": new.intent,
        "min_priority": new.min_priority, "allow_private": new.allow_private,
    });
    audit(&mut *tx, actor, "events.subscribe", &subject(id), &details).await?;
    tx.commit().await?;
    db.wanted().invalidate();
    Ok(Created {
        subscription: get(db, id).await?,
        secret,
    })
}

pub async fn get(db: &Db, id: i64) -> Result<Subscription, EventError> {
    let row = store::subscription(db.pool(), id).await?;
    row.map(Subscription::from).ok_or(EventError::NoSubscription(id))
}

/// Every subscription, oldest first.
pub async fn list(db: &Db) -> Result<Vec<Subscription>, EventError> {
    let rows = store::subscriptions(db.pool(), false).await?;
    Ok(rows.into_iter().map(Subscription::from).collect())
}

/// Removes a subscription with its delivery log.
pub async fn remove(db: &Db, id: i64, actor: &str) -> Result<(), EventError> {
    let mut tx = db.begin().await?;
    if !store::delete_subscription(&mut tx, id).await? {
        return Err(EventError::NoSubscription(id));
    }
    audit(&mut *tx, actor, "events.remove", &subject(id), &json!({})).await?;
    tx.commit().await?;
    db.wanted().invalidate();
    Ok(())
}

/// Enables (its failure run starts over) or disables a subscription.
pub async fn set_enabled(db: &Db, id: i64, enabled: bool, actor: &str) -> Result<Subscription, EventError> {
    let mut tx = db.begin().await?;
    let reason = (!enabled).then(|| format!("disabled by {actor}"));
    if !store::set_status(&mut tx, id, enabled, reason.as_deref(), now_ms()).await? {
        return Err(EventError::NoSubscription(id));
    }
    let action = if enabled { "events.enable" } else { "events.disable" };
    audit(&mut *tx, actor, action, &subject(id), &json!({})).await?;
    tx.commit().await?;
    db.wanted().invalidate();
    get(db, id).await
}

/// A new secret; the current one keeps signing beside it for `grace`
/// (at most [`MAX_GRACE`]), so receivers can switch without losing events.
pub async fn rotate_secret(
    db: &Db,
    sbox: &SecretBox,
    id: i64,
    grace: Duration,
    actor: &str,
) -> Result<Rotated, EventError> {
    if grace > MAX_GRACE {
        return Err(EventError::Invalid(format!(
            "a grace period of at most {} hours",
            MAX_GRACE.as_secs() / 3600
        )));
    }
    let mut tx = db.begin().await?;
    let row = store::subscription(&mut *tx, id)
        .await?
        .ok_or(EventError::NoSubscription(id))?;
    let old = sbox.open(&row.secret, &owner(id))?;
    let secret = sign::new_secret();
    let mut sealed = BTreeMap::from([(CURRENT.to_string(), secret.clone())]);
    if let Some(current) = old.get(CURRENT) {
        sealed.insert(PREVIOUS.to_string(), current.clone());
    }
    let now = now_ms();
    let until = now + i64::try_from(grace.as_millis()).unwrap_or(i64::MAX);
    store::set_secret(&mut tx, id, &sbox.seal(&sealed, &owner(id)), until, now).await?;
    audit(
        &mut *tx,
        actor,
        "events.rotate-secret",
        &subject(id),
        &json!({"previous_valid_until": until}),
    )
    .await?;
    tx.commit().await?;
    Ok(Rotated {
        secret,
        previous_valid_until: until,
    })
}

/// The secrets that sign a delivery now: the current one, and the previous
/// one while its grace period lasts.
pub(super) fn signing_secrets(
    sbox: &SecretBox,
    id: i64,
    sealed: &str,
    previous_until: i64,
    now: i64,
) -> Result<Vec<String>, EventError> {
    let mut secrets = sbox.open(sealed, &owner(id))?;
    let mut out: Vec<String> = secrets.remove(CURRENT).into_iter().collect();
    if now < previous_until {
        out.extend(secrets.remove(PREVIOUS));
    }
    Ok(out)
}

/// The delivery log, newest first: deliveries with ids below `before`, of
/// `subscription` and with `status` when given.
pub async fn deliveries(
    db: &Db,
    subscription: Option<i64>,
    status: Option<DeliveryStatus>,
    before: i64,
    limit: i64,
) -> Result<Vec<Delivery>, EventError> {
    let rows = store::deliveries(db, subscription, status.map(DeliveryStatus::as_str), before, limit).await?;
    Ok(rows.into_iter().filter_map(Delivery::of).collect())
}

/// Delivers an event to a subscription again (the same `webhook-id`), with
/// a fresh run of attempts, as soon as a worker is free.
pub async fn replay(db: &Db, delivery_id: i64, actor: &str) -> Result<Delivery, EventError> {
    let mut tx = db.begin().await?;
    if !store::replay(&mut tx, delivery_id, now_ms()).await? {
        return Err(EventError::NoDelivery(delivery_id));
    }
    let row = store::delivery(&mut *tx, delivery_id)
        .await?
        .ok_or(EventError::NoDelivery(delivery_id))?;
    let details = json!({"event_id": row.event_uid, "subscription_id": row.subscription_id});
    audit(
        &mut *tx,
        actor,
        "events.replay",
        &format!("event-delivery:{delivery_id}"),
        &details,
    )
    .await?;
    tx.commit().await?;
    Delivery::of(row).ok_or(EventError::NoDelivery(delivery_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked() {
        assert!(check_url("https://hooks.example.com/in?x=1", false).is_ok());
        for bad in ["ftp://x.example", "https://user:pw@x.example", "not a url", "https://"] {
            assert!(matches!(check_url(bad, false), Err(EventError::Invalid(_))), "{bad}");
        }
        for private in [
            "http://127.0.0.1:9/",
            "http://[::1]/",
            "http://169.254.169.254/",
            "http://10.0.0.1/",
        ] {
            assert!(
                matches!(check_url(private, false), Err(EventError::Refused(_))),
                "{private}"
            );
            assert!(check_url(private, true).is_ok(), "{private}");
        }
        let long = format!("https://x.example/{}", "a".repeat(MAX_URL));
        assert!(check_url(&long, false).is_err());
    }
}
