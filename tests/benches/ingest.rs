//! End-to-end ingest benchmark: `cargo xtask bench`.
//!
//! N mentions wait on a fake Mastodon; one catch-up runs them through the
//! whole pipeline (the mastodon plugin polling over loopback HTTP, the store,
//! the sentiment plugin, identity resolution against a CRM of 10,000
//! contacts). The limit it is compared with, in the same run: the same rows
//! (posts, authors, analyses) written by the store alone on its best path,
//! no plugins: pages of 80 joined into commits of `COMMIT_POSTS` as the
//! pipeline joins them, with the same known-authors cache. Each side gets a
//! fresh database holding the same contacts. On SQLite, and on PostgreSQL
//! when `SOCIALCRM_TEST_POSTGRES_URL` is set. `SOCIALCRM_BENCH_POSTS` sets N
//! (default 100,000).

#[path = "common/postgres.rs"]
mod postgres;

use std::collections::BTreeMap;
use std::time::Instant;

use serde_json::json;
use socialcrm::channels::{self, NewChannel};
use socialcrm::crm::import;
use socialcrm::ingest::{
    COMMIT_POSTS, ChannelRef, Ingest, IngestOptions, KnownAuthors, PageAnalyses, PageRows, commit_pages,
};
use socialcrm::plugins::Manifest;
use socialcrm::runtime::types::{Analysis, Author, Direction, Post, PostKind};
use socialcrm::runtime::{KvChanges, Runtime, RuntimeOptions, VerifiedFields};
use socialcrm::secrets::SecretBox;
use socialcrm::store::Db;
use socialcrm_fakes::FakeMastodon;
use socialcrm_fakes::mastodon::TOKEN;
use socialcrm_sdk::testkit;
use sqlx::Row;

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
const PAGE: usize = 80;

fn plugin_dir(name: &str) -> tempfile::TempDir {
    let src = format!("{ROOT}/plugins/{name}");
    let wasm = testkit::build(&src).expect("build the plugin");
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(format!("{src}/plugin.toml"), dir.path().join("plugin.toml")).unwrap();
    std::fs::copy(wasm, dir.path().join("plugin.wasm")).unwrap();
    dir
}

/// The pipeline: posts per second for a catch-up of `n` mentions.
async fn pipeline(db: &Db, n: usize, mastodon: &str, sentiment: &str) -> f64 {
    let network = FakeMastodon::start().await.unwrap();
    // Throughput, not the network's request budget, is measured.
    network.set_rate_limit(u32::MAX, 300);
    let sbox = SecretBox::from_key(&[1; 32]).unwrap();
    let runtime = Runtime::new(RuntimeOptions::default()).unwrap();
    let manifest = Manifest::parse(&std::fs::read_to_string(format!("{sentiment}/plugin.toml")).unwrap()).unwrap();
    let analyzer = runtime
        .load_analyzer(
            manifest.sandbox(),
            &std::fs::read(format!("{sentiment}/plugin.wasm")).unwrap(),
        )
        .unwrap();
    let ingest = Ingest::new(
        db.clone(),
        sbox.clone(),
        runtime,
        vec![analyzer],
        IngestOptions::default(),
    );
    let new = NewChannel {
        name: "bench".into(),
        plugin: mastodon.into(),
        config: BTreeMap::from([("instance".into(), network.base_url())]),
        secrets: BTreeMap::from([("access-token".into(), TOKEN.into())]),
        allow_private: true,
    };
    channels::add(db, &sbox, &ingest, new).await.unwrap();
    ingest.sync_now("bench", "bench", &|_| {}).await.unwrap();
    for i in 0..n {
        network.push_mention(json!({
            "content": format!("<p>@brand order {i} arrived late and the box was damaged, not happy</p>"),
            "account": {"id": format!("{}", 500_000 + i % 5_000), "username": format!("user{}", i % 5_000),
                        "acct": format!("user{}@bench.example", i % 5_000), "display_name": format!("User {}", i % 5_000),
                        "note": "", "followers_count": 10, "url": "https://bench.example/@user",
                        "avatar": "https://bench.example/a.png", "fields": []},
        }));
    }
    let start = Instant::now();
    let report = ingest.sync_now("bench", "bench", &|_| {}).await.unwrap();
    let elapsed = start.elapsed().as_secs_f64();
    assert_eq!(report.new_posts, n, "every mention stored");
    let unanalysed: i64 = sqlx::query(
        "SELECT COUNT(*) AS n FROM posts p WHERE NOT EXISTS (SELECT 1 FROM analyses a WHERE a.post_id = p.id)",
    )
    .fetch_one(db.pool())
    .await
    .unwrap()
    .get("n");
    assert_eq!(unanalysed, 0, "every post analysed");
    n as f64 / elapsed
}

/// The limit: the same shape of rows, page by page, by the store alone.
async fn store_only(db: &Db, n: usize) -> f64 {
    let id: i64 = sqlx::query(
        "INSERT INTO channel_accounts (name, plugin, network, created_at, updated_at) \
         VALUES ('limit', 'none', 'mastodon', 0, 0) RETURNING id",
    )
    .fetch_one(db.pool())
    .await
    .unwrap()
    .get("id");
    let channel = ChannelRef {
        id,
        network: "mastodon".into(),
        lease_owner: None,
    };
    let posts: Vec<Post> = (0..n)
        .map(|i| Post {
            external_id: format!("{}", 2_000_000 + i),
            kind: PostKind::Mention,
            direction: Direction::Inbound,
            author: Author {
                external_id: format!("{}", 500_000 + i % 5_000),
                handle: format!("user{}@bench.example", i % 5_000),
                display_name: Some(format!("User {}", i % 5_000)),
                profile_url: Some("https://bench.example/@user".into()),
                avatar_url: Some("https://bench.example/a.png".into()),
                bio: None,
                followers: Some(10),
                fields: vec![],
            },
            text: format!("@brand order {i} arrived late and the box was damaged, not happy"),
            url: Some(format!("https://bench.example/@user/{i}")),
            thread_id: None,
            in_reply_to: None,
            created_at: "2026-11-23T10:00:00Z".into(),
            language: Some("en".into()),
            raw: "{\"id\":\"1\"}".repeat(60),
        })
        .collect();
    // The analyses the pipeline writes for these posts, in the same commit.
    let analyses: Vec<PageAnalyses> = vec![PageAnalyses {
        plugin: "sentiment".into(),
        version: "0.1.0".into(),
        analyses: vec![
            Analysis {
                sentiment: Some(-0.6),
                label: Some("negative".into()),
                intents: vec![],
                topics: vec![],
                language: None,
                ..Analysis::default()
            };
            PAGE
        ],
    }];
    let (known, verified) = (KnownAuthors::default(), VerifiedFields::new());
    let start = Instant::now();
    for (commit, batch) in posts.chunks(COMMIT_POSTS).enumerate() {
        let pages: Vec<PageRows<'_>> = batch
            .chunks(PAGE)
            .map(|page| PageRows {
                posts: page,
                verified: &verified,
                analyses: &analyses,
                changes: &[],
            })
            .collect();
        let state = commit.to_string();
        commit_pages(db, &channel, &pages, Some(&state), &KvChanges::new(), &known)
            .await
            .unwrap();
    }
    n as f64 / start.elapsed().as_secs_f64()
}

/// A fresh database at `url` with the CRM both sides resolve against.
async fn fresh(url: &str) -> Db {
    let db = Db::connect(url).await.unwrap();
    let mut csv = String::from("id,name,email\n");
    for i in 0..10_000 {
        csv.push_str(&format!("C{i},User {i},user{i}@example.com\n"));
    }
    import::contacts(&db, csv.as_bytes(), &|_| {}).await.unwrap();
    db
}

async fn run(backend: &str, urls: [&str; 2], n: usize, mastodon: &str, sentiment: &str) {
    let limit = store_only(&fresh(urls[0]).await, n).await;
    let ours = pipeline(&fresh(urls[1]).await, n, mastodon, sentiment).await;
    println!(
        "ingest {backend:<10} {n} posts: pipeline {ours:>8.0} posts/s, store alone {limit:>8.0} posts/s, ratio {:.2}",
        ours / limit
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let n: usize = std::env::var("SOCIALCRM_BENCH_POSTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let (mastodon, sentiment) = (plugin_dir("mastodon"), plugin_dir("sentiment"));
    let (mastodon, sentiment) = (
        mastodon.path().display().to_string(),
        sentiment.path().display().to_string(),
    );
    let dir = tempfile::tempdir().unwrap();
    let sqlite = |side: &str| format!("sqlite://{}?mode=rwc", dir.path().join(format!("{side}.db")).display());
    run(
        "sqlite",
        [&sqlite("limit"), &sqlite("pipeline")],
        n,
        &mastodon,
        &sentiment,
    )
    .await;
    let (mastodon, sentiment) = (&mastodon, &sentiment);
    postgres::in_schema("bench_limit", |limit| async move {
        postgres::in_schema("bench_pipeline", |ours| async move {
            run("postgresql", [&limit, &ours], n, mastodon, sentiment).await
        })
        .await
    })
    .await;
}
