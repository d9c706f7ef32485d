//! `socialcrm plugin dev`: builds a channel crate and runs it against a real
//! (or fake) account, printing what each call did: posts, requests, logs,
//! fuel and time; with `--watch`, again after each change to its sources.
//! Nothing is stored.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, bail};

use crate::runtime::types::{LogLine, Page};
use crate::runtime::{Account, CallError, CallOutput, Plugin, RequestRecord, Runtime, RuntimeOptions};
use crate::scaffold;

/// What `plugin dev` runs.
#[derive(clap::Args)]
pub struct DevRun {
    /// The crate's directory (with Cargo.toml and plugin.toml); default: `.`.
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    #[command(flatten)]
    pub account: LiveAccount,
    /// Build and run again after each change to src/, Cargo.toml or plugin.toml.
    #[arg(long)]
    pub watch: bool,
}

/// A live account to run a channel against (`plugin dev`, `plugin test --record`).
#[derive(clap::Args)]
pub struct LiveAccount {
    /// A config value, NAME=VALUE; repeat for each.
    #[arg(long = "config", value_name = "NAME=VALUE")]
    pub config: Vec<String>,
    /// A secret, NAME=VALUE or NAME (read from the environment); repeat for each.
    #[arg(long = "secret", value_name = "NAME[=VALUE]")]
    pub secrets: Vec<String>,
    /// Polls at most this many pages (`plugin dev` stops at a page without has-more; `--record` polls this many times).
    #[arg(long, default_value_t = 3)]
    pub pages: usize,
    /// Let the plugin reach loopback and private addresses (a local fake network).
    #[arg(long)]
    pub allow_private: bool,
}

impl LiveAccount {
    pub fn account(&self, name: &str) -> anyhow::Result<Account> {
        Ok(Account {
            name: name.into(),
            config: pairs(&self.config, "config", |_| None)?,
            secrets: pairs(&self.secrets, "secret", secret_from_env)?,
            allow_private: self.allow_private,
            ..Account::default()
        })
    }
}

/// How often `--watch` looks at the sources.
const WATCH_EVERY: Duration = Duration::from_millis(300);

pub fn run(options: DevRun, cargo: &Path) -> anyhow::Result<ExitCode> {
    let runtime = Runtime::new(RuntimeOptions::default()).context("starting the plugin runtime")?;
    if !options.watch {
        return once(&options, cargo, &runtime);
    }
    loop {
        let before = sources(&options.dir);
        if let Err(e) = once(&options, cargo, &runtime) {
            println!("{e:#}");
        }
        println!("watching {} for changes (Ctrl-C to stop)", options.dir.display());
        while sources(&options.dir) == before {
            std::thread::sleep(WATCH_EVERY);
        }
    }
}

/// The crate's sources as `--watch` compares them: every file of `src/`,
/// `Cargo.toml` and `plugin.toml`, with its modification time.
fn sources(dir: &Path) -> BTreeMap<PathBuf, Option<SystemTime>> {
    let mut files = BTreeMap::new();
    let mut pending = vec![dir.join("src")];
    for name in ["Cargo.toml", "plugin.toml"] {
        files.insert(dir.join(name), modified(&dir.join(name)));
    }
    while let Some(folder) = pending.pop() {
        for entry in std::fs::read_dir(&folder).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let time = modified(&path);
                files.insert(path, time);
            }
        }
    }
    files
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

fn once(options: &DevRun, cargo: &Path, runtime: &Runtime) -> anyhow::Result<ExitCode> {
    let start = Instant::now();
    let built = scaffold::build::build(&options.dir, cargo, runtime)?;
    println!("built {} in {} ms", built.wasm.display(), start.elapsed().as_millis());
    let Plugin::Channel(plugin) = built.plugin else {
        bail!(
            "plugin dev runs channels; run an analyzer with `socialcrm analyze --plugin {}`",
            options.dir.display()
        );
    };
    let mut account = options.account.account("dev")?;
    println!(
        "{} {} against {}",
        built.manifest.name,
        built.manifest.version,
        describe_account(&account)
    );
    if !report("check", &plugin.check(&account), |_| String::new()) {
        return Ok(ExitCode::FAILURE);
    }
    let mut state = String::new();
    for n in 1..=options.account.pages {
        let result = plugin.poll(&account, &state);
        if !report(&format!("poll {n}"), &result, page) {
            return Ok(ExitCode::FAILURE);
        }
        let Ok(out) = result else { break };
        // Key-value writes and the state carry over, as the host commits them.
        account.apply_kv(out.kv_changes);
        state = out.value.state;
        if !out.value.has_more {
            break;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn page(page: &Page) -> String {
    let mut lines = format!(
        "{} posts, has-more {}, state {:?}",
        page.posts.len(),
        page.has_more,
        page.state
    );
    for post in &page.posts {
        let text: String = post.text.chars().take(80).collect();
        lines.push_str(&format!(
            "\n    {:?} {} @{}: {text}",
            post.kind, post.external_id, post.author.handle
        ));
    }
    lines
}

/// Prints one call: its verdict, what it returned, its requests and logs.
fn report<T>(call: &str, result: &Result<CallOutput<T>, CallError>, shown: impl FnOnce(&T) -> String) -> bool {
    match result {
        Ok(out) => {
            let said = shown(&out.value);
            println!(
                "{call}: ok in {} ms, {:.1} M fuel{}{said}",
                out.duration.as_millis(),
                out.fuel_used as f64 / 1e6,
                if said.is_empty() { "" } else { "; " }
            );
            requests(&out.requests);
            logs(&out.logs);
            true
        }
        Err(e) => {
            println!("{call}: FAILED: {}", e.reason);
            logs(&e.logs);
            false
        }
    }
}

fn requests(records: &[RequestRecord]) {
    for r in records {
        let outcome = match (&r.refused, &r.error, r.status) {
            (Some(why), _, _) => format!("refused: {why}"),
            (_, Some(why), _) => format!("error: {why}"),
            (_, _, Some(status)) => status.to_string(),
            _ => "no answer".into(),
        };
        println!(
            "    {} {}://{}{} → {outcome} ({} ms)",
            r.method,
            r.scheme,
            r.host,
            r.path,
            r.duration.as_millis()
        );
    }
}

fn logs(lines: &[LogLine]) {
    for line in lines {
        println!("    log {:?}: {}", line.level, line.message);
    }
}

/// `NAME=VALUE` pairs; a bare `NAME` takes its value from `fallback`.
fn pairs(
    given: &[String],
    what: &str,
    fallback: impl Fn(&str) -> Option<String>,
) -> anyhow::Result<BTreeMap<String, String>> {
    given
        .iter()
        .map(|pair| match pair.split_once('=') {
            Some((name, value)) => Ok((name.to_string(), value.to_string())),
            None => fallback(pair)
                .map(|value| (pair.clone(), value))
                .with_context(|| format!("--{what} {pair}: expected NAME=VALUE")),
        })
        .collect()
}

/// A secret kept off the command line: `--secret api-token` reads
/// `SOCIALCRM_SECRET_API_TOKEN`.
fn secret_from_env(name: &str) -> Option<String> {
    std::env::var(format!("SOCIALCRM_SECRET_{}", name.to_uppercase().replace('-', "_"))).ok()
}

fn describe_account(account: &Account) -> String {
    let config: Vec<String> = account.config.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let secrets: Vec<&str> = account.secrets.keys().map(String::as_str).collect();
    format!("config {} and secrets {}", config.join(" "), secrets.join(" "))
}
