//! `socialcrm taxonomy list|put|remove|signals`.

use std::process::ExitCode;

use super::Global;
use super::analyzer::print;
use crate::insights::custom::{self, Entry};

/// The brand's taxonomy: products, features and aspects with their
/// synonyms. Analyzers that export `signals` get it with each batch and say
/// which entries a post mentions, with the sentiment of what it says of each
/// (docs/insights.md, "Aspects").
///
/// Examples:
///   socialcrm taxonomy put x2 --kind product --name X2 --synonym x-2 --synonym "x 2"
///   socialcrm taxonomy put battery --kind aspect --name Battery --synonym range --synonym charge
///   socialcrm taxonomy list
///   socialcrm taxonomy signals        # the custom signals analyzers declare
#[derive(clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    action: Action,
}

#[derive(clap::Subcommand)]
enum Action {
    /// Every entry.
    List,
    /// Add or replace an entry.
    Put {
        /// 1 to 64 of a-z, 0-9 and `-`.
        id: String,
        /// product, feature or aspect.
        #[arg(long)]
        kind: String,
        /// How people name it.
        #[arg(long)]
        name: String,
        /// Another way it is written (repeatable).
        #[arg(long = "synonym")]
        synonyms: Vec<String>,
    },
    /// Remove an entry.
    Remove { id: String },
    /// The custom signals analyzers declare.
    Signals,
}

pub fn run(global: &Global, args: Args) -> anyhow::Result<ExitCode> {
    let json = args.json;
    global.runtime()?.block_on(async {
        let db = global.db().await?;
        match args.action {
            Action::List => {
                let entries = custom::taxonomy(&db).await?;
                print(json, &entries, || {
                    for e in &entries {
                        println!("{:<8} {:<20} {:<20} {}", e.kind, e.id, e.name, e.synonyms.join(", "));
                    }
                })
            }
            Action::Put {
                id,
                kind,
                name,
                synonyms,
            } => {
                let entry = Entry {
                    id,
                    kind,
                    name,
                    synonyms,
                };
                custom::put(&db, &entry, &super::actor()).await?;
                print(json, &entry, || {
                    println!(
                        "{} `{}` is in the taxonomy: analyzers match new posts against it \
                         (`socialcrm analyzer reanalyze NAME` for past ones)",
                        entry.kind, entry.id
                    )
                })
            }
            Action::Remove { id } => {
                custom::remove(&db, &id, &super::actor()).await?;
                print(json, &serde_json::json!({"removed": id}), || println!("removed `{id}`"))
            }
            Action::Signals => {
                let signals = custom::signals(&db).await?;
                print(json, &signals, || {
                    for s in &signals {
                        println!("{:<20} {:<24} {:<20} {}", s.name, s.display_name, s.analyzer, s.kind);
                    }
                })
            }
        }
    })
}
