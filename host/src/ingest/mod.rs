//! Ingest: at-least-once fetch, exactly-once effect. Each page a channel's
//! `poll` returns is written in ONE database transaction together with the
//! channel's next state and the plugin's key-value writes; a crash re-polls
//! from the last committed state and duplicates collapse on (channel, external id).

mod page;

pub use page::{CommitError, Committed, commit_page};
