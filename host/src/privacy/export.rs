//! A subject's data as one archive (GDPR Art. 15 and 20): a tar of JSON
//! (structure: JSON held in text columns is unfolded) and CSV (the same rows
//! flat) per table, the plugins' entries, a manifest with the counts and a
//! README describing each file.

use std::io::Write;

use serde_json::{Map, Value, json};

use super::holdings::{Holdings, PluginEntry};
use super::{PrivacyError, Subject};
use crate::store::{self, Db};

/// The archive format's name and version (manifest.json `format`).
pub const FORMAT: &str = "socialcrm-subject-export/1";

/// What each table's file holds, for the README (tables not listed are
/// described by their name: a table added later is still exported).
const DESCRIPTIONS: [(&str, &str); 17] = [
    ("contacts", "the CRM contact records"),
    ("transactions", "orders, refunds and other transactions of the contacts"),
    (
        "contact_scores",
        "value and churn-risk scores computed for the contacts",
    ),
    (
        "identities",
        "social network identities (handle, profile) of the person",
    ),
    (
        "identity_links",
        "links between identities and contacts, with evidence and who decided",
    ),
    ("identity_verifications", "verification requests for identity links"),
    (
        "identity_resolution",
        "what the identity resolver last saw of each identity",
    ),
    (
        "posts",
        "posts written by the person (text and the network's raw payload), and posts by others that mention them",
    ),
    (
        "analyses",
        "sentiment, intent, topic and language analyses of the posts",
    ),
    ("post_scores", "inbox priority scores of the posts"),
    ("post_topics", "topics of the posts used for trends"),
    ("advocacy_events", "advocacy points earned"),
    ("replies", "replies sent to the person's posts"),
    ("response_recipients", "responses addressed to the person's posts"),
    ("responses", "responses written for the person"),
    ("audit_log", "audit entries about the person's records"),
    ("event_outbox", "webhook events about the person's posts and records"),
];

/// Writes the archive of `holdings` (of `subject`) to `out` and audits it.
pub async fn export(
    db: &Db,
    subject: &Subject,
    holdings: &Holdings,
    actor: &str,
    out: impl Write,
) -> Result<(), PrivacyError> {
    let now = store::now_ms();
    let mut tar = tar::Builder::new(out);
    let counts = holdings.counts();
    let mut files = Vec::new();
    for (table, rows) in &holdings.tables {
        if rows.is_empty() {
            continue;
        }
        let structured: Vec<Value> = rows.iter().map(|r| Value::Object(unfold(r))).collect();
        add(
            &mut tar,
            &format!("{table}.json"),
            &serde_json::to_vec_pretty(&structured)?,
            now,
        )?;
        add(&mut tar, &format!("{table}.csv"), &csv_of(rows)?, now)?;
        files.push(table.as_str());
    }
    if !holdings.plugin_data.is_empty() {
        add(
            &mut tar,
            "plugin_data.json",
            &serde_json::to_vec_pretty(&holdings.plugin_data)?,
            now,
        )?;
        let rows: Vec<Map<String, Value>> = holdings.plugin_data.iter().map(plugin_row).collect();
        add(&mut tar, "plugin_data.csv", &csv_of(&rows)?, now)?;
    }
    let manifest = json!({
        "format": FORMAT,
        "generated_at": now,
        "subject": { "contacts": subject.ids.contacts, "identities": subject.ids.identities },
        "counts": counts,
    });
    add(&mut tar, "manifest.json", &serde_json::to_vec_pretty(&manifest)?, now)?;
    add(
        &mut tar,
        "README.md",
        readme(&files, !holdings.plugin_data.is_empty()).as_bytes(),
        now,
    )?;
    tar.into_inner()?.flush()?;
    store::audit(
        db.pool(),
        actor,
        "subject.export",
        &audit_subject(subject),
        &json!({ "counts": counts }),
    )
    .await?;
    Ok(())
}

/// What the audit entry names: the subject's first record (an erasure later
/// reduces entries about it to the fact of the erasure).
pub fn audit_subject(subject: &Subject) -> String {
    match (subject.ids.contacts.first(), subject.ids.identities.first()) {
        (Some(c), _) => format!("contact:{c}"),
        (None, Some(i)) => format!("identity:{i}"),
        (None, None) => "subject".into(),
    }
}

fn add<W: Write>(tar: &mut tar::Builder<W>, name: &str, bytes: &[u8], now: i64) -> std::io::Result<()> {
    let mut header = tar::Header::new_gnu();
    header.set_size(bytes.len() as u64);
    header.set_mode(0o600);
    header.set_mtime(u64::try_from(now / 1000).unwrap_or(0));
    header.set_cksum();
    tar.append_data(&mut header, name, bytes)
}

/// Text columns holding a JSON object or array, as structure.
fn unfold(row: &Map<String, Value>) -> Map<String, Value> {
    row.iter()
        .map(|(k, v)| {
            let v = match v.as_str() {
                Some(text) if text.starts_with('{') || text.starts_with('[') => {
                    serde_json::from_str(text).unwrap_or_else(|_| v.clone())
                }
                _ => v.clone(),
            };
            (k.clone(), v)
        })
        .collect()
}

fn plugin_row(e: &PluginEntry) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("channel".into(), e.channel.clone().into());
    m.insert("key".into(), e.key.clone().into());
    m.insert("value".into(), e.value.clone().into());
    m
}

/// The rows as CSV, with the first row's columns as the header.
fn csv_of(rows: &[Map<String, Value>]) -> Result<Vec<u8>, PrivacyError> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let columns: Vec<&String> = rows.first().map(|r| r.keys().collect()).unwrap_or_default();
    w.write_record(columns.iter().map(|c| c.as_str()))
        .map_err(std::io::Error::other)?;
    for row in rows {
        let record = columns.iter().map(|c| match row.get(*c) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Null) | None => String::new(),
            Some(v) => v.to_string(),
        });
        w.write_record(record).map_err(std::io::Error::other)?;
    }
    w.into_inner().map_err(|e| std::io::Error::other(e.to_string()).into())
}

fn readme(files: &[&str], plugin_data: bool) -> String {
    let mut out = String::from(
        "# Personal data export\n\n\
         Everything this socialcrm installation holds about one person, as of the\n\
         time in manifest.json (`generated_at`, Unix milliseconds; every time in\n\
         these files is Unix milliseconds, UTC). `manifest.json` lists the\n\
         contacts and social identities the export covers and the number of\n\
         rows per file. Each table has two files: `.json` (rows as objects;\n\
         JSON held in a column is shown as structure) and `.csv` (the same rows,\n\
         one column per field).\n\nFiles:\n\n",
    );
    for table in files {
        let what = DESCRIPTIONS
            .iter()
            .find(|(t, _)| t == table)
            .map(|(_, d)| *d)
            .unwrap_or("rows of this table that mention the person");
        out.push_str(&format!("- `{table}.json`, `{table}.csv`: {what}.\n"));
    }
    if plugin_data {
        out.push_str(
            "- `plugin_data.json`, `plugin_data.csv`: entries that channel plugins keep \
             about the person (channel, key, value).\n",
        );
    }
    out
}
