//! Committing one page.

use std::collections::{HashMap, HashSet};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Mutex;

use serde_json::{Value, json};
use sqlx::AnyConnection;

use super::analyze::PageAnalyses;
use super::changes::{self, Applied};
use super::do_not_track;
use crate::crm::identity::NewAuthor;
use crate::events::{Event, EventType, Outbox};
use crate::runtime::types::{Analysis, Author, Change, Direction, Post};
use crate::runtime::{KvChanges, VerifiedFields};
use crate::secrets::SecretBox;
use crate::store::codec::{apply_kv, kind_name, rfc3339_ms};
use crate::store::posts::{self, IdentityRow, StoredIdentity};
use crate::store::{Backend, Db, erasures, now_ms, reply_windows};

/// What a commit stored.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Committed {
    /// Database ids of the posts seen for the first time, in page order.
    pub new_posts: Vec<i64>,
    /// Posts already stored (a re-poll after a crash, an overlapping page).
    pub duplicates: usize,
    /// The authors of the new posts, for identity resolution.
    pub authors: Vec<NewAuthor>,
    /// What the plugin's reported deletions and edits changed.
    pub applied: Applied,
}

#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    #[error("post {external_id}: created-at `{value}` is not an RFC 3339 time; nothing from this page was stored")]
    BadTime { external_id: String, value: String },
    #[error(
        "conversation {conversation}: reply window end `{value}` is not an RFC 3339 time; nothing from this call was stored"
    )]
    BadWindow { conversation: String, value: String },
    #[error("no channel account with id {0}")]
    NoChannel(i64),
    #[error("the lease on channel {0} was lost to another node; this page was not stored")]
    LeaseLost(i64),
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
}

/// The channel account a page belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChannelRef {
    pub id: i64,
    pub network: String,
    /// The lease holder a poll runs under: the commit fails with
    /// [`CommitError::LeaseLost`] if another node holds the account by then.
    /// `None` for webhook pushes, which do not move the cursor.
    pub lease_owner: Option<String>,
}

/// One polled page: its posts, each analyzer's analyses of them (in page
/// order), the profile fields the plugin marked as verified and the
/// deletions and edits it reported.
#[derive(Clone, Copy, Debug)]
pub struct PageRows<'a> {
    pub posts: &'a [Post],
    pub verified: &'a VerifiedFields,
    pub analyses: &'a [PageAnalyses],
    pub changes: &'a [Change],
}

/// Writes `posts` of `channel`, the analyses of its new posts, the channel's
/// next `state` (unchanged when `None`) and the plugin's key-value changes,
/// all or nothing.
pub async fn commit_page(
    db: &Db,
    channel: &ChannelRef,
    posts: &[Post],
    analyses: &[PageAnalyses],
    state: Option<&str>,
    kv_changes: &KvChanges,
) -> Result<Committed, CommitError> {
    let pages = [PageRows {
        posts,
        verified: &VerifiedFields::new(),
        analyses,
        changes: &[],
    }];
    commit_pages(db, channel, &pages, state, kv_changes, &KnownAuthors::default()).await
}

/// Authors in a known-authors cache before it starts over.
const KNOWN_AUTHORS_CAP: usize = 200_000;

/// Authors this process stored or read lately, by (network, external user
/// id): their identity id, a digest of their profile and their `last_seen`.
/// A commit reads only the authors it does not know with that same profile
/// (identities are never deleted, so an id stays right). A profile another
/// node stored meanwhile is overwritten only when this node sees a change:
/// between racing nodes the last write of a changed profile wins, as before.
///
/// Erasure deletes identities: the cache holds only while the database's
/// erasure epoch is the one it was filled under (read at each commit), on
/// every node. With a secret box, authors on the do-not-track list are
/// dropped before anything of theirs is stored.
#[derive(Default)]
pub struct KnownAuthors {
    map: Mutex<HashMap<(String, String), Known>>,
    /// The erasure epoch the map was filled under (`None`: not read yet).
    epoch: Mutex<Option<i64>>,
    /// Whether the do-not-track list had entries at that epoch.
    tracking_off: Mutex<bool>,
    secrets: Option<SecretBox>,
}

impl std::fmt::Debug for KnownAuthors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KnownAuthors").finish_non_exhaustive()
    }
}

#[derive(Clone, Copy, Debug)]
struct Known {
    id: i64,
    digest: u64,
    last_seen: i64,
}

impl KnownAuthors {
    /// A cache that also applies the do-not-track list (hashed with `secrets`).
    pub fn with_do_not_track(secrets: SecretBox) -> KnownAuthors {
        KnownAuthors {
            secrets: Some(secrets),
            ..KnownAuthors::default()
        }
    }

    /// Forgets everything when an erasure happened since the last look.
    async fn check_epoch(&self, db: &Db) -> Result<(), sqlx::Error> {
        let now = erasures::epoch(db).await?;
        let seen = *self.epoch.lock().unwrap_or_else(|e| e.into_inner());
        if seen != Some(now) {
            let listed = erasures::any_do_not_track(db).await?;
            self.map.lock().unwrap_or_else(|e| e.into_inner()).clear();
            *self.tracking_off.lock().unwrap_or_else(|e| e.into_inner()) = listed;
            *self.epoch.lock().unwrap_or_else(|e| e.into_inner()) = Some(now);
        }
        Ok(())
    }

    /// The external ids of the authors of `profiles` on the do-not-track list.
    async fn not_tracked(
        &self,
        db: &Db,
        network: &str,
        profiles: &HashMap<&str, Profile<'_>>,
    ) -> Result<HashSet<String>, sqlx::Error> {
        let listed = *self.tracking_off.lock().unwrap_or_else(|e| e.into_inner());
        match &self.secrets {
            Some(secrets) if listed => {
                let authors = profiles.iter().map(|(id, p)| (*id, p.author.handle.as_str()));
                do_not_track::listed(db, secrets, network, authors).await
            }
            _ => Ok(HashSet::new()),
        }
    }

    /// The ids of the authors of `profiles` known with the same profile and
    /// seen recently.
    fn ids(&self, network: &str, profiles: &HashMap<&str, Profile<'_>>, now: i64) -> HashMap<String, Known> {
        let map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        let mut key = (network.to_string(), String::new());
        let mut out = HashMap::new();
        for (external_id, profile) in profiles {
            key.1.clear();
            key.1.push_str(external_id);
            if let Some(known) = map.get(&key)
                && known.digest == profile.digest
                && known.last_seen > now - LAST_SEEN_GRANULARITY_MS
            {
                out.insert(external_id.to_string(), *known);
            }
        }
        out
    }

    fn record(&self, network: &str, known: &HashMap<String, Known>) {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() + known.len() > KNOWN_AUTHORS_CAP {
            map.clear();
        }
        for (external_id, k) in known {
            map.insert((network.to_string(), external_id.clone()), *k);
        }
    }
}

/// The created-at of each post in Unix milliseconds, or why the page cannot
/// be stored.
pub fn check(posts: &[Post]) -> Result<Vec<i64>, CommitError> {
    posts
        .iter()
        .map(|p| {
            rfc3339_ms(&p.created_at).ok_or_else(|| CommitError::BadTime {
                external_id: p.external_id.clone(),
                value: p.created_at.clone(),
            })
        })
        .collect()
}

/// Writes consecutive `pages` of `channel` as one (the state and key-value
/// changes are those after the last page): a sync that polls faster than it
/// commits joins the pages that wait into one transaction, so an index page
/// touched by several of them is written once.
pub async fn commit_pages(
    db: &Db,
    channel: &ChannelRef,
    pages: &[PageRows<'_>],
    state: Option<&str>,
    kv_changes: &KvChanges,
    known: &KnownAuthors,
) -> Result<Committed, CommitError> {
    let channel_id = channel.id;
    // Validate before writing anything.
    let mut rows: Vec<(&Post, i64)> = Vec::with_capacity(pages.iter().map(|p| p.posts.len()).sum());
    // One row per author (the pages' last profile wins): an upsert may not
    // touch the same row twice in one statement.
    let mut profiles: HashMap<&str, Profile<'_>> = HashMap::new();
    for page in pages {
        rows.extend(page.posts.iter().zip(check(page.posts)?));
        for post in page.posts {
            profiles.insert(&post.author.external_id, Profile::of(&post.author, page.verified));
        }
    }
    let windows = changes::reply_windows(pages)?;
    known.check_epoch(db).await?;
    let dropped = known.not_tracked(db, &channel.network, &profiles).await?;
    profiles.retain(|id, _| !dropped.contains(*id));
    let posts: Vec<&Post> = rows.iter().map(|(post, _)| *post).collect();
    let now = now_ms();
    // Read before the write lock is taken (only the authors not known
    // already): identities are never deleted, so an id read here is still
    // right inside the transaction.
    let mut authors = known.ids(&channel.network, &profiles, now);
    authors.extend(known_identities(db, &channel.network, &profiles, &authors, now).await?);

    let outbox = Outbox::of(db).await?;

    let mut tx = db.begin().await?;
    // Locked (PostgreSQL) so a webhook and a poll never lose each other's
    // key-value writes.
    let locked = posts::lock_channel(&mut tx, db.backend(), channel_id)
        .await?
        .ok_or(CommitError::NoChannel(channel_id))?;
    if let Some(owner) = &channel.lease_owner
        && locked.lease_owner.as_ref() != Some(owner)
    {
        return Err(CommitError::LeaseLost(channel_id));
    }
    upsert_identities(&mut tx, db.backend(), &channel.network, &profiles, now, &mut authors).await?;
    let identities: HashMap<&str, i64> = authors.iter().map(|(key, k)| (key.as_str(), k.id)).collect();
    // The first of a repeated external id is the one stored.
    let mut first: HashMap<&str, usize> = HashMap::with_capacity(posts.len());
    for (at, post) in posts.iter().enumerate().rev() {
        first.insert(&post.external_id, at);
    }
    // (id, position among all the pages' posts) of each new post.
    let stored: Vec<(&Post, i64)> = rows
        .iter()
        .filter(|(post, _)| !dropped.contains(&post.author.external_id))
        .copied()
        .collect();
    let inserted = posts::insert_posts(&mut tx, db.backend(), channel_id, &stored, &identities, now).await?;
    let mut new: Vec<(i64, usize)> = inserted
        .iter()
        .filter_map(|(id, external_id)| first.get(external_id.as_str()).map(|&at| (*id, at)))
        .collect();
    new.sort_unstable();
    for (plugin, version, rows) in analyses_of(pages, &new) {
        posts::insert_analyses(&mut *tx, db.backend(), plugin, version, &rows).await?;
    }
    // After the pages' posts: a change may name a post of the same call.
    let mut applied = Applied::default();
    for page in pages {
        applied.join(changes::apply(&mut tx, db.backend(), channel, page.changes).await?);
    }
    reply_windows::extend(&mut tx, channel_id, &windows).await?;
    if outbox.wants(EventType::PostReceived) {
        let received = new
            .iter()
            .map(|&(id, at)| received(id, &locked.name, &channel.network, rows[at], &identities));
        outbox.write(&mut tx, received).await?;
    }
    posts::update_channel(&mut tx, channel_id, state, &apply_kv(&locked.kv, kv_changes), now).await?;
    tx.commit().await?;
    known.record(&channel.network, &authors);
    let committed = Committed {
        // A post the same call reported gone is a tombstone: nothing to score.
        new_posts: new
            .iter()
            .map(|(id, _)| *id)
            .filter(|id| !applied.gone.contains(id))
            .collect(),
        duplicates: posts.len() - new.len(),
        authors: new_authors(&channel.network, &posts, &new, &profiles, &identities),
        applied,
    };
    let network = channel.network.clone();
    metrics::counter!(crate::metrics::INGEST_POSTS, "network" => network.clone())
        .increment(committed.new_posts.len() as u64);
    metrics::counter!(crate::metrics::INGEST_DUPLICATES, "network" => network).increment(committed.duplicates as u64);
    Ok(committed)
}

/// The `post.received` event of new post `id` (stored at `created_at`, Unix ms).
fn received(
    id: i64,
    channel: &str,
    network: &str,
    (post, created_at): (&Post, i64),
    identities: &HashMap<&str, i64>,
) -> Event {
    let a = &post.author;
    let data = json!({
        "post_id": id,
        "channel": channel,
        "network": network,
        "external_id": post.external_id,
        "kind": kind_name(post.kind),
        "direction": if post.direction == Direction::Inbound { "inbound" } else { "outbound" },
        "text": post.text,
        "url": post.url,
        "thread_id": post.thread_id,
        "in_reply_to": post.in_reply_to,
        "language": post.language,
        "created_at": created_at,
        "author": {
            "identity_id": identities.get(a.external_id.as_str()),
            "external_id": a.external_id,
            "handle": a.handle,
            "display_name": a.display_name,
            "profile_url": a.profile_url,
        },
    });
    Event::new(EventType::PostReceived, data).channel(channel)
}

/// The authors of the `new` posts (id, position in `posts`) with the texts
/// of their inbound ones, in order of first appearance.
fn new_authors(
    network: &str,
    posts: &[&Post],
    new: &[(i64, usize)],
    profiles: &HashMap<&str, Profile<'_>>,
    identities: &HashMap<&str, i64>,
) -> Vec<NewAuthor> {
    let mut authors: Vec<NewAuthor> = Vec::new();
    let mut by_identity: HashMap<i64, usize> = HashMap::new();
    for &(id, at) in new {
        let post = posts[at];
        let key = post.author.external_id.as_str();
        let (Some(&identity_id), Some(profile)) = (identities.get(key), profiles.get(key)) else {
            continue;
        };
        let at = *by_identity.entry(identity_id).or_insert_with(|| {
            let a = profile.author;
            authors.push(NewAuthor {
                identity_id,
                network: network.to_string(),
                handle: a.handle.clone(),
                display_name: a.display_name.clone(),
                profile_url: a.profile_url.clone(),
                bio: a.bio.clone(),
                fields: profile.fields.clone(),
                posts: Vec::new(),
            });
            authors.len() - 1
        });
        // The brand's own posts name its customers' orders and addresses.
        if post.direction == Direction::Inbound {
            authors[at].posts.push((id, post.text.clone()));
        }
    }
    authors
}

/// One analyzer version's (plugin, version) analyses, by post id.
type AnalyzerRows<'a> = (&'a str, &'a str, Vec<(i64, &'a Analysis)>);

/// The analyses of the `new` posts (id, position among all the pages'
/// posts), one list per analyzer version. An analyzer that failed on a page
/// has no analyses there; the catch-up fills them in.
fn analyses_of<'a>(pages: &[PageRows<'a>], new: &[(i64, usize)]) -> Vec<AnalyzerRows<'a>> {
    let mut starts = Vec::with_capacity(pages.len());
    let mut start = 0;
    for page in pages {
        starts.push(start);
        start += page.posts.len();
    }
    let mut out: Vec<AnalyzerRows<'a>> = Vec::new();
    for &(id, at) in new {
        // The page holding position `at`.
        let p = starts.partition_point(|&s| s <= at) - 1;
        for page in pages[p].analyses {
            let Some(analysis) = page.analyses.get(at - starts[p]) else {
                continue;
            };
            match out
                .iter_mut()
                .find(|(plugin, version, _)| *plugin == page.plugin && *version == page.version)
            {
                Some((_, _, rows)) => rows.push((id, analysis)),
                None => out.push((&page.plugin, &page.version, vec![(id, analysis)])),
            }
        }
    }
    out
}

/// How stale an unchanged identity's `last_seen` may get: refreshing it on
/// every sighting would rewrite each author's row on every page.
const LAST_SEEN_GRANULARITY_MS: i64 = 3_600_000;

/// The authors in `profiles` but not in `known` stored with that same
/// profile and seen recently, by external user id: they need no write.
async fn known_identities(
    db: &Db,
    network: &str,
    profiles: &HashMap<&str, Profile<'_>>,
    known: &HashMap<String, Known>,
    now: i64,
) -> Result<HashMap<String, Known>, sqlx::Error> {
    let mut ids = HashMap::with_capacity(profiles.len());
    let keys: Vec<&str> = profiles
        .keys()
        .copied()
        .filter(|key| !known.contains_key(*key))
        .collect();
    for stored in posts::identities(db, network, &keys).await? {
        let Some(profile) = profiles.get(stored.external_user_id.as_str()) else {
            continue;
        };
        let last_seen = stored.last_seen;
        if profile.stored_as(&stored) && last_seen > now - LAST_SEEN_GRANULARITY_MS {
            let (id, digest) = (stored.id, profile.digest);
            ids.insert(stored.external_user_id, Known { id, digest, last_seen });
        }
    }
    Ok(ids)
}

/// Upserts the authors of `profiles` not in `ids` (new, or changed since)
/// on (network, external user id) and adds their ids.
async fn upsert_identities(
    conn: &mut AnyConnection,
    backend: Backend,
    network: &str,
    profiles: &HashMap<&str, Profile<'_>>,
    now: i64,
    ids: &mut HashMap<String, Known>,
) -> Result<(), sqlx::Error> {
    let changed: Vec<IdentityRow<'_>> = profiles
        .iter()
        .filter(|(key, _)| !ids.contains_key(**key))
        .map(|(_, profile)| IdentityRow {
            author: profile.author,
            followers: profile.followers,
            fields: &profile.fields,
        })
        .collect();
    for (id, external_id) in posts::upsert_identities(conn, backend, network, &changed, now).await? {
        let Some(profile) = profiles.get(external_id.as_str()) else {
            continue;
        };
        let digest = profile.digest;
        ids.insert(
            external_id,
            Known {
                id,
                digest,
                last_seen: now,
            },
        );
    }
    Ok(())
}

/// An author as its identity row stores it.
struct Profile<'a> {
    author: &'a Author,
    followers: Option<i64>,
    /// JSON array of `{"name", "value"}`, with `"verified": true` on the
    /// fields the network verified.
    fields: String,
    /// Of all of the above, to know it again.
    digest: u64,
}

impl<'a> Profile<'a> {
    fn of(author: &'a Author, verified: &VerifiedFields) -> Self {
        let fields: Vec<Value> = author
            .fields
            .iter()
            .map(|f| {
                let marked = !verified.is_empty()
                    && verified.contains(&(author.external_id.clone(), f.name.clone(), f.value.clone()));
                if marked {
                    json!({"name": f.name, "value": f.value, "verified": true})
                } else {
                    json!({"name": f.name, "value": f.value})
                }
            })
            .collect();
        let followers = author.followers.map(|f| i64::try_from(f).unwrap_or(i64::MAX));
        let fields = Value::Array(fields).to_string();
        let mut h = DefaultHasher::new();
        (
            &author.handle,
            &author.display_name,
            &author.profile_url,
            &author.avatar_url,
            &author.bio,
            followers,
            &fields,
        )
            .hash(&mut h);
        Profile {
            author,
            followers,
            fields,
            digest: h.finish(),
        }
    }

    /// Whether `stored` holds this profile already.
    fn stored_as(&self, stored: &StoredIdentity) -> bool {
        let a = self.author;
        stored.handle == a.handle
            && stored.display_name == a.display_name
            && stored.profile_url == a.profile_url
            && stored.avatar_url == a.avatar_url
            && stored.bio == a.bio
            && stored.followers == self.followers
            && stored.fields == self.fields
    }
}
