//! Everything held about a subject, by table: the rows `store::subjects::about`
//! names by key, the events and alerts about its posts, any other row of any
//! table that mentions its identifiers, and the plugins' key-value entries
//! that do.

use std::collections::{BTreeMap, BTreeSet};

use base64::Engine as _;
use serde::Serialize;
use serde_json::{Map, Value};

use super::needles::contains;
use super::{PrivacyError, Subject};
use crate::store::catalogue::{self, Table};
use crate::store::{Db, subjects};

/// Tables that hold no one's data, or only the erasure's own record: the
/// erasure receipts (whose plan lists what a running erasure looks for,
/// emptied when it ends) and the do-not-track list (keyed hashes).
pub const EXEMPT_TABLES: [&str; 2] = ["erasures", "do_not_track"];

/// Name fields of other records: a homonym there is another person.
pub const NAME_FIELDS: [(&str, &str); 2] = [("contacts", "name"), ("identities", "display_name")];

/// Whether `column` of `table` is a name field ([`NAME_FIELDS`]).
pub fn name_field(table: &str, column: &str) -> bool {
    NAME_FIELDS.contains(&(table, column))
}

/// A plugin key-value entry that mentions the subject.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct PluginEntry {
    pub channel: String,
    pub key: String,
    /// The value as text (bytes that are not UTF-8 are replaced).
    pub value: String,
}

/// The rows about a subject.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Holdings {
    /// Table name → rows (each a JSON object of its columns).
    pub tables: BTreeMap<String, Vec<Map<String, Value>>>,
    pub plugin_data: Vec<PluginEntry>,
}

impl Holdings {
    /// Rows per kind (table, and `plugin_data`), kinds without rows left out.
    pub fn counts(&self) -> BTreeMap<String, usize> {
        let mut out: BTreeMap<String, usize> = self
            .tables
            .iter()
            .filter(|(_, rows)| !rows.is_empty())
            .map(|(t, rows)| (t.clone(), rows.len()))
            .collect();
        if !self.plugin_data.is_empty() {
            out.insert("plugin_data".into(), self.plugin_data.len());
        }
        out
    }
}

/// Everything held about `subject`.
pub async fn holdings(db: &Db, subject: &Subject) -> Result<Holdings, PrivacyError> {
    let tables = catalogue::tables(db).await?;
    let keys: BTreeMap<&str, &Table> = tables.iter().map(|t| (t.name.as_str(), t)).collect();
    let mut out = Holdings::default();
    let mut seen: BTreeSet<(String, String)> = BTreeSet::new();
    let mut add = |out: &mut Holdings, table: &str, rows: Vec<Map<String, Value>>| {
        let key_columns = keys.get(table).map(|t| t.key.clone()).unwrap_or_default();
        for row in rows {
            let key: Vec<String> = key_columns
                .iter()
                .map(|c| row.get(c).map(Value::to_string).unwrap_or_default())
                .collect();
            if seen.insert((table.to_string(), key.join("|"))) {
                out.tables.entry(table.to_string()).or_default().push(row);
            }
        }
    };
    for (table, condition) in subjects::about(&subject.ids) {
        let rows = subjects::rows_where(db, table, &condition).await?;
        add(&mut out, table, rows);
    }
    let events = subjects::rows_where(db, "event_outbox", &subjects::events_about(db.backend(), &subject.ids)).await?;
    add(&mut out, "event_outbox", events);
    let posts: BTreeSet<i64> = out
        .tables
        .get("posts")
        .into_iter()
        .flatten()
        .filter_map(|p| p.get("id").and_then(Value::as_i64))
        .collect();
    let alerts = subjects::rows_where(db, "alerts", "1 = 1").await?;
    let quoting = alerts
        .into_iter()
        .filter(|a| {
            let examples: Vec<i64> = a
                .get("examples")
                .and_then(Value::as_str)
                .and_then(|e| serde_json::from_str(e).ok())
                .unwrap_or_default();
            examples.iter().any(|e| posts.contains(e))
        })
        .collect();
    add(&mut out, "alerts", quoting);
    for table in tables.iter().filter(|t| !EXEMPT_TABLES.contains(&t.name.as_str())) {
        let rows = mentioning(db, table, subject).await?;
        add(&mut out, &table.name, rows);
    }
    out.plugin_data = plugin_data(db, subject).await?;
    Ok(out)
}

/// The rows of `table` that mention the subject's identifiers as whole tokens.
pub async fn mentioning(db: &Db, table: &Table, subject: &Subject) -> Result<Vec<Map<String, Value>>, PrivacyError> {
    let needles = |column: &str| subject.needles.matching(name_field(&table.name, column));
    let rows = subjects::rows_mentioning(db, table, needles).await?;
    Ok(rows
        .into_iter()
        .filter(|row| {
            table.text_columns.iter().any(|c| {
                row.get(c)
                    .and_then(Value::as_str)
                    .is_some_and(|text| contains(text, &needles(c)))
            })
        })
        .collect())
}

/// The plugins' key-value entries whose key or value mentions the subject.
pub async fn plugin_data(db: &Db, subject: &Subject) -> Result<Vec<PluginEntry>, PrivacyError> {
    let needles = subject.needles.matching(false);
    let mut out = Vec::new();
    for (id, channel, _) in subjects::channel_accounts(db).await? {
        let kv = subjects::channel_kv(db, id).await?.unwrap_or_default();
        for (key, value) in decode(&kv) {
            if contains(&key, &needles) || contains(&value, &needles) {
                out.push(PluginEntry {
                    channel: channel.clone(),
                    key,
                    value,
                });
            }
        }
    }
    Ok(out)
}

/// A stored key-value map (JSON object of base64 values) as text pairs.
pub fn decode(kv: &str) -> Vec<(String, String)> {
    let map: BTreeMap<String, String> = serde_json::from_str(kv).unwrap_or_default();
    map.into_iter()
        .map(|(k, v)| {
            let bytes = base64::engine::general_purpose::STANDARD.decode(&v).unwrap_or_default();
            (k, String::from_utf8_lossy(&bytes).into_owned())
        })
        .collect()
}
