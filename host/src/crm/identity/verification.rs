//! Verification links: the customer confirms a proposed link themselves.
//!
//! An agent makes a link for a proposed identity link and sends it to an
//! address on the contact's record (their email), never to the social
//! identity: following it proves the person who reads that address, and
//! confirming on the page says the social account is theirs. The token is 32
//! random bytes, stored only as its SHA-256, used once, and expires after
//! [`VALID_MS`]. Every unusable token (unknown, used, expired, its link no
//! longer proposed) gets the same answer, so the page tells a guesser nothing.

use serde::Serialize;
use serde_json::json;

use super::plan::{Status, merge};
use super::{Evidence, IdentityError, LinkView, evidence_json, link_event, parse_evidence, review, subject};
use crate::events::Outbox;
use crate::store::identity as store;
use crate::store::{Db, audit, now_ms};
use crate::tokens::{hash, random_secret};

/// How long a verification link works.
pub const VALID_MS: i64 = 7 * 86_400_000;

/// The actor of a customer's confirmation in the audit log.
pub const CUSTOMER: &str = "customer";

/// A verification link just made: its token is shown this once.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct NewVerification {
    /// The page's path on this server (`/verify/TOKEN`): send the server's
    /// public address followed by it.
    pub path: String,
    pub expires_at: i64,
}

/// What the verification page shows: the social account only, no CRM data
/// (the link may be forwarded).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pending {
    pub network: String,
    pub handle: String,
}

/// Makes a verification link for the proposed link `link_id`, audited.
pub async fn create(db: &Db, link_id: i64, actor: &str) -> Result<NewVerification, IdentityError> {
    let link = review::view(db, link_id).await?;
    if link.status != Status::Proposed.as_str() {
        return Err(IdentityError::Transition {
            id: link_id,
            status: link.status,
            action: "sent for verification",
        });
    }
    let token = random_secret();
    let now = now_ms();
    let expires_at = now + VALID_MS;
    let mut tx = db.begin().await?;
    let id = store::insert_verification(&mut tx, link_id, &hash(&token), actor, now, expires_at).await?;
    let details = json!({"verification_id": id, "contact_id": link.contact_id, "expires_at": expires_at});
    audit(
        &mut *tx,
        actor,
        "identity.verification-link",
        &subject(link_id),
        &details,
    )
    .await?;
    tx.commit().await?;
    Ok(NewVerification {
        path: format!("/verify/{token}"),
        expires_at,
    })
}

/// The account a usable `token` asks about.
pub async fn pending(db: &Db, token: &str) -> Result<Pending, IdentityError> {
    let (network, handle) = store::pending_verification(db, &hash(token), now_ms(), Status::Proposed.as_str())
        .await?
        .ok_or(IdentityError::Verification)?;
    Ok(Pending { network, handle })
}

/// The customer confirms: the token is used up and the link confirmed
/// (method `verification-link`), audited with actor [`CUSTOMER`].
pub async fn complete(db: &Db, token: &str) -> Result<LinkView, IdentityError> {
    let now = now_ms();
    let outbox = Outbox::of(db).await?;
    let mut tx = db.begin().await?;
    // Used up first: of two requests with one token, one finds it unused.
    let (id, link_id, sent_by) = store::use_verification(&mut tx, &hash(token), now)
        .await?
        .ok_or(IdentityError::Verification)?;
    let (identity_id, contact_id, stored) = store::link_with_status(&mut tx, link_id, Status::Proposed.as_str())
        .await?
        .ok_or(IdentityError::Verification)?;
    let proof = Evidence {
        kind: "verification-link".into(),
        value: sent_by,
        source: format!("verification:{id}"),
        weight: 1.0,
        ambiguous: false,
        matches: None,
    };
    let evidence = merge(&parse_evidence(&stored), &[proof]);
    store::verify_link(
        &mut tx,
        link_id,
        Status::Confirmed.as_str(),
        "verification-link",
        &evidence_json(&evidence),
        CUSTOMER,
        now,
    )
    .await?;
    let details = json!({
        "verification_id": id,
        "identity_id": identity_id,
        "contact_id": contact_id,
        "from": Status::Proposed.as_str(),
        "to": Status::Confirmed.as_str(),
    });
    audit(&mut *tx, CUSTOMER, "identity.verify", &subject(link_id), &details).await?;
    outbox
        .write(&mut tx, [link_event(link_id, Status::Confirmed, CUSTOMER, &details)])
        .await?;
    tx.commit().await?;
    review::view(db, link_id).await
}
