//! Ingest: at-least-once fetch, exactly-once effect. Each page a channel's
//! `poll` returns is written in ONE database transaction together with the
//! channel's next state and the plugin's key-value writes (pages that wait
//! their turn are joined into one, with the last page's state); a crash re-polls
//! from the last committed state and duplicates collapse on (channel, external id).
//! Polling is scheduled per account and leased through the database, so
//! several nodes share the work without ever polling one account twice.

pub(crate) mod analyze;
mod changes;
pub mod do_not_track;
mod followup;
pub mod lease;
mod page;
mod pipeline;
mod poller;
pub mod schedule;
mod scheduler;

pub use crate::store::accounts::{AccountError, StoredAccount, load as load_account, reseal_all as reseal_secrets};
pub use analyze::{AnalyzeError, PageAnalyses, analyze_page};
pub use changes::{Applied, RecheckReport};
pub use page::{ChannelRef, CommitError, Committed, KnownAuthors, PageRows, commit_page, commit_pages};
pub use pipeline::{COMMIT_POSTS, Ingest, IngestError, IngestOptions, SyncReport, WebhookEndpoint};
pub use schedule::Schedule;
pub use scheduler::{SchedulerOptions, run};
