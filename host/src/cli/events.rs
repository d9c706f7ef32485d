//! `socialcrm events subscribe|list|remove|enable|disable|rotate-secret|deliveries|replay`.

use std::process::ExitCode;
use std::time::Duration;

use super::Global;
use crate::events::subscriptions::{self, DEFAULT_GRACE};
use crate::events::{DeliveryStatus, EventType, NewSubscription};
use crate::server::page::MAX_LIMIT;

/// Event subscriptions: other systems (n8n, Zapier, your own services)
/// receive what happens here as signed HTTP POSTs (Standard Webhooks:
/// `webhook-id`, `webhook-timestamp`, `webhook-signature`), at least once.
/// `socialcrm serve` delivers them; docs/api.md ("Events") has the payloads
/// and how to verify a signature.
///
/// Examples:
///   socialcrm events subscribe https://hooks.example.com/crm --type post.analyzed --intent complaint --min-priority 40
///   socialcrm events list
///   socialcrm events deliveries --subscription 1 --status failed
///   socialcrm events replay 42
///   socialcrm events rotate-secret 1 --grace 3600
#[derive(clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    #[command(subcommand)]
    action: Action,
}

#[derive(clap::Subcommand)]
enum Action {
    /// Subscribe a URL to event types; prints the signing secret (shown this once).
    Subscribe {
        /// Where events are POSTed (http or https).
        url: String,
        /// An event type wanted (repeatable, or comma-separated).
        #[arg(long = "type", required = true, value_delimiter = ',')]
        types: Vec<EventType>,
        /// Only events of this channel (for the types that carry one: post.*, response.*).
        #[arg(long)]
        channel: Option<String>,
        /// Only posts with this intent (post.analyzed).
        #[arg(long)]
        intent: Option<String>,
        /// Only posts of at least this priority (post.analyzed; 0 to 1000).
        #[arg(long)]
        min_priority: Option<f64>,
        /// Let the URL resolve to loopback or private addresses (a receiver
        /// on your own network). Never possible over the API.
        #[arg(long)]
        allow_private: bool,
    },
    /// Every subscription with its status (a disabled one says why).
    List,
    /// Remove a subscription and its delivery log.
    Remove { id: i64 },
    /// Enable a subscription again (after fixing the receiver); its failure run starts over.
    Enable { id: i64 },
    /// Stop delivering to a subscription (events of its types are not recorded for it meanwhile).
    Disable { id: i64 },
    /// A new signing secret (printed once); the old one keeps signing beside it for the grace period.
    RotateSecret {
        id: i64,
        /// Seconds the old secret still signs (at most a week).
        #[arg(long, default_value_t = DEFAULT_GRACE.as_secs())]
        grace: u64,
    },
    /// The delivery log, newest first.
    Deliveries {
        #[arg(long)]
        subscription: Option<i64>,
        #[arg(long, value_enum)]
        status: Option<DeliveryStatus>,
        #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(i64).range(1..=MAX_LIMIT))]
        limit: i64,
    },
    /// Deliver an event to its subscription again (by delivery id, from `deliveries`).
    Replay { delivery: i64 },
}

impl clap::ValueEnum for DeliveryStatus {
    fn value_variants<'a>() -> &'a [Self] {
        &DeliveryStatus::ALL
    }

    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        Some(clap::builder::PossibleValue::new(self.as_str()))
    }
}

impl clap::ValueEnum for EventType {
    fn value_variants<'a>() -> &'a [Self] {
        &EventType::ALL
    }

    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        Some(clap::builder::PossibleValue::new(self.as_str()))
    }
}

pub fn run(global: &Global, args: Args) -> anyhow::Result<ExitCode> {
    global.runtime()?.block_on(async {
        let db = global.db().await?;
        let actor = super::actor();
        match args.action {
            Action::Subscribe {
                url,
                types,
                channel,
                intent,
                min_priority,
                allow_private,
            } => {
                let new = NewSubscription {
                    url,
                    types,
                    channel,
                    intent,
                    min_priority,
                    allow_private,
                };
                let created = subscriptions::subscribe(&db, &global.secret_box()?, &new, &actor).await?;
                eprintln!(
                    "subscription {} created; its signing secret is shown only now:",
                    created.subscription.id
                );
                println!("{}", created.secret);
            }
            Action::List => {
                println!("{:<4} {:<9} {:<44} types", "id", "status", "url");
                for s in subscriptions::list(&db).await? {
                    let types: Vec<&str> = s.types.iter().map(|t| t.as_str()).collect();
                    println!("{:<4} {:<9} {:<44} {}", s.id, s.status, s.url, types.join(","));
                    if let Some(reason) = &s.disabled_reason {
                        println!("     {reason}");
                    }
                }
            }
            Action::Remove { id } => {
                subscriptions::remove(&db, id, &actor).await?;
                println!("subscription {id} removed");
            }
            Action::Enable { id } | Action::Disable { id } => {
                let enable = matches!(args.action, Action::Enable { .. });
                let s = subscriptions::set_enabled(&db, id, enable, &actor).await?;
                println!("subscription {id} {}", s.status);
            }
            Action::RotateSecret { id, grace } => {
                let rotated =
                    subscriptions::rotate_secret(&db, &global.secret_box()?, id, Duration::from_secs(grace), &actor)
                        .await?;
                eprintln!(
                    "subscription {id}: new secret (shown only now); the old one signs too until {}",
                    rotated.previous_valid_until
                );
                println!("{}", rotated.secret);
            }
            Action::Deliveries {
                subscription,
                status,
                limit,
            } => {
                let rows = subscriptions::deliveries(&db, subscription, status, i64::MAX, limit).await?;
                println!(
                    "{:<6} {:<4} {:<24} {:<10} {:<8} {:<6} {:<8} error",
                    "id", "sub", "event", "status", "attempts", "http", "ms"
                );
                for d in rows {
                    let or_dash = |v: Option<i64>| v.map_or("-".to_string(), |v| v.to_string());
                    println!(
                        "{:<6} {:<4} {:<24} {:<10} {:<8} {:<6} {:<8} {}",
                        d.id,
                        d.subscription_id,
                        d.event_type.as_str(),
                        d.status.as_str(),
                        d.attempts,
                        or_dash(d.last_status),
                        or_dash(d.last_latency_ms),
                        d.last_error.as_deref().unwrap_or("")
                    );
                }
            }
            Action::Replay { delivery } => {
                let d = subscriptions::replay(&db, delivery, &actor).await?;
                println!("delivery {delivery} ({} {}) queued again", d.event_type, d.event_id);
            }
        }
        anyhow::Ok(ExitCode::SUCCESS)
    })
}
