//! `socialcrm reply send|retry|list`.

use std::process::ExitCode;

use super::Global;
use crate::replies::{self, Reply};

/// Answer a post through its channel's plugin (a micro response).
///
/// The reply is stored before it is sent: queued, then sent with the network's
/// id and URL, or failed with the error (retry it with `reply retry`).
///
/// Examples:
///   socialcrm reply send 42 "Sorry about that! We've sent you a DM."
///   socialcrm reply retry 7
///   socialcrm reply list --post 42
#[derive(clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    #[command(subcommand)]
    action: Action,
}

#[derive(clap::Subcommand)]
enum Action {
    /// Reply to a stored post (its id as `socialcrm` shows it).
    Send {
        post: i64,
        text: String,
        /// Makes a repeated command return the first reply instead of sending again
        /// (by default the key is derived from the post and the text).
        #[arg(long)]
        key: Option<String>,
    },
    /// Send a failed (or interrupted) reply again.
    Retry { reply: i64 },
    /// The newest replies, or those to one post.
    List {
        #[arg(long)]
        post: Option<i64>,
        #[arg(long, default_value_t = 20)]
        limit: i64,
    },
}

pub fn run(global: &Global, args: Args) -> anyhow::Result<ExitCode> {
    global.runtime()?.block_on(async {
        let db = global.db().await?;
        let reply = match args.action {
            Action::Send { post, text, key } => {
                let queued = replies::queue(&db, post, &text, key.as_deref(), "cli").await?;
                replies::send(global.app(&db).await?.ingest(), queued.id, "cli").await?
            }
            Action::Retry { reply } => replies::send(global.app(&db).await?.ingest(), reply, "cli").await?,
            Action::List { post, limit } => {
                for reply in replies::list(&db, post, limit.clamp(1, 1000)).await? {
                    print(&reply);
                }
                return Ok(ExitCode::SUCCESS);
            }
        };
        print(&reply);
        Ok(if reply.status == "sent" {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        })
    })
}

fn print(r: &Reply) {
    let outcome = match r.status.as_str() {
        "sent" => r.url.clone().or(r.external_id.clone()).unwrap_or_default(),
        _ => r.error.clone().unwrap_or_default(),
    };
    println!(
        "reply {} to post {} on {}: {} ({} attempt(s)) {outcome}",
        r.id,
        r.post_id.map_or("-".into(), |p| p.to_string()),
        r.channel,
        r.status,
        r.attempts
    );
}
