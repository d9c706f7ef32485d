//! What the store holds about one data subject (host/src/privacy): finding
//! the subject, the rows that name it, and the statements that erase it.
//! Ids written into statements come from the database (never input).

use std::collections::BTreeSet;

use base64::Engine as _;
use serde_json::{Map, Value};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Column, Row};

use super::catalogue::Table;
use super::{Backend, Db};

/// A data subject: contacts and the social identities confirmed as theirs.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SubjectIds {
    pub contacts: Vec<i64>,
    pub identities: Vec<i64>,
}

impl SubjectIds {
    pub fn is_empty(&self) -> bool {
        self.contacts.is_empty() && self.identities.is_empty()
    }
}

/// `(1, 2, 3)`, or `(NULL)` for none (an `IN` that matches nothing).
pub fn id_list(ids: &[i64]) -> String {
    if ids.is_empty() {
        return "(NULL)".into();
    }
    let items: Vec<String> = ids.iter().map(i64::to_string).collect();
    format!("({})", items.join(", "))
}

/// The contact with external id `external_id`.
pub async fn contact_by_external_id(db: &Db, external_id: &str) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar("SELECT id FROM contacts WHERE external_id = $1")
        .bind(external_id)
        .fetch_optional(db.pool())
        .await
}

/// The identity of network user `external_user_id` on `network`.
pub async fn identity_by_user_id(db: &Db, network: &str, external_user_id: &str) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar("SELECT id FROM identities WHERE network = $1 AND external_user_id = $2")
        .bind(network)
        .bind(external_user_id)
        .fetch_optional(db.pool())
        .await
}

/// The identity of `handle` on `network` (any case).
pub async fn identity_by_handle(db: &Db, network: &str, handle: &str) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar("SELECT id FROM identities WHERE network = $1 AND lower(handle) = lower($2) ORDER BY id LIMIT 1")
        .bind(network)
        .bind(handle.trim_start_matches('@'))
        .fetch_optional(db.pool())
        .await
}

/// `start` with what confirmed identity links join to it: a contact's
/// identities, and an identity's contact and that contact's other identities.
pub async fn with_links(db: &Db, start: &SubjectIds) -> Result<SubjectIds, sqlx::Error> {
    let mut contacts: BTreeSet<i64> = start.contacts.iter().copied().collect();
    let mut identities: BTreeSet<i64> = start.identities.iter().copied().collect();
    let linked = format!(
        "SELECT contact_id FROM identity_links WHERE status = 'confirmed' AND identity_id IN {}",
        id_list(&start.identities)
    );
    for id in sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(linked))
        .fetch_all(db.pool())
        .await?
    {
        contacts.insert(id);
    }
    let ids: Vec<i64> = contacts.iter().copied().collect();
    let linked = format!(
        "SELECT identity_id FROM identity_links WHERE status = 'confirmed' AND contact_id IN {}",
        id_list(&ids)
    );
    for id in sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(linked))
        .fetch_all(db.pool())
        .await?
    {
        identities.insert(id);
    }
    // Only what exists: a start that names nothing is an empty subject.
    let contacts = existing(db, "contacts", contacts).await?;
    let identities = existing(db, "identities", identities).await?;
    Ok(SubjectIds { contacts, identities })
}

async fn existing(db: &Db, table: &str, ids: BTreeSet<i64>) -> Result<Vec<i64>, sqlx::Error> {
    let ids: Vec<i64> = ids.into_iter().collect();
    let sql = format!("SELECT id FROM {table} WHERE id IN {} ORDER BY id", id_list(&ids));
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).fetch_all(db.pool()).await
}

/// The identifying fields of the subject: (identifiers, names). Identifiers
/// are handles, emails, phones, websites and profile URLs.
pub async fn identifiers(db: &Db, s: &SubjectIds) -> Result<(Vec<String>, Vec<String>), sqlx::Error> {
    let mut ids = Vec::new();
    let mut names = Vec::new();
    let sql = format!(
        "SELECT name, email, phone, website, handles FROM contacts WHERE id IN {}",
        id_list(&s.contacts)
    );
    for row in sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(db.pool()).await? {
        names.extend(row.try_get::<Option<String>, _>("name")?);
        for column in ["email", "phone", "website"] {
            ids.extend(row.try_get::<Option<String>, _>(column)?);
        }
        let handles: Map<String, Value> =
            serde_json::from_str(&row.try_get::<String, _>("handles")?).unwrap_or_default();
        ids.extend(handles.values().filter_map(|v| v.as_str().map(String::from)));
    }
    let sql = format!(
        "SELECT handle, display_name, profile_url FROM identities WHERE id IN {}",
        id_list(&s.identities)
    );
    for row in sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(db.pool()).await? {
        let handle: String = row.try_get("handle")?;
        // `maya@demo.social` is also mentioned as `@maya` on its own server.
        if let Some((user, _)) = handle.split_once('@').filter(|(user, _)| !user.is_empty()) {
            ids.push(format!("@{user}"));
        }
        ids.push(handle);
        ids.extend(row.try_get::<Option<String>, _>("profile_url")?);
        names.extend(row.try_get::<Option<String>, _>("display_name")?);
    }
    Ok((ids, names))
}

/// The posts the subject's identities wrote.
pub fn posts_of(s: &SubjectIds) -> String {
    format!("SELECT id FROM posts WHERE identity_id IN {}", id_list(&s.identities))
}

/// Per table, the condition of the rows that are about the subject by their
/// keys (what a scan for the subject's identifiers finds besides is added by
/// the caller). Tables that hold nothing about a person are not listed.
pub fn about(s: &SubjectIds) -> Vec<(&'static str, String)> {
    let c = id_list(&s.contacts);
    let i = id_list(&s.identities);
    let posts = posts_of(s);
    let links = format!("SELECT id FROM identity_links WHERE identity_id IN {i} OR contact_id IN {c}");
    vec![
        ("contacts", format!("id IN {c}")),
        ("transactions", format!("contact_id IN {c}")),
        ("contact_scores", format!("contact_id IN {c}")),
        ("identities", format!("id IN {i}")),
        ("identity_links", format!("identity_id IN {i} OR contact_id IN {c}")),
        ("identity_verifications", format!("link_id IN ({links})")),
        ("identity_resolution", format!("identity_id IN {i}")),
        ("posts", format!("identity_id IN {i}")),
        ("analyses", format!("post_id IN ({posts})")),
        ("post_scores", format!("identity_id IN {i} OR contact_id IN {c}")),
        ("post_topics", format!("identity_id IN {i}")),
        ("advocacy_events", format!("identity_id IN {i} OR post_id IN ({posts})")),
        ("replies", format!("post_id IN ({posts})")),
        ("response_recipients", format!("post_id IN ({posts})")),
        (
            "responses",
            format!(
                "kind = 'micro' AND id IN (SELECT response_id FROM response_recipients WHERE post_id IN ({posts}))"
            ),
        ),
        (
            "audit_log",
            format!(
                "subject IN (SELECT 'contact:' || id FROM contacts WHERE id IN {c}) \
                 OR subject IN (SELECT 'identity:' || id FROM identities WHERE id IN {i}) \
                 OR subject IN (SELECT 'identity_link:' || id FROM identity_links WHERE identity_id IN {i} OR contact_id IN {c}) \
                 OR subject IN (SELECT 'post:' || id FROM posts WHERE identity_id IN {i})"
            ),
        ),
    ]
}

/// Events about the subject's posts, identities or contacts.
pub fn events_about(backend: Backend, s: &SubjectIds) -> String {
    let field = |path: &str| match backend {
        Backend::Sqlite => format!("CAST(json_extract(data, '$.{path}') AS TEXT)"),
        Backend::Postgres => format!("(CAST(data AS jsonb) #>> '{{{}}}')", path.replace('.', ",")),
    };
    let text_ids = |sql: String| format!("SELECT CAST(id AS TEXT) FROM ({sql}) x");
    let c = id_list(&s.contacts);
    let i = id_list(&s.identities);
    format!(
        "{} IN ({}) OR {} IN ({}) OR {} IN ({}) OR {} IN ({})",
        field("post_id"),
        text_ids(posts_of(s)),
        field("identity_id"),
        text_ids(format!("SELECT id FROM identities WHERE id IN {i}")),
        field("author.identity_id"),
        text_ids(format!("SELECT id FROM identities WHERE id IN {i}")),
        field("contact_id"),
        text_ids(format!("SELECT id FROM contacts WHERE id IN {c}")),
    )
}

/// Every row of `table` where `condition` holds, as JSON objects.
pub async fn rows_where(db: &Db, table: &str, condition: &str) -> Result<Vec<Map<String, Value>>, sqlx::Error> {
    let sql = format!("SELECT * FROM {table} WHERE {condition}");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(db.pool()).await?;
    Ok(rows.iter().map(row_json).collect())
}

/// The rows of `table` with one of `needles` in a text column (`needles(c)`
/// gives the needles of column `c`), keys and text columns only; a
/// case-insensitive `LIKE` picks candidates, the caller checks whole tokens.
pub async fn rows_mentioning<'n>(
    db: &Db,
    table: &Table,
    needles: impl Fn(&str) -> Vec<&'n str>,
) -> Result<Vec<Map<String, Value>>, sqlx::Error> {
    let like = match db.backend() {
        Backend::Sqlite => "LIKE",
        Backend::Postgres => "ILIKE",
    };
    let mut conditions = Vec::new();
    let mut binds = Vec::new();
    for column in &table.text_columns {
        for needle in needles(column) {
            binds.push(format!("%{}%", escape_like(needle)));
            conditions.push(format!("CAST({column} AS TEXT) {like} ${} ESCAPE '\\'", binds.len()));
        }
    }
    if conditions.is_empty() {
        return Ok(Vec::new());
    }
    let columns: Vec<&str> = table
        .key
        .iter()
        .chain(&table.text_columns)
        .map(String::as_str)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let sql = format!(
        "SELECT {} FROM {} WHERE {}",
        columns.join(", "),
        table.name,
        conditions.join(" OR ")
    );
    let mut query = sqlx::query(db.backend().sql(sql));
    for b in &binds {
        query = query.bind(b.as_str());
    }
    Ok(query.fetch_all(db.pool()).await?.iter().map(row_json).collect())
}

/// Sets `values` (column → text) of the row of `table` whose key columns
/// hold `key`, in the caller's transaction.
pub async fn update_row(
    conn: &mut AnyConnection,
    backend: Backend,
    table: &Table,
    key: &Map<String, Value>,
    values: &[(String, String)],
) -> Result<u64, sqlx::Error> {
    let mut sets = Vec::new();
    for (n, (column, _)) in values.iter().enumerate() {
        sets.push(format!("{column} = ${}", n + 1));
    }
    let mut wheres = Vec::new();
    for (n, column) in table.key.iter().enumerate() {
        wheres.push(format!("{column} = ${}", values.len() + n + 1));
    }
    if sets.is_empty() || wheres.is_empty() {
        return Ok(0);
    }
    let sql = format!(
        "UPDATE {} SET {} WHERE {}",
        table.name,
        sets.join(", "),
        wheres.join(" AND ")
    );
    let mut query = sqlx::query(backend.sql(sql));
    for (_, v) in values {
        query = query.bind(v.as_str());
    }
    for column in &table.key {
        query = match key.get(column) {
            Some(Value::Number(n)) if n.is_i64() => query.bind(n.as_i64()),
            Some(Value::Number(n)) => query.bind(n.as_f64()),
            Some(Value::String(s)) => query.bind(s.clone()),
            _ => return Ok(0),
        };
    }
    Ok(query.execute(conn).await?.rows_affected())
}

fn escape_like(s: &str) -> String {
    s.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
}

/// A row of any table as a JSON object (integers, reals, text, bytes as base64).
pub fn row_json(row: &AnyRow) -> Map<String, Value> {
    let mut out = Map::new();
    for (i, column) in row.columns().iter().enumerate() {
        let value = if let Ok(v) = row.try_get::<Option<i64>, _>(i) {
            v.map(Value::from)
        } else if let Ok(v) = row.try_get::<Option<f64>, _>(i) {
            v.map(Value::from)
        } else if let Ok(v) = row.try_get::<Option<String>, _>(i) {
            v.map(Value::from)
        } else if let Ok(v) = row.try_get::<Option<bool>, _>(i) {
            v.map(Value::from)
        } else if let Ok(v) = row.try_get::<Option<Vec<u8>>, _>(i) {
            v.map(|b| Value::from(base64::engine::general_purpose::STANDARD.encode(b)))
        } else {
            None
        };
        out.insert(column.name().to_string(), value.unwrap_or(Value::Null));
    }
    out
}

/// Up to `limit` posts of the subject that still hold text or a payload.
pub async fn posts_to_erase(db: &Db, s: &SubjectIds, limit: i64) -> Result<Vec<i64>, sqlx::Error> {
    let sql = format!(
        "SELECT id FROM posts WHERE identity_id IN {} AND (tombstone IS NULL OR tombstone <> 'erased' \
         OR text <> '' OR raw <> '{{}}' OR url IS NOT NULL) ORDER BY id LIMIT {limit}",
        id_list(&s.identities)
    );
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).fetch_all(db.pool()).await
}

/// Runs `statements` in the caller's transaction; the rows they changed.
pub async fn execute_all(conn: &mut AnyConnection, statements: &[String]) -> Result<u64, sqlx::Error> {
    let mut changed = 0;
    for sql in statements {
        changed += sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
            .execute(&mut *conn)
            .await?
            .rows_affected();
    }
    Ok(changed)
}

/// Texts addressed to the subject's posts, redacted to `placeholder`: the
/// replies sent to them and what responses meant to send them.
pub fn redact_addressed(s: &SubjectIds, placeholder: &str) -> Vec<String> {
    let posts = posts_of(s);
    let p = placeholder.replace('\'', "''");
    vec![
        format!("UPDATE replies SET text = '{p}', url = NULL WHERE post_id IN ({posts}) AND text <> '{p}'"),
        format!(
            "UPDATE response_recipients SET text = '{p}' WHERE post_id IN ({posts}) AND text IS NOT NULL AND text <> '{p}'"
        ),
        format!(
            "UPDATE responses SET text = '{p}' WHERE kind = 'micro' AND text <> '{p}' \
             AND id IN (SELECT response_id FROM response_recipients WHERE post_id IN ({posts}))"
        ),
    ]
}

/// Audit entries about the subject, reduced to the fact of the erasure.
pub fn redact_audit(s: &SubjectIds, receipt: &str) -> Vec<String> {
    let (_, condition) = about(s)
        .into_iter()
        .find(|(table, _)| *table == "audit_log")
        .unwrap_or(("audit_log", "1 = 0".into()));
    let details = serde_json::json!({ "redacted_by_erasure": receipt })
        .to_string()
        .replace('\'', "''");
    vec![format!(
        "UPDATE audit_log SET details = '{details}' WHERE ({condition}) AND details <> '{details}'"
    )]
}

/// What joins the subject's identities and contacts and what was derived
/// from them: identity links, their verifications and evidence, the
/// resolver's memory, scores and advocacy points.
pub fn delete_links(s: &SubjectIds) -> Vec<String> {
    let c = id_list(&s.contacts);
    let i = id_list(&s.identities);
    let links = format!("identity_id IN {i} OR contact_id IN {c}");
    vec![
        format!("DELETE FROM identity_verifications WHERE link_id IN (SELECT id FROM identity_links WHERE {links})"),
        format!("DELETE FROM identity_links WHERE {links}"),
        format!("DELETE FROM identity_resolution WHERE identity_id IN {i}"),
        format!("DELETE FROM contact_scores WHERE contact_id IN {c}"),
        format!("DELETE FROM post_scores WHERE identity_id IN {i} OR contact_id IN {c}"),
        format!("DELETE FROM post_topics WHERE identity_id IN {i}"),
        format!("DELETE FROM advocacy_events WHERE identity_id IN {i}"),
    ]
}

/// The subject's transactions: deleted, or (`keep`) moved to the anonymous
/// contact `keep` with their order reference cleared (amounts stay for
/// accounting).
pub fn transactions(s: &SubjectIds, keep: Option<i64>) -> Vec<String> {
    let c = id_list(&s.contacts);
    match keep {
        None => vec![format!("DELETE FROM transactions WHERE contact_id IN {c}")],
        Some(anonymous) => vec![format!(
            "UPDATE transactions SET contact_id = {anonymous}, reference = NULL WHERE contact_id IN {c}"
        )],
    }
}

/// The anonymous contact that keeps an erased subject's transactions.
pub async fn anonymous_contact(conn: &mut AnyConnection, external_id: &str) -> Result<i64, sqlx::Error> {
    let now = super::now_ms();
    sqlx::query(
        "INSERT INTO contacts (external_id, created_at, updated_at) VALUES ($1, $2, $2) ON CONFLICT (external_id) DO NOTHING",
    )
    .bind(external_id)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    sqlx::query_scalar("SELECT id FROM contacts WHERE external_id = $1")
        .bind(external_id)
        .fetch_one(conn)
        .await
}

pub fn delete_contacts(s: &SubjectIds) -> Vec<String> {
    vec![format!("DELETE FROM contacts WHERE id IN {}", id_list(&s.contacts))]
}

/// Moves the subject's (tombstoned) posts to one anonymous identity per
/// network, named by `receipt`, and deletes the subject's identities.
pub async fn delete_identities(conn: &mut AnyConnection, s: &SubjectIds, receipt: &str) -> Result<u64, sqlx::Error> {
    let i = id_list(&s.identities);
    let networks: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT DISTINCT network FROM identities WHERE id IN {i}"
    )))
    .fetch_all(&mut *conn)
    .await?;
    let now = super::now_ms();
    for network in networks {
        let anonymous = format!("erased:{receipt}");
        sqlx::query(
            "INSERT INTO identities (network, external_user_id, handle, first_seen, last_seen) \
             VALUES ($1, $2, $3, $4, $4) ON CONFLICT (network, external_user_id) DO NOTHING",
        )
        .bind(&network)
        .bind(&anonymous)
        .bind(crate::privacy::PLACEHOLDER)
        .bind(now)
        .execute(&mut *conn)
        .await?;
        let id: i64 = sqlx::query_scalar("SELECT id FROM identities WHERE network = $1 AND external_user_id = $2")
            .bind(&network)
            .bind(&anonymous)
            .fetch_one(&mut *conn)
            .await?;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE posts SET identity_id = {id} WHERE identity_id IN {i} \
             AND identity_id IN (SELECT x.id FROM identities x WHERE x.network = $1)"
        )))
        .bind(&network)
        .execute(&mut *conn)
        .await?;
    }
    Ok(
        sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM identities WHERE id IN {i}")))
            .execute(conn)
            .await?
            .rows_affected(),
    )
}

/// Every channel account: (id, name, network).
pub async fn channel_accounts(db: &Db) -> Result<Vec<(i64, String, String)>, sqlx::Error> {
    let rows = sqlx::query("SELECT id, name, network FROM channel_accounts ORDER BY id")
        .fetch_all(db.pool())
        .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("id")?, r.try_get("name")?, r.try_get("network")?)))
        .collect()
}

/// Account `id`'s key-value store (JSON object of base64 values).
pub async fn channel_kv(db: &Db, id: i64) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT kv FROM channel_accounts WHERE id = $1")
        .bind(id)
        .fetch_optional(db.pool())
        .await
}

/// Replaces an account's key-value store if it still is `old` (ingest may
/// have written it meanwhile: the caller reads it again and retries).
pub async fn replace_kv(db: &Db, id: i64, old: &str, new: &str) -> Result<bool, sqlx::Error> {
    let changed = sqlx::query("UPDATE channel_accounts SET kv = $1 WHERE id = $2 AND kv = $3")
        .bind(new)
        .bind(id)
        .bind(old)
        .execute(db.pool())
        .await?
        .rows_affected();
    Ok(changed == 1)
}
