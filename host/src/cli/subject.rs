//! `socialcrm subject show|export|erase|erasures`.

use std::process::ExitCode;

use anyhow::Context;

use super::Global;
use crate::privacy::{self, Start, erase, export, holdings};
use crate::store::erasures;

/// A data subject's rights (docs/privacy.md): see everything held about a
/// person, export it as one archive, erase it. A subject is found from a
/// contact or a social identity; confirmed identity links join the rest.
///
/// Examples:
///   socialcrm subject show --contact-external-id C-1042
///   socialcrm subject export --handle mastodon:maya@demo.social -o maya.tar
///   socialcrm subject erase --contact 42 --keep-transactions --do-not-track
///   socialcrm subject erasures
#[derive(clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    #[command(subcommand)]
    action: Action,
}

#[derive(clap::Args)]
#[group(required = true, multiple = false)]
struct Which {
    /// A contact's id.
    #[arg(long)]
    contact: Option<i64>,
    /// A contact's external id (the CRM's).
    #[arg(long)]
    contact_external_id: Option<String>,
    /// An identity's id.
    #[arg(long)]
    identity: Option<i64>,
    /// NETWORK:HANDLE, for example mastodon:maya@demo.social.
    #[arg(long)]
    handle: Option<String>,
}

impl Which {
    fn start(&self) -> anyhow::Result<Start> {
        Ok(
            match (&self.contact, &self.contact_external_id, &self.identity, &self.handle) {
                (Some(id), ..) => Start::Contact(*id),
                (_, Some(e), ..) => Start::ContactExternalId(e.clone()),
                (_, _, Some(id), _) => Start::Identity(*id),
                (_, _, _, Some(h)) => Start::handle(h).context("--handle takes NETWORK:HANDLE")?,
                _ => anyhow::bail!("name a subject: --contact, --contact-external-id, --identity or --handle"),
            },
        )
    }
}

#[derive(clap::Subcommand)]
enum Action {
    /// What is held about a subject: rows per kind.
    Show {
        #[command(flatten)]
        which: Which,
    },
    /// Write everything held about a subject as one archive (tar of JSON and
    /// CSV files, a manifest and a README). Audited.
    Export {
        #[command(flatten)]
        which: Which,
        /// Where to write the archive.
        #[arg(long, short)]
        output: std::path::PathBuf,
    },
    /// Erase every trace of a subject. Prints the erasure's receipt.
    Erase {
        #[command(flatten)]
        which: Which,
        /// Keep the transactions, anonymised, for accounting.
        #[arg(long)]
        keep_transactions: bool,
        /// Never store this person's posts again (keyed hashes of their
        /// handles and network ids are kept, never the handles).
        #[arg(long)]
        do_not_track: bool,
    },
    /// Erasures with their receipts; finishes any a crash stopped.
    Erasures,
}

pub fn run(global: &Global, args: Args) -> anyhow::Result<ExitCode> {
    global.runtime()?.block_on(async {
        let db = global.db().await?;
        let actor = super::actor();
        match args.action {
            Action::Show { which } => {
                let subject = privacy::find(&db, &which.start()?).await?;
                let held = holdings::holdings(&db, &subject).await?;
                println!(
                    "contacts {:?}, identities {:?}",
                    subject.ids.contacts, subject.ids.identities
                );
                for (kind, n) in held.counts() {
                    println!("{kind:<24} {n}");
                }
            }
            Action::Export { which, output } => {
                let subject = privacy::find(&db, &which.start()?).await?;
                let held = holdings::holdings(&db, &subject).await?;
                let file = std::fs::File::create(&output).with_context(|| format!("creating {}", output.display()))?;
                export::export(&db, &subject, &held, &actor, std::io::BufWriter::new(file)).await?;
                let rows: usize = held.counts().values().sum();
                println!("{} rows written to {}", rows, output.display());
            }
            Action::Erase {
                which,
                keep_transactions,
                do_not_track,
            } => {
                let app = global.bare_app(&db)?;
                for receipt in erase::resume(&db, Some(app.ingest())).await? {
                    eprintln!("finished the interrupted erasure {receipt}");
                }
                let subject = privacy::find(&db, &which.start()?).await?;
                let options = erase::Options {
                    keep_transactions,
                    do_not_track,
                };
                let receipt =
                    erase::erase(&db, Some(app.ingest()), app.secret_box(), &subject, options, &actor).await?;
                println!("erased; receipt {receipt}");
            }
            Action::Erasures => {
                let app = global.bare_app(&db)?;
                for receipt in erase::resume(&db, Some(app.ingest())).await? {
                    eprintln!("finished the interrupted erasure {receipt}");
                }
                println!("{:<28} {:<8} {:<20} finished", "receipt", "status", "by");
                for e in erasures::list(&db, 100).await? {
                    let finished = e.finished_at.map(crate::insights::date).unwrap_or_default();
                    println!("{:<28} {:<8} {:<20} {finished}", e.receipt, e.status, e.requested_by);
                }
            }
        }
        anyhow::Ok(ExitCode::SUCCESS)
    })
}
