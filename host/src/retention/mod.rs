//! Retention: how long each kind of data is kept (docs/retention.md). The
//! admin's policy over documented defaults ([`policy`]), and runs that remove
//! what is past its period in bounded batches ([`run`]): `socialcrm retention
//! run`, and `serve` on a schedule.

mod policy;
mod run;

pub use crate::store::retention::Kind;
pub use policy::{Period, Policy, set};
pub use run::{Due, preview, run, schedule};

#[derive(Debug, thiserror::Error)]
pub enum RetentionError {
    #[error("unknown kind of data `{0}`: one of raw-payloads, post-text, analyses, egress, audit, erasure-receipts")]
    Kind(String),
    #[error("`{0}` is not a retention period: a number of days from 1 to {max}, or `never`", max = policy::MAX_DAYS)]
    Period(String),
    #[error("the stored retention period of {kind} is `{value}`, which is not one: set it again")]
    Stored { kind: &'static str, value: String },
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error(transparent)]
    Insights(#[from] crate::insights::InsightsError),
}
