//! `advocacy_events`: the points ledger, recorded from the stored posts and
//! scores (the rules are `crate::insights::advocacy`'s), and the ranking
//! read from it.

use serde::Serialize;
use serde_json::Value;
use sqlx::{AssertSqlSafe, Row};

use crate::store::dialect::{self, num};
use crate::store::{DAY_MS, Db};

/// The thresholds and points of the advocacy events.
#[derive(Clone, Copy, Debug)]
pub struct Rules {
    /// A positive mention: sentiment or praise at least this.
    pub positive_sentiment: f64,
    pub praise: f64,
    /// A question: question intent at least this.
    pub question: f64,
    /// Thanks: sentiment or praise at least this.
    pub thanks_sentiment: f64,
    pub thanks_praise: f64,
    /// Points of each kind of event.
    pub positive_mention: i64,
    pub answered_question: i64,
    pub accepted_answer: i64,
}

const STAFF: &str = "staff AS (SELECT DISTINCT identity_id FROM posts WHERE direction = 'outbound')";

const INSERT: &str =
    "INSERT INTO advocacy_events (key, kind, post_id, identity_id, points, evidence, occurred_at, created_at)";

/// Records the events found in the stored posts and scores (three set-based
/// statements); returns the events added.
pub async fn record_events(db: &Db, r: &Rules, now: i64) -> Result<u64, sqlx::Error> {
    let b = db.backend();
    let positive = format!(
        "WITH {STAFF}, \
         cand AS (SELECT ps.post_id, ps.identity_id, ps.created_at, ps.sentiment, ps.praise, \
                  ROW_NUMBER() OVER (PARTITION BY ps.identity_id, ps.created_at / {DAY_MS} \
                                     ORDER BY ps.created_at, ps.post_id) AS rn \
                  FROM post_scores ps WHERE (ps.sentiment >= {pos} OR ps.praise >= {praise}) \
                  AND ps.identity_id NOT IN (SELECT identity_id FROM staff)) \
         {INSERT} SELECT 'positive-mention:' || CAST(c.identity_id AS TEXT) || ':' \
                  || CAST(c.created_at / {DAY_MS} AS TEXT), 'positive-mention', c.post_id, c.identity_id, {pts}, \
                  {evidence}, c.created_at, {now} \
         FROM cand c JOIN posts p ON p.id = c.post_id WHERE c.rn = 1 ON CONFLICT (key) DO NOTHING",
        pos = num(r.positive_sentiment),
        praise = num(r.praise),
        pts = r.positive_mention,
        evidence = dialect::json_object(
            b,
            &[
                ("post", "c.post_id"),
                ("sentiment", "c.sentiment"),
                ("praise", "c.praise"),
                ("excerpt", "substr(p.text, 1, 140)"),
            ]
        ),
    );
    let answered = format!(
        "WITH {STAFF}, \
         cand AS (SELECT r.id AS post_id, r.identity_id, r.created_at, r.text, q.id AS question_id, \
                  q.identity_id AS asker, q.text AS question_text, qs.question AS confidence, \
                  ROW_NUMBER() OVER (PARTITION BY q.id, r.identity_id ORDER BY r.created_at, r.id) AS rn \
                  FROM posts r JOIN posts q ON q.channel_id = r.channel_id AND q.external_id = r.in_reply_to \
                  JOIN post_scores qs ON qs.post_id = q.id \
                  WHERE r.in_reply_to IS NOT NULL AND r.direction = 'inbound' AND qs.question >= {question} \
                  AND r.identity_id <> q.identity_id \
                  AND r.identity_id NOT IN (SELECT identity_id FROM staff) \
                  AND q.identity_id NOT IN (SELECT identity_id FROM staff)) \
         {INSERT} SELECT 'answered-question:' || CAST(question_id AS TEXT) || ':' || CAST(identity_id AS TEXT), \
                  'answered-question', post_id, identity_id, {pts}, {evidence}, created_at, {now} \
         FROM cand WHERE rn = 1 ON CONFLICT (key) DO NOTHING",
        question = num(r.question),
        pts = r.answered_question,
        evidence = dialect::json_object(
            b,
            &[
                ("post", "post_id"),
                ("question", "question_id"),
                ("asker", "asker"),
                ("question_confidence", "confidence"),
                ("excerpt", "substr(text, 1, 140)"),
                ("question_excerpt", "substr(question_text, 1, 140)"),
            ]
        ),
    );
    let accepted = format!(
        "WITH {STAFF}, \
         cand AS (SELECT r.id AS post_id, r.identity_id, t.created_at, q.id AS question_id, t.id AS thanks_id, \
                  q.identity_id AS asker, ts.sentiment AS thanks_sentiment, t.text AS thanks_text, \
                  ROW_NUMBER() OVER (PARTITION BY q.id ORDER BY t.created_at, t.id) AS rn \
                  FROM posts t JOIN post_scores ts ON ts.post_id = t.id \
                  JOIN posts r ON r.channel_id = t.channel_id AND r.external_id = t.in_reply_to \
                  JOIN posts q ON q.channel_id = r.channel_id AND q.external_id = r.in_reply_to \
                  JOIN post_scores qs ON qs.post_id = q.id \
                  WHERE t.in_reply_to IS NOT NULL AND r.in_reply_to IS NOT NULL AND r.direction = 'inbound' \
                  AND t.identity_id = q.identity_id AND r.identity_id <> q.identity_id \
                  AND qs.question >= {question} AND (ts.sentiment >= {thanks} OR ts.praise >= {thanks_praise}) \
                  AND r.identity_id NOT IN (SELECT identity_id FROM staff) \
                  AND q.identity_id NOT IN (SELECT identity_id FROM staff)) \
         {INSERT} SELECT 'accepted-answer:' || CAST(question_id AS TEXT), 'accepted-answer', post_id, identity_id, \
                  {pts}, {evidence}, created_at, {now} \
         FROM cand WHERE rn = 1 ON CONFLICT (key) DO NOTHING",
        question = num(r.question),
        thanks = num(r.thanks_sentiment),
        thanks_praise = num(r.thanks_praise),
        pts = r.accepted_answer,
        evidence = dialect::json_object(
            b,
            &[
                ("post", "post_id"),
                ("question", "question_id"),
                ("asker", "asker"),
                ("thanks", "thanks_id"),
                ("thanks_sentiment", "thanks_sentiment"),
                ("thanks_excerpt", "substr(thanks_text, 1, 140)"),
            ]
        ),
    );
    let mut added = 0;
    for sql in [positive, answered, accepted] {
        added += sqlx::query(AssertSqlSafe(sql))
            .execute(db.pool())
            .await?
            .rows_affected();
    }
    Ok(added)
}

/// One entry of the ledger.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct AdvocacyEvent {
    pub id: i64,
    pub kind: String,
    pub post_id: i64,
    pub identity_id: i64,
    pub network: String,
    pub handle: String,
    pub points: i64,
    pub evidence: Value,
    pub occurred_at: i64,
}

/// An advocate's points, as stored: a contact (all its confirmed identities)
/// or an unlinked identity.
#[derive(Clone, Debug, PartialEq)]
pub struct AdvocateRow {
    pub contact_id: Option<i64>,
    /// The identity, when it is linked to no contact.
    pub identity_id: Option<i64>,
    pub name: String,
    pub points: i64,
    /// Every event behind the points, newest first.
    pub events: Vec<AdvocacyEvent>,
}

const LINK: &str = "link AS (SELECT identity_id, MIN(contact_id) AS contact_id FROM identity_links \
     WHERE status = 'confirmed' GROUP BY identity_id)";

/// The `limit` advocates with the most points from events since `since`
/// (Unix ms), most first (ties: the most recent activity first).
pub async fn advocates(db: &Db, limit: i64, since: i64) -> Result<Vec<AdvocateRow>, sqlx::Error> {
    let rows = sqlx::query(AssertSqlSafe(format!(
        "WITH {LINK}, \
         ev AS (SELECT e.points, e.occurred_at, e.identity_id, link.contact_id FROM advocacy_events e \
                LEFT JOIN link ON link.identity_id = e.identity_id WHERE e.occurred_at >= $1) \
         SELECT contact_id, CASE WHEN contact_id IS NULL THEN identity_id END AS solo, \
                CAST(SUM(points) AS BIGINT) AS points, MAX(occurred_at) AS last_at \
         FROM ev GROUP BY contact_id, CASE WHEN contact_id IS NULL THEN identity_id END \
         ORDER BY points DESC, last_at DESC, CASE WHEN contact_id IS NULL THEN 1 ELSE 0 END, \
                  COALESCE(contact_id, CASE WHEN contact_id IS NULL THEN identity_id END) LIMIT $2"
    )))
    .bind(since)
    .bind(limit)
    .fetch_all(db.pool())
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in &rows {
        let contact_id: Option<i64> = row.try_get("contact_id")?;
        let solo: Option<i64> = row.try_get("solo")?;
        let (condition, key, name_sql) = match contact_id {
            Some(id) => (
                "link.contact_id = $2",
                id,
                "SELECT COALESCE(name, external_id) AS name FROM contacts WHERE id = $1",
            ),
            None => (
                "link.contact_id IS NULL AND e.identity_id = $2",
                solo.unwrap_or_default(),
                "SELECT network || ':' || handle AS name FROM identities WHERE id = $1",
            ),
        };
        let name: String = sqlx::query(name_sql)
            .bind(key)
            .fetch_optional(db.pool())
            .await?
            .map(|r| r.try_get("name"))
            .transpose()?
            .unwrap_or_default();
        let events = sqlx::query(AssertSqlSafe(format!(
            "WITH {LINK} SELECT e.id, e.kind, e.post_id, e.identity_id, i.network, i.handle, e.points, e.evidence, \
             e.occurred_at FROM advocacy_events e JOIN identities i ON i.id = e.identity_id \
             LEFT JOIN link ON link.identity_id = e.identity_id \
             WHERE e.occurred_at >= $1 AND {condition} ORDER BY e.occurred_at DESC, e.id DESC"
        )))
        .bind(since)
        .bind(key)
        .fetch_all(db.pool())
        .await?
        .iter()
        .map(|r| {
            Ok(AdvocacyEvent {
                id: r.try_get("id")?,
                kind: r.try_get("kind")?,
                post_id: r.try_get("post_id")?,
                identity_id: r.try_get("identity_id")?,
                network: r.try_get("network")?,
                handle: r.try_get("handle")?,
                points: r.try_get("points")?,
                evidence: serde_json::from_str(&r.try_get::<String, _>("evidence")?).unwrap_or(Value::Null),
                occurred_at: r.try_get("occurred_at")?,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
        out.push(AdvocateRow {
            contact_id,
            identity_id: solo,
            name,
            points: row.try_get("points")?,
            events,
        });
    }
    Ok(out)
}
