//! Committing one page.

use std::collections::{BTreeMap, HashMap};

use base64::Engine as _;
use serde_json::{Value, json};
use sqlx::{Any, AssertSqlSafe, Row, Transaction};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::analyze::{self, PageAnalyses};
use crate::runtime::KvChanges;
use crate::runtime::bindings::types::{Analysis, Author, Direction, Post, PostKind};
use crate::store::{Backend, Db, now_ms, placeholders};

/// Rows per multi-row statement (well under every backend's parameter limit).
const CHUNK: usize = 500;

/// What a commit stored.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Committed {
    /// Database ids of the posts seen for the first time, in page order.
    pub new_posts: Vec<i64>,
    /// Where each of `new_posts` is in the page.
    pub new_in_page: Vec<usize>,
    /// Posts already stored (a re-poll after a crash, an overlapping page).
    pub duplicates: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    #[error("post {external_id}: created-at `{value}` is not an RFC 3339 time; nothing from this page was stored")]
    BadTime { external_id: String, value: String },
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

/// Writes `posts` of `channel`, the analyses of its new posts (each
/// analyzer's in page order), the channel's next `state` (unchanged when
/// `None`) and the plugin's key-value changes, all or nothing.
pub async fn commit_page(
    db: &Db,
    channel: &ChannelRef,
    posts: &[Post],
    analyses: &[PageAnalyses],
    state: Option<&str>,
    kv_changes: &KvChanges,
) -> Result<Committed, CommitError> {
    let channel_id = channel.id;
    // Validate before writing anything.
    let times = posts
        .iter()
        .map(|p| {
            OffsetDateTime::parse(&p.created_at, &Rfc3339)
                .map(|t| (t.unix_timestamp_nanos() / 1_000_000) as i64)
                .map_err(|_| CommitError::BadTime {
                    external_id: p.external_id.clone(),
                    value: p.created_at.clone(),
                })
        })
        .collect::<Result<Vec<i64>, _>>()?;

    let mut tx = db.begin().await?;
    // The row lock (PostgreSQL) keeps a webhook and a poll from losing each
    // other's key-value writes; SQLite has one writer at a time anyway.
    let lock = if db.backend() == Backend::Postgres {
        " FOR UPDATE"
    } else {
        ""
    };
    let row = sqlx::query(AssertSqlSafe(format!(
        "SELECT kv, lease_owner FROM channel_accounts WHERE id = $1{lock}"
    )))
    .bind(channel_id)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(CommitError::NoChannel(channel_id))?;
    let kv: String = row.try_get("kv")?;
    if let Some(owner) = &channel.lease_owner
        && row.try_get::<Option<String>, _>("lease_owner")?.as_ref() != Some(owner)
    {
        return Err(CommitError::LeaseLost(channel_id));
    }
    let now = now_ms();
    let identities = upsert_identities(&mut tx, db.backend(), &channel.network, posts, now).await?;
    let mut committed = Committed::default();
    // The first of a repeated external id is the one stored.
    let mut in_page: HashMap<&str, usize> = HashMap::with_capacity(posts.len());
    for (at, post) in posts.iter().enumerate().rev() {
        in_page.insert(&post.external_id, at);
    }
    let mut new: Vec<(i64, usize)> = Vec::with_capacity(posts.len());
    let rows: Vec<(&Post, i64)> = posts.iter().zip(times).collect();
    for chunk in rows.chunks(CHUNK) {
        const COLUMNS: usize = 13;
        let mut query = sqlx::query(db.backend().sql(format!(
            "INSERT INTO posts (channel_id, external_id, identity_id, kind, direction, text, url, thread_id, \
             in_reply_to, created_at, language, raw, ingested_at) VALUES {} \
             ON CONFLICT (channel_id, external_id) DO NOTHING RETURNING id, external_id",
            placeholders(chunk.len(), COLUMNS)
        )));
        for (post, created_at) in chunk {
            let identity = identities
                .get(post.author.external_id.as_str())
                .copied()
                .unwrap_or_default();
            query = query
                .bind(channel_id)
                .bind(&post.external_id)
                .bind(identity)
                .bind(kind_name(post.kind))
                .bind(if post.direction == Direction::Inbound {
                    "inbound"
                } else {
                    "outbound"
                })
                .bind(&post.text)
                .bind(&post.url)
                .bind(&post.thread_id)
                .bind(&post.in_reply_to)
                .bind(*created_at)
                .bind(&post.language)
                .bind(&post.raw)
                .bind(now);
        }
        for row in query.fetch_all(&mut *tx).await? {
            let external_id: String = row.try_get("external_id")?;
            if let Some(&at) = in_page.get(external_id.as_str()) {
                new.push((row.try_get("id")?, at));
            }
        }
    }
    new.sort_unstable();
    for page in analyses {
        let rows: Vec<(i64, &Analysis)> = new
            .iter()
            .filter_map(|&(id, at)| Some((id, page.analyses.get(at)?)))
            .collect();
        analyze::store(&mut *tx, db.backend(), &page.plugin, &page.version, &rows).await?;
    }
    (committed.new_posts, committed.new_in_page) = new.into_iter().unzip();
    committed.duplicates = posts.len() - committed.new_posts.len();
    sqlx::query("UPDATE channel_accounts SET state = COALESCE($1, state), kv = $2, updated_at = $3 WHERE id = $4")
        .bind(state)
        .bind(apply_kv(&kv, kv_changes))
        .bind(now)
        .bind(channel_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    let network = channel.network.clone();
    metrics::counter!(crate::metrics::INGEST_POSTS, "network" => network.clone())
        .increment(committed.new_posts.len() as u64);
    metrics::counter!(crate::metrics::INGEST_DUPLICATES, "network" => network).increment(committed.duplicates as u64);
    Ok(committed)
}

/// Upserts the page's authors on (network, external user id), keeping the
/// newest profile; returns their ids by external user id.
async fn upsert_identities(
    tx: &mut Transaction<'static, Any>,
    backend: Backend,
    network: &str,
    posts: &[Post],
    now: i64,
) -> Result<HashMap<String, i64>, sqlx::Error> {
    // One row per author (the page's last profile wins): an upsert may not
    // touch the same row twice in one statement.
    let mut latest: HashMap<&str, &Author> = HashMap::new();
    for post in posts {
        latest.insert(&post.author.external_id, &post.author);
    }
    let authors: Vec<&Author> = latest.into_values().collect();
    let mut ids = HashMap::with_capacity(authors.len());
    for chunk in authors.chunks(CHUNK) {
        const COLUMNS: usize = 11;
        let mut query = sqlx::query(backend.sql(format!(
            "INSERT INTO identities (network, external_user_id, handle, display_name, profile_url, avatar_url, bio, \
             followers, fields, first_seen, last_seen) VALUES {} \
             ON CONFLICT (network, external_user_id) DO UPDATE SET handle = excluded.handle, \
             display_name = excluded.display_name, profile_url = excluded.profile_url, \
             avatar_url = excluded.avatar_url, bio = excluded.bio, followers = excluded.followers, \
             fields = excluded.fields, last_seen = excluded.last_seen RETURNING id, external_user_id",
            placeholders(chunk.len(), COLUMNS)
        )));
        for author in chunk {
            let fields: Vec<Value> = author
                .fields
                .iter()
                .map(|f| json!({"name": f.name, "value": f.value}))
                .collect();
            query = query
                .bind(network)
                .bind(&author.external_id)
                .bind(&author.handle)
                .bind(&author.display_name)
                .bind(&author.profile_url)
                .bind(&author.avatar_url)
                .bind(&author.bio)
                .bind(author.followers.map(|f| i64::try_from(f).unwrap_or(i64::MAX)))
                .bind(Value::Array(fields).to_string())
                .bind(now)
                .bind(now);
        }
        for row in query.fetch_all(&mut **tx).await? {
            ids.insert(row.try_get("external_user_id")?, row.try_get("id")?);
        }
    }
    Ok(ids)
}

/// The stored key-value map (JSON object of base64 values) with `changes` applied.
fn apply_kv(stored: &str, changes: &KvChanges) -> String {
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut map: BTreeMap<String, String> = serde_json::from_str(stored).unwrap_or_default();
    for (key, value) in changes {
        match value {
            Some(v) => map.insert(key.clone(), b64.encode(v)),
            None => map.remove(key),
        };
    }
    serde_json::to_string(&map).unwrap_or_else(|_| "{}".into())
}

/// The stored name of a post kind.
pub(crate) fn kind_name(kind: PostKind) -> &'static str {
    match kind {
        PostKind::Post => "post",
        PostKind::Mention => "mention",
        PostKind::Reply => "reply",
        PostKind::Comment => "comment",
        PostKind::Review => "review",
        PostKind::DirectMessage => "direct-message",
        PostKind::Quote => "quote",
    }
}

/// The post kind a stored name stands for.
pub(crate) fn kind_from_name(name: &str) -> PostKind {
    [
        PostKind::Post,
        PostKind::Mention,
        PostKind::Reply,
        PostKind::Comment,
        PostKind::Review,
        PostKind::DirectMessage,
        PostKind::Quote,
    ]
    .into_iter()
    .find(|k| kind_name(*k) == name)
    .unwrap_or(PostKind::Post)
}
