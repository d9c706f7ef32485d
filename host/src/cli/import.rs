//! `socialcrm import contacts|transactions FILE.csv`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};

use super::Global;
use crate::crm::identity;
use crate::crm::import::{self, ImportReport};

/// Rejections printed in full; the rest are counted.
const SHOWN_REJECTIONS: usize = 20;

/// Import contacts or transactions from the existing CRM (CSV with a header row).
///
/// Rows upsert on their `id` (the external CRM id): importing a file twice changes
/// nothing. A bad row is reported with its line and reason; the others are imported.
///
/// Contacts columns: id (required), name, email, phone, website, company, and one
/// column per network with the contact's handle there (mastodon, bluesky, reddit, x, ...).
/// Transactions columns: id, contact_id, kind, occurred_at (required), amount, currency,
/// reference, product.
///
/// Examples:
///   socialcrm import contacts contacts.csv
///   socialcrm import transactions orders.csv
#[derive(clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    #[command(subcommand)]
    what: What,
}

#[derive(clap::Subcommand)]
enum What {
    /// Contacts: id, name, email, phone, website, company, network handles.
    Contacts { file: PathBuf },
    /// Transactions: id, contact_id, kind, amount, currency, occurred_at, reference, product.
    Transactions { file: PathBuf },
}

pub fn run(global: &Global, args: Args) -> anyhow::Result<ExitCode> {
    let (file, contacts) = match args.what {
        What::Contacts { file } => (file, true),
        What::Transactions { file } => (file, false),
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
        let report = if contacts {
            import::contacts(&db, input, &progress).await?
        } else {
            import::transactions(&db, input, &progress).await?
        };
        // Authors already stored are matched against what was imported.
        bar.set_message("matching social identities");
        let linked = identity::catch_up(&db).await?;
        anyhow::Ok((report, linked))
    })?;
    bar.finish_and_clear();
    let (report, linked) = report;
    print_report(&report);
    if linked.confirmed + linked.proposed > 0 {
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
    if !report.ignored_columns.is_empty() {
        println!("ignored unknown columns: {}", report.ignored_columns.join(", "));
    }
    println!(
        "rows read: {}, created: {}, updated: {}, unchanged: {}, rejected: {}",
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
