//! The inbox's view of `posts`: a post with its channel, author, linked
//! contact and score (`post_scores`), as the inbox and the customer 360 list
//! them; one post's analyses and raw payload; the fields an agent sets.

use serde_json::json;
use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};

use super::{Backend, Db, audit, dialect};

const COLUMNS: &str = "p.id, c.name AS channel, p.external_id, p.kind, p.direction, p.text, p.url, p.thread_id, \
     p.in_reply_to, p.created_at, p.language, p.inbox_status, p.assignee, i.id AS identity_id, i.network, \
     i.handle, i.display_name, i.followers, ps.contact_id, ct.name AS contact_name, ps.sentiment, ps.intent, \
     ps.intent_confidence, ps.value_pct, ps.ltv, ps.recent_orders, ps.author_churn, ps.priority_key";

/// [`COLUMNS`] and the post's topics (a JSON array): one statement a page,
/// where a second one per page for the topics cost more than the page.
fn columns(backend: Backend) -> String {
    let topics = dialect::json_strings(backend, "t.topic", "FROM post_topics t WHERE t.post_id = p.id");
    let signals = dialect::json_strings(
        backend,
        "s.name || '=' || s.value",
        "FROM post_signals s WHERE s.post_id = p.id",
    );
    format!("{COLUMNS}, {topics} AS topics, {signals} AS signals")
}

const JOINS: &str = "JOIN channel_accounts c ON c.id = p.channel_id JOIN identities i ON i.id = p.identity_id";

/// A post as the inbox lists it.
#[derive(Clone, Debug)]
pub struct InboxRow {
    pub id: i64,
    pub channel: String,
    pub external_id: String,
    pub kind: String,
    pub direction: String,
    pub text: String,
    pub url: Option<String>,
    pub thread_id: Option<String>,
    pub in_reply_to: Option<String>,
    pub created_at: i64,
    pub language: Option<String>,
    pub inbox_status: String,
    pub assignee: Option<String>,
    pub identity_id: i64,
    pub network: String,
    pub handle: String,
    pub display_name: Option<String>,
    pub followers: Option<i64>,
    /// Its topics (of the scored analysis), in order.
    pub topics: Vec<String>,
    /// Its custom signals, `name=value` (a label, or a score to 2 decimals).
    pub signals: Vec<String>,
    /// The contact the author was linked to when the post was scored.
    pub contact: Option<(i64, Option<String>)>,
    /// Null until scored.
    pub score: Option<PostScore>,
}

/// What the post was scored on, and its stored priority key.
#[derive(Clone, Debug)]
pub struct PostScore {
    pub priority_key: f64,
    pub sentiment: Option<f64>,
    pub intent: Option<String>,
    pub intent_confidence: Option<f64>,
    pub value_pct: f64,
    pub ltv: f64,
    pub recent_orders: i64,
    pub author_churn: f64,
}

/// Which posts the inbox lists, and in what order.
#[derive(Clone, Debug)]
pub struct InboxQuery<'a> {
    /// `open` or `closed`.
    pub status: &'a str,
    pub channel: Option<&'a str>,
    pub intent: Option<&'a str>,
    pub assignee: Option<&'a str>,
    pub sentiment: Option<SentimentBand<'a>>,
    pub signal: Option<SignalFilter<'a>>,
    pub order: InboxOrder,
    pub limit: i64,
}

/// Posts whose sentiment is `label` (`negative`, `neutral` or `positive`),
/// with `band` the half-width of neutral around 0.
#[derive(Clone, Copy, Debug)]
pub struct SentimentBand<'a> {
    pub label: &'a str,
    pub band: f64,
}

/// Posts with custom signal `name`: with `label` among its labels, or a
/// score of at least `min`.
#[derive(Clone, Copy, Debug)]
pub struct SignalFilter<'a> {
    pub name: &'a str,
    pub label: Option<&'a str>,
    pub min: Option<f64>,
}

impl<'a> SignalFilter<'a> {
    /// `urgency`, `urgency>=0.5` or `tone:polite`; None when `text` is none
    /// of these (names and labels are 1 to 64 of a-z, 0-9 and `-`).
    pub fn parse(text: &'a str) -> Option<SignalFilter<'a>> {
        let named = |name: &str| {
            (1..=64).contains(&name.len())
                && name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        };
        let filter = match (text.split_once(">="), text.split_once(':')) {
            (Some((name, min)), None) => SignalFilter {
                name,
                label: None,
                min: Some(min.parse::<f64>().ok().filter(|m| m.is_finite())?),
            },
            (None, Some((name, label))) if named(label) => SignalFilter {
                name,
                label: Some(label),
                min: None,
            },
            (None, None) => SignalFilter {
                name: text,
                label: None,
                min: None,
            },
            _ => return None,
        };
        named(filter.name).then_some(filter)
    }
}

#[derive(Clone, Copy, Debug)]
pub enum InboxOrder {
    /// Scored posts, highest priority key first, after the cursor `(key, id)`,
    /// keys at least `min_key`.
    Priority { after: (f64, i64), min_key: f64 },
    /// Newest first, ids below `before`; with `min_key`, scored posts only.
    Newest { before: i64, min_key: Option<f64> },
}

/// One analyzer's stored output for a post (JSON as text).
#[derive(Clone, Debug)]
pub struct AnalysisRow {
    pub plugin: String,
    pub version: String,
    pub sentiment: Option<f64>,
    pub label: Option<String>,
    pub intents: String,
    pub topics: String,
    pub language: Option<String>,
    pub signals: String,
    pub aspects: String,
}

/// A field of a post an agent sets.
#[derive(Clone, Copy, Debug)]
pub enum PostField {
    Assignee,
    InboxStatus,
}

impl PostField {
    fn column(self) -> &'static str {
        match self {
            PostField::Assignee => "assignee",
            PostField::InboxStatus => "inbox_status",
        }
    }
}

/// The inbox page `query` asks for.
pub async fn list(db: &Db, query: &InboxQuery<'_>) -> Result<Vec<InboxRow>, sqlx::Error> {
    // Optional filters are always bound: `$N = ''` means "any".
    let common = "p.inbox_status = $1 AND ($2 = '' OR c.name = $2) AND ($3 = '' OR ps.intent = $3) \
                  AND ($4 = '' OR p.assignee = $4) AND ($5 = '' \
                  OR ($5 = 'negative' AND ps.sentiment <= $6) OR ($5 = 'positive' AND ps.sentiment >= $7) \
                  OR ($5 = 'neutral' AND ps.sentiment > $6 AND ps.sentiment < $7)) \
                  AND ($8 = '' OR EXISTS (SELECT 1 FROM post_signals sg WHERE sg.post_id = p.id AND sg.name = $8 \
                  AND ($9 = '' OR sg.label = $9) AND COALESCE(sg.score, $10) >= $10))";
    // `CROSS JOIN` keeps SQLite walking the priority index (see insights::priority::inbox);
    // a row value, so both databases seek the index to the cursor.
    let columns = columns(db.backend());
    let sql = match query.order {
        InboxOrder::Priority { .. } => format!(
            "SELECT {columns} FROM post_scores ps CROSS JOIN posts p {JOINS} \
             LEFT JOIN contacts ct ON ct.id = ps.contact_id \
             WHERE p.id = ps.post_id AND {common} AND (ps.priority_key, ps.post_id) < ($11, $12) \
             AND ps.priority_key >= $13 ORDER BY ps.priority_key DESC, ps.post_id DESC LIMIT $14"
        ),
        InboxOrder::Newest { min_key: Some(_), .. } => format!(
            "SELECT {columns} FROM post_scores ps CROSS JOIN posts p {JOINS} \
             LEFT JOIN contacts ct ON ct.id = ps.contact_id \
             WHERE p.id = ps.post_id AND {common} AND p.id < $11 AND ps.priority_key >= $12 \
             ORDER BY p.id DESC LIMIT $13"
        ),
        InboxOrder::Newest { min_key: None, .. } => format!(
            "SELECT {columns} FROM posts p {JOINS} LEFT JOIN post_scores ps ON ps.post_id = p.id \
             LEFT JOIN contacts ct ON ct.id = ps.contact_id \
             WHERE p.direction = 'inbound' AND {common} AND p.id < $11 ORDER BY p.id DESC LIMIT $12"
        ),
    };
    let sentiment = query.sentiment.map(|s| (s.label, s.band)).unwrap_or(("", 0.0));
    let statement = sqlx::query(db.backend().sql(sql))
        .bind(query.status)
        .bind(query.channel.unwrap_or_default())
        .bind(query.intent.unwrap_or_default())
        .bind(query.assignee.unwrap_or_default())
        .bind(sentiment.0)
        .bind(-sentiment.1)
        .bind(sentiment.1)
        .bind(query.signal.map_or("", |f| f.name))
        .bind(query.signal.and_then(|f| f.label).unwrap_or_default())
        // A label filter passes any score; no minimum passes every score.
        .bind(query.signal.and_then(|f| f.min).unwrap_or(-f64::MAX));
    let statement = match query.order {
        InboxOrder::Priority { after, min_key } => statement.bind(after.0).bind(after.1).bind(min_key),
        InboxOrder::Newest { before, min_key } => match min_key {
            Some(min_key) => statement.bind(before).bind(min_key),
            None => statement.bind(before),
        },
    };
    let rows = statement.bind(query.limit).fetch_all(db.pool()).await?;
    inbox_rows(rows)
}

/// Post `id`, when there is one.
pub async fn get(db: &Db, id: i64) -> Result<Option<InboxRow>, sqlx::Error> {
    let columns = columns(db.backend());
    let row = sqlx::query(AssertSqlSafe(format!(
        "SELECT {columns} FROM posts p {JOINS} LEFT JOIN post_scores ps ON ps.post_id = p.id \
         LEFT JOIN contacts ct ON ct.id = ps.contact_id WHERE p.id = $1"
    )))
    .bind(id)
    .fetch_optional(db.pool())
    .await?;
    row.as_ref().map(inbox_row).transpose()
}

/// Posts of the confirmed identities of `contact_id`, newest first, after
/// `(created_at, id)`.
pub async fn of_contact(db: &Db, contact_id: i64, after: (i64, i64), limit: i64) -> Result<Vec<InboxRow>, sqlx::Error> {
    let columns = columns(db.backend());
    let rows = sqlx::query(db.backend().sql(format!(
        "SELECT {columns} FROM posts p {JOINS} LEFT JOIN post_scores ps ON ps.post_id = p.id \
         LEFT JOIN contacts ct ON ct.id = ps.contact_id \
         WHERE p.identity_id IN (SELECT identity_id FROM identity_links WHERE contact_id = $1 AND status = 'confirmed') \
         AND (p.created_at, p.id) < ($2, $3) \
         ORDER BY p.created_at DESC, p.id DESC LIMIT $4"
    )))
    .bind(contact_id)
    .bind(after.0)
    .bind(after.1)
    .bind(limit)
    .fetch_all(db.pool())
    .await?;
    inbox_rows(rows)
}

fn inbox_rows(rows: Vec<AnyRow>) -> Result<Vec<InboxRow>, sqlx::Error> {
    rows.iter().map(inbox_row).collect()
}

fn inbox_row(row: &AnyRow) -> Result<InboxRow, sqlx::Error> {
    let contact_id: Option<i64> = row.try_get("contact_id")?;
    let key: Option<f64> = row.try_get("priority_key")?;
    Ok(InboxRow {
        id: row.try_get("id")?,
        channel: row.try_get("channel")?,
        external_id: row.try_get("external_id")?,
        kind: row.try_get("kind")?,
        direction: row.try_get("direction")?,
        text: row.try_get("text")?,
        url: row.try_get("url")?,
        thread_id: row.try_get("thread_id")?,
        in_reply_to: row.try_get("in_reply_to")?,
        created_at: row.try_get("created_at")?,
        language: row.try_get("language")?,
        inbox_status: row.try_get("inbox_status")?,
        assignee: row.try_get("assignee")?,
        identity_id: row.try_get("identity_id")?,
        network: row.try_get("network")?,
        handle: row.try_get("handle")?,
        display_name: row.try_get("display_name")?,
        followers: row.try_get("followers")?,
        topics: serde_json::from_str(row.try_get("topics")?).map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
        signals: serde_json::from_str(row.try_get("signals")?).map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
        contact: match contact_id {
            Some(id) => Some((id, row.try_get("contact_name")?)),
            None => None,
        },
        score: match key {
            Some(priority_key) => Some(PostScore {
                priority_key,
                sentiment: row.try_get("sentiment")?,
                intent: row.try_get("intent")?,
                intent_confidence: row.try_get("intent_confidence")?,
                value_pct: row.try_get("value_pct")?,
                ltv: row.try_get("ltv")?,
                recent_orders: row.try_get("recent_orders")?,
                author_churn: row.try_get("author_churn")?,
            }),
            None => None,
        },
    })
}

/// The network's raw payload of post `id` (JSON as text).
pub async fn raw(db: &Db, id: i64) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT raw FROM posts WHERE id = $1")
        .bind(id)
        .fetch_optional(db.pool())
        .await
}

/// Every analysis of post `id`, by plugin.
pub async fn analyses(db: &Db, id: i64) -> Result<Vec<AnalysisRow>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT plugin, version, sentiment, label, intents, topics, language, signals, aspects FROM analyses \
         WHERE post_id = $1 ORDER BY plugin, id",
    )
    .bind(id)
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(AnalysisRow {
                plugin: r.try_get("plugin")?,
                version: r.try_get("version")?,
                sentiment: r.try_get("sentiment")?,
                label: r.try_get("label")?,
                intents: r.try_get("intents")?,
                topics: r.try_get("topics")?,
                language: r.try_get("language")?,
                signals: r.try_get("signals")?,
                aspects: r.try_get("aspects")?,
            })
        })
        .collect()
}

/// Sets `field` of post `id` and audits it as `post.{column}` in one
/// transaction; false when there is no such post.
pub async fn set(db: &Db, id: i64, field: PostField, value: Option<&str>, actor: &str) -> Result<bool, sqlx::Error> {
    let column = field.column();
    let mut tx = db.begin().await?;
    let updated = sqlx::query(AssertSqlSafe(format!("UPDATE posts SET {column} = $1 WHERE id = $2")))
        .bind(value)
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if updated == 0 {
        return Ok(false);
    }
    audit(
        &mut *tx,
        actor,
        &format!("post.{column}"),
        &format!("post:{id}"),
        &json!({ column: value }),
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}
