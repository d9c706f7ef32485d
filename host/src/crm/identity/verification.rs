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
use sqlx::Row;

use super::plan::{Status, merge};
use super::{Evidence, IdentityError, LinkView, evidence_json, parse_evidence, review, subject};
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
    let id: i64 = sqlx::query(
        "INSERT INTO identity_verifications (link_id, token_hash, created_by, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(link_id)
    .bind(hash(&token))
    .bind(actor)
    .bind(now)
    .bind(expires_at)
    .fetch_one(&mut *tx)
    .await?
    .try_get("id")?;
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
    let row = sqlx::query(
        "SELECT i.network, i.handle FROM identity_verifications v JOIN identity_links l ON l.id = v.link_id \
         JOIN identities i ON i.id = l.identity_id \
         WHERE v.token_hash = $1 AND v.completed_at IS NULL AND v.expires_at > $2 AND l.status = $3",
    )
    .bind(hash(token))
    .bind(now_ms())
    .bind(Status::Proposed.as_str())
    .fetch_optional(db.pool())
    .await?
    .ok_or(IdentityError::Verification)?;
    Ok(Pending {
        network: row.try_get("network")?,
        handle: row.try_get("handle")?,
    })
}

/// The customer confirms: the token is used up and the link confirmed
/// (method `verification-link`), audited with actor [`CUSTOMER`].
pub async fn complete(db: &Db, token: &str) -> Result<LinkView, IdentityError> {
    let now = now_ms();
    let mut tx = db.begin().await?;
    // Used up first: of two requests with one token, one finds it unused.
    let row = sqlx::query(
        "UPDATE identity_verifications SET completed_at = $1 \
         WHERE token_hash = $2 AND completed_at IS NULL AND expires_at > $3 RETURNING id, link_id, created_by",
    )
    .bind(now)
    .bind(hash(token))
    .bind(now)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(IdentityError::Verification)?;
    let (id, link_id, sent_by): (i64, i64, String) =
        (row.try_get("id")?, row.try_get("link_id")?, row.try_get("created_by")?);
    let link =
        sqlx::query("SELECT identity_id, contact_id, evidence FROM identity_links WHERE id = $1 AND status = $2")
            .bind(link_id)
            .bind(Status::Proposed.as_str())
            .fetch_optional(&mut *tx)
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
    let evidence = merge(&parse_evidence(&link.try_get::<String, _>("evidence")?), &[proof]);
    sqlx::query(
        "UPDATE identity_links SET status = $1, method = $2, confidence = 1.0, evidence = $3, decided_by = $4, \
         decided_at = $5, updated_at = $6 WHERE id = $7",
    )
    .bind(Status::Confirmed.as_str())
    .bind("verification-link")
    .bind(evidence_json(&evidence))
    .bind(CUSTOMER)
    .bind(now)
    .bind(now)
    .bind(link_id)
    .execute(&mut *tx)
    .await?;
    let details = json!({
        "verification_id": id,
        "identity_id": link.try_get::<i64, _>("identity_id")?,
        "contact_id": link.try_get::<i64, _>("contact_id")?,
        "from": Status::Proposed.as_str(),
        "to": Status::Confirmed.as_str(),
    });
    audit(&mut *tx, CUSTOMER, "identity.verify", &subject(link_id), &details).await?;
    tx.commit().await?;
    review::view(db, link_id).await
}
