//! `socialcrm source add|list|sync|pause|resume`.

use std::collections::BTreeMap;
use std::process::ExitCode;

use super::channel::NewAccountArgs;
use super::{Global, actor};
use crate::sources::{self, NewSource, OnDelete};

/// Manage source accounts: shops, billing systems and CRMs socialcrm reads
/// customers and transactions from (docs/sources.md).
///
/// Examples:
///   socialcrm source add --plugin shopify --name shop \
///       --config shop=https://example.myshopify.com --secret access-token=... --on-delete inactive
///   socialcrm source list
///   socialcrm source sync shop
///   socialcrm source pause shop
#[derive(clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    #[command(subcommand)]
    action: Action,
}

#[derive(clap::Subcommand)]
enum Action {
    /// Add an account; the plugin checks the configuration and credentials first.
    Add {
        #[command(flatten)]
        account: NewAccountArgs,
        /// What a contact deleted in the source becomes: `inactive` (kept,
        /// marked inactive) or `erase` (erased as a data subject).
        #[arg(long, default_value = "inactive", value_parser = on_delete)]
        on_delete: OnDelete,
    },
    /// List accounts with their status, record counts and last sync.
    List,
    /// Catch up once: pull until the source has nothing more, committing page by page.
    Sync { name: String },
    /// Stop syncing an account until it is resumed.
    Pause { name: String },
    /// Sync a paused account again (due now).
    Resume { name: String },
}

fn on_delete(text: &str) -> Result<OnDelete, String> {
    OnDelete::parse(text).ok_or_else(|| format!("`{text}` is not `inactive` or `erase`"))
}

pub fn run(global: &Global, args: Args) -> anyhow::Result<ExitCode> {
    global.runtime()?.block_on(async {
        let db = global.db().await?;
        match args.action {
            Action::Add {
                account:
                    NewAccountArgs {
                        plugin,
                        name,
                        config,
                        secrets,
                        allow_private,
                    },
                on_delete,
            } => {
                let app = global.app(&db).await?;
                let ingest = app.ingest();
                let new = NewSource {
                    name: name.clone(),
                    plugin,
                    config: config.into_iter().collect::<BTreeMap<_, _>>(),
                    secrets: secrets.into_iter().collect::<BTreeMap<_, _>>(),
                    allow_private,
                    on_delete,
                };
                let added = sources::add(&db, app.secret_box(), ingest, new, &actor()).await;
                ingest.egress().flush().await;
                added?;
                println!("added source {name}; run `socialcrm source sync {name}` to catch up");
            }
            Action::List => {
                println!(
                    "{:<20} {:<10} {:<12} {:<9} {:>9} {:>12}  last error",
                    "name", "source", "status", "deleted", "contacts", "transactions"
                );
                for s in sources::list(&db).await? {
                    let error = s.last_error.unwrap_or_default();
                    println!(
                        "{:<20} {:<10} {:<12} {:<9} {:>9} {:>12}  {error}",
                        s.name, s.source, s.status, s.on_delete, s.contacts, s.transactions
                    );
                }
            }
            Action::Sync { name } => {
                let app = global.app(&db).await?;
                let ingest = app.ingest();
                let owner = format!("cli:{}", std::process::id());
                let report = sources::sync_now(ingest, &name, &owner).await;
                ingest.egress().flush().await;
                let report = report?;
                let c = &report.committed;
                println!(
                    "{name}: {} page(s); contacts {} new, {} updated, {} suppressed; transactions {} new, {} updated, \
                     {} without a known contact; {} deleted, {} erased; {} match(es) proposed",
                    report.pages,
                    c.new_contacts,
                    c.updated_contacts,
                    c.suppressed,
                    c.new_transactions,
                    c.updated_transactions,
                    c.skipped_transactions,
                    c.deleted,
                    report.erased,
                    c.proposals
                );
            }
            Action::Pause { name } => {
                sources::set_paused(&db, &name, true, &actor()).await?;
                println!("paused source {name}");
            }
            Action::Resume { name } => {
                sources::set_paused(&db, &name, false, &actor()).await?;
                println!("resumed source {name}");
            }
        }
        anyhow::Ok(ExitCode::SUCCESS)
    })
}
