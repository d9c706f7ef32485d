//! `socialcrm demo`.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;

use super::Global;
use crate::demo::{self, World};
use crate::ingest::{Schedule, SchedulerOptions};
use crate::tokens::{self, Role, TokenError};

/// The token the demo prints, made afresh each run.
const DEMO_TOKEN: &str = "demo-admin";

/// Run the product on a demo world: a Mastodon-compatible network and a
/// Threads API on loopback where customers of a fictional e-bike brand talk
/// about it, the brand's contacts and orders imported, the bundled plugins
/// listening, scoring and linking, and the web UI and API served. New posts
/// keep arriving.
///
/// Prints the URL and an admin token; stop with Ctrl-C.
///
/// Examples:
///   socialcrm demo
///   socialcrm demo --listen 127.0.0.1:0 --data-dir /tmp/demo
#[derive(clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// Address to listen on (port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Seconds between two new posts on the demo networks.
    #[arg(long, default_value_t = 20)]
    every: u64,
}

pub fn run(global: &Global, args: Args) -> anyhow::Result<ExitCode> {
    global.runtime()?.block_on(async {
        let db = global.db().await?;
        let schedule = Schedule {
            interval: Duration::from_secs(3),
            backoff: Duration::from_secs(3),
            ..Schedule::default()
        };
        let app = global.app_with(&db, global.ingest_options(schedule)).await?;
        let world = World::start().await.context("starting the demo networks")?;
        demo::seed(&db, app.secret_box(), app.ingest(), &world).await?;
        match tokens::revoke(&db, DEMO_TOKEN, "demo").await {
            Ok(()) | Err(TokenError::NotFound(_)) => {}
            Err(e) => return Err(e.into()),
        }
        let token = tokens::create(&db, DEMO_TOKEN, Role::Admin, "demo").await?;
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("cannot listen on {}", args.listen))?;
        for (api, base_url) in world.networks() {
            println!("demo network ({api} API) at {base_url}");
        }
        println!("socialcrm demo running at http://{}/", listener.local_addr()?);
        println!("admin token: {token}");

        let (stop_tx, stop) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            super::serve::shutdown_signal().await;
            let _ = stop_tx.send(true);
        });
        let arrivals = tokio::spawn(world.run(Duration::from_secs(args.every.max(1)), stop.clone()));
        // Alerts and advocates come from the recompute: often, on a world this small.
        let scoring = tokio::spawn(crate::insights::schedule::run(
            db.clone(),
            Duration::from_secs(15),
            stop.clone(),
        ));
        // Event subscriptions are served as by `serve`, with its defaults.
        let events = crate::events::Worker::new(db.clone(), app.secret_box().clone(), Default::default());
        let events = tokio::spawn(crate::events::deliver::run(events, stop.clone()));
        crate::server::serve(listener, app, SchedulerOptions::default(), stop).await?;
        let _ = tokio::join!(arrivals, scoring, events);
        anyhow::Ok(ExitCode::SUCCESS)
    })
}
