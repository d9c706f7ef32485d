//! `socialcrm import contacts|transactions FILE.csv` and `socialcrm import mappings`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};

use super::Global;
use crate::crm::identity;
use crate::crm::import::dates::DateOrder;
use crate::crm::import::saved;
use crate::crm::import::{self, ImportReport, Kind, Request};

/// Rejections printed in full; the rest are counted.
const SHOWN_REJECTIONS: usize = 20;

/// Import contacts or transactions from the existing CRM (CSV with a header row).
///
/// Rows upsert on their id (the external CRM id): importing a file twice changes
/// nothing. A bad row is reported with its line and reason; the others are imported.
/// The encoding (UTF-8 with or without BOM, UTF-16 with BOM, Windows-1252), the
/// delimiter (, ; tab |) and the header row are detected.
///
/// Which column fills which field: a saved mapping or a preset (--mapping hubspot,
/// salesforce or shopify), SOURCE=TARGET pairs (--map: over --mapping when both are
/// given, else the whole mapping), or, given neither, the best fit of the file's
/// columns among socialcrm's own names and the presets.
///
/// Contacts fields: id (required), name, email, phone, website, company, and one
/// per network with the contact's handle there (mastodon, bluesky, reddit, x, ...).
/// Transactions fields: id, occurred_at, contact_id or contact_email (required),
/// kind (or --default-kind), amount, currency (or --default-currency), reference,
/// product, refunded. docs/imports.md has every rule.
///
/// Examples:
///   socialcrm import contacts contacts.csv
///   socialcrm import contacts hubspot-export.csv --mapping hubspot --dry-run
///   socialcrm import contacts crm.csv --map external_id=id --map "First+Last=name"
///   socialcrm import transactions orders_export.csv --mapping shopify
///   socialcrm import mappings save acme contacts --map "Kundennr=id" --map "Name=name"
#[derive(clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    #[command(subcommand)]
    what: What,
}

#[derive(clap::Subcommand)]
enum What {
    /// Contacts: id, name, email, phone, website, company, network handles.
    Contacts {
        file: PathBuf,
        #[command(flatten)]
        mapping: MappingArgs,
        #[command(flatten)]
        run: RunArgs,
    },
    /// Transactions: id, contact_id or contact_email, kind, amount, currency, occurred_at, reference, product, refunded.
    Transactions {
        file: PathBuf,
        #[command(flatten)]
        mapping: MappingArgs,
        #[command(flatten)]
        run: RunArgs,
    },
    /// Saved mappings: list, save, delete.
    #[command(subcommand)]
    Mappings(Mappings),
}

#[derive(clap::Args)]
struct MappingArgs {
    /// A saved mapping's or a preset's name (hubspot, salesforce, shopify).
    #[arg(long, value_name = "NAME")]
    mapping: Option<String>,
    /// SOURCE=TARGET: the column SOURCE fills the field TARGET (repeat it; A+B=name joins two columns).
    #[arg(long = "map", value_name = "SOURCE=TARGET")]
    map: Vec<String>,
    /// How 03/04/2024 reads: mdy (March 4) or dmy (3 April).
    #[arg(long, value_name = "ORDER")]
    dates: Option<DateOrder>,
    /// The currency of transactions whose row gives none (ISO 4217).
    #[arg(long, value_name = "CODE")]
    default_currency: Option<String>,
    /// The kind of transactions whose row gives none (purchase, refund, ...).
    #[arg(long, value_name = "KIND")]
    default_kind: Option<String>,
}

impl MappingArgs {
    fn request(self) -> Request {
        Request {
            mapping: self.mapping,
            map: self.map,
            dates: self.dates,
            currency: self.default_currency,
            kind: self.default_kind,
        }
    }
}

#[derive(clap::Args)]
struct RunArgs {
    /// Parse, map and validate every row and say what would change; write nothing.
    #[arg(long)]
    dry_run: bool,
}

#[derive(clap::Subcommand)]
enum Mappings {
    /// The saved mappings and the presets.
    List,
    /// Saves a mapping: --map pairs and options, over --mapping NAME when given.
    Save {
        name: String,
        /// contacts or transactions
        kind: Kind,
        #[command(flatten)]
        mapping: MappingArgs,
    },
    /// Deletes a saved mapping.
    Delete { name: String },
}

pub fn run(global: &Global, args: Args) -> anyhow::Result<ExitCode> {
    let (kind, file, mapping, run) = match args.what {
        What::Contacts { file, mapping, run } => (Kind::Contacts, file, mapping, run),
        What::Transactions { file, mapping, run } => (Kind::Transactions, file, mapping, run),
        What::Mappings(m) => return mappings(global, m),
    };
    let input = std::fs::File::open(&file).with_context(|| format!("cannot open {}", file.display()))?;
    let size = input.metadata().map(|m| m.len()).unwrap_or(0);
    let bar = ProgressBar::new(size).with_style(
        ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let progress = |bytes: u64| bar.set_position(bytes);
    let report = global.runtime()?.block_on(async {
        let db = global.db().await?;
        let options = mapping.request().options(&db, kind, run.dry_run).await?;
        let report = import::import(&db, kind, input, &options, &progress, "cli").await?;
        if report.dry_run {
            return anyhow::Ok((report, None));
        }
        // Authors already stored are matched against what was imported.
        bar.set_message("matching social identities");
        let linked = identity::catch_up(&db).await?;
        anyhow::Ok((report, Some(linked)))
    })?;
    bar.finish_and_clear();
    let (report, linked) = report;
    print_report(&report);
    if let Some(linked) = linked
        && linked.confirmed + linked.proposed > 0
    {
        println!(
            "identities: {} linked, {} proposed for review (`socialcrm identity list --status proposed`)",
            linked.confirmed, linked.proposed
        );
    }
    Ok(if report.rejected.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn print_report(report: &ImportReport) {
    let f = &report.format;
    let skipped = if f.header_line > 1 {
        format!(", header on line {}", f.header_line)
    } else {
        String::new()
    };
    println!("read as {}, `{}` between fields{skipped}", f.encoding, f.delimiter);
    if let Some(name) = &report.chosen_mapping {
        println!("mapping: {name} (its columns fit the file best)");
    }
    if !report.ignored_columns.is_empty() {
        println!("ignored columns: {}", report.ignored_columns.join(", "));
    }
    if report.dry_run {
        println!("dry run: nothing was written");
    }
    let verb = if report.dry_run { "would be " } else { "" };
    println!(
        "rows read: {}, {verb}created: {}, {verb}updated: {}, unchanged: {}, rejected: {}",
        report.read,
        report.created,
        report.updated,
        report.unchanged,
        report.rejected.len()
    );
    for (line, reason) in report.rejected.iter().take(SHOWN_REJECTIONS) {
        println!("  line {line}: {reason}");
    }
    if report.rejected.len() > SHOWN_REJECTIONS {
        println!("  ... and {} more", report.rejected.len() - SHOWN_REJECTIONS);
    }
}

fn mappings(global: &Global, what: Mappings) -> anyhow::Result<ExitCode> {
    global.runtime()?.block_on(async {
        let db = global.db().await?;
        match what {
            Mappings::List => {
                for m in saved::list(&db).await? {
                    println!("{}\t{}\t{}", m.name, m.kind.name(), serde_json::to_string(&m.mapping)?);
                }
                for (name, kind, mapping) in import::presets::all() {
                    println!("{name}\t{} (preset)\t{}", kind.name(), serde_json::to_string(&mapping)?);
                }
            }
            Mappings::Save { name, kind, mapping } => {
                let (named, extra) = mapping.request().mappings(&db, kind).await?;
                let mut mapping = named.unwrap_or_default();
                mapping.overlay(extra);
                saved::save(&db, &name, kind, &mapping, "cli").await?;
                println!("saved mapping {name} ({})", kind.name());
            }
            Mappings::Delete { name } => {
                saved::remove(&db, &name, "cli").await?;
                println!("deleted mapping {name}");
            }
        }
        anyhow::Ok(ExitCode::SUCCESS)
    })
}
