//! Data-subject rights (docs/privacy.md): find everything held about one
//! person, export it, erase it.
//!
//! - [`needles`]: what identifies a subject in free text, and its redaction;
//! - [`holdings`]: every row about a subject, by table (the tables named in
//!   `store::subjects::about`, plus any row of any table that mentions the
//!   subject's identifiers, found from the database's own catalogue);
//! - [`export`]: those rows as one archive;
//! - [`erase`]: a resumable erasure in bounded transactions, with its receipt;
//! - [`deletions`]: deletion requests a network forwards, each an erasure
//!   with a public status page.

pub mod deletions;
pub mod erase;
pub mod export;
pub mod holdings;
pub mod needles;

pub use needles::{Needles, PLACEHOLDER};

use crate::store::Db;
use crate::store::subjects::{self, SubjectIds};

#[derive(Debug, thiserror::Error)]
pub enum PrivacyError {
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("no contact or identity matches {0}")]
    NotFound(String),
    #[error("writing the archive: {0}")]
    Archive(#[from] std::io::Error),
    #[error("no erasure has the receipt {0}")]
    NoErasure(String),
    #[error("the erasure's stored plan cannot be read: {0}")]
    Plan(#[from] serde_json::Error),
}

/// Where a subject is found from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Start {
    Contact(i64),
    /// A contact's external id (the CRM's).
    ContactExternalId(String),
    Identity(i64),
    /// `network:handle`, for example `mastodon:maya@demo.social`.
    Handle {
        network: String,
        handle: String,
    },
}

/// The text form of a [`Start`] (the API's `subject`): `contact:ID`,
/// `identity:ID`, `contact-external:EXTERNAL_ID` or `handle:NETWORK:HANDLE`.
pub const START_PATTERN: &str = "^((contact|identity):[1-9][0-9]{0,17}|contact-external:.+|handle:[^:]+:.+)$";

impl Start {
    /// `network:handle` as a start.
    pub fn handle(text: &str) -> Option<Start> {
        let (network, handle) = text.split_once(':')?;
        (!network.is_empty() && !handle.is_empty()).then(|| Start::Handle {
            network: network.to_string(),
            handle: handle.to_string(),
        })
    }

    /// A start from its text form ([`START_PATTERN`]).
    pub fn parse(text: &str) -> Option<Start> {
        let (kind, rest) = text.split_once(':')?;
        let id = || rest.parse::<i64>().ok().filter(|id| *id > 0);
        match kind {
            "contact" => id().map(Start::Contact),
            "identity" => id().map(Start::Identity),
            "contact-external" if !rest.is_empty() => Some(Start::ContactExternalId(rest.to_string())),
            "handle" => Start::handle(rest),
            _ => None,
        }
    }

    fn describe(&self) -> String {
        match self {
            Start::Contact(id) => format!("contact {id}"),
            Start::ContactExternalId(e) => format!("contact external id `{e}`"),
            Start::Identity(id) => format!("identity {id}"),
            Start::Handle { network, handle } => format!("{network} handle `{handle}`"),
        }
    }
}

/// A data subject: its contacts and identities and what identifies it.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Subject {
    pub ids: SubjectIds,
    pub needles: Needles,
}

/// The subject `start` names, with the contacts and identities confirmed
/// links join to it.
pub async fn find(db: &Db, start: &Start) -> Result<Subject, PrivacyError> {
    let not_found = || PrivacyError::NotFound(start.describe());
    let first = match start {
        Start::Contact(id) => SubjectIds {
            contacts: vec![*id],
            identities: vec![],
        },
        Start::ContactExternalId(external) => SubjectIds {
            contacts: vec![
                subjects::contact_by_external_id(db, external)
                    .await?
                    .ok_or_else(not_found)?,
            ],
            identities: vec![],
        },
        Start::Identity(id) => SubjectIds {
            contacts: vec![],
            identities: vec![*id],
        },
        Start::Handle { network, handle } => SubjectIds {
            contacts: vec![],
            identities: vec![
                subjects::identity_by_handle(db, network, handle)
                    .await?
                    .ok_or_else(not_found)?,
            ],
        },
    };
    let ids = subjects::with_links(db, &first).await?;
    if ids.is_empty() {
        return Err(not_found());
    }
    exactly(db, ids).await
}

/// The subject made of `ids` alone (no links followed), with what identifies it.
async fn exactly(db: &Db, ids: SubjectIds) -> Result<Subject, PrivacyError> {
    let (identifiers, names) = subjects::identifiers(db, &ids).await?;
    let mut needles = Needles::default();
    for id in &identifiers {
        needles.add_id(Some(id));
    }
    for name in &names {
        needles.add_name(Some(name));
    }
    Ok(Subject { ids, needles })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_parse_from_their_text() {
        assert_eq!(Start::parse("contact:42"), Some(Start::Contact(42)));
        assert_eq!(Start::parse("identity:7"), Some(Start::Identity(7)));
        assert_eq!(
            Start::parse("contact-external:C:1"),
            Some(Start::ContactExternalId("C:1".into()))
        );
        assert_eq!(
            Start::parse("handle:mastodon:maya@demo.social"),
            Some(Start::Handle {
                network: "mastodon".into(),
                handle: "maya@demo.social".into()
            })
        );
        for bad in [
            "contact:0",
            "contact:x",
            "handle:mastodon",
            "mail:a@b",
            "contact-external:",
            "contact",
        ] {
            assert_eq!(Start::parse(bad), None, "{bad}");
        }
    }
}
