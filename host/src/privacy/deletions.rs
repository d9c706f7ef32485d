//! Deletion requests a network forwards for one of its users (Meta's
//! data-deletion callback): a channel plugin reports one through
//! `changes.erasure-requested`, the host records it with its confirmation
//! code in the call's transaction, and here each recorded request becomes an
//! erasure of that user's identity on that network, or, when nothing is held
//! about the user, is complete at once.
//!
//! The erasure covers the identity alone, not the CRM contact a confirmed
//! link joins it to: the network asks for the data it handed over, and the
//! contact may hold what the brand has from elsewhere (orders, mail). An
//! admin erases the whole subject with `subject erase`.

use super::erase::Planned;
use super::{PrivacyError, exactly};
use crate::store::subjects::{self, SubjectIds};
use crate::store::{Db, deletion_requests};

/// Who the erasures of forwarded requests are recorded as requested by.
const ACTOR: &str = "network-request";

/// Starts an erasure for each request not started yet (`erase::resume`
/// runs them). A request two nodes see at once is started by one.
pub async fn start_received(db: &Db) -> Result<(), PrivacyError> {
    for request in deletion_requests::received(db).await? {
        let found = subjects::identity_by_user_id(db, &request.network, &request.external_user_id).await?;
        let Some(identity) = found else {
            deletion_requests::nothing_held(db, request.id).await?;
            continue;
        };
        let ids = SubjectIds {
            contacts: vec![],
            identities: vec![identity],
        };
        let planned = Planned::of(db, &exactly(db, ids).await?).await?;
        let mut tx = db.begin().await?;
        let erasure = planned.start_in(&mut tx, ACTOR).await?;
        // Started elsewhere meanwhile: this erasure is dropped with the transaction.
        if deletion_requests::started(&mut tx, request.id, erasure).await? {
            tx.commit().await?;
        }
    }
    Ok(())
}
