//! `socialcrm identity list|confirm|reject|unlink|link|verify-link`.

use std::process::ExitCode;

use super::Global;
use crate::crm::identity::{self, LinkView};

/// The actor of decisions made on the command line, in the audit log.
const ACTOR: &str = "cli";

/// Review the links between social identities (the authors of posts) and CRM contacts.
///
/// socialcrm links an identity to a contact by itself only on verified
/// evidence that belongs to exactly one contact: a website the network
/// verified (a Mastodon link with verified_at, a Bluesky domain handle), or a
/// handle the contact's record lists. What an author writes (an email, phone,
/// order reference or website in the profile or a post, a similar name) and
/// evidence that fits several contacts are proposed with a confidence and
/// their evidence, for a person to confirm or reject, or for the customer to
/// confirm from a verification link (`verify-link`). Nothing is deleted:
/// unlink sets a confirmed link back to rejected, and every decision is in the
/// audit log.
///
/// Examples:
///   socialcrm identity list --status proposed
///   socialcrm identity confirm 12
///   socialcrm identity reject 13
///   socialcrm identity unlink 12
///   socialcrm identity link 40 7
///   socialcrm identity verify-link 13 --base-url https://crm.example.com
#[derive(clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    #[command(subcommand)]
    action: Action,
}

#[derive(clap::Subcommand)]
enum Action {
    /// List links: proposals most confident first, others most recent first.
    List {
        #[arg(long, value_parser = ["proposed", "confirmed", "rejected"])]
        status: Option<String>,
        /// At most this many links.
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
    /// Confirm a proposed (or rejected) link.
    Confirm { link_id: i64 },
    /// Reject a proposed link: it is not proposed again on the same evidence.
    Reject { link_id: i64 },
    /// Undo a confirmed link (it becomes rejected; nothing else changes).
    Unlink { link_id: i64 },
    /// Link an identity to a contact by hand (method manual).
    Link { identity_id: i64, contact_id: i64 },
    /// Make a link the customer opens to confirm a proposed link themselves
    /// (method verification-link). Send it to an address on the contact's
    /// record, never to the social account; it works once, for 7 days.
    VerifyLink {
        link_id: i64,
        /// The server's public address, e.g. https://crm.example.com.
        #[arg(long)]
        base_url: String,
    },
}

pub fn run(global: &Global, args: Args) -> anyhow::Result<ExitCode> {
    global.runtime()?.block_on(async {
        let db = global.db().await?;
        match args.action {
            Action::List { status, limit } => {
                let links = identity::links(&db, status.as_deref(), limit).await?;
                if links.is_empty() {
                    println!("no links");
                }
                for l in &links {
                    print_link(l);
                }
            }
            Action::Confirm { link_id } => {
                let l = identity::confirm(&db, link_id, ACTOR).await?;
                println!("confirmed link {}: {}", l.id, pair(&l));
            }
            Action::Reject { link_id } => {
                let l = identity::reject(&db, link_id, ACTOR).await?;
                println!("rejected link {}: {}", l.id, pair(&l));
            }
            Action::Unlink { link_id } => {
                let l = identity::unlink(&db, link_id, ACTOR).await?;
                println!("unlinked link {} (now rejected): {}", l.id, pair(&l));
            }
            Action::Link {
                identity_id,
                contact_id,
            } => {
                let l = identity::link(&db, identity_id, contact_id, ACTOR).await?;
                println!("linked (link {}): {}", l.id, pair(&l));
            }
            Action::VerifyLink { link_id, base_url } => {
                let made = identity::verification::create(&db, link_id, ACTOR).await?;
                println!("{}{}", base_url.trim_end_matches('/'), made.path);
                eprintln!("send it to an address on the contact's record; it works once, for 7 days");
            }
        }
        anyhow::Ok(ExitCode::SUCCESS)
    })
}

/// `mastodon:alice@demo.social (identity 4) → Alice Martin (contact 7, C1)`.
fn pair(l: &LinkView) -> String {
    format!(
        "{}:{} (identity {}) → {} (contact {}, {})",
        l.network,
        l.handle,
        l.identity_id,
        l.contact_name.as_deref().unwrap_or("(no name)"),
        l.contact_id,
        l.contact_external_id
    )
}

fn print_link(l: &LinkView) {
    println!(
        "#{:<6} {:<10} {:>5.2}  {:<16} {}",
        l.id,
        l.status,
        l.confidence,
        l.method,
        pair(l)
    );
    for e in &l.evidence {
        let ambiguous = e
            .matches
            .filter(|_| e.ambiguous)
            .map(|k| format!(" [ambiguous: {k} contacts]"))
            .unwrap_or_default();
        println!("         {} `{}` in {}{ambiguous}", e.kind, e.value, e.source);
    }
    if let Some(by) = &l.decided_by {
        println!("         decided by {by}");
    }
}
