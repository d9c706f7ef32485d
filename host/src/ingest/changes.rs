//! What a channel plugin reported through `changes` (deleted and edited
//! posts, departed users), applied to its own account's posts only (a
//! plugin cannot reach another account's), in the transaction of the call's posts,
//! state and key-value writes: a crash applies all of a call's reports or
//! none, and a re-poll or re-check reports them again. A deleted post, and
//! every post of a departed user, becomes a tombstone and leaves every score
//! and aggregate (`store::tombstones`); an edited post gets its new text and
//! is analysed again after the commit. A deletion request is recorded here,
//! and its erasure started after the commit (`privacy::deletions`).
//! Re-checks (`upkeep`) are run here.

use std::collections::{BTreeMap, BTreeSet};

use sqlx::AnyConnection;

use super::analyze::reanalyse;
use super::page::{ChannelRef, CommitError, PageRows};
use crate::runtime::types::Change;
use crate::runtime::{AnalyzerPlugin, KvChanges};
use crate::store::codec::{apply_kv, rfc3339_ms};
use crate::store::network_changes::{self as stored, Upkeep};
use crate::store::tombstones::{Why, tombstone};
use crate::store::{Backend, DAY_MS, Db, deletion_requests, posts};

/// What applying a call's changes did, for the work after its commit.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Applied {
    /// Posts that became tombstones.
    pub deleted: u64,
    /// Every post the changes named as gone (tombstones before included).
    pub gone: Vec<i64>,
    /// Posts whose text changed: analysed and scored again after the commit.
    pub edited: Vec<i64>,
    /// Contacts that lost scored posts: their churn risk is refreshed.
    pub contacts: Vec<i64>,
    /// Deletion requests recorded: their erasures start after the commit.
    pub erasures_requested: usize,
}

impl Applied {
    pub fn is_empty(&self) -> bool {
        self.deleted == 0 && self.edited.is_empty() && self.contacts.is_empty() && self.erasures_requested == 0
    }

    /// Both, as one follow-up.
    pub fn join(&mut self, other: Applied) {
        self.deleted += other.deleted;
        self.gone.extend(other.gone);
        self.edited.extend(other.edited);
        self.contacts.extend(other.contacts);
        self.erasures_requested += other.erasures_requested;
    }
}

/// Applies `changes` of `channel` in the caller's transaction. Edits come
/// first (the last edit of a post wins), then deletions, so a post both
/// edited and deleted in one call ends a tombstone.
pub async fn apply(
    conn: &mut AnyConnection,
    backend: Backend,
    channel: &ChannelRef,
    changes: &[Change],
) -> Result<Applied, sqlx::Error> {
    let mut applied = Applied::default();
    if changes.is_empty() {
        return Ok(applied);
    }
    let mut edits = BTreeMap::new();
    let mut deleted = Vec::new();
    let mut users = BTreeSet::new();
    for change in changes {
        match change {
            Change::PostEdited {
                external_id, text, raw, ..
            } => {
                edits.insert(external_id.as_str(), (text.as_str(), raw.as_deref()));
            }
            Change::PostDeleted { external_id } => deleted.push(external_id.as_str()),
            // Every reason tombstones: what the network no longer shows its
            // public is not kept here either (docs/network-deletions.md).
            Change::UserGone { external_user_id, .. } => {
                users.insert(external_user_id.as_str());
            }
            Change::ErasureRequested { external_user_id, code } => {
                deletion_requests::record(conn, code, channel.id, &channel.network, external_user_id).await?;
                applied.erasures_requested += 1;
            }
            // Checked before the commit and written by it (`reply_windows`).
            Change::ReplyWindow { .. } => {}
        }
    }
    for (external_id, (text, raw)) in edits {
        if let Some(id) = stored::edit(conn, channel.id, external_id, text, raw).await? {
            applied.edited.push(id);
        }
    }
    let mut gone = stored::post_ids(conn, backend, channel.id, &deleted).await?;
    for user in users {
        gone.extend(stored::posts_of_user(conn, channel.id, &channel.network, user).await?);
    }
    if !gone.is_empty() {
        gone.sort_unstable();
        gone.dedup();
        let done = tombstone(conn, backend, &gone, Why::Deleted).await?;
        applied.deleted = done.posts;
        applied.contacts = done.contacts;
        applied.edited.retain(|id| gone.binary_search(id).is_err());
        applied.gone = gone;
    }
    Ok(applied)
}

/// The reply windows the pages' calls reported, as (conversation, end in
/// Unix ms), for the conversations their posts carry (a report about any
/// other is ignored); or the first malformed end, which fails the commit.
pub fn reply_windows<'a>(pages: &[PageRows<'a>]) -> Result<Vec<(&'a str, i64)>, CommitError> {
    let carried: BTreeSet<&str> = pages
        .iter()
        .flat_map(|page| page.posts)
        .filter_map(|post| post.thread_id.as_deref())
        .collect();
    let mut windows = Vec::new();
    for change in pages.iter().flat_map(|page| page.changes) {
        let Change::ReplyWindow {
            conversation_id,
            open_until,
        } = change
        else {
            continue;
        };
        let until = rfc3339_ms(open_until).ok_or_else(|| CommitError::BadWindow {
            conversation: conversation_id.clone(),
            value: open_until.clone(),
        })?;
        if carried.contains(conversation_id.as_str()) {
            windows.push((conversation_id.as_str(), until));
        }
    }
    Ok(windows)
}

/// After the commit: the edited posts analysed and scored again, the churn
/// risk of the contacts that lost posts refreshed. A failure is logged:
/// the catch-up analyses posts without analyses, `insights recompute`
/// scores everything again.
pub async fn settle(db: &Db, analyzers: &[AnalyzerPlugin], applied: &Applied, now: i64) {
    if !applied.edited.is_empty() {
        match reanalyse(db, analyzers, &applied.edited).await {
            Ok(()) => {
                if let Err(e) = crate::insights::refresh_posts(db, &applied.edited, now).await {
                    tracing::warn!(error = %e, "scoring edited posts failed; `insights recompute` scores them");
                }
            }
            Err(e) => tracing::warn!(error = %e, "analysing edited posts failed; the catch-up analyses them"),
        }
    }
    if !applied.contacts.is_empty()
        && let Err(e) = crate::insights::refresh_contacts(db, &applied.contacts, now).await
    {
        tracing::warn!(error = %e, "refreshing churn after deletions failed; `insights recompute` does it");
    }
}

/// What one re-check did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecheckReport {
    /// Posts handed to the plugin, and how many it checked.
    pub handed: usize,
    pub checked: usize,
    /// Posts that became tombstones, and posts edited.
    pub deleted: u64,
    pub edited: usize,
    /// The whole window was gone through (the next run starts over later).
    pub wrapped: bool,
}

/// The next re-check when one of `handed` posts was `checked` (the last
/// checked one's key `last`), the window being gone through when fewer than
/// `batch` were left. A plugin that stopped short (its request budget, the
/// network's rate limit) goes on a minute later; a finished window waits
/// `every`.
pub fn next_upkeep(
    before: Upkeep,
    handed: usize,
    checked: usize,
    last: Option<(i64, i64)>,
    batch: usize,
    every_ms: i64,
    now: i64,
) -> (Upkeep, bool) {
    const SOON_MS: i64 = 60_000;
    let after = last.unwrap_or(before.after);
    if checked == handed && handed < batch {
        return (
            Upkeep {
                due_at: now + every_ms,
                after: (0, 0),
            },
            true,
        );
    }
    let due_at = if checked == 0 { now + every_ms } else { now + SOON_MS };
    (Upkeep { due_at, after }, false)
}

/// The first moment of a window of `days` days before `now`.
pub fn window_start(days: u32, now: i64) -> i64 {
    now - i64::from(days) * DAY_MS
}

/// Commits a re-check: its changes, the plugin's key-value writes and where
/// the re-checks stand, in one transaction (under the sync's lease).
pub async fn commit_recheck(
    db: &Db,
    channel: &ChannelRef,
    changes: &[Change],
    kv_changes: &KvChanges,
    upkeep: Upkeep,
    now: i64,
) -> Result<Applied, CommitError> {
    let mut tx = db.begin().await?;
    let locked = posts::lock_channel(&mut tx, db.backend(), channel.id)
        .await?
        .ok_or(CommitError::NoChannel(channel.id))?;
    if let Some(owner) = &channel.lease_owner
        && locked.lease_owner.as_ref() != Some(owner)
    {
        return Err(CommitError::LeaseLost(channel.id));
    }
    let applied = apply(&mut tx, db.backend(), channel, changes).await?;
    if !kv_changes.is_empty() {
        posts::update_channel(&mut tx, channel.id, None, &apply_kv(&locked.kv, kv_changes), now).await?;
    }
    stored::set_upkeep(&mut tx, channel.id, upkeep, None, now).await?;
    tx.commit().await?;
    Ok(applied)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::VerifiedFields;
    use crate::runtime::types::{Author, Direction, Post, PostKind};

    fn message(id: &str, conversation: &str) -> Post {
        Post {
            external_id: id.into(),
            kind: PostKind::DirectMessage,
            direction: Direction::Inbound,
            author: Author {
                external_id: conversation.into(),
                handle: conversation.into(),
                display_name: None,
                profile_url: None,
                avatar_url: None,
                bio: None,
                followers: None,
                fields: Vec::new(),
            },
            text: "hello".into(),
            url: None,
            thread_id: Some(conversation.into()),
            in_reply_to: None,
            created_at: "2026-12-07T10:00:00Z".into(),
            language: None,
            raw: "{}".into(),
        }
    }

    fn window(conversation: &str, until: &str) -> Change {
        Change::ReplyWindow {
            conversation_id: conversation.into(),
            open_until: until.into(),
        }
    }

    #[test]
    fn reply_windows_are_kept_only_for_the_calls_conversations_and_a_bad_time_fails() {
        let posts = [message("m1", "ann"), message("m2", "bob")];
        let verified = VerifiedFields::new();
        let page = |changes| PageRows {
            posts: &posts,
            verified: &verified,
            analyses: &[],
            changes,
        };
        let changes = [
            window("ann", "2026-12-08T10:00:00Z"),
            // A conversation none of the call's posts is in: ignored.
            window("mallory", "2030-01-01T00:00:00Z"),
        ];
        let kept = reply_windows(&[page(&changes)]).unwrap();
        assert_eq!(kept, vec![("ann", 1_796_724_000_000)]);

        let bad = [window("bob", "tomorrow")];
        match reply_windows(&[page(&changes), page(&bad)]) {
            Err(CommitError::BadWindow { conversation, value }) => {
                assert_eq!((conversation, value), ("bob".into(), "tomorrow".into()))
            }
            other => panic!("a malformed end must fail the commit, got {other:?}"),
        }
    }
}
