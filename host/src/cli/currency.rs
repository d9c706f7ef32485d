//! `socialcrm currency show|reporting|rate|rates|remove`.

use std::process::ExitCode;

use anyhow::Context;

use super::Global;
use crate::crm::currency;
use crate::insights::date;

/// The reporting currency that lifetime values are counted in, and the
/// rates that convert other currencies into it (docs/currencies.md). A
/// currency without a rate is never added to another: its transactions are
/// reported apart. Changes are audited and count from the next
/// `socialcrm insights recompute` (`serve` runs it on its schedule).
///
/// Examples:
///   socialcrm currency show
///   socialcrm currency reporting EUR
///   socialcrm currency rate USD=0.92 GBP=1.17     # 1 USD = 0.92 EUR
///   socialcrm currency rates rates.csv            # lines `currency,rate`
///   socialcrm currency remove GBP
#[derive(clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    #[command(subcommand)]
    action: Action,
}

#[derive(clap::Subcommand)]
enum Action {
    /// The reporting currency, its rates, and the currencies transactions are in.
    Show,
    /// Choose the reporting currency (ISO 4217).
    Reporting { currency: String },
    /// Set rates: CODE=RATE, one unit of CODE in the reporting currency.
    Rate {
        #[arg(required = true, value_parser = currency::pair)]
        rates: Vec<(String, f64)>,
    },
    /// Set the rates of a CSV file of `currency,rate` lines (all or none).
    Rates { file: std::path::PathBuf },
    /// Remove the rate of a currency: its amounts stop being converted.
    Remove { currency: String },
}

pub fn run(global: &Global, args: Args) -> anyhow::Result<ExitCode> {
    global.runtime()?.block_on(async {
        let db = global.db().await?;
        match args.action {
            Action::Show => {
                let o = currency::overview(&db).await?;
                match &o.reporting {
                    Some(r) if r.inferred => println!(
                        "reporting currency: {} (the most used; choose one with `currency reporting`)",
                        r.currency
                    ),
                    Some(r) => println!("reporting currency: {}", r.currency),
                    None => println!("reporting currency: none yet (no transactions)"),
                }
                for r in &o.rates {
                    println!("  1 {} = {} (set {})", r.currency, r.rate, date(r.updated_at));
                }
                println!("{:<8} {:>12}  converts", "currency", "transactions");
                for c in &o.in_use {
                    let converts = if c.converts { "yes" } else { "no: reported apart" };
                    println!("{:<8} {:>12}  {converts}", c.currency, c.transactions);
                }
            }
            Action::Reporting { currency: c } => {
                let c = currency::set_reporting(&db, &c, &super::actor()).await?;
                println!("lifetime values are counted in {c} from the next `socialcrm insights recompute`");
            }
            Action::Rate { rates } => set(&db, &rates).await?,
            Action::Rates { file } => {
                let text = std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
                let rates = currency::parse_file(&text).with_context(|| file.display().to_string())?;
                set(&db, &rates).await?;
            }
            Action::Remove { currency: c } => {
                if currency::remove_rate(&db, &c, &super::actor()).await? {
                    println!("removed the rate of {}", c.trim().to_uppercase());
                } else {
                    anyhow::bail!("{} has no rate", c.trim().to_uppercase());
                }
            }
        }
        anyhow::Ok(ExitCode::SUCCESS)
    })
}

async fn set(db: &crate::store::Db, rates: &[(String, f64)]) -> anyhow::Result<()> {
    let base = currency::set_rates(db, rates, &super::actor()).await?;
    println!(
        "{} rate{} to {base} set; values count them from the next `socialcrm insights recompute`",
        rates.len(),
        if rates.len() == 1 { "" } else { "s" }
    );
    Ok(())
}
