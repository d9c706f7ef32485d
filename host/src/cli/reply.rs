//! `socialcrm reply send|template|templates|retry|list`.

use std::process::ExitCode;

use super::Global;
use crate::replies::{self, Reply, ReplyTemplate};

/// Answer a post through its channel's plugin (a micro response).
///
/// The reply is stored before it is sent: queued, then sent with the network's
/// id and URL, or failed with the error (retry it with `reply retry`).
///
/// Examples:
///   socialcrm reply send 42 "Sorry about that! We've sent you a DM."
///   socialcrm reply templates whatsapp
///   socialcrm reply template 43 order_update --language en_US --param 1234 --param Tuesday
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
    /// Answer a post of a conversation with a template message the network
    /// approved: how a conversation is answered once its reply window closed.
    Template {
        post: i64,
        /// The template's name (`reply templates CHANNEL` lists them).
        name: String,
        #[arg(long, default_value = "en_US")]
        language: String,
        /// The value of the next placeholder `{{1}}`, `{{2}}`, ...
        #[arg(long = "param")]
        parameters: Vec<String>,
        #[arg(long)]
        key: Option<String>,
    },
    /// The templates the network approved for a channel account.
    Templates { channel: String },
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
                let ingest = global.app(&db).await?.ingest().clone();
                replies::check_route(&ingest, post, false).await?;
                let queued = replies::queue(&db, post, &text, key.as_deref(), "cli").await?;
                replies::send(&ingest, queued.id, "cli").await?
            }
            Action::Template {
                post,
                name,
                language,
                parameters,
                key,
            } => {
                let ingest = global.app(&db).await?.ingest().clone();
                replies::check_route(&ingest, post, true).await?;
                let template = ReplyTemplate {
                    name,
                    language,
                    parameters,
                };
                let queued = replies::queue_template(&db, post, &template, key.as_deref(), "cli").await?;
                replies::send(&ingest, queued.id, "cli").await?
            }
            Action::Templates { channel } => {
                let ingest = global.app(&db).await?.ingest().clone();
                for t in replies::templates(&ingest, &channel).await? {
                    println!("{} ({}, {}): {}", t.name, t.language, t.category, t.body);
                }
                return Ok(ExitCode::SUCCESS);
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
