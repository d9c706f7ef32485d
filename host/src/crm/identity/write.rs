//! Writes: the stored links of identities being resolved, and each planned
//! change with its audit entry, in the caller's transaction.

use std::collections::HashMap;

use serde_json::json;
use sqlx::{Any, Row, Transaction};

use super::plan::{Existing, Plan, Status};
use super::{CHUNK, RESOLVER, ResolveReport, evidence_json, parse_evidence, subject};
use crate::store::{Backend, audit, lookup_sql};

/// The links of `identities`, by identity.
pub(super) async fn existing_links(
    tx: &mut Transaction<'static, Any>,
    backend: Backend,
    identities: &[i64],
) -> Result<HashMap<i64, Vec<Existing>>, sqlx::Error> {
    let mut out: HashMap<i64, Vec<Existing>> = HashMap::new();
    for chunk in identities.chunks(CHUNK) {
        let columns = "id, identity_id, contact_id, status, evidence";
        let sql = lookup_sql(backend, columns, "identity_links", "identity_id", 1, chunk.len(), "");
        let mut query = sqlx::query(backend.sql(sql)).persistent(backend == Backend::Sqlite);
        for id in chunk {
            query = query.bind(*id);
        }
        for row in query.fetch_all(&mut **tx).await? {
            let Some(status) = Status::parse(&row.try_get::<String, _>("status")?) else {
                continue;
            };
            out.entry(row.try_get("identity_id")?).or_default().push(Existing {
                id: row.try_get("id")?,
                contact_id: row.try_get("contact_id")?,
                status,
                evidence: parse_evidence(&row.try_get::<String, _>("evidence")?),
            });
        }
    }
    Ok(out)
}

/// Writes one planned change and its audit entry. A row another resolver
/// wrote or changed meanwhile is left to it.
pub(super) async fn apply(
    tx: &mut Transaction<'static, Any>,
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
            let row = sqlx::query(
                "INSERT INTO identity_links (identity_id, contact_id, method, confidence, evidence, status, \
                 decided_by, decided_at, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
                 ON CONFLICT (identity_id, contact_id) DO NOTHING RETURNING id",
            )
            .bind(identity_id)
            .bind(*contact_id)
            .bind(method.as_str())
            .bind(*confidence)
            .bind(evidence_json(evidence))
            .bind(status.as_str())
            .bind(decided.then_some(RESOLVER))
            .bind(decided.then_some(now))
            .bind(now)
            .bind(now)
            .fetch_optional(&mut **tx)
            .await?;
            let Some(row) = row else {
                return Ok(());
            };
            let id: i64 = row.try_get("id")?;
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
            audit(&mut **tx, RESOLVER, action, &subject(id), &details).await?;
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
            let done = sqlx::query(
                "UPDATE identity_links SET status = $1, method = $2, confidence = $3, evidence = $4, \
                 decided_by = CASE WHEN $5 = 1 THEN $6 ELSE decided_by END, \
                 decided_at = CASE WHEN $7 = 1 THEN $8 ELSE decided_at END, updated_at = $9 \
                 WHERE id = $10 AND status = $11",
            )
            .bind(to.as_str())
            .bind(method.as_str())
            .bind(*confidence)
            .bind(evidence_json(evidence))
            .bind(i64::from(decided))
            .bind(RESOLVER)
            .bind(i64::from(decided))
            .bind(now)
            .bind(now)
            .bind(*link_id)
            .bind(from.as_str())
            .execute(&mut **tx)
            .await?;
            if done.rows_affected() == 0 {
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
            audit(&mut **tx, RESOLVER, action, &subject(*link_id), &details).await?;
        }
    }
    Ok(())
}
