//! Review: the queue of links, and a person's decisions (confirm, reject,
//! unlink, link by hand), each audited in the same transaction.

use serde_json::json;

use super::plan::{Status, merge};
use super::{Evidence, IdentityError, LinkView, evidence_json, link_event, parse_evidence, subject};
use crate::events::Outbox;
use crate::store::contacts::contact_exists;
use crate::store::identity::{self as store, LinkChange, LinkOrder, LinkRow, NewLink};
use crate::store::{Db, audit, now_ms};

impl From<LinkRow> for LinkView {
    fn from(row: LinkRow) -> LinkView {
        LinkView {
            id: row.id,
            identity_id: row.identity_id,
            network: row.network,
            handle: row.handle,
            display_name: row.display_name,
            contact_id: row.contact_id,
            contact_name: row.contact_name,
            contact_external_id: row.contact_external_id,
            method: row.method,
            confidence: row.confidence,
            evidence: parse_evidence(&row.evidence),
            status: row.status,
            decided_by: row.decided_by,
            decided_at: row.decided_at,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

pub(super) async fn view(db: &Db, link_id: i64) -> Result<LinkView, IdentityError> {
    let row = store::link(db, link_id).await?.ok_or(IdentityError::NoLink(link_id))?;
    Ok(row.into())
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
    let order = if status == Some(Status::Proposed) {
        LinkOrder::Confidence
    } else {
        LinkOrder::Updated
    };
    let rows = store::links_page(db, status.map_or("", Status::as_str), order, (key, id), limit.max(0)).await?;
    Ok(rows.into_iter().map(LinkView::from).collect())
}

/// The identities of a contact (for the customer 360): confirmed links first,
/// then proposals most confident first; rejected links are left out.
pub async fn contact_identities(db: &Db, contact_id: i64) -> Result<Vec<LinkView>, IdentityError> {
    let rows = store::contact_links(db, contact_id, Status::Rejected.as_str()).await?;
    Ok(rows.into_iter().map(LinkView::from).collect())
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
    let outbox = Outbox::of(db).await?;
    let mut tx = db.begin().await?;
    // A write first: takes SQLite's write lock, and the row's lock on PostgreSQL.
    store::lock_link(&mut tx, link_id).await?;
    let (identity_id, contact_id, status) = store::link_state(&mut tx, link_id)
        .await?
        .ok_or(IdentityError::NoLink(link_id))?;
    let current = Status::parse(&status).filter(|s| from.contains(s));
    let Some(current) = current else {
        return Err(IdentityError::Transition {
            id: link_id,
            status,
            action,
        });
    };
    store::set_link_status(&mut tx, link_id, to.as_str(), actor, now_ms()).await?;
    let details = json!({
        "identity_id": identity_id,
        "contact_id": contact_id,
        "from": current.as_str(),
        "to": to.as_str(),
    });
    let verb = match action {
        "confirmed" => "identity.confirm",
        "rejected" => "identity.reject",
        _ => "identity.unlink",
    };
    audit(&mut *tx, actor, verb, &subject(link_id), &details).await?;
    outbox
        .write(&mut tx, [link_event(link_id, to, actor, &details)])
        .await?;
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
    if !store::identity_exists(db, identity_id).await? {
        return Err(IdentityError::NoIdentity(identity_id));
    }
    if !contact_exists(db, contact_id).await? {
        return Err(IdentityError::NoContact(contact_id));
    }
    let manual = Evidence {
        kind: "manual".into(),
        value: actor.into(),
        source: "review".into(),
        weight: 1.0,
        ambiguous: false,
        matches: None,
    };
    let now = now_ms();
    let outbox = Outbox::of(db).await?;
    let mut tx = db.begin().await?;
    let link = NewLink {
        identity_id,
        contact_id,
        method: "manual",
        confidence: 1.0,
        evidence: &evidence_json(std::slice::from_ref(&manual)),
        status: Status::Confirmed.as_str(),
        decided_by: Some(actor),
        decided_at: Some(now),
        now,
    };
    let (link_id, from) = match store::insert_link(&mut tx, &link).await? {
        Some(id) => (id, None),
        None => {
            let (id, status, evidence) = store::pair_link(&mut tx, identity_id, contact_id).await?;
            let Some(from) = Status::parse(&status).filter(|s| *s != Status::Confirmed) else {
                return Err(IdentityError::Transition {
                    id,
                    status,
                    action: "linked",
                });
            };
            let evidence = merge(&parse_evidence(&evidence), &[manual]);
            let change = LinkChange {
                id,
                from: from.as_str(),
                to: Status::Confirmed.as_str(),
                method: "manual",
                confidence: 1.0,
                evidence: &evidence_json(&evidence),
                actor,
                now,
            };
            store::decide_link(&mut tx, &change).await?;
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
    outbox
        .write(&mut tx, [link_event(link_id, Status::Confirmed, actor, &details)])
        .await?;
    tx.commit().await?;
    view(db, link_id).await
}
