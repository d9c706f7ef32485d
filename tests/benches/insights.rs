//! Insights benchmark: `cargo xtask bench`.
//!
//! A store with N posts (default 1,000,000; `SOCIALCRM_BENCH_POSTS` sets it)
//! and N/10 contacts: every contact has 0 to 4 transactions and a confirmed
//! identity, as many identities again are unlinked, posts spread over a year
//! (1% outbound from a staff account, 10% replies) each with a sentiment and
//! an intent analysis (intents and topics), all written with multi-row
//! inserts. Timed: `recompute` of every score (then again, which must change
//! nothing), a topic's daily trend over 90 days, a product segment's trend,
//! the inbox's first page, and scoring 256 new posts as the ingest would. On
//! SQLite, and on PostgreSQL when `SOCIALCRM_TEST_POSTGRES_URL` is set.

#[path = "common/postgres.rs"]
mod postgres;
#[path = "common/world.rs"]
mod world;

use std::time::Instant;

use socialcrm::insights::{self, Bucket, DAY_MS, TrendQuery};
use socialcrm::store::Db;
use sqlx::Row;
use world::NOW;

async fn run(backend: &str, url: &str, n: usize) {
    let db = Db::connect(url).await.unwrap();
    let start = Instant::now();
    let contacts = world::generate(&db, n).await;
    if backend == "postgresql" {
        sqlx::query("ANALYZE").execute(db.pool()).await.unwrap();
    }
    let generated = start.elapsed().as_secs_f64();

    let start = Instant::now();
    let first = insights::recompute(&db, NOW).await.unwrap();
    let recompute = start.elapsed().as_secs_f64();
    let start = Instant::now();
    let second = insights::recompute(&db, NOW).await.unwrap();
    let again = start.elapsed().as_secs_f64();
    assert!(second.is_unchanged(), "{second:?}");

    let query = |topic: Option<&str>, product: Option<&str>| TrendQuery {
        topic: topic.map(String::from),
        aspect: None,
        product: product.map(String::from),
        signal: None,
        bucket: Bucket::Day,
        since: NOW - 90 * DAY_MS,
        until: NOW,
    };
    let start = Instant::now();
    let series = insights::trend(&db, &query(Some("battery"), None)).await.unwrap();
    let topic_trend = start.elapsed().as_secs_f64();
    assert!(series.iter().map(|p| p.posts).sum::<i64>() > 0);
    let start = Instant::now();
    insights::trend(&db, &query(Some("battery"), Some("X2 e-bike")))
        .await
        .unwrap();
    let segment_trend = start.elapsed().as_secs_f64();
    let start = Instant::now();
    let inbox = insights::inbox(&db, "open", 50, NOW).await.unwrap();
    let inbox_time = start.elapsed().as_secs_f64();
    assert_eq!(inbox.len(), 50.min(n));

    // 256 new posts, analysed, then scored as the ingest would.
    let ids: Vec<i64> = sqlx::query("SELECT id FROM posts ORDER BY id DESC LIMIT 256")
        .fetch_all(db.pool())
        .await
        .unwrap()
        .iter()
        .map(|r| r.get("id"))
        .collect();
    sqlx::query("DELETE FROM post_scores WHERE post_id >= $1")
        .bind(ids.iter().min().copied().unwrap_or(0))
        .execute(db.pool())
        .await
        .unwrap();
    let start = Instant::now();
    insights::refresh_posts(&db, &ids, NOW).await.unwrap();
    let refresh = start.elapsed().as_secs_f64();

    let steps = |r: &insights::RecomputeReport| {
        r.steps
            .iter()
            .map(|(name, d)| format!("{name} {:.1}", d.as_secs_f64()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    println!(
        "insights {backend:<10} recompute steps (s): {}; again: {}",
        steps(&first),
        steps(&second)
    );
    println!(
        "insights {backend:<10} {n} posts, {contacts} contacts (generated in {generated:.0} s): \
         recompute {recompute:.1} s ({} post scores, {} contacts, {} topic rows, {} events, {} alerts), \
         again {again:.1} s (nothing changed); topic trend 90 days {:.1} ms; segment trend {:.1} ms; \
         inbox top 50 {:.1} ms; 256 new posts scored {:.1} ms",
        first.posts_changed,
        first.contacts_changed,
        first.topics_changed,
        first.events_added,
        first.alerts_changed,
        topic_trend * 1e3,
        segment_trend * 1e3,
        inbox_time * 1e3,
        refresh * 1e3,
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let n: usize = std::env::var("SOCIALCRM_BENCH_POSTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir().unwrap();
    let sqlite = format!("sqlite://{}?mode=rwc", dir.path().join("insights.db").display());
    run("sqlite", &sqlite, n).await;
    postgres::in_schema("bench_insights", |url| async move { run("postgresql", &url, n).await }).await;
}
