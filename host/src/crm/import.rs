//! `socialcrm import contacts|transactions FILE.csv`: header-driven CSV import
//! that upserts on the external CRM id. A bad row is reported with its line and
//! reason and the other rows are imported; importing a file twice changes nothing.
//!
//! Contacts: `id` (required), `name`, `email`, `phone`, `website`, `company`,
//! and one column per network holding the contact's handle there
//! (`mastodon`, `bluesky`, `reddit`, `x`, ...).
//!
//! Transactions: `id` (required), `contact_id` (the contact's `id`, required),
//! `kind` (purchase, refund, return, warranty-claim, ticket, subscription,
//! cancellation), `amount`, `currency` (ISO 4217), `occurred_at` (RFC 3339 or
//! YYYY-MM-DD), `reference`, `product`.

use std::collections::BTreeMap;
use std::io::Read;

use serde_json::json;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::contact::{self, NETWORKS};
use crate::store::contacts::{self as store, ContactRow, TransactionRow};
use crate::store::{Db, audit, now_ms};

/// Rows written per database transaction.
const CHUNK: usize = 500;

pub const TRANSACTION_KINDS: [&str; 7] = [
    "purchase",
    "refund",
    "return",
    "warranty-claim",
    "ticket",
    "subscription",
    "cancellation",
];

/// What an import did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImportReport {
    pub read: usize,
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    /// (line, reason), in file order.
    pub rejected: Vec<(u64, String)>,
    /// Columns the importer does not know (ignored).
    pub ignored_columns: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("reading the CSV: {0}")]
    Csv(#[from] csv::Error),
    #[error("the CSV has no `{0}` column (the header row names the columns)")]
    MissingColumn(&'static str),
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
}

/// Columns by lower-cased name.
struct Columns(BTreeMap<String, usize>);

impl Columns {
    fn new(headers: &csv::StringRecord) -> Columns {
        Columns(
            headers
                .iter()
                .enumerate()
                .map(|(i, h)| (h.trim().to_lowercase(), i))
                .collect(),
        )
    }

    fn get<'r>(&self, record: &'r csv::StringRecord, name: &str) -> &'r str {
        self.0
            .get(name)
            .and_then(|&i| record.get(i))
            .map(str::trim)
            .unwrap_or_default()
    }

    fn unknown(&self, known: &[&str]) -> Vec<String> {
        self.0
            .keys()
            .filter(|k| !known.contains(&k.as_str()))
            .cloned()
            .collect()
    }
}

/// Calls `progress` with the bytes read so far.
pub type Progress<'a> = &'a (dyn Fn(u64) + Sync);

/// Reads every record, parses it, and writes the parsed rows in chunks of
/// [`CHUNK`], each in one database transaction. A bad row is reported with its
/// line and the others go on; an I/O error stops the import.
async fn read_rows<T>(
    reader: &mut csv::Reader<impl Read>,
    report: &mut ImportReport,
    progress: Progress<'_>,
    parse: impl Fn(&csv::StringRecord) -> Result<T, String>,
    mut write: impl AsyncFnMut(Vec<(u64, T)>, &mut ImportReport) -> Result<(), sqlx::Error>,
) -> Result<(), ImportError> {
    let mut chunk = Vec::with_capacity(CHUNK);
    let mut record = csv::StringRecord::new();
    loop {
        let more = match reader.read_record(&mut record) {
            Ok(more) => more,
            Err(e) if matches!(e.kind(), csv::ErrorKind::Io(_)) => return Err(e.into()),
            // A broken row (bad quoting, invalid UTF-8) is that row's problem only.
            Err(e) => {
                report.read += 1;
                report
                    .rejected
                    .push((e.position().map_or(0, |p| p.line()), e.to_string()));
                continue;
            }
        };
        if more {
            report.read += 1;
            let line = record.position().map_or(0, |p| p.line());
            match parse(&record) {
                Ok(row) => chunk.push((line, row)),
                Err(reason) => report.rejected.push((line, reason)),
            }
        }
        if chunk.len() == CHUNK || (!more && !chunk.is_empty()) {
            write(std::mem::take(&mut chunk), report).await?;
            progress(reader.position().byte());
        }
        if !more {
            break;
        }
    }
    // Rows refused while writing (an unknown contact) come after the parse errors.
    report.rejected.sort_by_key(|(line, _)| *line);
    Ok(())
}

fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}

fn parse_contact(columns: &Columns, record: &csv::StringRecord) -> Result<ContactRow, String> {
    let external_id = columns.get(record, "id");
    if external_id.is_empty() {
        return Err("`id` is empty".into());
    }
    let mut handles = BTreeMap::new();
    for network in NETWORKS {
        if let Some(h) = contact::handle(columns.get(record, network)) {
            handles.insert(network.to_string(), h);
        }
    }
    Ok(ContactRow {
        external_id: external_id.to_string(),
        name: non_empty(columns.get(record, "name")),
        email: contact::email(columns.get(record, "email"))?,
        phone: contact::phone(columns.get(record, "phone"))?,
        website: contact::website(columns.get(record, "website"))?,
        company: non_empty(columns.get(record, "company")),
        handles: contact::handles_json(&handles),
    })
}

/// Imports contacts from CSV.
pub async fn contacts(db: &Db, input: impl Read, progress: Progress<'_>) -> Result<ImportReport, ImportError> {
    contacts_as(db, input, progress, "cli").await
}

/// [`contacts`] with `actor` named in the audit log.
pub async fn contacts_as(
    db: &Db,
    input: impl Read,
    progress: Progress<'_>,
    actor: &str,
) -> Result<ImportReport, ImportError> {
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(input);
    let columns = Columns::new(reader.headers()?);
    if !columns.0.contains_key("id") {
        return Err(ImportError::MissingColumn("id"));
    }
    let mut known = vec!["id", "name", "email", "phone", "website", "company"];
    known.extend(NETWORKS);
    let mut report = ImportReport {
        ignored_columns: columns.unknown(&known),
        ..ImportReport::default()
    };
    read_rows(
        &mut reader,
        &mut report,
        progress,
        |r| parse_contact(&columns, r),
        async |rows, report| write_contacts(db, rows, report).await,
    )
    .await?;
    audit(db.pool(), actor, "import.contacts", "contacts", &summary(&report)).await?;
    Ok(report)
}

async fn write_contacts(db: &Db, rows: Vec<(u64, ContactRow)>, report: &mut ImportReport) -> Result<(), sqlx::Error> {
    let mut tx = db.begin().await?;
    let now = now_ms();
    for (_, row) in rows {
        match store::contact(&mut tx, &row.external_id).await? {
            Some(current) if current == row => report.unchanged += 1,
            Some(_) => {
                store::update_contact(&mut tx, &row, now).await?;
                report.updated += 1;
            }
            None => {
                store::insert_contact(&mut tx, &row, now).await?;
                report.created += 1;
            }
        }
    }
    tx.commit().await
}

#[derive(Debug, PartialEq)]
struct CsvTransaction {
    external_id: String,
    contact: String,
    kind: String,
    amount: f64,
    currency: String,
    occurred_at: i64,
    reference: Option<String>,
    product: Option<String>,
}

fn parse_time(raw: &str) -> Result<i64, String> {
    if let Ok(t) = OffsetDateTime::parse(raw, &Rfc3339) {
        return Ok((t.unix_timestamp_nanos() / 1_000_000) as i64);
    }
    let date_format = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(raw, &date_format)
        .map(|d| d.midnight().assume_utc().unix_timestamp() * 1000)
        .map_err(|_| format!("`occurred_at` `{raw}` is not an RFC 3339 time or a YYYY-MM-DD date"))
}

fn parse_transaction(columns: &Columns, record: &csv::StringRecord) -> Result<CsvTransaction, String> {
    let required = |name: &str| {
        let v = columns.get(record, name);
        if v.is_empty() {
            Err(format!("`{name}` is empty"))
        } else {
            Ok(v.to_string())
        }
    };
    let kind = required("kind")?.to_lowercase();
    if !TRANSACTION_KINDS.contains(&kind.as_str()) {
        return Err(format!(
            "`kind` `{kind}` is not one of {}",
            TRANSACTION_KINDS.join(", ")
        ));
    }
    let amount_text = columns.get(record, "amount");
    let amount = if amount_text.is_empty() {
        0.0
    } else {
        amount_text
            .parse::<f64>()
            .ok()
            .filter(|a| a.is_finite())
            .ok_or_else(|| format!("`amount` `{amount_text}` is not a number"))?
    };
    let currency = columns.get(record, "currency").to_uppercase();
    if !(currency.len() == 3 && currency.bytes().all(|b| b.is_ascii_uppercase())) {
        return Err(format!("`currency` `{currency}` is not a three-letter ISO 4217 code"));
    }
    Ok(CsvTransaction {
        external_id: required("id")?,
        contact: required("contact_id")?,
        kind,
        amount,
        currency,
        occurred_at: parse_time(&required("occurred_at")?)?,
        reference: non_empty(columns.get(record, "reference")),
        product: non_empty(columns.get(record, "product")),
    })
}

/// Imports transactions from CSV; their contacts must exist.
pub async fn transactions(db: &Db, input: impl Read, progress: Progress<'_>) -> Result<ImportReport, ImportError> {
    transactions_as(db, input, progress, "cli").await
}

/// [`transactions`] with `actor` named in the audit log.
pub async fn transactions_as(
    db: &Db,
    input: impl Read,
    progress: Progress<'_>,
    actor: &str,
) -> Result<ImportReport, ImportError> {
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(input);
    let columns = Columns::new(reader.headers()?);
    for required in ["id", "contact_id", "kind", "occurred_at"] {
        if !columns.0.contains_key(required) {
            return Err(ImportError::MissingColumn(required));
        }
    }
    let known = [
        "id",
        "contact_id",
        "kind",
        "amount",
        "currency",
        "occurred_at",
        "reference",
        "product",
    ];
    let mut report = ImportReport {
        ignored_columns: columns.unknown(&known),
        ..ImportReport::default()
    };
    read_rows(
        &mut reader,
        &mut report,
        progress,
        |r| parse_transaction(&columns, r),
        async |rows, report| write_transactions(db, rows, report).await,
    )
    .await?;
    audit(
        db.pool(),
        actor,
        "import.transactions",
        "transactions",
        &summary(&report),
    )
    .await?;
    Ok(report)
}

async fn write_transactions(
    db: &Db,
    rows: Vec<(u64, CsvTransaction)>,
    report: &mut ImportReport,
) -> Result<(), sqlx::Error> {
    let mut tx = db.begin().await?;
    let now = now_ms();
    for (line, row) in rows {
        let Some(contact_id) = store::contact_id(&mut tx, &row.contact).await? else {
            report.rejected.push((
                line,
                format!("no contact with id `{}` (import contacts first)", row.contact),
            ));
            continue;
        };
        let transaction = TransactionRow {
            external_id: row.external_id,
            contact_id,
            kind: row.kind,
            amount: row.amount,
            currency: row.currency,
            occurred_at: row.occurred_at,
            reference: row.reference,
            product: row.product,
        };
        match store::transaction(&mut tx, &transaction.external_id).await? {
            Some(stored) if stored == transaction => report.unchanged += 1,
            Some(_) => {
                store::update_transaction(&mut tx, &transaction, now).await?;
                report.updated += 1;
            }
            None => {
                store::insert_transaction(&mut tx, &transaction, now).await?;
                report.created += 1;
            }
        }
    }
    tx.commit().await
}

fn summary(report: &ImportReport) -> serde_json::Value {
    json!({
        "read": report.read,
        "created": report.created,
        "updated": report.updated,
        "unchanged": report.unchanged,
        "rejected": report.rejected.len(),
    })
}
