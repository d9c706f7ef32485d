//! Writing events: a producer takes an [`Outbox`] before its transaction (the
//! wanted types, from memory at most a second old) and writes its events in
//! that transaction, so an event exists exactly when its change committed.
//! Events of a type no active subscription wants are not written at all.
//! The worker later fans each event out to the subscriptions that match it.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::aead::OsRng;
use chacha20poly1305::aead::rand_core::RngCore;
use sqlx::AnyConnection;

use super::types::{Event, EventType, Filter};
use crate::store::events::{self as store, NewEvent};
use crate::store::{Backend, Db, now_ms};

/// Events read per fan-out round.
const FAN_OUT_BATCH: i64 = 500;

/// The event types wanted when it was taken.
#[derive(Clone, Copy, Debug)]
pub struct Outbox {
    wanted: i64,
    backend: Backend,
}

impl Outbox {
    /// The types active subscriptions want (cached per process for at most
    /// [`store::WANTED_TTL_MS`]; a subscription changed on this node counts at once).
    pub async fn of(db: &Db) -> Result<Outbox, sqlx::Error> {
        Ok(Outbox {
            wanted: store::wanted(db).await?,
            backend: db.backend(),
        })
    }

    /// Whether an event of `kind` would be written: producers skip building
    /// payloads nobody wants.
    pub fn wants(self, kind: EventType) -> bool {
        self.wanted & kind.bit() != 0
    }

    /// Writes the wanted ones of `events` in the caller's transaction.
    pub async fn write(
        self,
        conn: &mut AnyConnection,
        events: impl IntoIterator<Item = Event>,
    ) -> Result<(), sqlx::Error> {
        let events: Vec<Event> = events.into_iter().filter(|e| self.wants(e.kind)).collect();
        if events.is_empty() {
            return Ok(());
        }
        let now = now_ms();
        let rows: Vec<NewEvent<'_>> = events
            .iter()
            .map(|e| NewEvent {
                uid: new_uid(),
                kind: e.kind.as_str(),
                channel: e.channel.as_deref(),
                intent: e.intent.as_deref(),
                priority: e.priority,
                data: e.data.to_string(),
                created_at: now,
            })
            .collect();
        store::insert_events(conn, self.backend, &rows).await
    }
}

/// A message id: `msg_` and 16 random bytes, the same for every attempt.
fn new_uid() -> String {
    let mut bytes = [0u8; 16];
    OsRng.fill_bytes(&mut bytes);
    format!("msg_{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// Makes the deliveries of the events written since the last round: one per
/// active subscription that matches an event and existed when it was
/// written. Idempotent between nodes. Returns the events handed over.
pub async fn fan_out(db: &Db) -> Result<usize, sqlx::Error> {
    let mut tx = db.begin().await?;
    let events = store::unfanned(&mut tx, FAN_OUT_BATCH).await?;
    if events.is_empty() {
        return Ok(0);
    }
    let subscriptions: Vec<(i64, i64, Filter)> = store::subscriptions(&mut *tx, true)
        .await?
        .into_iter()
        .map(|s| {
            let filter = Filter {
                types_mask: s.types_mask,
                channel: s.channel,
                intent: s.intent,
                min_priority: s.min_priority,
            };
            (s.id, s.created_at, filter)
        })
        .collect();
    let mut pairs = Vec::new();
    for event in &events {
        let Some(kind) = EventType::parse(&event.kind) else {
            continue;
        };
        let (channel, intent) = (event.channel.as_deref(), event.intent.as_deref());
        for (id, created_at, filter) in &subscriptions {
            if *created_at <= event.created_at && filter.matches(kind, channel, intent, event.priority) {
                pairs.push((event.id, *id));
            }
        }
    }
    let ids: Vec<i64> = events.iter().map(|e| e.id).collect();
    store::fan_out(&mut tx, db.backend(), &ids, &pairs, now_ms()).await?;
    tx.commit().await?;
    Ok(events.len())
}
