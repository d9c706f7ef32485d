//! Identity resolution's tables: `identity_links` (with their evidence),
//! `identity_resolution` and `identity_verifications`, read with
//! `identities` and `posts`; and the batched lookups of evidence in
//! `contacts`, `transactions` and confirmed links.

use std::collections::BTreeMap;

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AssertSqlSafe, Row};

use super::{Backend, Db, lookup_sql, placeholders};

/// Values per `IN (...)` list.
const CHUNK: usize = 500;

/// Bound values per lookup query (SQLite allows 32,766, PostgreSQL 65,535).
const MAX_PARAMS: usize = 2000;

/// Whether a query with an `IN` list is kept prepared. On PostgreSQL it is
/// planned with its values each time instead: a prepared statement's generic
/// plan, made while a table was small (a sequential scan), is kept as the table
/// grows until the next ANALYZE, and a burst of ingest outruns autovacuum.
fn keep_prepared(backend: Backend) -> bool {
    backend == Backend::Sqlite
}

/// A post with its author and what was last resolved of the author.
#[derive(Clone, Debug)]
pub struct PostAuthor {
    pub post_id: i64,
    pub direction: String,
    pub text: String,
    pub identity_id: i64,
    pub network: String,
    pub handle: String,
    pub display_name: Option<String>,
    pub profile_url: Option<String>,
    pub bio: Option<String>,
    pub fields: String,
    pub fingerprint: Option<String>,
    pub crm_version: Option<i64>,
}

/// The posts `post_ids` (those that exist) with their authors.
pub async fn post_authors(db: &Db, post_ids: &[i64]) -> Result<Vec<PostAuthor>, sqlx::Error> {
    let mut out = Vec::with_capacity(post_ids.len());
    for chunk in post_ids.chunks(CHUNK) {
        let sql = format!(
            "SELECT p.id, p.identity_id, p.direction, p.text, i.network, i.handle, i.display_name, i.profile_url, \
             i.bio, i.fields, r.fingerprint, r.crm_version FROM posts p JOIN identities i ON i.id = p.identity_id \
             LEFT JOIN identity_resolution r ON r.identity_id = i.id WHERE p.id IN {}",
            placeholders(1, chunk.len())
        );
        let mut query = sqlx::query(db.backend().sql(sql)).persistent(keep_prepared(db.backend()));
        for id in chunk {
            query = query.bind(*id);
        }
        for row in query.fetch_all(db.pool()).await? {
            out.push(PostAuthor {
                post_id: row.try_get("id")?,
                direction: row.try_get("direction")?,
                text: row.try_get("text")?,
                identity_id: row.try_get("identity_id")?,
                network: row.try_get("network")?,
                handle: row.try_get("handle")?,
                display_name: row.try_get("display_name")?,
                profile_url: row.try_get("profile_url")?,
                bio: row.try_get("bio")?,
                fields: row.try_get("fields")?,
                fingerprint: row.try_get("fingerprint")?,
                crm_version: row.try_get("crm_version")?,
            });
        }
    }
    Ok(out)
}

/// What was last resolved of `identities`: (identity, fingerprint, CRM version).
pub async fn stored_resolutions(db: &Db, identities: &[i64]) -> Result<Vec<(i64, String, i64)>, sqlx::Error> {
    let mut out = Vec::with_capacity(identities.len());
    for chunk in identities.chunks(CHUNK) {
        let sql = format!(
            "SELECT identity_id, fingerprint, crm_version FROM identity_resolution WHERE identity_id IN {}",
            placeholders(1, chunk.len())
        );
        let mut query = sqlx::query(db.backend().sql(sql)).persistent(keep_prepared(db.backend()));
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

/// An identity's profile as resolved.
#[derive(Clone, Debug)]
pub struct Resolution<'a> {
    pub identity_id: i64,
    pub fingerprint: &'a str,
    pub network: &'a str,
    pub handle_key: Option<String>,
}

/// Records `resolutions` as resolved against the CRM at `version`, at `now`.
pub async fn record_resolutions(
    conn: &mut AnyConnection,
    backend: Backend,
    resolutions: &[Resolution<'_>],
    version: i64,
    now: i64,
) -> Result<(), sqlx::Error> {
    for chunk in resolutions.chunks(CHUNK / 6) {
        let sql = format!(
            "INSERT INTO identity_resolution (identity_id, fingerprint, network, handle_key, crm_version, \
             resolved_at) VALUES {} ON CONFLICT (identity_id) DO UPDATE SET fingerprint = excluded.fingerprint, \
             network = excluded.network, handle_key = excluded.handle_key, crm_version = excluded.crm_version, \
             resolved_at = excluded.resolved_at",
            placeholders(chunk.len(), 6)
        );
        let mut query = sqlx::query(backend.sql(sql)).persistent(keep_prepared(backend));
        for r in chunk {
            query = query
                .bind(r.identity_id)
                .bind(r.fingerprint)
                .bind(r.network)
                .bind(r.handle_key.as_deref())
                .bind(version)
                .bind(now);
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Up to `limit` identities after `after`, in id order, never resolved or
/// last resolved against a CRM older than `version`.
pub async fn identities_behind(db: &Db, after: i64, version: i64, limit: i64) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT i.id FROM identities i LEFT JOIN identity_resolution r ON r.identity_id = i.id \
         WHERE i.id > $1 AND (r.identity_id IS NULL OR r.crm_version < $2) ORDER BY i.id LIMIT $3",
    )
    .bind(after)
    .bind(version)
    .bind(limit)
    .fetch_all(db.pool())
    .await
}

/// The posts of `identities`, in one `IN` list (callers pass a few hundred).
pub async fn posts_of(db: &Db, identities: &[i64]) -> Result<Vec<i64>, sqlx::Error> {
    let sql = format!(
        "SELECT id FROM posts WHERE identity_id IN {}",
        placeholders(1, identities.len())
    );
    let mut query = sqlx::query_scalar(db.backend().sql(sql));
    for id in identities {
        query = query.bind(*id);
    }
    query.fetch_all(db.pool()).await
}

/// What to look up, each by indexed equality (see [`look_up`]).
#[derive(Clone, Debug, Default)]
pub struct Lookup {
    /// Contacts' `email`.
    pub emails: Vec<String>,
    /// Contacts' `phone`.
    pub phones: Vec<String>,
    /// Contacts' `website`.
    pub websites: Vec<String>,
    /// Transactions' `reference` and `external_id`.
    pub order_references: Vec<String>,
    /// Contacts' `lower(name)`.
    pub names: Vec<String>,
    /// Handles contacts list, by network. A network is one of
    /// `crm::contact::NETWORKS`, whose expressions migration 0004 indexes:
    /// a constant, never data.
    pub handles: BTreeMap<&'static str, Vec<String>>,
    /// `identity_resolution.handle_key`: the links of identities with the key.
    pub handle_keys: Vec<String>,
}

/// What a value looked up was found as.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Found {
    Email,
    Phone,
    Website,
    OrderReference,
    Name,
    Handle {
        network: String,
    },
    /// A link of the identity `identity_id` (on `network`) with this handle key.
    SameHandle {
        identity_id: i64,
        network: String,
        status: String,
    },
}

/// One value found in a contact (or a transaction or link of it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Match {
    pub found: Found,
    pub contact_id: i64,
    /// The value as stored.
    pub value: String,
}

/// One part of a lookup: `columns` are `k` (what was looked up), `id` (the
/// contact), `v` (the value found), `x` (an identity id or 0), `n` (a
/// network or '') and `st` (a link's status or '').
struct Part {
    columns: String,
    from: String,
    expr: String,
    values: Vec<String>,
}

/// The columns of a lookup part; `tag` and `network` are constants, never data.
fn columns(tag: &str, id: &str, value: &str, network: &str) -> String {
    format!(
        "CAST('{tag}' AS TEXT) AS k, {id} AS id, {value} AS v, CAST(0 AS BIGINT) AS x, \
         CAST('{network}' AS TEXT) AS n, CAST('' AS TEXT) AS st"
    )
}

/// Looks every value of `lookup` up in as few queries as fit (a part per
/// kind), all by indexed equality. Rows without a value are left out.
pub async fn look_up(db: &Db, lookup: Lookup) -> Result<Vec<Match>, sqlx::Error> {
    let mut parts = Vec::new();
    let mut part = |columns: String, from: &str, expr: &str, values: Vec<String>| {
        if !values.is_empty() {
            parts.push(Part {
                columns,
                from: from.to_string(),
                expr: expr.to_string(),
                values,
            })
        }
    };
    part(columns("e", "id", "email", ""), "contacts", "email", lookup.emails);
    part(columns("p", "id", "phone", ""), "contacts", "phone", lookup.phones);
    part(
        columns("w", "id", "website", ""),
        "contacts",
        "website",
        lookup.websites,
    );
    if !lookup.order_references.is_empty() {
        let (refs, ids) = (
            columns("r", "contact_id", "reference", ""),
            columns("r", "contact_id", "external_id", ""),
        );
        part(refs, "transactions", "reference", lookup.order_references.clone());
        part(ids, "transactions", "external_id", lookup.order_references);
    }
    part(columns("m", "id", "name", ""), "contacts", "lower(name)", lookup.names);
    for (network, values) in lookup.handles {
        // The expression migration 0004 indexes.
        let expr = match db.backend() {
            Backend::Sqlite => format!("json_extract(handles, '$.{network}')"),
            Backend::Postgres => format!("(handles::jsonb ->> '{network}')"),
        };
        part(columns("h", "id", &expr, network), "contacts", &expr, values);
    }
    // The status is checked by the caller, not in SQL: a condition on it
    // would lead the planners to the status index, that is every confirmed link.
    let from = match db.backend() {
        Backend::Sqlite => "identity_resolution r JOIN identity_links l ON l.identity_id = r.identity_id",
        Backend::Postgres => {
            "identity_resolution r CROSS JOIN LATERAL (SELECT contact_id, status FROM identity_links \
             WHERE identity_id = r.identity_id OFFSET 0) AS l"
        }
    };
    part(
        "CAST('s' AS TEXT) AS k, l.contact_id AS id, r.handle_key AS v, r.identity_id AS x, r.network AS n, \
         l.status AS st"
            .into(),
        from,
        "r.handle_key",
        lookup.handle_keys,
    );

    let mut out = Vec::new();
    for row in fetch_union(db, parts).await? {
        let (tag, contact_id): (String, i64) = (row.try_get("k")?, row.try_get("id")?);
        let Some(value) = row.try_get::<Option<String>, _>("v")? else {
            continue;
        };
        let found = match tag.as_str() {
            "e" => Found::Email,
            "p" => Found::Phone,
            "w" => Found::Website,
            "r" => Found::OrderReference,
            "m" => Found::Name,
            "h" => Found::Handle {
                network: row.try_get("n")?,
            },
            "s" => Found::SameHandle {
                identity_id: row.try_get("x")?,
                network: row.try_get("n")?,
                status: row.try_get("st")?,
            },
            _ => continue,
        };
        out.push(Match {
            found,
            contact_id,
            value,
        });
    }
    Ok(out)
}

/// Runs `parts` as few `UNION ALL` queries, each part on its own index.
async fn fetch_union(db: &Db, parts: Vec<Part>) -> Result<Vec<AnyRow>, sqlx::Error> {
    let mut chunks: Vec<(&Part, &[String])> = Vec::new();
    for part in &parts {
        for values in part.values.chunks(CHUNK) {
            chunks.push((part, values));
        }
    }
    let mut rows = Vec::new();
    let mut rest = chunks.as_slice();
    while !rest.is_empty() {
        // As many parts as fit (at least one; SQLite allows 500 per compound SELECT).
        let (mut take, mut n) = (0, 0);
        while take < rest.len() && take < 100 && (take == 0 || n + rest[take].1.len() <= MAX_PARAMS) {
            n += rest[take].1.len();
            take += 1;
        }
        let (batch, tail) = rest.split_at(take);
        rest = tail;
        let mut next = 1;
        let sql = batch
            .iter()
            .map(|(part, values)| {
                let sql = lookup_sql(
                    db.backend(),
                    &part.columns,
                    &part.from,
                    &part.expr,
                    next,
                    values.len(),
                    "",
                );
                next += values.len();
                sql
            })
            .collect::<Vec<_>>()
            .join(" UNION ALL ");
        let mut query = sqlx::query(db.backend().sql(sql)).persistent(keep_prepared(db.backend()));
        for value in batch.iter().flat_map(|(_, values)| values.iter()) {
            query = query.bind(value.as_str());
        }
        rows.extend(query.fetch_all(db.pool()).await?);
    }
    Ok(rows)
}

/// A stored link as the resolver weighs it.
#[derive(Clone, Debug)]
pub struct StoredLink {
    pub id: i64,
    pub identity_id: i64,
    pub contact_id: i64,
    pub status: String,
    /// JSON, as stored.
    pub evidence: String,
}

/// The links of `identities`.
pub async fn links_of(
    conn: &mut AnyConnection,
    backend: Backend,
    identities: &[i64],
) -> Result<Vec<StoredLink>, sqlx::Error> {
    let mut out = Vec::new();
    for chunk in identities.chunks(CHUNK) {
        let columns = "id, identity_id, contact_id, status, evidence";
        let sql = lookup_sql(backend, columns, "identity_links", "identity_id", 1, chunk.len(), "");
        let mut query = sqlx::query(backend.sql(sql)).persistent(keep_prepared(backend));
        for id in chunk {
            query = query.bind(*id);
        }
        for row in query.fetch_all(&mut *conn).await? {
            out.push(StoredLink {
                id: row.try_get("id")?,
                identity_id: row.try_get("identity_id")?,
                contact_id: row.try_get("contact_id")?,
                status: row.try_get("status")?,
                evidence: row.try_get("evidence")?,
            });
        }
    }
    Ok(out)
}

/// A link to insert.
#[derive(Clone, Debug)]
pub struct NewLink<'a> {
    pub identity_id: i64,
    pub contact_id: i64,
    pub method: &'a str,
    pub confidence: f64,
    /// JSON.
    pub evidence: &'a str,
    pub status: &'a str,
    pub decided_by: Option<&'a str>,
    pub decided_at: Option<i64>,
    pub now: i64,
}

/// Inserts `link`; its id, or `None` when the pair has a link already.
pub async fn insert_link(conn: &mut AnyConnection, link: &NewLink<'_>) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO identity_links (identity_id, contact_id, method, confidence, evidence, status, \
         decided_by, decided_at, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
         ON CONFLICT (identity_id, contact_id) DO NOTHING RETURNING id",
    )
    .bind(link.identity_id)
    .bind(link.contact_id)
    .bind(link.method)
    .bind(link.confidence)
    .bind(link.evidence)
    .bind(link.status)
    .bind(link.decided_by)
    .bind(link.decided_at)
    .bind(link.now)
    .bind(link.now)
    .fetch_optional(conn)
    .await
}

/// A change of a link, made only while it still has status `from`.
#[derive(Clone, Debug)]
pub struct LinkChange<'a> {
    pub id: i64,
    pub from: &'a str,
    pub to: &'a str,
    pub method: &'a str,
    pub confidence: f64,
    /// JSON.
    pub evidence: &'a str,
    /// Who decides it.
    pub actor: &'a str,
    pub now: i64,
}

/// Makes `change`, recording its actor and time as the decision only when
/// `decided`. Returns the rows changed (0: the link changed meanwhile).
pub async fn update_link(conn: &mut AnyConnection, change: &LinkChange<'_>, decided: bool) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE identity_links SET status = $1, method = $2, confidence = $3, evidence = $4, \
         decided_by = CASE WHEN $5 = 1 THEN $6 ELSE decided_by END, \
         decided_at = CASE WHEN $7 = 1 THEN $8 ELSE decided_at END, updated_at = $9 \
         WHERE id = $10 AND status = $11",
    )
    .bind(change.to)
    .bind(change.method)
    .bind(change.confidence)
    .bind(change.evidence)
    .bind(i64::from(decided))
    .bind(change.actor)
    .bind(i64::from(decided))
    .bind(change.now)
    .bind(change.now)
    .bind(change.id)
    .bind(change.from)
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

/// Makes `change`, a person's decision.
pub async fn decide_link(conn: &mut AnyConnection, change: &LinkChange<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE identity_links SET status = $1, method = $2, confidence = $3, evidence = $4, \
         decided_by = $5, decided_at = $6, updated_at = $7 WHERE id = $8 AND status = $9",
    )
    .bind(change.to)
    .bind(change.method)
    .bind(change.confidence)
    .bind(change.evidence)
    .bind(change.actor)
    .bind(change.now)
    .bind(change.now)
    .bind(change.id)
    .bind(change.from)
    .execute(conn)
    .await?;
    Ok(())
}

/// A write to link `id` that changes nothing: takes SQLite's write lock, and
/// the row's lock on PostgreSQL.
pub async fn lock_link(conn: &mut AnyConnection, id: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE identity_links SET updated_at = updated_at WHERE id = $1")
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Link `id`'s (identity, contact, status).
pub async fn link_state(conn: &mut AnyConnection, id: i64) -> Result<Option<(i64, i64, String)>, sqlx::Error> {
    let row = sqlx::query("SELECT identity_id, contact_id, status FROM identity_links WHERE id = $1")
        .bind(id)
        .fetch_optional(conn)
        .await?;
    row.map(|r| {
        Ok((
            r.try_get("identity_id")?,
            r.try_get("contact_id")?,
            r.try_get("status")?,
        ))
    })
    .transpose()
}

/// Sets link `id`'s status to `to`, decided by `actor` at `now`.
pub async fn set_link_status(
    conn: &mut AnyConnection,
    id: i64,
    to: &str,
    actor: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE identity_links SET status = $1, decided_by = $2, decided_at = $3, updated_at = $4 WHERE id = $5",
    )
    .bind(to)
    .bind(actor)
    .bind(now)
    .bind(now)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(())
}

/// The link of the pair: (id, status, evidence JSON).
pub async fn pair_link(
    conn: &mut AnyConnection,
    identity_id: i64,
    contact_id: i64,
) -> Result<(i64, String, String), sqlx::Error> {
    let row = sqlx::query("SELECT id, status, evidence FROM identity_links WHERE identity_id = $1 AND contact_id = $2")
        .bind(identity_id)
        .bind(contact_id)
        .fetch_one(conn)
        .await?;
    Ok((row.try_get("id")?, row.try_get("status")?, row.try_get("evidence")?))
}

/// Whether identity `id` exists.
pub async fn identity_exists(db: &Db, id: i64) -> Result<bool, sqlx::Error> {
    let row = sqlx::query("SELECT id FROM identities WHERE id = $1")
        .bind(id)
        .fetch_optional(db.pool())
        .await?;
    Ok(row.is_some())
}

const VIEW: &str = "SELECT l.id, l.identity_id, i.network, i.handle, i.display_name, l.contact_id, \
     c.name AS contact_name, c.external_id AS contact_external_id, l.method, l.confidence, l.evidence, l.status, \
     l.decided_by, l.decided_at, l.created_at, l.updated_at FROM identity_links l \
     JOIN identities i ON i.id = l.identity_id JOIN contacts c ON c.id = l.contact_id";

/// A link with its identity and contact.
#[derive(Clone, Debug, PartialEq)]
pub struct LinkRow {
    pub id: i64,
    pub identity_id: i64,
    pub network: String,
    pub handle: String,
    pub display_name: Option<String>,
    pub contact_id: i64,
    pub contact_name: Option<String>,
    pub contact_external_id: String,
    pub method: String,
    pub confidence: f64,
    /// JSON, as stored.
    pub evidence: String,
    pub status: String,
    pub decided_by: Option<String>,
    pub decided_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

fn link_row(row: &AnyRow) -> Result<LinkRow, sqlx::Error> {
    Ok(LinkRow {
        id: row.try_get("id")?,
        identity_id: row.try_get("identity_id")?,
        network: row.try_get("network")?,
        handle: row.try_get("handle")?,
        display_name: row.try_get("display_name")?,
        contact_id: row.try_get("contact_id")?,
        contact_name: row.try_get("contact_name")?,
        contact_external_id: row.try_get("contact_external_id")?,
        method: row.try_get("method")?,
        confidence: row.try_get("confidence")?,
        evidence: row.try_get("evidence")?,
        status: row.try_get("status")?,
        decided_by: row.try_get("decided_by")?,
        decided_at: row.try_get("decided_at")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

/// Link `id`.
pub async fn link(db: &Db, id: i64) -> Result<Option<LinkRow>, sqlx::Error> {
    let row = sqlx::query(AssertSqlSafe(format!("{VIEW} WHERE l.id = $1")))
        .bind(id)
        .fetch_optional(db.pool())
        .await?;
    row.as_ref().map(link_row).transpose()
}

/// The order of a page of links.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkOrder {
    /// Most confident first; a page goes on after (confidence, id).
    Confidence,
    /// Most recently changed first; a page goes on after (updated_at, id).
    Updated,
}

/// At most `limit` links with `status` (all when empty) in `order`, after
/// the link `id` whose sort key is `key`.
pub async fn links_page(
    db: &Db,
    status: &str,
    order: LinkOrder,
    (key, id): (f64, i64),
    limit: i64,
) -> Result<Vec<LinkRow>, sqlx::Error> {
    let (after_sql, order) = match order {
        LinkOrder::Confidence => (
            "(l.confidence < $2 OR (l.confidence = $2 AND l.id > $3))",
            "l.confidence DESC, l.id",
        ),
        LinkOrder::Updated => (
            "(l.updated_at < $2 OR (l.updated_at = $2 AND l.id < $3))",
            "l.updated_at DESC, l.id DESC",
        ),
    };
    let rows = sqlx::query(AssertSqlSafe(format!(
        "{VIEW} WHERE ($1 = '' OR l.status = $1) AND {after_sql} ORDER BY {order} LIMIT $4"
    )))
    .bind(status)
    .bind(key)
    .bind(id)
    .bind(limit)
    .fetch_all(db.pool())
    .await?;
    rows.iter().map(link_row).collect()
}

/// The links of contact `contact_id` but those with status `except`, by
/// status, then most confident first.
pub async fn contact_links(db: &Db, contact_id: i64, except: &str) -> Result<Vec<LinkRow>, sqlx::Error> {
    let rows = sqlx::query(AssertSqlSafe(format!(
        "{VIEW} WHERE l.contact_id = $1 AND l.status <> $2 ORDER BY l.status, l.confidence DESC, l.id"
    )))
    .bind(contact_id)
    .bind(except)
    .fetch_all(db.pool())
    .await?;
    rows.iter().map(link_row).collect()
}

/// Stores a verification of link `link_id` (the token only as its hash);
/// returns its id.
pub async fn insert_verification(
    conn: &mut AnyConnection,
    link_id: i64,
    token_hash: &str,
    created_by: &str,
    created_at: i64,
    expires_at: i64,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO identity_verifications (link_id, token_hash, created_by, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(link_id)
    .bind(token_hash)
    .bind(created_by)
    .bind(created_at)
    .bind(expires_at)
    .fetch_one(conn)
    .await
}

/// The (network, handle) of the identity an unused, unexpired verification
/// asks about, while its link has status `status`.
pub async fn pending_verification(
    db: &Db,
    token_hash: &str,
    now: i64,
    status: &str,
) -> Result<Option<(String, String)>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT i.network, i.handle FROM identity_verifications v JOIN identity_links l ON l.id = v.link_id \
         JOIN identities i ON i.id = l.identity_id \
         WHERE v.token_hash = $1 AND v.completed_at IS NULL AND v.expires_at > $2 AND l.status = $3",
    )
    .bind(token_hash)
    .bind(now)
    .bind(status)
    .fetch_optional(db.pool())
    .await?;
    row.map(|r| Ok((r.try_get("network")?, r.try_get("handle")?)))
        .transpose()
}

/// Uses up the unused, unexpired verification with `token_hash`: its (id,
/// link id, creator), or `None` when there is none.
pub async fn use_verification(
    conn: &mut AnyConnection,
    token_hash: &str,
    now: i64,
) -> Result<Option<(i64, i64, String)>, sqlx::Error> {
    let row = sqlx::query(
        "UPDATE identity_verifications SET completed_at = $1 \
         WHERE token_hash = $2 AND completed_at IS NULL AND expires_at > $3 RETURNING id, link_id, created_by",
    )
    .bind(now)
    .bind(token_hash)
    .bind(now)
    .fetch_optional(conn)
    .await?;
    row.map(|r| Ok((r.try_get("id")?, r.try_get("link_id")?, r.try_get("created_by")?)))
        .transpose()
}

/// Link `id`'s (identity, contact, evidence JSON) while it has `status`.
pub async fn link_with_status(
    conn: &mut AnyConnection,
    id: i64,
    status: &str,
) -> Result<Option<(i64, i64, String)>, sqlx::Error> {
    let row = sqlx::query("SELECT identity_id, contact_id, evidence FROM identity_links WHERE id = $1 AND status = $2")
        .bind(id)
        .bind(status)
        .fetch_optional(conn)
        .await?;
    row.map(|r| {
        Ok((
            r.try_get("identity_id")?,
            r.try_get("contact_id")?,
            r.try_get("evidence")?,
        ))
    })
    .transpose()
}

/// Confirms link `id` as the customer's own decision: status `to`, `method`,
/// confidence 1, `evidence` (JSON), decided by `actor` at `now`.
pub async fn verify_link(
    conn: &mut AnyConnection,
    id: i64,
    to: &str,
    method: &str,
    evidence: &str,
    actor: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE identity_links SET status = $1, method = $2, confidence = 1.0, evidence = $3, decided_by = $4, \
         decided_at = $5, updated_at = $6 WHERE id = $7",
    )
    .bind(to)
    .bind(method)
    .bind(evidence)
    .bind(actor)
    .bind(now)
    .bind(now)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(())
}
