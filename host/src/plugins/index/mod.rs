//! Plugin indexes: signed lists of published packages that admins search and
//! install from (docs/plugin-index.md). [`format`] is the file, [`sources`]
//! the indexes an admin configured, [`catalog`] what they offer and the
//! checked download of a package, [`publish`] writes an index directory.

pub mod catalog;
mod fetch;
pub mod format;
pub mod publish;
pub mod sources;

pub use catalog::{Available, Offer, Spec};
pub use fetch::FetchLimits;
pub use format::{Index, IndexPlugin, Release};
pub use sources::Source;

use super::PackageError;
use super::signing::KeyError;

#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("{0}")]
    Invalid(String),
    #[error("fetching {url}: {reason}")]
    Fetch { url: String, reason: String },
    #[error("{index}: not a plugin index: {reason}")]
    NotIndex { index: String, reason: String },
    #[error("{index}: index format {found}; this host reads format {}", format::FORMAT)]
    Format { index: String, found: u32 },
    #[error("{index}: signed by key {found}, but the index is configured with key {expected}; refused")]
    WrongKey {
        index: String,
        expected: String,
        found: String,
    },
    #[error(
        "{index}: the index signature does not verify: it changed after it was signed, or the host serving it is not honest; refused"
    )]
    BadSignature { index: String },
    #[error(
        "{index}: the index was generated at {generated_at}, before the one verified earlier ({seen}): an old index served again; refused"
    )]
    Replayed {
        index: String,
        generated_at: i64,
        seen: i64,
    },
    #[error("no plugin index `{0}` (see `socialcrm plugin index list`)")]
    UnknownIndex(String),
    #[error("a plugin index `{0}` is already configured")]
    IndexExists(String),
    #[error("no plugin index is configured; add one with `socialcrm plugin index add NAME URL --key KEY.pub`")]
    NoIndexes,
    #[error("no plugin `{name}` in the indexes{}", listed(.available, "; they offer: "))]
    NotFound { name: String, available: Vec<String> },
    #[error("{name} has no version {version} in the indexes{}", listed(.available, "; published versions: "))]
    NoVersion {
        name: String,
        version: String,
        available: Vec<String>,
    },
    #[error("{name} has no version for this host's socialcrm:plugin {host}{}", listed(.available, "; published versions (api): "))]
    Incompatible {
        name: String,
        host: String,
        available: Vec<String>,
    },
    #[error("{what}: {url} does not match the index: {reason}; nothing was installed")]
    Mismatch { what: String, url: String, reason: String },
    #[error("{what}: {source}")]
    Package { what: String, source: PackageError },
    #[error(
        "{name} {version} is already published in this index with another digest ({published}); publish it under a new version"
    )]
    Republish {
        name: String,
        version: String,
        published: String,
    },
    #[error("{0}")]
    Io(String),
    #[error("writing the index: {0}")]
    Write(String),
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
}

/// `; prefix a, b, c` or nothing when `items` is empty.
fn listed(items: &[String], prefix: &str) -> String {
    if items.is_empty() {
        String::new()
    } else {
        format!("{prefix}{}", items.join(", "))
    }
}
