//! `socialcrm import contacts|transactions FILE.csv`: CSV import that upserts
//! on the external CRM id. A bad row is reported with its line and reason and
//! the other rows are imported; importing a file twice changes nothing.
//!
//! The file's encoding, delimiter and header row are detected (`detect.rs`);
//! a mapping (`mapping.rs`) says which column fills which field: one given
//! (saved, a preset, or `SOURCE=TARGET` pairs), else the best fit of
//! socialcrm's own columns and the presets. A dry run does everything in a
//! database transaction it rolls back. docs/imports.md has the whole story.
//!
//! Contacts: `id` (required), `name`, `email`, `phone`, `website`, `company`,
//! and one field per network holding the contact's handle there
//! (`mastodon`, `bluesky`, `reddit`, `x`, ...).
//!
//! Transactions: `id` (required), the contact as `contact_id` (the contact's
//! `id`) or `contact_email`, `kind` (purchase, refund, return,
//! warranty-claim, ticket, subscription, cancellation), `amount`, `currency`
//! (ISO 4217), `occurred_at` (`dates.rs`), `reference`, `product`, and
//! `refunded` (an amount refunded, stored as a refund of its own). A row with
//! the id of the row before and no amount is another line of that
//! transaction: its product is added to the transaction's.

pub mod dates;
pub mod detect;
pub mod mapping;
pub mod presets;
pub mod saved;

use std::io::Read;

use serde_json::json;
use sqlx::{Any, AnyConnection, Transaction};

pub use self::detect::Format;
pub use self::mapping::{Kind, Mapping, Resolved};
use super::contact::{self, NETWORKS};
use super::currency;
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

/// What an import did (or, dry, would do).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImportReport {
    pub read: usize,
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    /// (line, reason), in file order.
    pub rejected: Vec<(u64, String)>,
    /// Columns no field reads (ignored).
    pub ignored_columns: Vec<String>,
    /// How the file was read.
    pub format: Format,
    /// The mapping chosen by the file's columns when none was given: a
    /// preset's name or `socialcrm` (the own columns).
    pub chosen_mapping: Option<String>,
    /// Nothing was written.
    pub dry_run: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("reading the CSV: {0}")]
    Csv(#[from] csv::Error),
    #[error("reading the file: {0}")]
    Io(#[from] std::io::Error),
    #[error("the CSV is empty: send a header row and data rows")]
    Empty,
    #[error("the CSV has no `{0}` column (the header row names the columns; or give a mapping, docs/imports.md)")]
    MissingColumn(&'static str),
    #[error("the mapping gives no column for `{0}`")]
    Unmapped(&'static str),
    #[error("the mapping reads `{column}` for `{target}`, but the CSV has no such column (its columns: {columns})")]
    NoSuchColumn {
        column: String,
        target: String,
        columns: String,
    },
    #[error("{0}")]
    Mapping(String),
    #[error("no saved mapping or preset is named `{0}`")]
    NoMapping(String),
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
}

/// How to import.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// The mapping; `None` lets the file's columns choose among socialcrm's own and the presets.
    pub mapping: Option<Mapping>,
    /// `--map` pairs and options: laid over `mapping`; without it, the pairs
    /// are the whole mapping (and the options go over the best fit when there
    /// are none).
    pub extra: Mapping,
    /// Parse, map, validate and count, then write nothing.
    pub dry_run: bool,
}

/// A mapping as the CLI and the API ask for one: a saved mapping's or a
/// preset's name, `SOURCE=TARGET` pairs and the options, laid over it.
#[derive(Clone, Debug, Default)]
pub struct Request {
    pub mapping: Option<String>,
    pub map: Vec<String>,
    pub dates: Option<dates::DateOrder>,
    pub currency: Option<String>,
    pub kind: Option<String>,
}

impl Request {
    /// The named mapping, and what is laid over it.
    pub async fn mappings(&self, db: &Db, kind: Kind) -> Result<(Option<Mapping>, Mapping), ImportError> {
        let named = match &self.mapping {
            Some(name) => Some(saved::named(db, name, kind).await?),
            None => None,
        };
        let mut extra = Mapping::from_pairs(kind, &self.map)?;
        extra.dates = self.dates;
        extra.currency = self.currency.as_deref().map(mapping::currency).transpose()?;
        extra.kind = self.kind.clone();
        extra.check(kind)?;
        Ok((named, extra))
    }

    pub async fn options(&self, db: &Db, kind: Kind, dry_run: bool) -> Result<Options, ImportError> {
        let (mapping, extra) = self.mappings(db, kind).await?;
        Ok(Options {
            mapping,
            extra,
            dry_run,
        })
    }
}

/// Calls `progress` with the bytes read so far.
pub type Progress<'a> = &'a (dyn Fn(u64) + Sync);

/// A decoded file, positioned after its header row.
pub struct Table<'t> {
    pub format: Format,
    pub headers: csv::StringRecord,
    reader: csv::Reader<&'t [u8]>,
    lines: detect::Lines<'t>,
}

impl<'t> Table<'t> {
    /// Finds the delimiter and reads up to the header row of `text`.
    pub fn open(text: &'t str, encoding: String) -> Result<Table<'t>, ImportError> {
        let (delimiter, header_line) = detect::layout(text).ok_or(ImportError::Empty)?;
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .has_headers(false)
            .flexible(true)
            .from_reader(text.as_bytes());
        let mut lines = detect::Lines::new(text);
        let mut headers = csv::StringRecord::new();
        loop {
            if !reader.read_record(&mut headers)? {
                return Err(ImportError::Empty);
            }
            if lines.of(headers.position()) >= header_line {
                break;
            }
        }
        Ok(Table {
            format: Format {
                encoding,
                delimiter: detect::delimiter_name(delimiter),
                header_line,
            },
            headers,
            reader,
            lines,
        })
    }

    /// Up to `n` rows after the header.
    pub fn sample(&mut self, n: usize) -> Vec<Vec<String>> {
        self.reader
            .records()
            .filter_map(Result::ok)
            .take(n)
            .map(|r| r.iter().map(str::to_string).collect())
            .collect()
    }
}

/// The mapping an import uses: `options.mapping` with `options.extra` over
/// it; else `options.extra` alone when it names columns; else the best fit of
/// the file's columns (named in the second value) with `extra`'s options.
pub fn choose(
    kind: Kind,
    headers: &csv::StringRecord,
    options: &Options,
) -> Result<(Resolved, Option<String>), ImportError> {
    if let Some(given) = &options.mapping {
        let mut mapping = given.clone();
        mapping.overlay(options.extra.clone());
        return Ok((mapping.resolve(kind, headers)?, None));
    }
    if !options.extra.fields.is_empty() {
        return Ok((options.extra.resolve(kind, headers)?, None));
    }
    match presets::best(kind, headers, &options.extra) {
        Some((fit, mapping)) => Ok((mapping.resolve(kind, headers)?, Some(fit.name))),
        // Nothing fits: say what socialcrm's own columns lack.
        None => match Mapping::own(kind).resolve(kind, headers) {
            Err(ImportError::Unmapped(target)) => Err(ImportError::MissingColumn(target)),
            Err(e) => Err(e),
            Ok(_) => Err(ImportError::Mapping("no mapping fits the file".into())),
        },
    }
}

/// Imports `input` as `kind` with `options`; `actor` is named in the audit log.
pub async fn import(
    db: &Db,
    kind: Kind,
    mut input: impl Read,
    options: &Options,
    progress: Progress<'_>,
    actor: &str,
) -> Result<ImportReport, ImportError> {
    let mut bytes = Vec::new();
    input.read_to_end(&mut bytes)?;
    let (text, encoding) = detect::decode(&bytes);
    let mut table = Table::open(&text, encoding)?;
    let (columns, chosen_mapping) = choose(kind, &table.headers, options)?;
    let mut report = ImportReport {
        ignored_columns: columns.ignored.clone(),
        format: table.format.clone(),
        chosen_mapping,
        dry_run: options.dry_run,
        ..ImportReport::default()
    };
    let mut writer = Writer {
        db,
        dry_run: options.dry_run,
        open: None,
    };
    match kind {
        Kind::Contacts => {
            read_rows(
                &mut table,
                &mut report,
                progress,
                |r, _| parse_contact(&columns, r).map(Some),
                &mut writer,
                write_contacts,
            )
            .await?
        }
        Kind::Transactions => {
            let mut previous = String::new();
            read_rows(
                &mut table,
                &mut report,
                progress,
                |r, last| parse_line(&columns, r, last, &mut previous),
                &mut writer,
                write_transactions,
            )
            .await?
        }
    }
    writer.finish().await?;
    if !options.dry_run {
        let action = format!("import.{}", kind.name());
        audit(db.pool(), actor, &action, kind.name(), &summary(&report)).await?;
    }
    Ok(report)
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
    import(db, Kind::Contacts, input, &Options::default(), progress, actor).await
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
    import(db, Kind::Transactions, input, &Options::default(), progress, actor).await
}

/// Where chunks are written: each in a transaction of its own, or (dry) all
/// in one that is rolled back at the end.
struct Writer<'a> {
    db: &'a Db,
    dry_run: bool,
    open: Option<Transaction<'static, Any>>,
}

impl Writer<'_> {
    async fn begin(&mut self) -> Result<Transaction<'static, Any>, sqlx::Error> {
        match self.open.take() {
            Some(tx) => Ok(tx),
            None => self.db.begin().await,
        }
    }

    async fn end(&mut self, tx: Transaction<'static, Any>) -> Result<(), sqlx::Error> {
        if self.dry_run {
            self.open = Some(tx);
            Ok(())
        } else {
            tx.commit().await
        }
    }

    async fn finish(self) -> Result<(), sqlx::Error> {
        match self.open {
            Some(tx) => tx.rollback().await,
            None => Ok(()),
        }
    }
}

/// Reads every record and parses it (`parse` may fold a record into the
/// row before, returning `None`), and writes the parsed rows in chunks of
/// [`CHUNK`]. A bad row is reported with its line and the others go on; an
/// I/O error stops the import.
async fn read_rows<T>(
    table: &mut Table<'_>,
    report: &mut ImportReport,
    progress: Progress<'_>,
    mut parse: impl FnMut(&csv::StringRecord, Option<&mut T>) -> Result<Option<T>, String>,
    writer: &mut Writer<'_>,
    write: impl AsyncFn(&mut AnyConnection, Vec<(u64, T)>, &mut ImportReport) -> Result<(), sqlx::Error>,
) -> Result<(), ImportError> {
    let mut chunk: Vec<(u64, T)> = Vec::with_capacity(CHUNK + 1);
    let mut record = csv::StringRecord::new();
    loop {
        let more = match table.reader.read_record(&mut record) {
            Ok(more) => more,
            Err(e) if matches!(e.kind(), csv::ErrorKind::Io(_)) => return Err(e.into()),
            // A broken row (bad quoting) is that row's problem only.
            Err(e) => {
                report.read += 1;
                let line = table.lines.of(e.position());
                report.rejected.push((line, e.to_string()));
                continue;
            }
        };
        if more {
            report.read += 1;
            let line = table.lines.of(record.position());
            match parse(&record, chunk.last_mut().map(|(_, row)| row)) {
                Ok(Some(row)) => chunk.push((line, row)),
                Ok(None) => {}
                Err(reason) => report.rejected.push((line, reason)),
            }
        }
        // The last row stays until the next is read: it may have more lines.
        let full = chunk.len() > CHUNK;
        if full || (!more && !chunk.is_empty()) {
            let rows = if more {
                chunk.drain(..chunk.len() - 1).collect()
            } else {
                std::mem::take(&mut chunk)
            };
            let mut tx = writer.begin().await?;
            write(&mut tx, rows, report).await?;
            writer.end(tx).await?;
            progress(table.reader.position().byte());
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

fn parse_contact(columns: &Resolved, record: &csv::StringRecord) -> Result<ContactRow, String> {
    let external_id = columns.get(record, "id");
    if external_id.is_empty() {
        return Err("`id` is empty".into());
    }
    let mut handles = std::collections::BTreeMap::new();
    for network in NETWORKS {
        if let Some(h) = contact::handle(&columns.get(record, network)) {
            handles.insert(network.to_string(), h);
        }
    }
    let phone = columns.get(record, "phone");
    Ok(ContactRow {
        external_id: external_id.into_owned(),
        name: non_empty(&columns.get(record, "name")),
        email: contact::email(&columns.get(record, "email"))?,
        // Spreadsheets' text marker: Shopify writes `'+1 613-555-0143`.
        phone: contact::phone(phone.strip_prefix('\'').unwrap_or(&phone))?,
        website: contact::website(&columns.get(record, "website"))?,
        company: non_empty(&columns.get(record, "company")),
        handles: contact::handles_json(&handles),
    })
}

async fn write_contacts(
    conn: &mut AnyConnection,
    rows: Vec<(u64, ContactRow)>,
    report: &mut ImportReport,
) -> Result<(), sqlx::Error> {
    let now = now_ms();
    for (_, row) in rows {
        match store::contact(conn, &row.external_id).await? {
            Some(current) if current == row => report.unchanged += 1,
            Some(_) => {
                store::update_contact(conn, &row, now).await?;
                report.updated += 1;
            }
            None => {
                store::insert_contact(conn, &row, now).await?;
                report.created += 1;
            }
        }
    }
    Ok(())
}

/// How a transaction names its contact.
#[derive(Debug, PartialEq)]
enum ContactKey {
    Id(String),
    Email(String),
}

#[derive(Debug, PartialEq)]
struct CsvTransaction {
    external_id: String,
    contact: ContactKey,
    kind: String,
    amount: f64,
    currency: String,
    occurred_at: i64,
    reference: Option<String>,
    product: Option<String>,
    refunded: f64,
}

/// A record: a transaction, or (with the id of the one before and no
/// amount) another line of it, whose product is added to `last`'s.
fn parse_line(
    columns: &Resolved,
    record: &csv::StringRecord,
    last: Option<&mut CsvTransaction>,
    previous: &mut String,
) -> Result<Option<CsvTransaction>, String> {
    let id = columns.get(record, "id");
    if !id.is_empty() && *id == **previous && columns.get(record, "amount").is_empty() {
        let Some(last) = last.filter(|t| t.external_id == *id) else {
            return Err(format!("another line of `{id}`, whose first line was not imported"));
        };
        if let Some(product) = non_empty(&columns.get(record, "product")) {
            last.product = Some(match last.product.take() {
                Some(before) => format!("{before}; {product}"),
                None => product,
            });
        }
        return Ok(None);
    }
    *previous = id.into_owned();
    parse_transaction(columns, record).map(Some)
}

fn amount(target: &str, raw: &str) -> Result<f64, String> {
    if raw.is_empty() {
        return Ok(0.0);
    }
    raw.parse::<f64>()
        .ok()
        .filter(|a| a.is_finite())
        .ok_or_else(|| format!("`{target}` `{raw}` is not a number"))
}

fn parse_transaction(columns: &Resolved, record: &csv::StringRecord) -> Result<CsvTransaction, String> {
    let required = |name: &str| {
        let v = columns.get(record, name);
        if v.is_empty() {
            Err(format!("`{name}` is empty"))
        } else {
            Ok(v.into_owned())
        }
    };
    let kind = match (columns.get(record, "kind"), &columns.kind) {
        (k, Some(default)) if k.is_empty() => default.clone(),
        (k, _) => k.to_lowercase(),
    };
    if kind.is_empty() {
        return Err("`kind` is empty".into());
    }
    if !TRANSACTION_KINDS.contains(&kind.as_str()) {
        return Err(format!(
            "`kind` `{kind}` is not one of {}",
            TRANSACTION_KINDS.join(", ")
        ));
    }
    let currency = match (columns.get(record, "currency"), &columns.currency) {
        (c, Some(default)) if c.is_empty() => currency::code(default),
        (c, _) => currency::code(&c),
    }
    .map_err(|e| format!("`currency` {e}"))?;
    let contact = match (columns.get(record, "contact_id"), columns.get(record, "contact_email")) {
        (id, _) if !id.is_empty() => ContactKey::Id(id.into_owned()),
        (_, email) if !email.is_empty() => ContactKey::Email(contact::email(&email)?.unwrap_or_default()),
        _ if columns.has("contact_id") => return Err("`contact_id` is empty".into()),
        _ => return Err("`contact_email` is empty".into()),
    };
    Ok(CsvTransaction {
        external_id: required("id")?,
        contact,
        kind,
        amount: amount("amount", &columns.get(record, "amount"))?,
        currency,
        occurred_at: dates::parse(&required("occurred_at")?, columns.dates)
            .map_err(|e| format!("`occurred_at` {e}"))?,
        reference: non_empty(&columns.get(record, "reference")),
        product: non_empty(&columns.get(record, "product")),
        refunded: amount("refunded", &columns.get(record, "refunded"))?,
    })
}

async fn write_transactions(
    conn: &mut AnyConnection,
    rows: Vec<(u64, CsvTransaction)>,
    report: &mut ImportReport,
) -> Result<(), sqlx::Error> {
    let now = now_ms();
    for (line, row) in rows {
        let contact_id = match &row.contact {
            ContactKey::Id(id) => store::contact_id(conn, id)
                .await?
                .ok_or_else(|| format!("no contact with id `{id}` (import contacts first)")),
            ContactKey::Email(email) => match store::contact_ids_by_email(conn, email).await?[..] {
                [id] => Ok(id),
                [] => Err(format!("no contact with email `{email}` (import contacts first)")),
                _ => Err(format!(
                    "several contacts have email `{email}`: map the contact's id instead"
                )),
            },
        };
        let contact_id = match contact_id {
            Ok(id) => id,
            Err(reason) => {
                report.rejected.push((line, reason));
                continue;
            }
        };
        // What was refunded of an order is a refund of its own (the export gives no time of its own).
        let refund = (row.refunded != 0.0).then(|| TransactionRow {
            external_id: format!("{}/refund", row.external_id),
            contact_id,
            kind: "refund".into(),
            amount: -row.refunded.abs(),
            currency: row.currency.clone(),
            occurred_at: row.occurred_at,
            reference: row.reference.clone(),
            product: None,
        });
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
        for t in std::iter::once(transaction).chain(refund) {
            upsert_transaction(conn, &t, now, report).await?;
        }
    }
    Ok(())
}

async fn upsert_transaction(
    conn: &mut AnyConnection,
    transaction: &TransactionRow,
    now: i64,
    report: &mut ImportReport,
) -> Result<(), sqlx::Error> {
    match store::transaction(conn, &transaction.external_id).await? {
        Some(stored) if stored == *transaction => report.unchanged += 1,
        Some(_) => {
            store::update_transaction(conn, transaction, now).await?;
            report.updated += 1;
        }
        None => {
            store::insert_transaction(conn, transaction, now).await?;
            report.created += 1;
        }
    }
    Ok(())
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
