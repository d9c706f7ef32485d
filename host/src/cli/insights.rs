//! `socialcrm insights recompute|inbox|churn|trends|alerts|advocates`.

use std::process::ExitCode;

use anyhow::Context;
use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::Global;
use crate::insights::{self, Bucket, DAY_MS, HOUR_MS, TrendQuery, date};
use crate::store::now_ms;

/// Scores that join social posts with CRM transactions: the inbox by
/// priority, churn risk per contact, sentiment trends per topic or product,
/// spike alerts, advocates. Formulas and thresholds: docs/insights.md.
///
/// `recompute` refreshes every stored score (run it after an import and on a
/// schedule); new posts are scored as they are analysed.
///
/// Examples:
///   socialcrm insights recompute
///   socialcrm insights inbox --top 20
///   socialcrm insights churn --top 10
///   socialcrm insights trends --topic shipping --bucket week --since 12w
///   socialcrm insights trends --product "X2 e-bike" --since 2026-09-01
///   socialcrm insights alerts
///   socialcrm insights advocates --json
#[derive(clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// Print JSON instead of a table.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    action: Action,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum BucketArg {
    Day,
    Week,
}

#[derive(clap::Subcommand)]
enum Action {
    /// Recompute every score: contact value and churn, post priorities and
    /// topics, advocacy events, spike alerts. Running it twice changes nothing.
    Recompute,
    /// Open posts by priority (highest first), with why.
    Inbox {
        #[arg(long, default_value_t = 20)]
        top: i64,
        /// Inbox status of the posts listed.
        #[arg(long, default_value = "open")]
        status: String,
    },
    /// Contacts by churn risk (highest first), with why.
    Churn {
        #[arg(long, default_value_t = 20)]
        top: i64,
    },
    /// Sentiment over time: posts, negative share and mean sentiment per bucket.
    Trends {
        /// Only posts with this topic.
        #[arg(long)]
        topic: Option<String>,
        /// Only posts that mention this taxonomy entry, with the sentiment of
        /// what they say of it (`socialcrm taxonomy list`).
        #[arg(long)]
        aspect: Option<String>,
        /// Only posts by customers who bought this product.
        #[arg(long)]
        product: Option<String>,
        /// Only posts with this custom signal (`urgency`, `urgency>=0.5`,
        /// `tone:polite`), with its mean score per bucket.
        #[arg(long)]
        signal: Option<String>,
        #[arg(long, value_enum, default_value = "day")]
        bucket: BucketArg,
        /// Start: a date (2026-09-01), an RFC 3339 time, or an age (30d, 12w, 48h).
        /// Default: 30 days for daily buckets, 12 weeks for weekly ones.
        #[arg(long)]
        since: Option<String>,
        /// End (exclusive), in the same forms. Default: now.
        #[arg(long)]
        until: Option<String>,
    },
    /// Spike alerts, newest first, with example posts.
    Alerts {
        #[arg(long, default_value_t = 20)]
        limit: i64,
    },
    /// Advocates by points, with the events behind them.
    Advocates {
        #[arg(long, default_value_t = 20)]
        top: i64,
        /// Only events since then (same forms as `trends --since`). Default: all.
        #[arg(long)]
        since: Option<String>,
    },
}

pub fn run(global: &Global, args: Args) -> anyhow::Result<ExitCode> {
    let json = args.json;
    global.runtime()?.block_on(async {
        let db = global.db().await?;
        let now = now_ms();
        match args.action {
            Action::Recompute => {
                let report = insights::recompute(&db, now).await?;
                if json {
                    print_json(&report)?;
                } else {
                    println!(
                        "recomputed in {:.1} s: {} post scores, {} topic rows, {} contact values, {} churn scores \
                         changed; {} advocacy events added; {} alerts written",
                        report.took.as_secs_f64(),
                        report.posts_changed,
                        report.topics_changed,
                        report.contacts_changed,
                        report.churn_changed,
                        report.events_added,
                        report.alerts_changed
                    );
                    let steps: Vec<String> = report
                        .steps
                        .iter()
                        .map(|(name, took)| format!("{name} {:.1} s", took.as_secs_f64()))
                        .collect();
                    println!("steps: {}", steps.join(", "));
                }
            }
            Action::Inbox { top, status } => {
                let items = insights::inbox(&db, &status, top.max(0), now).await?;
                if json {
                    print_json(&items)?;
                } else if items.is_empty() {
                    println!("no scored {status} posts (run `socialcrm insights recompute`)");
                } else {
                    println!("{:>8}  {:>6}  {:<28} text / why", "post", "prio", "author");
                    for i in &items {
                        let author = match &i.contact_name {
                            Some(name) => format!("{name} ({}:{})", i.network, i.handle),
                            None => format!("{}:{}", i.network, i.handle),
                        };
                        println!(
                            "{:>8}  {:>6.1}  {:<28} {}",
                            i.post_id,
                            i.priority,
                            cut(&author, 28),
                            cut(&i.text, 80)
                        );
                        println!("{:>46}{}", "", i.explanation);
                    }
                }
            }
            Action::Churn { top } => {
                let scores = insights::churn_ranking(&db, top.max(0)).await?;
                if json {
                    print_json(&scores)?;
                } else if scores.is_empty() {
                    println!("no scored contacts (run `socialcrm insights recompute`)");
                } else {
                    println!("{:>4}  {:>5}  {:<28} why", "rank", "churn", "contact");
                    for (rank, s) in scores.iter().enumerate() {
                        let who = format!("{} ({})", s.name.as_deref().unwrap_or("(no name)"), s.external_id);
                        println!(
                            "{:>4}  {:>5.2}  {:<28} {}",
                            rank + 1,
                            s.churn,
                            cut(&who, 28),
                            s.explanation
                        );
                    }
                }
            }
            Action::Trends {
                topic,
                aspect,
                product,
                signal,
                bucket,
                since,
                until,
            } => {
                let bucket = match bucket {
                    BucketArg::Day => Bucket::Day,
                    BucketArg::Week => Bucket::Week,
                };
                let default_since = match bucket {
                    Bucket::Day => now - 30 * DAY_MS,
                    Bucket::Week => now - 12 * 7 * DAY_MS,
                };
                let query = TrendQuery {
                    topic,
                    aspect,
                    product,
                    signal,
                    bucket,
                    since: since.map_or(Ok(default_since), |s| parse_time(&s, now))?,
                    until: until.map_or(Ok(now + 1), |s| parse_time(&s, now))?,
                };
                let points = insights::trend(&db, &query).await?;
                if json {
                    print_json(&points)?;
                } else {
                    println!(
                        "{}, {}, {} buckets",
                        match (&query.topic, &query.aspect) {
                            (Some(t), Some(a)) => format!("topic `{t}`, aspect `{a}`"),
                            (Some(t), None) => format!("topic `{t}`"),
                            (None, Some(a)) => format!("aspect `{a}`"),
                            (None, None) => "all topics".to_string(),
                        },
                        query
                            .product
                            .as_deref()
                            .map_or("all authors".to_string(), |p| format!("buyers of `{p}`")),
                        match bucket {
                            Bucket::Day => "daily",
                            Bucket::Week => "weekly (from Monday)",
                        }
                    );
                    let signal = query.signal.as_deref().map(|s| s.split([':', '>']).next().unwrap_or(s));
                    println!(
                        "{:<10}  {:>6}  {:>8}  {:>6}  {:>9}  {}",
                        "from",
                        "posts",
                        "negative",
                        "share",
                        "sentiment",
                        signal.unwrap_or_default()
                    );
                    let two = |v: Option<f64>| v.map_or("-".to_string(), |s| format!("{s:.2}"));
                    for p in &points {
                        println!(
                            "{:<10}  {:>6}  {:>8}  {:>5.0}%  {:>9}  {}",
                            date(p.start),
                            p.posts,
                            p.negative,
                            100.0 * p.negative_share,
                            two(p.mean_sentiment),
                            if signal.is_some() {
                                two(p.mean_signal)
                            } else {
                                String::new()
                            }
                        );
                    }
                }
            }
            Action::Alerts { limit } => {
                let alerts = insights::alerts(&db, limit.max(0)).await?;
                if json {
                    print_json(&alerts)?;
                } else if alerts.is_empty() {
                    println!("no alerts");
                } else {
                    for a in &alerts {
                        println!(
                            "#{:<5} {} {:<6} [{}] {}",
                            a.id,
                            date(a.bucket_start),
                            a.status,
                            a.signals.join(", "),
                            a.message
                        );
                        let examples: Vec<String> = a.examples.iter().map(|id| format!("post {id}")).collect();
                        println!("       examples: {}", examples.join(", "));
                    }
                }
            }
            Action::Advocates { top, since } => {
                let since = since.map_or(Ok(0), |s| parse_time(&s, now))?;
                let advocates = insights::advocates(&db, top.max(0), since).await?;
                if json {
                    print_json(&advocates)?;
                } else if advocates.is_empty() {
                    println!("no advocacy events (run `socialcrm insights recompute`)");
                } else {
                    for a in &advocates {
                        println!(
                            "{:>3}. {:<30} {:>4} point{}: {}",
                            a.rank,
                            cut(&a.name, 30),
                            a.points,
                            if a.points == 1 { "" } else { "s" },
                            a.explanation
                        );
                        for e in &a.events {
                            println!(
                                "       {} {:<18} +{} post {} by {}:{}",
                                date(e.occurred_at),
                                e.kind,
                                e.points,
                                e.post_id,
                                e.network,
                                e.handle
                            );
                        }
                    }
                }
            }
        }
        anyhow::Ok(ExitCode::SUCCESS)
    })
}

fn print_json(value: &impl Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// At most `n` characters, on one line.
fn cut(s: &str, n: usize) -> String {
    let one_line: String = s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    if one_line.chars().count() <= n {
        one_line
    } else {
        let mut out: String = one_line.chars().take(n.saturating_sub(1)).collect();
        out.push('…');
        out
    }
}

/// `2026-09-01` (UTC midnight), an RFC 3339 time, or an age before `now`:
/// `30d`, `12w`, `48h`.
fn parse_time(s: &str, now: i64) -> anyhow::Result<i64> {
    let s = s.trim();
    let age = |unit: i64, digits: &str| -> anyhow::Result<i64> {
        let n: i64 = digits
            .parse()
            .with_context(|| format!("`{s}` is not an age such as 30d"))?;
        Ok(now - n.saturating_mul(unit))
    };
    if let Some(d) = s.strip_suffix('d') {
        return age(DAY_MS, d);
    }
    if let Some(w) = s.strip_suffix('w') {
        return age(7 * DAY_MS, w);
    }
    if let Some(h) = s.strip_suffix('h') {
        return age(HOUR_MS, h);
    }
    let parsed = if s.len() == 10 {
        OffsetDateTime::parse(&format!("{s}T00:00:00Z"), &Rfc3339)
    } else {
        OffsetDateTime::parse(s, &Rfc3339)
    };
    let t = parsed
        .map_err(|_| anyhow::anyhow!("`{s}` is not a date (2026-09-01), an RFC 3339 time or an age (30d, 12w, 48h)"))?;
    Ok((t.unix_timestamp_nanos() / 1_000_000) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_dates_times_and_ages() {
        let now = 1_795_620_600_000;
        assert_eq!(parse_time("2026-11-25", now).unwrap(), 1_795_564_800_000);
        assert_eq!(parse_time("2026-11-25T15:30:00Z", now).unwrap(), now);
        assert_eq!(parse_time("30d", now).unwrap(), now - 30 * DAY_MS);
        assert_eq!(parse_time("2w", now).unwrap(), now - 14 * DAY_MS);
        assert_eq!(parse_time("48h", now).unwrap(), now - 48 * HOUR_MS);
        assert!(parse_time("yesterday", now).is_err());
        assert!(parse_time("xd", now).is_err());
        assert_eq!(cut("a\nb", 10), "a b");
        assert_eq!(cut("abcdef", 4), "abc…");
    }
}
