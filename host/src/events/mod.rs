//! Events out: other systems subscribe to what happens here and receive it
//! as signed HTTP POSTs (the Standard Webhooks scheme), at least once.
//!
//! One module per job:
//! - [`types`]: the event types and the subscription filters;
//! - [`outbox`]: producers write events in the transaction of their change,
//!   only for types an active subscription wants; the fan-out makes one
//!   delivery per matching subscription;
//! - [`subscriptions`]: what an admin manages (subscribe, rotate the secret,
//!   enable, remove, the delivery log, replay);
//! - [`sign`]: secrets and signatures;
//! - [`deliver`]: the worker inside `serve`: leased deliveries, retries with
//!   backoff and jitter, disabling a subscription that keeps failing, pruning.
//!
//! The SQL is `crate::store::events`'s.

pub mod deliver;
pub mod outbox;
pub mod sign;
pub mod subscriptions;
pub mod types;

pub use deliver::{DeliveryOptions, Worker};
pub use outbox::Outbox;
pub use subscriptions::{Created, Delivery, NewSubscription, Rotated, Subscription};
pub use types::{DeliveryStatus, Event, EventType};

use crate::secrets::SecretError;

#[derive(Debug, thiserror::Error)]
pub enum EventError {
    #[error("no event subscription {0}")]
    NoSubscription(i64),
    #[error("no event delivery {0}")]
    NoDelivery(i64),
    #[error("invalid subscription: {0}")]
    Invalid(String),
    #[error("refused: {0}")]
    Refused(String),
    #[error("the subscription's secret: {0}")]
    Secret(#[from] SecretError),
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
}
