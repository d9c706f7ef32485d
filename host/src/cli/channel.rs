//! `socialcrm channel add|list|sync|remove`.

use std::collections::BTreeMap;
use std::process::ExitCode;

use indicatif::ProgressBar;

use super::Global;
use crate::channels::{self, NewChannel};
use crate::ingest::SyncReport;

/// Manage channel accounts: the social network accounts socialcrm listens on.
///
/// Examples:
///   socialcrm channel add --plugin mastodon --name brand \
///       --config instance=https://mastodon.social --secret access-token=...
///   socialcrm channel list
///   socialcrm channel sync brand
///   socialcrm channel remove brand
#[derive(clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    #[command(subcommand)]
    action: Action,
}

#[derive(clap::Subcommand)]
enum Action {
    /// Add an account; the plugin checks the configuration and credentials first.
    Add(#[command(flatten)] NewAccountArgs),
    /// List accounts with their status, last error and post counts.
    List,
    /// Catch up once: poll until the network has nothing more, committing page by page.
    Sync { name: String },
    /// Remove an account and its posts.
    Remove { name: String },
}

/// What `channel add` and `source add` take alike.
#[derive(clap::Args)]
pub(super) struct NewAccountArgs {
    /// An installed or bundled plugin's name, or a plugin directory.
    #[arg(long)]
    pub plugin: String,
    #[arg(long)]
    pub name: String,
    /// A configuration value, NAME=VALUE (repeatable).
    #[arg(long = "config", value_parser = pair)]
    pub config: Vec<(String, String)>,
    /// A secret, NAME=VALUE (repeatable): stored encrypted, never shown, never given to the plugin.
    #[arg(long = "secret", value_parser = pair)]
    pub secrets: Vec<(String, String)>,
    /// Let the plugin reach loopback and private addresses (a self-hosted or local server).
    #[arg(long)]
    pub allow_private: bool,
}

pub(super) fn pair(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(k, v)| (k.trim().to_string(), v.to_string()))
        .filter(|(k, _)| !k.is_empty())
        .ok_or_else(|| format!("`{text}` is not NAME=VALUE"))
}

pub fn run(global: &Global, args: Args) -> anyhow::Result<ExitCode> {
    global.runtime()?.block_on(async {
        let db = global.db().await?;
        match args.action {
            Action::Add(NewAccountArgs {
                plugin,
                name,
                config,
                secrets,
                allow_private,
            }) => {
                let app = global.app(&db).await?;
                let ingest = app.ingest();
                let new = NewChannel {
                    name: name.clone(),
                    plugin,
                    config: config.into_iter().collect::<BTreeMap<_, _>>(),
                    secrets: secrets.into_iter().collect::<BTreeMap<_, _>>(),
                    allow_private,
                };
                let added = channels::add(&db, app.secret_box(), ingest, new).await;
                ingest.egress().flush().await;
                added?;
                println!("added channel {name}; run `socialcrm channel sync {name}` to catch up");
            }
            Action::List => {
                println!(
                    "{:<20} {:<12} {:<12} {:>8}  last error",
                    "name", "network", "status", "posts"
                );
                for c in channels::list(&db).await? {
                    let error = c.last_error.unwrap_or_default();
                    println!(
                        "{:<20} {:<12} {:<12} {:>8}  {error}",
                        c.name, c.network, c.status, c.posts
                    );
                }
            }
            Action::Sync { name } => {
                let app = global.app(&db).await?;
                let ingest = app.ingest();
                let bar = ProgressBar::new_spinner();
                let progress =
                    |r: &SyncReport| bar.set_message(format!("{} pages, {} new posts", r.pages, r.new_posts));
                let owner = format!("cli:{}", std::process::id());
                let report = ingest.sync_now(&name, &owner, &progress).await;
                ingest.egress().flush().await;
                bar.finish_and_clear();
                let report = report?;
                // Posts an interrupted earlier sync committed may still lack their analyses.
                ingest.catch_up_analysis().await?;
                println!(
                    "{name}: {} page(s), {} new post(s), {} already stored",
                    report.pages, report.new_posts, report.duplicates
                );
            }
            Action::Remove { name } => {
                let posts = channels::remove(&db, &name).await?;
                println!("removed channel {name} and its {posts} post(s)");
            }
        }
        anyhow::Ok(ExitCode::SUCCESS)
    })
}
