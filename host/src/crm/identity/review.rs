//! Review: the queue of links, and a person's decisions (confirm, reject,
//! unlink, link by hand), each audited in the same transaction.

use serde_json::json;
use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};

use super::plan::{Status, merge};
use super::{Evidence, IdentityError, LinkView, evidence_json, parse_evidence, subject};
use crate::store::{Db, audit, now_ms};

const VIEW: &str = "SELECT l.id, l.identity_id, i.network, i.handle, i.display_name, l.contact_id, \
     c.name AS contact_name, c.external_id AS contact_external_id, l.method, l.confidence, l.evidence, l.status, \
     l.decided_by, l.decided_at, l.created_at, l.updated_at FROM identity_links l \
     JOIN identities i ON i.id = l.identity_id JOIN contacts c ON c.id = l.contact_id";

fn link_view(row: &AnyRow) -> Result<LinkView, sqlx::Error> {
    Ok(LinkView {
        id: row.try_get("id")?,
        identity_id: row.try_get("identity_id")?,
        network: row.try_get("network")?,
        handle: row.try_get("handle")?,
        display_name: row.try_get("display_name")?,
        contact_id: row.try_get("contact_id")?,
        contact_name: row.try_get("contact_name")?,
        contact_external_id: row.try_get("contact_external_id")?,
        method: row.try_get("method")?,
        confidence: row.try_get("confidence")?,
        evidence: parse_evidence(&row.try_get::<String, _>("evidence")?),
        status: row.try_get("status")?,
        decided_by: row.try_get("decided_by")?,
        decided_at: row.try_get("decided_at")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

pub(super) async fn view(db: &Db, link_id: i64) -> Result<LinkView, IdentityError> {
    let row = sqlx::query(AssertSqlSafe(format!("{VIEW} WHERE l.id = $1")))
        .bind(link_id)
        .fetch_optional(db.pool())
        .await?
        .ok_or(IdentityError::NoLink(link_id))?;
    Ok(link_view(&row)?)
}

/// Links with `status` (all when `None`), at most `limit`: proposals most
/// confident first, other links most recently changed first.
pub async fn links(db: &Db, status: Option<&str>, limit: i64) -> Result<Vec<LinkView>, IdentityError> {
    links_after(db, status, None, limit).await
}

/// Where a page of [`links_after`] goes on: after the link `id` whose sort key
/// (its confidence in the proposals, else its `updated_at`) is `key`.
pub type LinkPosition = (f64, i64);

/// Where the list of `status` goes on after `link`.
pub fn position(status: Option<&str>, link: &LinkView) -> LinkPosition {
    if status == Some(Status::Proposed.as_str()) {
        (link.confidence, link.id)
    } else {
        (link.updated_at as f64, link.id)
    }
}

/// [`links`] from `after` on (see [`position`]), for paging.
pub async fn links_after(
    db: &Db,
    status: Option<&str>,
    after: Option<LinkPosition>,
    limit: i64,
) -> Result<Vec<LinkView>, IdentityError> {
    let status = match status {
        Some(s) => Some(Status::parse(s).ok_or_else(|| IdentityError::Status(s.to_string()))?),
        None => None,
    };
    // Times in ms are exact as doubles; f64::MAX is past every key.
    let (key, id) = after.unwrap_or((f64::MAX, i64::MAX));
    let (after_sql, order) = if status == Some(Status::Proposed) {
        (
            "(l.confidence < $2 OR (l.confidence = $2 AND l.id > $3))",
            "l.confidence DESC, l.id",
        )
    } else {
        (
            "(l.updated_at < $2 OR (l.updated_at = $2 AND l.id < $3))",
            "l.updated_at DESC, l.id DESC",
        )
    };
    let rows = sqlx::query(AssertSqlSafe(format!(
        "{VIEW} WHERE ($1 = '' OR l.status = $1) AND {after_sql} ORDER BY {order} LIMIT $4"
    )))
    .bind(status.map_or("", Status::as_str))
    .bind(key)
    .bind(id)
    .bind(limit.max(0))
    .fetch_all(db.pool())
    .await?;
    Ok(rows.iter().map(link_view).collect::<Result<_, _>>()?)
}

/// The identities of a contact (for the customer 360): confirmed links first,
/// then proposals most confident first; rejected links are left out.
pub async fn contact_identities(db: &Db, contact_id: i64) -> Result<Vec<LinkView>, IdentityError> {
    let rows = sqlx::query(AssertSqlSafe(format!(
        "{VIEW} WHERE l.contact_id = $1 AND l.status <> $2 ORDER BY l.status, l.confidence DESC, l.id"
    )))
    .bind(contact_id)
    .bind(Status::Rejected.as_str())
    .fetch_all(db.pool())
    .await?;
    Ok(rows.iter().map(link_view).collect::<Result<_, _>>()?)
}

/// Moves link `link_id` from one of `from` to `to`, decided by `actor`, audited.
async fn decide(
    db: &Db,
    link_id: i64,
    actor: &str,
    action: &'static str,
    from: &[Status],
    to: Status,
) -> Result<LinkView, IdentityError> {
    let mut tx = db.begin().await?;
    // A write first: takes SQLite's write lock, and the row's lock on PostgreSQL.
    sqlx::query("UPDATE identity_links SET updated_at = updated_at WHERE id = $1")
        .bind(link_id)
        .execute(&mut *tx)
        .await?;
    let row = sqlx::query("SELECT identity_id, contact_id, status FROM identity_links WHERE id = $1")
        .bind(link_id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(IdentityError::NoLink(link_id))?;
    let status: String = row.try_get("status")?;
    let current = Status::parse(&status).filter(|s| from.contains(s));
    let Some(current) = current else {
        return Err(IdentityError::Transition {
            id: link_id,
            status,
            action,
        });
    };
    let now = now_ms();
    sqlx::query(
        "UPDATE identity_links SET status = $1, decided_by = $2, decided_at = $3, updated_at = $4 WHERE id = $5",
    )
    .bind(to.as_str())
    .bind(actor)
    .bind(now)
    .bind(now)
    .bind(link_id)
    .execute(&mut *tx)
    .await?;
    let details = json!({
        "identity_id": row.try_get::<i64, _>("identity_id")?,
        "contact_id": row.try_get::<i64, _>("contact_id")?,
        "from": current.as_str(),
        "to": to.as_str(),
    });
    let verb = match action {
        "confirmed" => "identity.confirm",
        "rejected" => "identity.reject",
        _ => "identity.unlink",
    };
    audit(&mut *tx, actor, verb, &subject(link_id), &details).await?;
    tx.commit().await?;
    view(db, link_id).await
}

/// A person confirms a proposed (or earlier rejected) link.
pub async fn confirm(db: &Db, link_id: i64, actor: &str) -> Result<LinkView, IdentityError> {
    decide(
        db,
        link_id,
        actor,
        "confirmed",
        &[Status::Proposed, Status::Rejected],
        Status::Confirmed,
    )
    .await
}

/// A person rejects a proposed link; the resolver will not propose it again
/// on the evidence it holds.
pub async fn reject(db: &Db, link_id: i64, actor: &str) -> Result<LinkView, IdentityError> {
    decide(db, link_id, actor, "rejected", &[Status::Proposed], Status::Rejected).await
}

/// A person undoes a confirmed link: it becomes rejected (with who and when),
/// so the identity is no longer that contact's and is not linked again by the
/// same evidence. Nothing else changes.
pub async fn unlink(db: &Db, link_id: i64, actor: &str) -> Result<LinkView, IdentityError> {
    decide(db, link_id, actor, "unlinked", &[Status::Confirmed], Status::Rejected).await
}

/// A person links an identity to a contact (method `manual`, confidence 1).
/// An existing proposed or rejected link of the pair is confirmed, keeping its
/// evidence; a confirmed one is an error.
pub async fn link(db: &Db, identity_id: i64, contact_id: i64, actor: &str) -> Result<LinkView, IdentityError> {
    // Identities and contacts are never deleted: checking first is safe.
    sqlx::query("SELECT id FROM identities WHERE id = $1")
        .bind(identity_id)
        .fetch_optional(db.pool())
        .await?
        .ok_or(IdentityError::NoIdentity(identity_id))?;
    sqlx::query("SELECT id FROM contacts WHERE id = $1")
        .bind(contact_id)
        .fetch_optional(db.pool())
        .await?
        .ok_or(IdentityError::NoContact(contact_id))?;
    let manual = Evidence {
        kind: "manual".into(),
        value: actor.into(),
        source: "review".into(),
        weight: 1.0,
        ambiguous: false,
        matches: None,
    };
    let now = now_ms();
    let mut tx = db.begin().await?;
    let inserted = sqlx::query(
        "INSERT INTO identity_links (identity_id, contact_id, method, confidence, evidence, status, decided_by, \
         decided_at, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
         ON CONFLICT (identity_id, contact_id) DO NOTHING RETURNING id",
    )
    .bind(identity_id)
    .bind(contact_id)
    .bind("manual")
    .bind(1.0f64)
    .bind(evidence_json(std::slice::from_ref(&manual)))
    .bind(Status::Confirmed.as_str())
    .bind(actor)
    .bind(now)
    .bind(now)
    .bind(now)
    .fetch_optional(&mut *tx)
    .await?;
    let (link_id, from) = match inserted {
        Some(row) => (row.try_get::<i64, _>("id")?, None),
        None => {
            let row = sqlx::query(
                "SELECT id, status, evidence FROM identity_links WHERE identity_id = $1 AND contact_id = $2",
            )
            .bind(identity_id)
            .bind(contact_id)
            .fetch_one(&mut *tx)
            .await?;
            let id: i64 = row.try_get("id")?;
            let status: String = row.try_get("status")?;
            let Some(from) = Status::parse(&status).filter(|s| *s != Status::Confirmed) else {
                return Err(IdentityError::Transition {
                    id,
                    status,
                    action: "linked",
                });
            };
            let evidence = merge(&parse_evidence(&row.try_get::<String, _>("evidence")?), &[manual]);
            sqlx::query(
                "UPDATE identity_links SET status = $1, method = $2, confidence = $3, evidence = $4, \
                 decided_by = $5, decided_at = $6, updated_at = $7 WHERE id = $8 AND status = $9",
            )
            .bind(Status::Confirmed.as_str())
            .bind("manual")
            .bind(1.0f64)
            .bind(evidence_json(&evidence))
            .bind(actor)
            .bind(now)
            .bind(now)
            .bind(id)
            .bind(from.as_str())
            .execute(&mut *tx)
            .await?;
            (id, Some(from))
        }
    };
    let details = json!({
        "identity_id": identity_id,
        "contact_id": contact_id,
        "from": from.map(Status::as_str),
        "to": Status::Confirmed.as_str(),
        "method": "manual",
    });
    audit(&mut *tx, actor, "identity.link", &subject(link_id), &details).await?;
    tx.commit().await?;
    view(db, link_id).await
}
