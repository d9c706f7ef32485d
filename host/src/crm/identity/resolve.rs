//! Resolution: loads the authors to look at, skips those resolved against the
//! same profile and CRM, looks the rest up, plans and writes, in batches.

use std::collections::BTreeMap;

use sqlx::Row;

use super::extract::handle_key;
use super::lookup::{Matches, candidates, keep_prepared, look_up, params};
use super::plan::{Candidate, plan};
use super::probes::{NewAuthor, Resolved, Subject, text_probes};
use super::write::{apply, existing_links};
use super::{CHUNK, IdentityError, ResolveReport};
use crate::store::{Db, now_ms};

/// The CRM's state: the newest change to a contact or a transaction (both
/// indexed). Read before anything is looked up, so a change made meanwhile
/// makes the next call look again. (A query of its own: joined to the posts'
/// query, PostgreSQL plans it ten times slower.)
pub(super) async fn crm_version(db: &Db) -> Result<i64, sqlx::Error> {
    let row = sqlx::query(
        "SELECT (SELECT MAX(updated_at) FROM contacts) AS c, (SELECT MAX(updated_at) FROM transactions) AS t",
    )
    .fetch_one(db.pool())
    .await?;
    let c: Option<i64> = row.try_get("c")?;
    let t: Option<i64> = row.try_get("t")?;
    Ok(c.unwrap_or(0).max(t.unwrap_or(0)))
}

/// The new posts `post_ids` grouped by author, with what was last resolved of it.
pub(super) async fn load_subjects(db: &Db, post_ids: &[i64]) -> Result<(Vec<Subject>, usize), sqlx::Error> {
    let mut subjects: BTreeMap<i64, Subject> = BTreeMap::new();
    let mut posts = 0;
    for chunk in post_ids.chunks(CHUNK) {
        let sql = format!(
            "SELECT p.id, p.identity_id, p.direction, p.text, i.network, i.handle, i.display_name, i.profile_url, \
             i.bio, i.fields, r.fingerprint, r.crm_version FROM posts p JOIN identities i ON i.id = p.identity_id \
             LEFT JOIN identity_resolution r ON r.identity_id = i.id WHERE p.id IN ({})",
            params(1, chunk.len())
        );
        let mut query = sqlx::query(db.backend().sql(sql)).persistent(keep_prepared(db));
        for id in chunk {
            query = query.bind(*id);
        }
        for row in query.fetch_all(db.pool()).await? {
            posts += 1;
            let identity_id: i64 = row.try_get("identity_id")?;
            let subject = match subjects.entry(identity_id) {
                std::collections::btree_map::Entry::Occupied(o) => o.into_mut(),
                std::collections::btree_map::Entry::Vacant(v) => v.insert(Subject {
                    id: identity_id,
                    network: row.try_get("network")?,
                    handle: row.try_get("handle")?,
                    display_name: row.try_get("display_name")?,
                    profile_url: row.try_get("profile_url")?,
                    bio: row.try_get("bio")?,
                    fields: row.try_get("fields")?,
                    stored_fingerprint: row.try_get("fingerprint")?,
                    stored_version: row.try_get("crm_version")?,
                    posts: Vec::new(),
                }),
            };
            // The brand's own posts name its customers' orders and addresses.
            if row.try_get::<String, _>("direction")? == "inbound" {
                subject.posts.push((row.try_get("id")?, row.try_get("text")?));
            }
        }
    }
    Ok((subjects.into_values().collect(), posts))
}

/// Links the authors of the posts `post_ids` to contacts: confirmed on
/// verified evidence, proposed otherwise (see the module documentation).
/// Called after each committed page with its new posts; calling it again on
/// the same posts changes nothing.
pub async fn resolve(db: &Db, post_ids: &[i64]) -> Result<ResolveReport, IdentityError> {
    let mut report = ResolveReport::default();
    if post_ids.is_empty() {
        return Ok(report);
    }
    let mut post_ids = post_ids.to_vec();
    post_ids.sort_unstable();
    post_ids.dedup();
    let ((subjects, posts), version) = tokio::try_join!(load_subjects(db, &post_ids), crm_version(db))?;
    report.posts = posts;
    resolve_subjects(db, subjects, version, report).await
}

/// [`resolve`] for the authors of posts just committed, as the commit knew
/// them: nothing is read back but what `resolved` does not know of them.
pub async fn resolve_new(
    db: &Db,
    authors: Vec<NewAuthor>,
    resolved: &Resolved,
) -> Result<ResolveReport, IdentityError> {
    let mut report = ResolveReport::default();
    // One subject per identity: its last profile, all its posts.
    let mut subjects: BTreeMap<i64, Subject> = BTreeMap::new();
    for author in authors {
        report.posts += author.posts.len();
        let mut subject = Subject::from(author);
        if let Some(earlier) = subjects.remove(&subject.id) {
            let mut posts = earlier.posts;
            posts.append(&mut subject.posts);
            subject.posts = posts;
        }
        subjects.insert(subject.id, subject);
    }
    if subjects.is_empty() {
        return Ok(report);
    }
    let mut unknown = Vec::new();
    for subject in subjects.values_mut() {
        match resolved.get(subject.id) {
            Some((fingerprint, version)) => {
                subject.stored_fingerprint = Some(fingerprint);
                subject.stored_version = Some(version);
            }
            None => unknown.push(subject.id),
        }
    }
    let (stored, version) = tokio::try_join!(stored_resolutions(db, &unknown), crm_version(db))?;
    for (id, fingerprint, stored_version) in stored {
        if let Some(subject) = subjects.get_mut(&id) {
            subject.stored_fingerprint = Some(fingerprint);
            subject.stored_version = Some(stored_version);
        }
    }
    let subjects: Vec<Subject> = subjects.into_values().collect();
    // Once resolved, every subject's profile is resolved at `version`.
    let fingerprints = subjects.iter().map(|s| (s.id, s.fingerprint())).collect();
    let report = resolve_subjects(db, subjects, version, report).await?;
    resolved.record(fingerprints, version);
    Ok(report)
}

/// What was last resolved of `identities`: (identity, fingerprint, CRM version).
pub(super) async fn stored_resolutions(db: &Db, identities: &[i64]) -> Result<Vec<(i64, String, i64)>, sqlx::Error> {
    let mut out = Vec::with_capacity(identities.len());
    for chunk in identities.chunks(CHUNK) {
        let sql = format!(
            "SELECT identity_id, fingerprint, crm_version FROM identity_resolution WHERE identity_id IN ({})",
            params(1, chunk.len())
        );
        let mut query = sqlx::query(db.backend().sql(sql)).persistent(keep_prepared(db));
        for id in chunk {
            query = query.bind(*id);
        }
        for row in query.fetch_all(db.pool()).await? {
            out.push((
                row.try_get("identity_id")?,
                row.try_get("fingerprint")?,
                row.try_get("crm_version")?,
            ));
        }
    }
    Ok(out)
}

/// Resolves `subjects` (with what was last resolved of them) against the
/// CRM at `version`.
pub(super) async fn resolve_subjects(
    db: &Db,
    subjects: Vec<Subject>,
    version: i64,
    mut report: ResolveReport,
) -> Result<ResolveReport, IdentityError> {
    report.identities = subjects.len();

    let mut work = Vec::new();
    for subject in subjects {
        let fingerprint = subject.fingerprint();
        let changed =
            subject.stored_fingerprint.as_ref() != Some(&fingerprint) || subject.stored_version != Some(version);
        let mut probes = Vec::new();
        if changed {
            subject.profile_probes(&mut probes);
        }
        for (post_id, text) in &subject.posts {
            text_probes(text, &format!("post:{post_id}"), true, &mut probes);
        }
        if !changed && probes.is_empty() {
            report.skipped += 1;
            continue;
        }
        // The fingerprint is recorded again only where it changed: an author
        // posting again is not rewritten.
        work.push((subject, changed.then_some(fingerprint), probes));
    }
    if work.is_empty() {
        return Ok(report);
    }

    // Without contacts and transactions (version 0) nothing can match; the
    // fingerprints are still written, and an import changes the version.
    let matches = if version == 0 {
        Matches::default()
    } else {
        look_up(db, &work).await?
    };
    let found: Vec<(i64, Vec<Candidate>)> = work
        .iter()
        .map(|(subject, _, probes)| (subject.id, candidates(subject, probes, &matches)))
        .filter(|(_, c)| !c.is_empty())
        .collect();
    let resolved: Vec<_> = work
        .iter()
        .filter_map(|(subject, fingerprint, _)| Some((subject, fingerprint.as_ref()?)))
        .collect();
    if resolved.is_empty() && found.is_empty() {
        return Ok(report);
    }

    let mut tx = db.begin().await?;
    // Written first: on SQLite this takes the write lock before anything is read.
    let now = now_ms();
    for chunk in resolved.chunks(CHUNK / 6) {
        let rows: Vec<String> = (0..chunk.len())
            .map(|r| format!("({})", params(r * 6 + 1, 6)))
            .collect();
        let sql = format!(
            "INSERT INTO identity_resolution (identity_id, fingerprint, network, handle_key, crm_version, \
             resolved_at) VALUES {} ON CONFLICT (identity_id) DO UPDATE SET fingerprint = excluded.fingerprint, \
             network = excluded.network, handle_key = excluded.handle_key, crm_version = excluded.crm_version, \
             resolved_at = excluded.resolved_at",
            rows.join(", ")
        );
        let mut query = sqlx::query(db.backend().sql(sql)).persistent(keep_prepared(db));
        for (subject, fingerprint) in chunk {
            query = query
                .bind(subject.id)
                .bind(fingerprint.as_str())
                .bind(subject.network.as_str())
                .bind(handle_key(&subject.handle))
                .bind(version)
                .bind(now);
        }
        query.execute(&mut *tx).await?;
    }
    if !found.is_empty() {
        let ids: Vec<i64> = found.iter().map(|(id, _)| *id).collect();
        let mut existing = existing_links(&mut tx, db.backend(), &ids).await?;
        for (identity_id, candidates) in found {
            let links = existing.remove(&identity_id).unwrap_or_default();
            for p in plan(&links, candidates) {
                apply(&mut tx, identity_id, &p, now, &mut report).await?;
            }
        }
    }
    tx.commit().await?;
    Ok(report)
}

/// Identities re-resolved per round of [`catch_up`].
pub(super) const CATCH_UP_BATCH: usize = 500;

/// Resolves again every identity last resolved against an older state of the
/// CRM (or never): after an import, authors seen before it are linked without
/// waiting for their next post. Walks identities in id order, so it ends.
pub async fn catch_up(db: &Db) -> Result<ResolveReport, IdentityError> {
    let version = crm_version(db).await?;
    let mut total = ResolveReport::default();
    let mut after = 0i64;
    loop {
        let rows = sqlx::query(
            "SELECT i.id FROM identities i LEFT JOIN identity_resolution r ON r.identity_id = i.id \
             WHERE i.id > $1 AND (r.identity_id IS NULL OR r.crm_version < $2) ORDER BY i.id LIMIT $3",
        )
        .bind(after)
        .bind(version)
        .bind(CATCH_UP_BATCH as i64)
        .fetch_all(db.pool())
        .await?;
        let Some(last) = rows.last() else {
            return Ok(total);
        };
        after = last.try_get("id")?;
        let ids = rows
            .iter()
            .map(|r| r.try_get::<i64, _>("id"))
            .collect::<Result<Vec<_>, _>>()?;
        let sql = format!("SELECT id FROM posts WHERE identity_id IN ({})", params(1, ids.len()));
        let mut query = sqlx::query(db.backend().sql(sql));
        for id in &ids {
            query = query.bind(*id);
        }
        let posts = query
            .fetch_all(db.pool())
            .await?
            .iter()
            .map(|r| r.try_get::<i64, _>("id"))
            .collect::<Result<Vec<_>, _>>()?;
        let report = resolve(db, &posts).await?;
        total.posts += report.posts;
        total.identities += report.identities;
        total.skipped += report.skipped;
        total.confirmed += report.confirmed;
        total.proposed += report.proposed;
        total.updated += report.updated;
    }
}
