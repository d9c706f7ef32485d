//! `socialcrm analyzer reanalyze|jobs|compare|switch|cancel`.

use std::process::ExitCode;

use anyhow::{Context, bail};
use indicatif::{ProgressBar, ProgressStyle};
use semver::Version;
use serde::Serialize;

use super::Global;
use crate::insights::bindings;
use crate::plugins::registry;
use crate::reanalysis::{self, Comparison, Job, RunOptions};
use crate::store::now_ms;

/// Re-analysis of history when an analyzer changes version. Insights read
/// one version per analyzer; a new version's analyses change no score until
/// you compare the two and switch. `plugin upgrade` of an analyzer queues a
/// re-analysis job by itself; `socialcrm serve` works queued jobs in the
/// background, or run one here with a progress bar. See docs/insights.md.
///
/// Examples:
///   socialcrm plugin upgrade sentiment-0.2.0.scpkg
///   socialcrm analyzer reanalyze sentiment
///   socialcrm analyzer jobs
///   socialcrm analyzer compare sentiment
///   socialcrm analyzer switch sentiment 0.2.0
#[derive(clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    action: Action,
}

/// Where a binding holds: a channel account, a language, or (neither)
/// everywhere.
#[derive(clap::Args, Debug)]
struct Where {
    /// Only the posts of this channel account.
    #[arg(long, conflicts_with = "language")]
    channel: Option<String>,
    /// Only the posts in this language as networks report it (`de`, `pt-br`).
    #[arg(long)]
    language: Option<String>,
}

impl Where {
    /// The scope as bindings store it (`channel:NAME`, `language:CODE`).
    fn key(&self) -> Option<String> {
        match (&self.channel, &self.language) {
            (Some(c), _) => Some(format!("channel:{c}")),
            (None, Some(l)) => Some(format!("language:{l}")),
            (None, None) => None,
        }
    }
}

#[derive(clap::Subcommand)]
enum Action {
    /// Re-run an analyzer version over every stored post, in batches, resuming
    /// where an interrupted run stopped. Runs here with a progress bar unless
    /// --queue leaves it to `socialcrm serve`.
    ///
    /// Examples:
    ///   socialcrm analyzer reanalyze sentiment
    ///   socialcrm analyzer reanalyze intent --version 0.2.0 --queue
    #[command(verbatim_doc_comment)]
    Reanalyze {
        /// The analyzer plugin's name.
        name: String,
        /// The version to run (default: the installed active version, else the bundled one).
        #[arg(long)]
        version: Option<Version>,
        /// Only queue the job: `socialcrm serve` works it in the background.
        #[arg(long)]
        queue: bool,
        /// Posts per analyzer call and per transaction.
        #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u32).range(1..=1000))]
        batch: u32,
    },
    /// Re-analysis jobs, newest first, with their progress.
    ///
    /// Example: socialcrm analyzer jobs --plugin sentiment
    #[command(verbatim_doc_comment)]
    Jobs {
        /// Only this analyzer's jobs.
        #[arg(long)]
        plugin: Option<String>,
        #[arg(long, default_value_t = 20)]
        limit: i64,
    },
    /// Compare two versions over the posts both analysed: label and top-intent
    /// agreement, what each label became, counts per label, the mean
    /// sentiment change, and posts that changed. Default versions: those of
    /// the analyzer's latest job.
    ///
    /// Examples:
    ///   socialcrm analyzer compare sentiment
    ///   socialcrm analyzer compare intent --from 0.1.0 --to 0.2.0 --examples 10
    #[command(verbatim_doc_comment)]
    Compare {
        name: String,
        #[arg(long, requires = "to")]
        from: Option<Version>,
        #[arg(long, requires = "from")]
        to: Option<Version>,
        /// Changed posts shown.
        #[arg(long, default_value_t = 5)]
        examples: i64,
    },
    /// Make a version the one insights read for an analyzer, then recompute
    /// every score with it.
    ///
    /// Example: socialcrm analyzer switch sentiment 0.2.0
    #[command(verbatim_doc_comment)]
    Switch { name: String, version: Version },
    /// Cancel a running job (its analyses so far are kept).
    ///
    /// Example: socialcrm analyzer cancel 3
    #[command(verbatim_doc_comment)]
    Cancel { job: i64 },
    /// Which analyzer supplies each signal the insights read.
    Bindings,
    /// Bind a signal (sentiment, intents, topics) to an analyzer, installed
    /// or bundled, under any name; insights read it from the next
    /// recompute, and `serve` runs it over new posts from its next start.
    ///
    /// A rebinding is compare-then-switch: `analyzer reanalyze CANDIDATE`
    /// analyses past posts in the shadow, `analyzer compare-binding` shows
    /// how it agrees, then bind. A candidate that analysed none of the posts
    /// the bound analyzer did is refused unless --force.
    ///
    /// With --channel or --language the binding holds for that channel
    /// account's posts, or the posts in that language as networks report
    /// it; per post a channel's binding comes first, then its language's,
    /// then the one everywhere.
    ///
    /// Examples:
    ///   socialcrm analyzer bind sentiment acme-sentiment
    ///   socialcrm analyzer bind sentiment acme-german --language de
    #[command(verbatim_doc_comment)]
    Bind {
        signal: String,
        analyzer: String,
        #[command(flatten)]
        scope: Where,
        /// Bind without a comparison.
        #[arg(long)]
        force: bool,
    },
    /// Remove a channel's or a language's binding: its posts read the next
    /// binding in line from the next recompute.
    ///
    /// Example: socialcrm analyzer unbind sentiment --language de
    #[command(verbatim_doc_comment)]
    Unbind {
        signal: String,
        #[command(flatten)]
        scope: Where,
    },
    /// How a candidate analyzer agrees with the one bound to a signal, over
    /// the posts both analysed, with examples of posts that changed.
    ///
    /// Example: socialcrm analyzer compare-binding sentiment acme-sentiment --examples 10
    #[command(verbatim_doc_comment)]
    CompareBinding {
        signal: String,
        candidate: String,
        #[command(flatten)]
        scope: Where,
        #[arg(long, default_value_t = 5)]
        examples: i64,
    },
}

pub fn run(global: &Global, args: Args) -> anyhow::Result<ExitCode> {
    let json = args.json;
    global.runtime()?.block_on(async {
        let db = global.db().await?;
        match args.action {
            Action::Reanalyze {
                name,
                version,
                queue,
                batch,
            } => {
                let job = reanalysis::start(&db, &name, version.as_ref(), &super::actor()).await?;
                if queue {
                    return print(json, &job, || {
                        println!(
                            "queued job {}: {} {} over {} posts; `socialcrm serve` works it (see `socialcrm analyzer jobs`)",
                            job.id, job.plugin, job.to_version, job.posts_total
                        )
                    });
                }
                let runtime = global.plugin_runtime()?;
                let bar = ProgressBar::new(job.posts_total.max(0) as u64).with_style(
                    ProgressStyle::with_template("{bar:40} {pos}/{len} posts {per_sec} {eta}")
                        .unwrap_or_else(|_| ProgressStyle::default_bar()),
                );
                let progress = |j: &Job| bar.set_position(j.posts_done.max(0) as u64);
                let options = RunOptions {
                    batch: batch as usize,
                    ..RunOptions::new(format!("cli:{}", std::process::id()))
                };
                let started = std::time::Instant::now();
                let ended = reanalysis::run(&db, &runtime, job.id, &options, &progress).await;
                bar.finish_and_clear();
                let ended = ended?;
                print(json, &ended, || {
                    let secs = started.elapsed().as_secs_f64();
                    println!(
                        "job {} {}: {} of {} posts in {secs:.1} s{}",
                        ended.id,
                        ended.status.as_str(),
                        ended.posts_done,
                        ended.posts_total,
                        failed(&ended)
                    );
                    if let Some(from) = &ended.from_version {
                        println!(
                            "compare with `socialcrm analyzer compare {}`, then `socialcrm analyzer switch {} {}` \
                             (insights read {from} until then)",
                            ended.plugin, ended.plugin, ended.to_version
                        );
                    }
                })
            }
            Action::Jobs { plugin, limit } => {
                let jobs = reanalysis::list(&db, plugin.as_deref(), limit.max(0)).await?;
                print(json, &jobs, || {
                    if jobs.is_empty() {
                        println!("no re-analysis jobs (`socialcrm analyzer reanalyze NAME` starts one)");
                        return;
                    }
                    println!(
                        "{:>5}  {:<16} {:<17} {:<10} {:>6}  {:>15}  worker / error",
                        "job", "plugin", "versions", "status", "done", "posts"
                    );
                    for j in &jobs {
                        let versions = format!("{} → {}", j.from_version.as_deref().unwrap_or("-"), j.to_version);
                        let who = match (&j.lease_owner, &j.error) {
                            (Some(owner), _) if j.lease_until > now_ms() => owner.clone(),
                            (_, Some(error)) => error.clone(),
                            _ => String::new(),
                        };
                        println!(
                            "{:>5}  {:<16} {:<17} {:<10} {:>5.1}%  {:>15}  {who}",
                            j.id,
                            j.plugin,
                            versions,
                            j.status.as_str(),
                            100.0 * j.progress(),
                            format!("{}/{}{}", j.posts_done, j.posts_total, failed(j)),
                        );
                    }
                })
            }
            Action::Bindings => {
                let list = bindings::list(&db).await?;
                print(json, &list, || {
                    for b in &list {
                        let scope = b.scope.as_deref().unwrap_or("everywhere");
                        println!(
                            "{:<10} {:<24} {:<20} bound by {}",
                            b.signal.as_str(),
                            scope,
                            b.analyzer,
                            b.bound_by
                        );
                    }
                })
            }
            Action::CompareBinding {
                signal,
                candidate,
                scope,
                examples,
            } => {
                let scope = scope.key();
                let c = bindings::compare(&db, &signal, scope.as_deref(), &candidate, examples.clamp(0, 50)).await?;
                print(json, &c, || print_comparison(&c))
            }
            Action::Bind {
                signal,
                analyzer,
                scope,
                force,
            } => {
                let scope = scope.key();
                let b = bindings::bind(&db, &signal, scope.as_deref(), &analyzer, &super::actor(), force).await?;
                print(json, &b, || {
                    println!(
                        "{} is read from {} {}: run `socialcrm analyzer reanalyze {}` for past posts, then \
                         `socialcrm insights recompute`",
                        b.signal.as_str(),
                        b.analyzer,
                        b.scope.as_deref().map_or("everywhere".to_string(), |s| format!("for {s}")),
                        b.analyzer
                    )
                })
            }
            Action::Unbind { signal, scope } => {
                let key = scope.key().unwrap_or_default();
                bindings::unbind(&db, &signal, &key, &super::actor()).await?;
                print(json, &serde_json::json!({"signal": signal, "scope": key}), || {
                    println!("{signal} no longer has a binding for {key}: run `socialcrm insights recompute`")
                })
            }
            Action::Compare {
                name,
                from,
                to,
                examples,
            } => {
                let (from, to) = match (from, to) {
                    (Some(from), Some(to)) => (from.to_string(), to.to_string()),
                    _ => default_versions(&db, &name).await?,
                };
                let c = reanalysis::compare(&db, &name, &from, &to, examples.max(0)).await?;
                print(json, &c, || print_comparison(&c))
            }
            Action::Switch { name, version } => {
                let switched = reanalysis::switch(&db, &name, &version, &super::actor(), now_ms()).await?;
                print(json, &switched, || {
                    println!(
                        "insights now read {} {} (was {}); recomputed in {:.1} s: {} post scores, {} topic rows changed",
                        switched.plugin,
                        switched.to_version,
                        switched.from_version.as_deref().unwrap_or("the newest analysis"),
                        switched.recompute.took.as_secs_f64(),
                        switched.recompute.posts_changed,
                        switched.recompute.topics_changed,
                    )
                })
            }
            Action::Cancel { job } => {
                let job = reanalysis::cancel(&db, job, &super::actor()).await?;
                print(json, &job, || {
                    println!("job {} is {} at {}/{} posts", job.id, job.status.as_str(), job.posts_done, job.posts_total)
                })
            }
        }
    })
}

/// The versions of `name`'s latest job, else the pinned one and the active one.
async fn default_versions(db: &crate::store::Db, name: &str) -> anyhow::Result<(String, String)> {
    if let Some(job) = reanalysis::list(db, Some(name), 1).await?.into_iter().next() {
        let from = job
            .from_version
            .with_context(|| format!("job {} of {name} had no earlier version to compare with", job.id))?;
        return Ok((from, job.to_version));
    }
    let to = registry::find(db, name).await?.manifest.version.to_string();
    match reanalysis::insights_version(db, name).await? {
        Some(from) if from != to => Ok((from, to)),
        _ => bail!(
            "no versions to compare for {name}: give --from and --to, or run `socialcrm analyzer reanalyze {name}`"
        ),
    }
}

fn failed(job: &Job) -> String {
    if job.posts_failed > 0 {
        format!(" ({} failed)", job.posts_failed)
    } else {
        String::new()
    }
}

pub(super) fn print<T: Serialize>(json: bool, value: &T, text: impl FnOnce()) -> anyhow::Result<ExitCode> {
    if json {
        println!("{}", serde_json::to_string_pretty(value)?);
    } else {
        text();
    }
    Ok(ExitCode::SUCCESS)
}

fn print_comparison(c: &Comparison) {
    let to = if c.to_plugin == c.plugin {
        c.to_version.clone()
    } else {
        format!("{} {}", c.to_plugin, c.to_version)
    };
    println!(
        "{} {} → {to}: {} posts analysed by both",
        c.plugin, c.from_version, c.compared
    );
    if c.compared == 0 {
        return;
    }
    println!(
        "label agreement {:.1}% ({}), top intent agreement {:.1}% ({})",
        100.0 * c.label_agreement_rate(),
        c.label_agreement,
        100.0 * c.intent_agreement_rate(),
        c.intent_agreement
    );
    if let Some(delta) = c.mean_sentiment_delta {
        println!("mean sentiment change {delta:+.3} over {} posts", c.sentiment_compared);
    }
    let name = |l: &Option<String>| l.clone().unwrap_or_else(|| "(none)".into());
    for (title, counts, confusion) in [
        ("label", &c.labels, &c.labels_confusion),
        ("top intent", &c.intents, &c.intents_confusion),
    ] {
        println!("\n{title:<18} {:>8} {:>8}", c.from_version, c.to_version);
        for l in counts {
            println!("{:<18} {:>8} {:>8}", name(&l.label), l.from, l.to);
        }
        println!("changed:");
        for p in confusion.iter().filter(|p| p.from != p.to) {
            println!("  {} → {}: {}", name(&p.from), name(&p.to), p.posts);
        }
    }
    if !c.examples.is_empty() {
        println!("\nexamples:");
    }
    for e in &c.examples {
        let sentiment = |s: Option<f64>| s.map_or("-".to_string(), |s| format!("{s:.2}"));
        println!(
            "  post {}: {} {} / {} → {} {} / {}: {}",
            e.post_id,
            name(&e.from_label),
            sentiment(e.from_sentiment),
            name(&e.from_intent),
            name(&e.to_label),
            sentiment(e.to_sentiment),
            name(&e.to_intent),
            e.text.chars().take(80).collect::<String>()
        );
    }
}
