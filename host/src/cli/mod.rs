//! The `socialcrm` command line.

mod analyze;
mod analyzer;
mod channel;
mod currency;
mod demo;
mod events;
mod identity;
mod import;
mod insights;
mod plugin;
mod plugin_dev;
mod plugin_run;
mod reply;
mod respond;
mod retention;
mod scorer;
mod secrets;
mod serve;
mod source;
mod sso;
mod subject;
mod taxonomy;
mod token;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::app::App;
use crate::ingest::{Ingest, IngestOptions, Schedule};
use crate::plugins::PluginKind;
use crate::plugins::registry;
use crate::runtime::{Runtime, RuntimeOptions};
use crate::secrets::SecretBox;
use crate::store::Db;

#[derive(Parser)]
#[command(
    name = "socialcrm",
    version,
    about = "A Social CRM whose networks and analytics are sandboxed WebAssembly plugins"
)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

/// Options every command shares.
#[derive(clap::Args)]
pub struct Global {
    /// Where socialcrm keeps its data (the SQLite database, the compiled-plugin cache).
    #[arg(long, global = true, env = "SOCIALCRM_DATA_DIR", default_value = "socialcrm-data")]
    data_dir: PathBuf,
    /// A PostgreSQL URL (postgres://USER@HOST/DB) instead of the embedded SQLite file.
    #[arg(long, global = true, env = "SOCIALCRM_DATABASE_URL")]
    database_url: Option<String>,
    /// Analyzer plugins run over new posts (repeatable; bundled name or directory).
    #[arg(long = "analyzer", global = true, default_values = ["sentiment", "intent"])]
    analyzers: Vec<String>,
    /// Seconds a sync holds a channel's lease without renewing it: after a
    /// crash, another node (or a new sync) resumes the channel this long after.
    #[arg(long, global = true, default_value_t = 60)]
    lease_ttl: u64,
}

impl Global {
    fn runtime(&self) -> anyhow::Result<tokio::runtime::Runtime> {
        Ok(tokio::runtime::Builder::new_multi_thread().enable_all().build()?)
    }

    fn secret_box(&self) -> anyhow::Result<SecretBox> {
        Ok(SecretBox::load_or_create(&self.data_dir)?)
    }

    fn plugin_runtime(&self) -> anyhow::Result<Runtime> {
        Runtime::new(RuntimeOptions {
            cache_dir: crate::runtime::private_dir(self.data_dir.join("cache")),
            ..RuntimeOptions::default()
        })
        .context("starting the plugin runtime")
    }

    /// The application with the chosen analyzers loaded (commands that ingest).
    async fn app(&self, db: &Db) -> anyhow::Result<App> {
        self.app_with(db, self.ingest_options(Schedule::default())).await
    }

    async fn app_with(&self, db: &Db, options: IngestOptions) -> anyhow::Result<App> {
        let runtime = self.plugin_runtime()?;
        let mut analyzers = Vec::new();
        let mut running = Vec::new();
        for name in &self.analyzers {
            let found = registry::find(db, name).await?;
            if found.manifest.kind != PluginKind::Analyzer {
                anyhow::bail!("plugin {name} is not an analyzer");
            }
            running.push(found.manifest.name.clone());
            analyzers.push(runtime.load_analyzer(found.manifest.sandbox(), &found.wasm)?);
        }
        // The bound analyzers run too (the insights read them); one that
        // cannot be loaded leaves its signal without new analyses, said once here.
        for name in crate::insights::bindings::bound_analyzers(db).await? {
            if running.contains(&name) {
                continue;
            }
            let loaded = match registry::find(db, &name).await {
                Ok(found) if found.manifest.kind == PluginKind::Analyzer => runtime
                    .load_analyzer(found.manifest.sandbox(), &found.wasm)
                    .map_err(|e| e.to_string()),
                Ok(_) => Err("it is not an analyzer".to_string()),
                Err(e) => Err(e.to_string()),
            };
            match loaded {
                Ok(analyzer) => analyzers.push(analyzer),
                Err(e) => tracing::warn!(analyzer = %name, error = %e, "a bound analyzer does not run"),
            }
        }
        // What they declare beyond the built-in signals, for the API and the inbox.
        for analyzer in &analyzers {
            if let Err(e) = crate::insights::custom::register(db, analyzer).await {
                tracing::warn!(analyzer = %analyzer.meta().spec.name, error = %e, "custom signals not registered");
            }
        }
        let ingest = Ingest::new(db.clone(), self.secret_box()?, runtime, analyzers, options);
        Ok(App::new(ingest))
    }

    /// The application without analyzers (commands that change plugins).
    fn bare_app(&self, db: &Db) -> anyhow::Result<App> {
        let options = self.ingest_options(Schedule::default());
        let ingest = Ingest::new(
            db.clone(),
            self.secret_box()?,
            self.plugin_runtime()?,
            Vec::new(),
            options,
        );
        Ok(App::new(ingest))
    }

    fn ingest_options(&self, schedule: Schedule) -> IngestOptions {
        IngestOptions {
            schedule,
            lease_ttl: Duration::from_secs(self.lease_ttl.max(1)),
            ..IngestOptions::default()
        }
    }

    async fn db(&self) -> anyhow::Result<Db> {
        Ok(match &self.database_url {
            Some(url) => Db::connect(url).await?,
            None => Db::open_default(&self.data_dir).await?,
        })
    }
}

/// Who the audit log names for a command-line change.
fn actor() -> String {
    format!("cli:{}", std::env::var("USER").unwrap_or_else(|_| "unknown".into()))
}

#[derive(Subcommand)]
enum Command {
    Analyze(analyze::Args),
    Analyzer(analyzer::Args),
    Import(import::Args),
    Channel(channel::Args),
    Source(source::Args),
    Currency(currency::Args),
    Identity(identity::Args),
    Insights(insights::Args),
    Plugin(plugin::Args),
    Serve(serve::Args),
    Reply(reply::Args),
    Respond(respond::Args),
    Retention(retention::Args),
    Scorer(scorer::Args),
    Token(token::Args),
    Secrets(secrets::Args),
    Demo(demo::Args),
    Events(events::Args),
    Subject(subject::Args),
    Taxonomy(taxonomy::Args),
}

pub fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("SOCIALCRM_LOG").unwrap_or_else(|_| "warn".into()))
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Analyze(args) => analyze::run(&cli.global, args),
        Command::Analyzer(args) => analyzer::run(&cli.global, args),
        Command::Scorer(args) => scorer::run(&cli.global, args),
        Command::Taxonomy(args) => taxonomy::run(&cli.global, args),
        Command::Import(args) => import::run(&cli.global, args),
        Command::Channel(args) => channel::run(&cli.global, args),
        Command::Source(args) => source::run(&cli.global, args),
        Command::Currency(args) => currency::run(&cli.global, args),
        Command::Identity(args) => identity::run(&cli.global, args),
        Command::Insights(args) => insights::run(&cli.global, args),
        Command::Plugin(args) => plugin::run(&cli.global, args),
        Command::Serve(args) => serve::run(&cli.global, args),
        Command::Reply(args) => reply::run(&cli.global, args),
        Command::Respond(args) => respond::run(&cli.global, args),
        Command::Retention(args) => retention::run(&cli.global, args),
        Command::Token(args) => token::run(&cli.global, args),
        Command::Secrets(args) => secrets::run(&cli.global, args),
        Command::Demo(args) => demo::run(&cli.global, args),
        Command::Events(args) => events::run(&cli.global, args),
        Command::Subject(args) => subject::run(&cli.global, args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
