//! Lookups: every probe of a batch of identities in one `UNION ALL` query by
//! indexed equality, and the candidates each identity's probes found.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use sqlx::Row;
use sqlx::any::AnyRow;

use super::contact::NETWORKS;
use super::extract::{ascii_lower, full_lower, name_key};
use super::plan::{Candidate, Status, ambiguous};
use super::probes::{Kind, Probe, Subject};
use super::{CHUNK, Evidence, MAX_MATCHES, weight};
use crate::store::{Backend, Db, lookup_sql};

/// Whether a query with an `IN` list is kept prepared. On PostgreSQL it is
/// planned with its values each time instead: a prepared statement's generic
/// plan, made while a table was small (a sequential scan), is kept as the table
/// grows until the next ANALYZE, and a burst of ingest outruns autovacuum.
pub(super) fn keep_prepared(db: &Db) -> bool {
    db.backend() == Backend::Sqlite
}

/// `$start, $start+1, ...` for `n` values.
pub(super) fn params(start: usize, n: usize) -> String {
    (start..start + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Contacts by lookup key, per kind; same-handle keys also carry the other identity.
#[derive(Default)]
pub(super) struct Matches {
    pub(super) by_kind: HashMap<(Kind, String), BTreeSet<i64>>,
    /// key → (contact, identity id, network) of confirmed links.
    pub(super) same_handle: HashMap<String, Vec<(i64, i64, String)>>,
}

impl Matches {
    fn add(&mut self, kind: Kind, key: String, contact: i64) {
        self.by_kind.entry((kind, key)).or_default().insert(contact);
    }
}

pub(super) fn digits_of(phone: &str) -> String {
    phone.chars().filter(char::is_ascii_digit).collect()
}

/// Bound values per lookup query (SQLite allows 32,766, PostgreSQL 65,535).
pub(super) const MAX_PARAMS: usize = 2000;

/// One part of a lookup: `columns` are `k` (what was looked up), `id` (the
/// contact), `v` (the value found), `x` (an identity id or 0), `n` (a
/// network or '') and `st` (a link's status or '').
pub(super) struct Part {
    columns: String,
    from: String,
    expr: String,
    values: Vec<String>,
}

/// Runs `parts` as few `UNION ALL` queries, each part on its own index.
pub(super) async fn fetch_union(db: &Db, parts: Vec<Part>) -> Result<Vec<AnyRow>, sqlx::Error> {
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
        let mut query = sqlx::query(db.backend().sql(sql)).persistent(keep_prepared(db));
        for value in batch.iter().flat_map(|(_, values)| values.iter()) {
            query = query.bind(value.as_str());
        }
        rows.extend(query.fetch_all(db.pool()).await?);
    }
    Ok(rows)
}

/// The columns of a lookup part; `tag` and `network` are constants, never data.
pub(super) fn columns(tag: &str, id: &str, value: &str, network: &str) -> String {
    format!(
        "CAST('{tag}' AS TEXT) AS k, {id} AS id, {value} AS v, CAST(0 AS BIGINT) AS x, \
         CAST('{network}' AS TEXT) AS n, CAST('' AS TEXT) AS st"
    )
}

/// Looks every probe up in one query (a part per kind), all by indexed equality.
pub(super) async fn look_up(db: &Db, work: &[(Subject, Option<String>, Vec<Probe>)]) -> Result<Matches, sqlx::Error> {
    let mut keys: BTreeMap<Kind, BTreeSet<String>> = BTreeMap::new();
    let mut handles: BTreeMap<&'static str, BTreeSet<String>> = BTreeMap::new();
    for (subject, _, probes) in work {
        for p in probes {
            let set = keys.entry(p.kind).or_default();
            match p.kind {
                Kind::Phone => {
                    let d = digits_of(&p.key);
                    set.insert(format!("+{d}"));
                    set.insert(d);
                }
                Kind::OrderReference => {
                    set.insert(p.key.clone());
                    set.insert(p.key.to_uppercase());
                    set.insert(p.key.to_lowercase());
                }
                Kind::Name => {
                    set.insert(p.key.clone());
                    // SQLite's lower() folds ASCII letters only.
                    if p.source == "display_name"
                        && let Some(ascii) = name_key(&p.shown, ascii_lower)
                    {
                        set.insert(ascii);
                    }
                }
                Kind::SameHandle | Kind::Email | Kind::Website => {
                    set.insert(p.key.clone());
                }
                Kind::ContactHandle => {
                    if let Some(&network) = NETWORKS.iter().find(|n| **n == subject.network) {
                        handles.entry(network).or_default().insert(p.key.clone());
                    }
                }
            }
        }
    }
    let mut keys: BTreeMap<Kind, Vec<String>> = keys
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| (k, v.into_iter().collect()))
        .collect();
    let mut parts = Vec::new();
    let mut part = |columns: String, from: &str, expr: &str, values: Vec<String>| {
        parts.push(Part {
            columns,
            from: from.to_string(),
            expr: expr.to_string(),
            values,
        })
    };
    if let Some(v) = keys.remove(&Kind::Email) {
        part(columns("e", "id", "email", ""), "contacts", "email", v);
    }
    if let Some(v) = keys.remove(&Kind::Phone) {
        part(columns("p", "id", "phone", ""), "contacts", "phone", v);
    }
    if let Some(v) = keys.remove(&Kind::Website) {
        part(columns("w", "id", "website", ""), "contacts", "website", v);
    }
    if let Some(v) = keys.remove(&Kind::OrderReference) {
        let (refs, ids) = (
            columns("r", "contact_id", "reference", ""),
            columns("r", "contact_id", "external_id", ""),
        );
        part(refs, "transactions", "reference", v.clone());
        part(ids, "transactions", "external_id", v);
    }
    if let Some(v) = keys.remove(&Kind::Name) {
        part(columns("m", "id", "name", ""), "contacts", "lower(name)", v);
    }
    for (network, values) in handles {
        // The expression migration 0004 indexes; `network` is one of NETWORKS.
        let expr = match db.backend() {
            Backend::Sqlite => format!("json_extract(handles, '$.{network}')"),
            Backend::Postgres => format!("(handles::jsonb ->> '{network}')"),
        };
        part(
            columns("h", "id", &expr, network),
            "contacts",
            &expr,
            values.into_iter().collect(),
        );
    }
    if let Some(v) = keys.remove(&Kind::SameHandle) {
        // The status is checked below, not in SQL: a condition on it would
        // lead the planners to the status index, that is every confirmed link.
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
            v,
        );
    }

    let mut m = Matches::default();
    for row in fetch_union(db, parts).await? {
        let (tag, id): (String, i64) = (row.try_get("k")?, row.try_get("id")?);
        let Some(value) = row.try_get::<Option<String>, _>("v")? else {
            continue;
        };
        match tag.as_str() {
            "e" => m.add(Kind::Email, value, id),
            "p" => m.add(Kind::Phone, digits_of(&value), id),
            "w" => m.add(Kind::Website, value, id),
            "r" => m.add(Kind::OrderReference, value.to_uppercase(), id),
            "m" => {
                if let Some(key) = name_key(&value, full_lower) {
                    m.add(Kind::Name, key, id);
                }
            }
            "h" => {
                let network: String = row.try_get("n")?;
                m.add(Kind::ContactHandle, format!("{network}\n{value}"), id);
            }
            "s" if row.try_get::<String, _>("st")? == Status::Confirmed.as_str() => m
                .same_handle
                .entry(value)
                .or_default()
                .push((id, row.try_get("x")?, row.try_get("n")?)),
            _ => {}
        }
    }
    Ok(m)
}

/// The candidates of one identity from its probes and what they matched.
pub(super) fn candidates(subject: &Subject, probes: &[Probe], m: &Matches) -> Vec<Candidate> {
    let mut out = Vec::new();
    for p in probes {
        // (contact, source) pairs this probe points at.
        let found: Vec<(i64, String)> = match p.kind {
            Kind::SameHandle => {
                let mut seen = BTreeMap::new();
                for (contact, identity, network) in m.same_handle.get(&p.key).into_iter().flatten() {
                    if *network != subject.network && *identity != subject.id {
                        seen.entry(*contact).or_insert_with(|| format!("identity:{identity}"));
                    }
                }
                seen.into_iter().collect()
            }
            kind => {
                let key = match kind {
                    Kind::Phone => digits_of(&p.key),
                    Kind::OrderReference => p.key.to_uppercase(),
                    Kind::ContactHandle => format!("{}\n{}", subject.network, p.key),
                    _ => p.key.clone(),
                };
                m.by_kind
                    .get(&(kind, key))
                    .into_iter()
                    .flatten()
                    .map(|c| (*c, p.source.clone()))
                    .collect()
            }
        };
        let k = found.len();
        if k == 0 || k > MAX_MATCHES {
            continue;
        }
        for (contact_id, source) in found {
            let evidence = Evidence {
                kind: p.kind.as_str().to_string(),
                value: p.shown.clone(),
                source,
                weight: p.weight,
                ambiguous: false,
                matches: None,
            };
            let (evidence, verified) = match (p.verified, k) {
                (true, 1) => (evidence, true),
                (true, _) => (ambiguous(evidence, weight::AMBIGUOUS, k), false),
                (false, 1) => (evidence, false),
                (false, _) => (ambiguous(evidence, p.weight, k), false),
            };
            out.push(Candidate {
                contact_id,
                evidence,
                verified,
            });
        }
    }
    out
}
