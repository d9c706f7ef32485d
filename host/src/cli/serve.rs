//! `socialcrm serve`.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;

use super::Global;
use crate::events::{DeliveryOptions, Worker};
use crate::ingest::{IngestOptions, Schedule, SchedulerOptions};

/// Run the server: webhooks at /hooks/{channel}, the read API under /api/v1,
/// /healthz, the ingest scheduler polling every enabled channel account, and
/// the delivery of events to their subscriptions (`socialcrm events`).
///
/// Several nodes may share one PostgreSQL (--database-url): polling is leased
/// through the database, so no account is polled by two nodes at once.
///
/// Examples:
///   socialcrm serve
///   socialcrm serve --listen 0.0.0.0:8080 --database-url postgres://crm@db/crm
///   SOCIALCRM_OIDC_CLIENT_SECRET=... socialcrm serve --oidc-issuer https://id.example.com/realms/crm \
///     --oidc-client-id socialcrm --public-url https://crm.example.com \
///     --oidc-role crm-admins=admin --oidc-role crm-agents=agent
#[derive(clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Channel accounts synced at the same time by this node.
    #[arg(long, default_value_t = 4)]
    workers: usize,
    /// Seconds between two polls of a healthy account.
    #[arg(long, default_value_t = 60)]
    poll_interval: u64,
    /// Seconds before the first retry after a failure (doubled after each further failure).
    #[arg(long, default_value_t = 10)]
    backoff: u64,
    /// Seconds between two recomputes of every insight (values, churn,
    /// advocacy, alerts); 0 disables them.
    #[arg(long, default_value_t = 900)]
    recompute_interval: u64,
    /// Seconds between two retention runs (`socialcrm retention`); 0 disables them.
    #[arg(long, default_value_t = 3600)]
    retention_interval: u64,
    /// Plugin development: load a channel plugin found on disk (a path or a
    /// bundled plugin) again when its files change, so `plugin build` takes
    /// effect at the next poll. Installed plugins are never reloaded this
    /// way: that would bypass consent and signer pinning.
    #[arg(long)]
    dev: bool,
    /// Seconds an event receiver has to answer (connection included) before
    /// the attempt fails.
    #[arg(long, default_value_t = 10.0)]
    event_timeout: f64,
    /// Seconds before an event's first retry (doubled after each further
    /// failure, at most 6 hours, ±20% jitter).
    #[arg(long, default_value_t = 10.0)]
    event_backoff: f64,
    /// Attempts before an event's delivery is given up (`events replay` tries again).
    #[arg(long, default_value_t = 15)]
    event_max_attempts: i64,
    /// Seconds a subscription may fail without a single success before it is
    /// disabled (default 5 days).
    #[arg(long, default_value_t = 432_000.0)]
    event_disable_after: f64,
    #[command(flatten)]
    sso: super::sso::SsoArgs,
}

pub fn run(global: &Global, args: Args) -> anyhow::Result<ExitCode> {
    global.runtime()?.block_on(async {
        let db = global.db().await?;
        let schedule = Schedule {
            interval: Duration::from_secs(args.poll_interval.max(1)),
            backoff: Duration::from_secs(args.backoff.max(1)),
            ..Schedule::default()
        };
        let options = IngestOptions {
            dev_reload: args.dev,
            ..global.ingest_options(schedule)
        };
        let mut app = global.app_with(&db, options).await?;
        if let Some(url) = args.sso.public_url() {
            app = app.with_public_url(url);
        }
        if let Some(sso) = args.sso.options()? {
            app = app.with_sso(crate::sso::Sso::new(sso)?);
        }
        if let Some(token) = crate::tokens::first_admin(&db).await? {
            println!("first start: the admin token, shown only now (`socialcrm token create` makes more):\n  {token}");
        }
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("cannot listen on {}", args.listen))?;
        println!("socialcrm serving on http://{}", listener.local_addr()?);
        let (stop_tx, stop) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            shutdown_signal().await;
            eprintln!("stopping: finishing the pages in flight");
            let _ = stop_tx.send(true);
        });
        let options = SchedulerOptions {
            workers: args.workers.max(1),
            ..SchedulerOptions::default()
        };
        // Beside the ingest: queued re-analysis jobs and the scheduled recompute.
        let jobs = crate::reanalysis::Worker::new(app.db(), app.runtime(), &options.node);
        let jobs = tokio::spawn(crate::reanalysis::work(jobs, stop.clone()));
        let every = Duration::from_secs(args.recompute_interval);
        let scoring = tokio::spawn(crate::insights::schedule::run(db.clone(), every, stop.clone()));
        let every = Duration::from_secs(args.retention_interval);
        let retention = tokio::spawn(crate::retention::schedule(db.clone(), every, stop.clone()));
        // An erasure a crash stopped is finished at the next start.
        tokio::spawn({
            let (db, app) = (db.clone(), app.clone());
            async move {
                // Deletion requests recorded but not started yet are started first.
                match crate::privacy::erase::resume(&db, Some(app.ingest())).await {
                    Ok(done) if !done.is_empty() => tracing::info!(receipts = ?done, "finished interrupted erasures"),
                    Ok(_) => {}
                    Err(e) => tracing::error!(error = %e, "finishing interrupted erasures"),
                }
            }
        });
        let seconds = |s: f64| Duration::try_from_secs_f64(s.max(0.001)).unwrap_or(Duration::MAX);
        let delivery = DeliveryOptions {
            timeout: seconds(args.event_timeout),
            backoff: seconds(args.event_backoff),
            max_attempts: args.event_max_attempts.max(1),
            disable_after: seconds(args.event_disable_after),
            ..DeliveryOptions::default()
        };
        let events = Worker::new(db.clone(), app.secret_box().clone(), delivery);
        let events = tokio::spawn(crate::events::deliver::run(events, stop.clone()));
        let egress = app.ingest().egress().clone();
        crate::server::serve(listener, app, options, stop).await?;
        let _ = tokio::join!(jobs, scoring, retention, events);
        egress.flush().await;
        anyhow::Ok(ExitCode::SUCCESS)
    })
}

pub(super) async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(term) => term,
            Err(_) => {
                let _ = ctrl_c.await;
                return;
            }
        };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
