//! Data-subject rights (docs/privacy.md): find everything held about one
//! person, export it, erase it.
//!
//! - [`needles`]: what identifies a subject in free text, and its redaction;
//! - [`holdings`]: every row about a subject, by table (the tables named in
//!   `store::subjects::about`, plus any row of any table that mentions the
//!   subject's identifiers, found from the database's own catalogue);
//! - [`export`]: those rows as one archive;
//! - [`erase`]: a resumable erasure in bounded transactions, with its receipt.

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

impl Start {
    /// `network:handle` as a start.
    pub fn handle(text: &str) -> Option<Start> {
        let (network, handle) = text.split_once(':')?;
        (!network.is_empty() && !handle.is_empty()).then(|| Start::Handle {
            network: network.to_string(),
            handle: handle.to_string(),
        })
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
