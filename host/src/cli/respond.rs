//! `socialcrm respond template|reply|broadcast|approve|reject|send|status|list|approval`.

use std::process::ExitCode;

use super::Global;
use crate::responses::{self, Audience, Content, MacroRequest, Response, Variable};

/// Respond with templates: a reply to one post (micro response), or a
/// broadcast on a channel plus a reply to every post of a topic or an alert
/// (macro response), each recipient with its own status. On a channel that
/// requires approval, a response waits until someone other than its author
/// approves it; approving sends it.
///
/// Templates use {{variable}} or {{variable|default}}; see
/// `socialcrm respond template variables`.
///
/// Examples:
///   socialcrm respond template add late-order --body "Hi {{contact.first_name|there}}, sorry about {{order.reference|your order}}!"
///   socialcrm respond reply 42 --template late-order
///   socialcrm respond broadcast --channel brand --text "Shipping is delayed; we're on it." \
///       --topic shipping --reply-template late-order
///   socialcrm respond approval brand on
///   socialcrm respond approve 7 --actor lead
///   socialcrm respond status 7
#[derive(clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// Who acts, in the audit log (default: cli:$USER).
    #[arg(long, global = true)]
    actor: Option<String>,
    #[command(subcommand)]
    action: Action,
}

#[derive(clap::Subcommand)]
enum Action {
    /// Manage reply templates.
    Template {
        #[command(subcommand)]
        action: TemplateAction,
    },
    /// Reply to one post (its id as `socialcrm` shows it); sent at once unless
    /// the channel requires approval.
    ///
    /// Example: socialcrm respond reply 42 --text "Hi {{author.name|there}}, we're on it."
    Reply {
        post: i64,
        #[command(flatten)]
        content: ContentArgs,
    },
    /// Post a broadcast on a channel and, with --topic, --aspect or --alert,
    /// reply to every post of it on that channel.
    ///
    /// Example: socialcrm respond broadcast --channel brand --text "Fixed!" --alert 3 --reply-text "Hi {{author.handle}}, fixed now."
    Broadcast {
        #[arg(long)]
        channel: String,
        #[command(flatten)]
        content: ContentArgs,
        /// The replies' text (by default the broadcast's text or template).
        #[arg(long, conflicts_with = "reply_template")]
        reply_text: Option<String>,
        /// The replies' template.
        #[arg(long)]
        reply_template: Option<String>,
        /// Answer the posts of this topic.
        #[arg(long, conflicts_with_all = ["alert", "aspect"])]
        topic: Option<String>,
        /// Answer the posts that mention this taxonomy entry.
        #[arg(long, conflicts_with = "alert")]
        aspect: Option<String>,
        /// With --topic or --aspect: only posts of the last N days.
        #[arg(long)]
        since_days: Option<u32>,
        /// Answer the posts of this alert (its topic or aspect, on its day).
        #[arg(long)]
        alert: Option<i64>,
    },
    /// Approve a pending response (not your own) and send it.
    ///
    /// Example: socialcrm respond approve 7 --actor lead
    Approve { id: i64 },
    /// Reject a pending response: it is never sent.
    ///
    /// Example: socialcrm respond reject 7 --reason "wrong tone"
    Reject {
        id: i64,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Send again what failed or was interrupted; what was sent is not sent twice.
    ///
    /// Example: socialcrm respond send 7
    Send { id: i64 },
    /// A response and the status of each recipient.
    ///
    /// Example: socialcrm respond status 7
    Status { id: i64 },
    /// The newest responses.
    ///
    /// Example: socialcrm respond list --status pending-approval
    List {
        #[arg(long, value_parser = ["pending-approval", "approved", "rejected", "sending", "sent", "partially-failed", "failed"])]
        status: Option<String>,
        #[arg(long, default_value_t = 20)]
        limit: i64,
    },
    /// Show, or turn on or off, approval for responses on a channel.
    ///
    /// Example: socialcrm respond approval brand on
    Approval {
        channel: String,
        #[arg(value_parser = ["on", "off"])]
        state: Option<String>,
    },
}

#[derive(clap::Subcommand)]
enum TemplateAction {
    /// Add a template, or replace the body of an existing one.
    ///
    /// Example: socialcrm respond template add thanks --body "Thanks {{author.name|}}!"
    Add {
        name: String,
        #[arg(long)]
        body: String,
    },
    /// List templates.
    List,
    /// Remove a template (responses made from it keep their texts).
    Remove { name: String },
    /// The variables templates can use.
    Variables,
}

/// The text of a response: given, or a stored template.
#[derive(clap::Args)]
#[group(required = true, multiple = false)]
struct ContentArgs {
    /// The text (it may use variables like a template).
    #[arg(long)]
    text: Option<String>,
    /// A stored template's name.
    #[arg(long)]
    template: Option<String>,
}

impl ContentArgs {
    fn content(self) -> Content {
        match (self.text, self.template) {
            (Some(text), _) => Content::Text(text),
            (None, template) => Content::Template(template.unwrap_or_default()),
        }
    }
}

pub fn run(global: &Global, args: Args) -> anyhow::Result<ExitCode> {
    let actor = args.actor.unwrap_or_else(super::actor);
    global.runtime()?.block_on(async {
        let db = global.db().await?;
        let response = match args.action {
            Action::Template { action } => {
                match action {
                    TemplateAction::Add { name, body } => {
                        let saved = responses::save_template(&db, &name, &body, &actor).await?;
                        let used: Vec<&str> = saved.variables.iter().map(|v| v.name()).collect();
                        println!(
                            "saved template {} (variables: {})",
                            saved.name,
                            or_none(&used.join(", "))
                        );
                    }
                    TemplateAction::List => {
                        for t in responses::templates(&db).await? {
                            println!("{:<24} {}", t.name, t.body);
                        }
                    }
                    TemplateAction::Remove { name } => {
                        responses::remove_template(&db, &name, &actor).await?;
                        println!("removed template {name}");
                    }
                    TemplateAction::Variables => {
                        for v in Variable::ALL {
                            println!("{:<24} {}", v.to_string(), v.describe());
                        }
                    }
                }
                return Ok(ExitCode::SUCCESS);
            }
            Action::Reply { post, content } => {
                let created = responses::create_micro(&db, post, &content.content(), &actor).await?;
                send_unless_pending(global, &db, created, &actor).await?
            }
            Action::Broadcast {
                channel,
                content,
                reply_text,
                reply_template,
                topic,
                aspect,
                since_days,
                alert,
            } => {
                let since = since_days.map(|d| crate::store::now_ms() - i64::from(d) * crate::insights::DAY_MS);
                let audience = match (topic, aspect, alert) {
                    (Some(topic), ..) => Some(Audience::Topic { topic, since }),
                    (None, Some(aspect), _) => Some(Audience::Aspect { aspect, since }),
                    (None, None, Some(id)) => Some(Audience::Alert(id)),
                    (None, None, None) => None,
                };
                let request = MacroRequest {
                    channel,
                    broadcast: content.content(),
                    reply: reply_text.map(Content::Text).or(reply_template.map(Content::Template)),
                    audience,
                };
                let created = responses::create_macro(&db, &request, &actor).await?;
                send_unless_pending(global, &db, created, &actor).await?
            }
            Action::Approve { id } => printed(responses::approve(global.app(&db).await?.ingest(), id, &actor).await?),
            Action::Reject { id, reason } => printed(responses::reject(&db, id, &actor, reason.as_deref()).await?),
            Action::Send { id } => printed(responses::send(global.app(&db).await?.ingest(), id, &actor).await?),
            Action::Status { id } => {
                let response = responses::get(&db, id).await?;
                print(&response);
                println!(
                    "{:>8}  {:<32} {:<8} {:>6}  url or error",
                    "post", "author", "status", "reply"
                );
                for r in responses::recipients(&db, id).await? {
                    let outcome = match r.status.as_str() {
                        "sent" => r.url.or(r.external_id),
                        _ => r.error,
                    };
                    println!(
                        "{:>8}  {:<32} {:<8} {:>6}  {}",
                        r.post_id,
                        r.author,
                        r.status,
                        r.reply_id.map_or("-".into(), |id| id.to_string()),
                        outcome.unwrap_or_default()
                    );
                }
                response
            }
            Action::List { status, limit } => {
                for response in responses::list(&db, status.as_deref(), limit.clamp(1, 1000)).await? {
                    print(&response);
                }
                return Ok(ExitCode::SUCCESS);
            }
            Action::Approval { channel, state } => {
                if let Some(state) = state {
                    responses::set_approval(&db, &channel, state == "on", &actor).await?;
                }
                let required = responses::approval_required(&db, &channel).await?;
                println!(
                    "responses on {channel} {}",
                    if required {
                        "need another person's approval"
                    } else {
                        "are sent without approval"
                    }
                );
                return Ok(ExitCode::SUCCESS);
            }
        };
        Ok(match response.status.as_str() {
            "failed" | "partially-failed" => ExitCode::FAILURE,
            _ => ExitCode::SUCCESS,
        })
    })
}

/// Sends a new response at once when its channel needs no approval.
async fn send_unless_pending(
    global: &Global,
    db: &crate::store::Db,
    created: Response,
    actor: &str,
) -> anyhow::Result<Response> {
    if created.status == "pending-approval" {
        print(&created);
        println!(
            "waiting for approval by someone other than {actor}: socialcrm respond approve {}",
            created.id
        );
        return Ok(created);
    }
    Ok(printed(
        responses::send(global.app(db).await?.ingest(), created.id, actor).await?,
    ))
}

fn printed(r: Response) -> Response {
    print(&r);
    r
}

fn print(r: &Response) {
    let audience = match (&r.topic, &r.aspect, r.alert_id) {
        (.., Some(alert)) => format!(" to alert {alert}"),
        (Some(topic), ..) => format!(" to topic {topic}"),
        (None, Some(aspect), None) => format!(" to aspect {aspect}"),
        (None, None, None) => String::new(),
    };
    let c = r.counts;
    println!(
        "response {} ({}{audience}) on {}: {} — recipients: {} sent, {} failed, {} queued, {} skipped{}",
        r.id,
        r.kind,
        r.channel,
        r.status,
        c.sent,
        c.failed,
        c.queued,
        c.skipped,
        r.broadcast
            .as_ref()
            .map_or(String::new(), |b| format!("; broadcast {}", b.status))
    );
}

fn or_none(text: &str) -> &str {
    if text.is_empty() { "none" } else { text }
}
