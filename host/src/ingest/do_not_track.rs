//! The do-not-track list: authors an erasure asked never to store again,
//! kept as keyed hashes (never the handle) of `network:handle` and of
//! `network:external user id`, so a changed handle is still recognised;
//! and erased contacts that sources must not bring back, as hashes of
//! `account:external id` and of each email.

use std::collections::HashSet;

use crate::secrets::SecretBox;
use crate::store::{Db, erasures};

pub fn handle_hash(secrets: &SecretBox, network: &str, handle: &str) -> String {
    let handle = handle.trim_start_matches('@').to_lowercase();
    secrets.keyed_hash("do-not-track:handle", &format!("{network}:{handle}"))
}

pub fn user_hash(secrets: &SecretBox, network: &str, external_user_id: &str) -> String {
    secrets.keyed_hash("do-not-track:user", &format!("{network}:{external_user_id}"))
}

/// A source's contact (`account:external id`): an erased contact a source
/// sends again is not stored again.
pub fn source_contact_hash(secrets: &SecretBox, account: &str, external_id: &str) -> String {
    secrets.keyed_hash("do-not-track:source-contact", &format!("{account}:{external_id}"))
}

/// An erased contact's email, so that no source brings the person back.
pub fn email_hash(secrets: &SecretBox, email: &str) -> String {
    secrets.keyed_hash("do-not-track:email", &email.trim().to_lowercase())
}

/// The external user ids among `authors` (external id, handle) of `network`
/// that are on the list.
pub async fn listed<'a>(
    db: &Db,
    secrets: &SecretBox,
    network: &str,
    authors: impl Iterator<Item = (&'a str, &'a str)>,
) -> Result<HashSet<String>, sqlx::Error> {
    let mut by_hash = Vec::new();
    for (external_id, handle) in authors {
        by_hash.push((user_hash(secrets, network, external_id), external_id));
        by_hash.push((handle_hash(secrets, network, handle), external_id));
    }
    let hashes: Vec<String> = by_hash.iter().map(|(h, _)| h.clone()).collect();
    let found: HashSet<String> = erasures::tracked_not(db, &hashes).await?.into_iter().collect();
    Ok(by_hash
        .into_iter()
        .filter(|(h, _)| found.contains(h))
        .map(|(_, id)| id.to_string())
        .collect())
}
