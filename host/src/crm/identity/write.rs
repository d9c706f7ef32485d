//! Writes: the stored links of identities being resolved, and each planned
//! change with its audit entry, in the caller's transaction.

use std::collections::HashMap;

use serde_json::json;
use sqlx::AnyConnection;

use super::plan::{Existing, Plan, Status};
use super::{RESOLVER, ResolveReport, evidence_json, link_event, parse_evidence, subject};
use crate::events::Outbox;
use crate::store::identity::{self as store, LinkChange, NewLink};
use crate::store::{Backend, audit};

/// The links of `identities`, by identity.
pub(super) async fn existing_links(
    conn: &mut AnyConnection,
    backend: Backend,
    identities: &[i64],
) -> Result<HashMap<i64, Vec<Existing>>, sqlx::Error> {
    let mut out: HashMap<i64, Vec<Existing>> = HashMap::new();
    for link in store::links_of(conn, backend, identities).await? {
        let Some(status) = Status::parse(&link.status) else {
            continue;
        };
        out.entry(link.identity_id).or_default().push(Existing {
            id: link.id,
            contact_id: link.contact_id,
            status,
            evidence: parse_evidence(&link.evidence),
        });
    }
    Ok(out)
}

/// Writes one planned change and its audit entry. A row another resolver
/// wrote or changed meanwhile is left to it.
pub(super) async fn apply(
    conn: &mut AnyConnection,
    outbox: Outbox,
    identity_id: i64,
    plan: &Plan,
    now: i64,
    report: &mut ResolveReport,
) -> Result<(), sqlx::Error> {
    match plan {
        Plan::Insert {
            contact_id,
            status,
            method,
            confidence,
            evidence,
        } => {
            let decided = *status == Status::Confirmed;
            let link = NewLink {
                identity_id,
                contact_id: *contact_id,
                method,
                confidence: *confidence,
                evidence: &evidence_json(evidence),
                status: status.as_str(),
                decided_by: decided.then_some(RESOLVER),
                decided_at: decided.then_some(now),
                now,
            };
            let Some(id) = store::insert_link(&mut *conn, &link).await? else {
                return Ok(());
            };
            let action = if decided {
                report.confirmed += 1;
                "identity.auto-confirm"
            } else {
                report.proposed += 1;
                "identity.propose"
            };
            let details = json!({
                "identity_id": identity_id, "contact_id": contact_id, "to": status.as_str(),
                "method": method, "confidence": confidence, "evidence": evidence,
            });
            audit(&mut *conn, RESOLVER, action, &subject(id), &details).await?;
            outbox
                .write(conn, [link_event(id, *status, RESOLVER, &details)])
                .await?;
        }
        Plan::Update {
            link_id,
            contact_id,
            from,
            to,
            method,
            confidence,
            evidence,
        } => {
            let decided = *to == Status::Confirmed;
            let change = LinkChange {
                id: *link_id,
                from: from.as_str(),
                to: to.as_str(),
                method,
                confidence: *confidence,
                evidence: &evidence_json(evidence),
                actor: RESOLVER,
                now,
            };
            if store::update_link(&mut *conn, &change, decided).await? == 0 {
                return Ok(());
            }
            let action = match (from, to) {
                (_, Status::Confirmed) => {
                    report.confirmed += 1;
                    "identity.auto-confirm"
                }
                (Status::Rejected, _) => {
                    report.proposed += 1;
                    "identity.propose"
                }
                _ => {
                    report.updated += 1;
                    "identity.evidence"
                }
            };
            let details = json!({
                "identity_id": identity_id, "contact_id": contact_id, "from": from.as_str(), "to": to.as_str(),
                "method": method, "confidence": confidence, "evidence": evidence,
            });
            audit(&mut *conn, RESOLVER, action, &subject(*link_id), &details).await?;
            if from != to {
                outbox
                    .write(conn, [link_event(*link_id, *to, RESOLVER, &details)])
                    .await?;
            }
        }
    }
    Ok(())
}
