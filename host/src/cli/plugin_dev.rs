//! The plugin author's commands: `plugin new`, `plugin build`, `plugin dev`
//! and `plugin test`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use std::sync::Arc;

use anyhow::{Context, bail};
use clap::Subcommand;

use super::Global;
use crate::conformance::record::Recorder;
use crate::conformance::{self, FIXTURES_FILE, Fixtures};
use crate::plugins::{self, PluginKind};
use crate::runtime::{NetworkTransport, Plugin, Runtime, RuntimeOptions};
use crate::scaffold;

#[derive(Subcommand)]
pub enum DevCommand {
    /// Create a plugin crate on socialcrm-sdk that builds for wasm32-wasip2
    /// and passes its own tests and `plugin test` as generated.
    ///
    /// Example: socialcrm plugin new acme-feed --kind channel
    #[command(verbatim_doc_comment)]
    New {
        /// The plugin's name: a-z, 0-9 and `-`, starting with a letter.
        name: String,
        #[arg(long, value_parser = parse_kind)]
        kind: PluginKind,
        /// The crate's directory (absent or empty); default: ./NAME.
        #[arg(long)]
        dir: Option<PathBuf>,
        /// A socialcrm-sdk directory to depend on (SDK development); default:
        /// the SDK built into this binary, written into the crate's
        /// `socialcrm-sdk/` folder.
        #[arg(long)]
        sdk: Option<PathBuf>,
    },
    /// Write the plugin contract this binary implements (WIT, with the WASI
    /// packages a channel uses under deps/) into a directory, for bindings
    /// generators of other languages.
    ///
    /// Example: socialcrm plugin wit --out wit && componentize-py -d wit -w channel componentize app -o plugin.wasm
    #[command(verbatim_doc_comment)]
    Wit {
        /// Where to write it (created if absent).
        #[arg(long, default_value = "wit")]
        out: PathBuf,
    },
    /// Build the plugin crate in DIR for wasm32-wasip2 (release), write the
    /// component beside plugin.toml as plugin.wasm, and load it in the
    /// sandbox as the manifest's kind (world, exports, imports, api range).
    ///
    /// Example: socialcrm plugin build acme-feed && socialcrm plugin test acme-feed
    #[command(verbatim_doc_comment)]
    Build {
        /// The crate's directory (with Cargo.toml and plugin.toml); default: `.`.
        #[arg(default_value = ".")]
        dir: PathBuf,
    },
    /// Build the channel crate in DIR and run `check`, then `poll` page after
    /// page against an account, printing each call's posts, requests
    /// (method, host, path, status, ms), log lines, fuel and time. Nothing is
    /// stored. A bare `--secret NAME` reads SOCIALCRM_SECRET_NAME (upper
    /// case, `-` as `_`), which keeps it off the command line.
    ///
    /// Example: socialcrm plugin dev acme-feed --config endpoint=https://api.example.com/posts --secret api-token
    #[command(verbatim_doc_comment)]
    Dev(super::plugin_run::DevRun),
    /// Run the conformance suite against a plugin in the real host runtime:
    /// one PASS/FAIL/SKIP line per check; exit code 0 when none failed.
    ///
    /// Recorded responses and the test account are read from
    /// `conformance/conformance.toml` beside plugin.toml (see
    /// docs/plugin-authors.md, "Conformance"). With `--record`, a channel
    /// is first checked and polled against the live account given by
    /// `--config`/`--secret`, and what the network answered is written there
    /// (secrets and tokens replaced by placeholders) before the suite runs.
    ///
    /// Examples:
    ///   socialcrm plugin test target/plugins/mastodon --fixtures plugins/mastodon/conformance
    ///   socialcrm plugin test acme-feed --record --config endpoint=https://api.example.com/posts --secret api-token
    #[command(verbatim_doc_comment)]
    Test {
        /// The plugin: a `.wasm` with `plugin.toml` beside it, or a directory.
        plugin: String,
        /// The directory holding conformance.toml; default: `conformance/` beside plugin.toml.
        #[arg(long)]
        fixtures: Option<PathBuf>,
        /// Count skipped checks as failures.
        #[arg(long)]
        strict: bool,
        /// How the report is printed: `text`, `json`, or `junit` (XML for CI).
        #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
        format: ReportFormat,
        /// Record the fixtures from a live account first (a channel only).
        #[arg(long)]
        record: bool,
        /// With `--record`: replace an existing conformance.toml.
        #[arg(long, requires = "record")]
        overwrite: bool,
        #[command(flatten)]
        live: super::plugin_run::LiveAccount,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum ReportFormat {
    Text,
    Json,
    Junit,
}

fn parse_kind(kind: &str) -> Result<PluginKind, String> {
    match kind {
        "channel" => Ok(PluginKind::Channel),
        "analyzer" => Ok(PluginKind::Analyzer),
        "source" => Ok(PluginKind::Source),
        "scorer" => Ok(PluginKind::Scorer),
        other => Err(format!(
            "`{other}` is not a plugin kind: channel, analyzer, source or scorer"
        )),
    }
}

pub fn run(_global: &Global, command: DevCommand) -> anyhow::Result<ExitCode> {
    match command {
        DevCommand::New { name, kind, dir, sdk } => new(name, kind, dir, sdk),
        DevCommand::Build { dir } => build(&dir),
        DevCommand::Wit { out } => {
            let written = scaffold::write_wit(&out)?;
            println!(
                "wrote socialcrm:plugin@{} into {}:",
                crate::runtime::WIT_VERSION,
                out.display()
            );
            for file in written {
                println!("  {file}");
            }
            Ok(ExitCode::SUCCESS)
        }
        DevCommand::Dev(options) => super::plugin_run::run(options, &cargo()),
        DevCommand::Test {
            plugin,
            fixtures,
            strict,
            format,
            record,
            overwrite,
            live,
        } => {
            let fixtures = if record {
                Some(self::record(&plugin, fixtures, overwrite, &live)?)
            } else {
                fixtures
            };
            test(&plugin, fixtures, strict, format)
        }
    }
}

fn new(name: String, kind: PluginKind, dir: Option<PathBuf>, sdk: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let dir = dir.unwrap_or_else(|| PathBuf::from(&name));
    let written = scaffold::create(&scaffold::Options {
        name,
        kind,
        dir: dir.clone(),
        sdk,
    })?;
    println!("created {}:", dir.display());
    for file in written {
        println!("  {file}");
    }
    println!("next: cd {} && cargo test", dir.display());
    Ok(ExitCode::SUCCESS)
}

/// The `cargo` of `$CARGO`, else the one on the path.
fn cargo() -> PathBuf {
    std::env::var_os("CARGO").map_or_else(|| PathBuf::from("cargo"), PathBuf::from)
}

fn build(dir: &Path) -> anyhow::Result<ExitCode> {
    let runtime = Runtime::new(RuntimeOptions::default()).context("starting the plugin runtime")?;
    let built = scaffold::build::build(dir, &cargo(), &runtime)?;
    println!(
        "built {} ({} {}, {}, api {}, {} KiB, sha256 {}); it loads in the sandbox",
        built.wasm.display(),
        built.manifest.name,
        built.manifest.version,
        built.manifest.kind.name(),
        built.manifest.api,
        built.bytes.div_ceil(1024),
        built.sha256,
    );
    Ok(ExitCode::SUCCESS)
}

fn test(plugin: &str, fixtures: Option<PathBuf>, strict: bool, format: ReportFormat) -> anyhow::Result<ExitCode> {
    let (manifest, wasm) = plugins::resolve(plugin)?;
    if let Some(path) = plugin_dir(plugin).map(|d| d.join("plugin.toml"))
        && let Ok(text) = std::fs::read_to_string(&path)
        && let Err(e) = plugins::schema::check(&text)
    {
        eprintln!("{}: {e}", path.display());
        return Ok(ExitCode::FAILURE);
    }
    let fixtures = match fixtures.or_else(|| default_fixtures(plugin)) {
        Some(dir) => Fixtures::load(&dir)?,
        None => Fixtures::default(),
    };
    let report = conformance::run(manifest, &wasm, &fixtures).context("starting the plugin runtime")?;
    match format {
        ReportFormat::Text => println!("{report}"),
        ReportFormat::Json => println!("{:#}", conformance::format::json(&report)),
        ReportFormat::Junit => print!("{}", conformance::format::junit(&report)),
    }
    Ok(if report.ok(strict) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// `conformance/` beside the plugin's `plugin.toml` (a bundled plugin's too,
/// found by name), when it holds the file.
fn default_fixtures(plugin: &str) -> Option<PathBuf> {
    let fixtures = fixtures_dir(plugin)?;
    fixtures.join(FIXTURES_FILE).is_file().then_some(fixtures)
}

/// `conformance/` beside the plugin's `plugin.toml`.
fn fixtures_dir(plugin: &str) -> Option<PathBuf> {
    Some(plugin_dir(plugin)?.join("conformance"))
}

/// The directory of the plugin's `plugin.toml` (a bundled plugin's too, found by name).
fn plugin_dir(plugin: &str) -> Option<PathBuf> {
    let path = Path::new(plugin);
    if path.is_dir() {
        Some(path.to_path_buf())
    } else if path.is_file() {
        Some(path.parent()?.to_path_buf())
    } else {
        plugins::bundled_dir(plugin)
    }
}

/// `plugin test --record`: writes the fixtures of a live run; returns their directory.
fn record(
    plugin: &str,
    fixtures: Option<PathBuf>,
    overwrite: bool,
    live: &super::plugin_run::LiveAccount,
) -> anyhow::Result<PathBuf> {
    let dir = fixtures
        .or_else(|| fixtures_dir(plugin))
        .with_context(|| format!("no plugin at {plugin}"))?;
    if dir.join(FIXTURES_FILE).exists() && !overwrite {
        bail!(
            "{} exists; pass --overwrite to record over it",
            dir.join(FIXTURES_FILE).display()
        );
    }
    let (manifest, wasm) = plugins::resolve(plugin)?;
    let recorder = Arc::new(Recorder::new(Arc::new(NetworkTransport)));
    let runtime = Runtime::new(RuntimeOptions {
        transport: recorder.clone(),
        ..RuntimeOptions::default()
    })
    .context("starting the plugin runtime")?;
    let Plugin::Channel(channel) = plugins::load(&runtime, &manifest, &wasm)? else {
        bail!("--record records a channel's network; {} is an analyzer", manifest.name);
    };
    let account = live.account("recording")?;
    let recording = conformance::record::record(&channel, &recorder, &account, live.pages)
        .map_err(|e| anyhow::anyhow!("recording stopped: {e}"))?;
    let written = recording.write(&dir)?;
    let posts: usize = recording.pages.iter().filter_map(|p| p.posts).sum();
    println!(
        "recorded {} pages ({posts} posts) into {}:",
        recording.pages.len(),
        dir.display()
    );
    for file in written {
        println!("  {}", file.display());
    }
    Ok(dir)
}
