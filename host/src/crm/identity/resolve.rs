//! Resolution: loads the authors to look at, skips those resolved against the
//! same profile and CRM, looks the rest up, plans and writes, in batches.

use std::collections::BTreeMap;

use super::extract::handle_key;
use super::lookup::{Matches, candidates, look_up};
use super::plan::{Candidate, plan};
use super::probes::{NewAuthor, Resolved, Subject, text_probes};
use super::write::{apply, existing_links};
use super::{IdentityError, ResolveReport};
use crate::events::Outbox;
use crate::store::contacts::crm_version;
use crate::store::identity::{self as store, Resolution};
use crate::store::{Db, now_ms};

/// The new posts `post_ids` grouped by author, with what was last resolved of it.
pub(super) async fn load_subjects(db: &Db, post_ids: &[i64]) -> Result<(Vec<Subject>, usize), sqlx::Error> {
    let mut subjects: BTreeMap<i64, Subject> = BTreeMap::new();
    let rows = store::post_authors(db, post_ids).await?;
    let posts = rows.len();
    for row in rows {
        let subject = subjects.entry(row.identity_id).or_insert_with(|| Subject {
            id: row.identity_id,
            network: row.network,
            handle: row.handle,
            display_name: row.display_name,
            profile_url: row.profile_url,
            bio: row.bio,
            fields: row.fields,
            stored_fingerprint: row.fingerprint,
            stored_version: row.crm_version,
            posts: Vec::new(),
        });
        // The brand's own posts name its customers' orders and addresses.
        if row.direction == "inbound" {
            subject.posts.push((row.post_id, row.text));
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
    // The CRM's version is read before anything is looked up: a change made
    // meanwhile makes the next call look again.
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
    let (stored, version) = tokio::try_join!(store::stored_resolutions(db, &unknown), crm_version(db))?;
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

    let outbox = Outbox::of(db).await?;
    let mut tx = db.begin().await?;
    // Written first: on SQLite this takes the write lock before anything is read.
    let now = now_ms();
    let resolutions: Vec<Resolution> = resolved
        .iter()
        .map(|(subject, fingerprint)| Resolution {
            identity_id: subject.id,
            fingerprint: fingerprint.as_str(),
            network: subject.network.as_str(),
            handle_key: handle_key(&subject.handle),
        })
        .collect();
    store::record_resolutions(&mut tx, db.backend(), &resolutions, version, now).await?;
    if !found.is_empty() {
        let ids: Vec<i64> = found.iter().map(|(id, _)| *id).collect();
        let mut existing = existing_links(&mut tx, db.backend(), &ids).await?;
        for (identity_id, candidates) in found {
            let links = existing.remove(&identity_id).unwrap_or_default();
            for p in plan(&links, candidates) {
                apply(&mut tx, outbox, identity_id, &p, now, &mut report).await?;
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
        let ids = store::identities_behind(db, after, version, CATCH_UP_BATCH as i64).await?;
        let Some(&last) = ids.last() else {
            return Ok(total);
        };
        after = last;
        let posts = store::posts_of(db, &ids).await?;
        let report = resolve(db, &posts).await?;
        total.posts += report.posts;
        total.identities += report.identities;
        total.skipped += report.skipped;
        total.confirmed += report.confirmed;
        total.proposed += report.proposed;
        total.updated += report.updated;
    }
}
