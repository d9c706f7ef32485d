//! `socialcrm retention show|set|run`.

use std::process::ExitCode;

use super::Global;
use crate::insights::{date, grouped};
use crate::retention::{self, Due, Kind, Period, RetentionError};
use crate::store::now_ms;

/// How long each kind of data is kept, and removing what is past it
/// (docs/retention.md). `serve` runs retention every hour; `run` does it now.
///
/// Kinds: raw-payloads (a post's payload as the network sent it), post-text
/// (the post becomes a tombstone: its text, analyses and scores go),
/// analyses (those no insight reads: an analyzer's earlier versions),
/// egress (plugins' outgoing requests), audit, erasure-receipts.
///
/// Examples:
///   socialcrm retention show
///   socialcrm retention set post-text 730
///   socialcrm retention set raw-payloads never
///   socialcrm retention run --dry-run
#[derive(clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    #[command(subcommand)]
    action: Action,
}

#[derive(clap::Subcommand)]
enum Action {
    /// The period of each kind, its default, and what a run now would remove.
    Show,
    /// Set how long a kind is kept (audited); the next run applies it.
    Set {
        #[arg(value_parser = kind)]
        kind: Kind,
        /// Days (1 to 36500), or `never`.
        #[arg(value_parser = period)]
        period: Period,
    },
    /// Remove what is past its period now, in batches (each audited).
    Run {
        /// Only count what would be removed.
        #[arg(long)]
        dry_run: bool,
    },
}

fn kind(s: &str) -> Result<Kind, RetentionError> {
    Kind::parse(s).ok_or_else(|| RetentionError::Kind(s.to_string()))
}

fn period(s: &str) -> Result<Period, RetentionError> {
    s.parse()
}

pub fn run(global: &Global, args: Args) -> anyhow::Result<ExitCode> {
    global.runtime()?.block_on(async {
        let db = global.db().await?;
        match args.action {
            Action::Show | Action::Run { dry_run: true } => {
                print(&retention::preview(&db, now_ms()).await?, "past it now");
            }
            Action::Set { kind, period } => {
                retention::set(&db, kind, period, &super::actor()).await?;
                println!("{} kept for {}", kind.as_str(), kept(period));
            }
            Action::Run { dry_run: false } => {
                print(&retention::run(&db, now_ms(), &super::actor()).await?, "removed");
            }
        }
        anyhow::Ok(ExitCode::SUCCESS)
    })
}

fn kept(period: Period) -> String {
    match period {
        Period::Days(1) => "1 day".into(),
        Period::Days(d) => format!("{} days", grouped(i64::from(d))),
        Period::Never => "ever (never removed)".into(),
    }
}

fn print(due: &[Due], rows: &str) {
    println!(
        "{:<18} {:<12} {:<12} {:>12}  before",
        "kind", "kept for", "default", rows
    );
    for d in due {
        let days = |p: Period| p.days().map_or_else(|| "never".into(), |d| format!("{d} days"));
        println!(
            "{:<18} {:<12} {:<12} {:>12}  {}",
            d.kind.as_str(),
            days(d.period),
            days(Period::default_for(d.kind)),
            grouped(i64::try_from(d.rows).unwrap_or(i64::MAX)),
            d.cutoff.map(date).unwrap_or_else(|| "-".into()),
        );
    }
}
