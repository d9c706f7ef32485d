//! Erasure benchmark: `cargo xtask bench`.
//!
//! The insights benchmark's world (N posts, default 1,000,000;
//! `SOCIALCRM_BENCH_POSTS` sets it) and one data subject in it: a contact
//! (name, email, phone, handle) confirmed-linked to a Mastodon identity with
//! `SUBJECT_POSTS` posts spread over the year, analysed like the world's, and
//! `MENTIONS` posts of other people that name the subject's handle; all scored
//! by `recompute`. An ingest task commits pages of `PAGE` new posts by varied
//! authors back to back through the store's commit (with the known-authors
//! cache and do-not-track list `serve` has). Measured: its rate alone for
//! `SECONDS`, then finding and erasing the subject (docs/privacy.md) while it
//! keeps running, and its rate meanwhile; each step's time (the receipt's
//! step, sampled every `SAMPLE`) and rows (the receipt's counts). On SQLite,
//! and on PostgreSQL when `SOCIALCRM_TEST_POSTGRES_URL` is set.

#[path = "common/postgres.rs"]
mod postgres;
#[path = "common/world.rs"]
mod world;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use socialcrm::ingest::{ChannelRef, KnownAuthors, PageAnalyses, PageRows, commit_pages};
use socialcrm::insights::{self, DAY_MS};
use socialcrm::privacy::erase::STEPS;
use socialcrm::privacy::{self, Start, erase};
use socialcrm::runtime::types::{Analysis, Author, Direction, Post, PostKind};
use socialcrm::runtime::{KvChanges, VerifiedFields};
use socialcrm::secrets::SecretBox;
use socialcrm::store::{Db, erasures};
use sqlx::Row;
use world::NOW;

const SUBJECT_POSTS: usize = 10_000;
/// Other people's posts that name the subject: the mentions sweep's work.
const MENTIONS: usize = 1_000;
/// Posts per ingest commit.
const PAGE: usize = 50;
/// Authors the ingest task's posts come from, in turn.
const AUTHORS: usize = 5_000;
/// Ingest alone is measured this long, after a warm-up of `WARM_UP` (its
/// first commits store authors it has not seen).
const SECONDS: u64 = 10;
const WARM_UP: Duration = Duration::from_secs(2);
/// How often the receipt's step is read while the erasure runs.
const SAMPLE: Duration = Duration::from_millis(20);

const HANDLE: &str = "zoe_quill@bench.example";
const NAME: &str = "Zoe Quillfeather";
const EMAIL: &str = "zoe.quill@example.org";
const PHONE: &str = "+44 20 7946 0958";
const PROFILE: &str = "https://bench.example/@zoe_quill";
const TEXTS: [&str; 3] = [
    "My X2 arrived with a cracked battery case, order 88812, really upset",
    "Still waiting on the replacement charger, third email now",
    "Support finally answered, thanks for sorting out the brakes",
];

/// Adds the subject and the posts that mention it; returns its contact's id.
async fn add_subject(db: &Db, contacts: usize) -> i64 {
    let channel: i64 = sqlx::query("SELECT id FROM channel_accounts WHERE name = 'bench'")
        .fetch_one(db.pool())
        .await
        .unwrap()
        .get("id");
    let contact: i64 = sqlx::query(
        "INSERT INTO contacts (external_id, name, email, phone, handles, created_at, updated_at) \
         VALUES ('C-subject', $1, $2, $3, $4, 0, 0) RETURNING id",
    )
    .bind(NAME)
    .bind(EMAIL)
    .bind(PHONE)
    .bind(json!({ "mastodon": HANDLE }).to_string())
    .fetch_one(db.pool())
    .await
    .unwrap()
    .get("id");
    let identity: i64 = sqlx::query(
        "INSERT INTO identities (network, external_user_id, handle, display_name, profile_url, bio, followers, \
         first_seen, last_seen) VALUES ('mastodon', 'subject', $1, $2, $3, $4, 120, 0, 0) RETURNING id",
    )
    .bind(HANDLE)
    .bind(NAME)
    .bind(PROFILE)
    .bind(format!("E-bikes and coffee. Reach me at {EMAIL}"))
    .fetch_one(db.pool())
    .await
    .unwrap()
    .get("id");
    sqlx::query(
        "INSERT INTO identity_links (identity_id, contact_id, method, confidence, status, created_at, updated_at) \
         VALUES ($1, $2, 'email', 1.0, 'confirmed', 0, 0)",
    )
    .bind(identity)
    .bind(contact)
    .execute(db.pool())
    .await
    .unwrap();
    let first: i64 = sqlx::query("SELECT COALESCE(MAX(id), 0) AS id FROM posts")
        .fetch_one(db.pool())
        .await
        .unwrap()
        .get("id");

    // (external id, identity, kind, text, url, in reply to, created at, raw)
    type PostRow = (
        String,
        i64,
        &'static str,
        String,
        Option<String>,
        Option<String>,
        i64,
        String,
    );
    let mut rng = world::Rng(11);
    let mut posts: Vec<PostRow> = Vec::with_capacity(SUBJECT_POSTS + MENTIONS);
    for i in 0..SUBJECT_POSTS {
        let text = TEXTS[i % TEXTS.len()];
        let at = NOW - (rng.unit() * 365.0 * DAY_MS as f64) as i64;
        let raw =
            json!({ "id": format!("s{i}"), "content": text, "account": { "acct": HANDLE, "display_name": NAME } });
        posts.push((
            format!("s{i}"),
            identity,
            "mention",
            text.to_string(),
            Some(format!("{PROFILE}/s{i}")),
            None,
            at,
            raw.to_string(),
        ));
    }
    // Replies by the world's identities (1..=2 * contacts) that name the subject.
    for i in 0..MENTIONS {
        let author = 1 + rng.below(2 * contacts as u64) as i64;
        let text = format!("@{HANDLE} same here, ask them for a replacement");
        let at = NOW - (rng.unit() * 365.0 * DAY_MS as f64) as i64;
        let raw = json!({ "id": format!("m{i}"), "content": text, "mentions": [{ "acct": HANDLE }] });
        let parent = format!("s{}", rng.below(SUBJECT_POSTS as u64));
        posts.push((
            format!("m{i}"),
            author,
            "reply",
            text,
            None,
            Some(parent),
            at,
            raw.to_string(),
        ));
    }
    world::insert(
        db,
        "INSERT INTO posts (channel_id, external_id, identity_id, kind, direction, text, url, in_reply_to, \
         created_at, raw, ingested_at)",
        11,
        &posts,
        |q, p| {
            q.bind(channel)
                .bind(p.0.clone())
                .bind(p.1)
                .bind(p.2)
                .bind("inbound")
                .bind(p.3.clone())
                .bind(p.4.clone())
                .bind(p.5.clone())
                .bind(p.6)
                .bind(p.7.clone())
                .bind(p.6)
        },
    )
    .await;
    let ids: Vec<i64> = sqlx::query_scalar("SELECT id FROM posts WHERE id > $1 ORDER BY id")
        .bind(first)
        .fetch_all(db.pool())
        .await
        .unwrap();
    assert_eq!(ids.len(), posts.len());
    let analyses: Vec<world::AnalysisRow> = ids.iter().flat_map(|id| world::analyses_of(&mut rng, *id)).collect();
    world::insert_analyses(db, &analyses).await;
    contact
}

/// What the ingest task has done so far.
#[derive(Default)]
struct Ingested {
    posts: AtomicU64,
    failed_commits: AtomicU64,
    stop: AtomicBool,
}

/// New post `i`, by one of `AUTHORS` authors in turn.
fn new_post(i: usize) -> Post {
    let author = i * 7_919 % AUTHORS;
    Post {
        external_id: format!("n{i}"),
        kind: PostKind::Mention,
        direction: Direction::Inbound,
        author: Author {
            external_id: format!("ingest-{author}"),
            handle: format!("rider{author}@ingest.example"),
            display_name: Some(format!("Rider {author}")),
            profile_url: Some(format!("https://ingest.example/@rider{author}")),
            avatar_url: None,
            bio: None,
            followers: Some(10 + author as u64),
            fields: vec![],
        },
        text: format!("@brand the range of my X1 after the update is great, ride {i}"),
        url: Some(format!("https://ingest.example/@rider{author}/{i}")),
        thread_id: None,
        in_reply_to: None,
        created_at: "2026-11-30T12:00:00Z".into(),
        language: Some("en".into()),
        raw: json!({ "id": format!("n{i}"), "account": { "acct": format!("rider{author}@ingest.example") } })
            .to_string(),
    }
}

/// Commits pages of new posts, each with a sentiment analysis, until told
/// to stop; a failed commit (a lock wait that ran out) is counted and tried
/// again, as a sync does.
async fn ingest(db: Db, channel: ChannelRef, known: KnownAuthors, done: Arc<Ingested>) {
    let verified = VerifiedFields::new();
    let analyses = [PageAnalyses {
        plugin: "sentiment".into(),
        version: "1.0.0".into(),
        analyses: vec![
            Analysis {
                sentiment: Some(0.7),
                label: Some("positive".into()),
                ..Analysis::default()
            };
            PAGE
        ],
    }];
    let mut next = 0;
    while !done.stop.load(Ordering::Relaxed) {
        let posts: Vec<Post> = (next..next + PAGE).map(new_post).collect();
        let pages = [PageRows {
            posts: &posts,
            verified: &verified,
            analyses: &analyses,
            changes: &[],
        }];
        match commit_pages(&db, &channel, &pages, None, &KvChanges::new(), &known).await {
            Ok(committed) => {
                done.posts
                    .fetch_add(committed.new_posts.len() as u64, Ordering::Relaxed);
                next += PAGE;
            }
            Err(e) => {
                done.failed_commits.fetch_add(1, Ordering::Relaxed);
                eprintln!("ingest commit failed (tried again): {e}");
            }
        }
    }
}

/// The erasure's step (its receipt's `step`, or `STEPS` once done) with the
/// time it was first seen, read on a connection of its own.
async fn watch(url: String, stop: Arc<AtomicBool>) -> Vec<(i64, Instant)> {
    let pool = sqlx::any::AnyPoolOptions::new()
        .max_connections(1)
        .connect(&url)
        .await
        .unwrap();
    let mut seen: Vec<(i64, Instant)> = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let row = sqlx::query("SELECT step, status FROM erasures ORDER BY id DESC LIMIT 1")
            .fetch_optional(&pool)
            .await
            .unwrap();
        if let Some(row) = row {
            let status: String = row.get("status");
            let step = if status == "done" {
                STEPS.len() as i64 + 1
            } else {
                row.get("step")
            };
            if seen.last().is_none_or(|(s, _)| *s != step) {
                seen.push((step, Instant::now()));
            }
        }
        tokio::time::sleep(SAMPLE).await;
    }
    seen
}

/// Runs the benchmark on one database; returns its row of the summary.
async fn run(backend: &str, url: &str, n: usize) -> String {
    let db = Db::connect(url).await.unwrap();
    let start = Instant::now();
    let contacts = world::generate(&db, n).await;
    let contact = add_subject(&db, contacts).await;
    // Statistics first: without them PostgreSQL plans recompute's joins badly.
    if backend == "postgresql" {
        sqlx::query("ANALYZE").execute(db.pool()).await.unwrap();
    }
    insights::recompute(&db, NOW).await.unwrap();
    if backend == "postgresql" {
        sqlx::query("ANALYZE").execute(db.pool()).await.unwrap();
    }
    println!(
        "privacy {backend:<10} {n} posts + a subject with {SUBJECT_POSTS} posts, named in {MENTIONS} others \
         (generated and scored in {:.0} s)",
        start.elapsed().as_secs_f64()
    );

    let secrets = SecretBox::from_key(&[1; 32]).unwrap();
    let channel = ChannelRef {
        id: sqlx::query("SELECT id FROM channel_accounts WHERE name = 'bench'")
            .fetch_one(db.pool())
            .await
            .unwrap()
            .get("id"),
        network: "mastodon".into(),
        lease_owner: None,
    };
    let ingested = Arc::new(Ingested::default());
    let known = KnownAuthors::with_do_not_track(secrets.clone());
    let task = tokio::spawn(ingest(db.clone(), channel, known, ingested.clone()));
    let posts = || ingested.posts.load(Ordering::Relaxed);

    tokio::time::sleep(WARM_UP).await;
    let (before, started) = (posts(), Instant::now());
    tokio::time::sleep(Duration::from_secs(SECONDS)).await;
    let alone = (posts() - before) as f64 / started.elapsed().as_secs_f64();

    let stop_watch = Arc::new(AtomicBool::new(false));
    let watcher = tokio::spawn(watch(url.to_string(), stop_watch.clone()));
    let (before, started) = (posts(), Instant::now());
    let subject = privacy::find(&db, &Start::Contact(contact)).await.unwrap();
    let found = started.elapsed().as_secs_f64();
    let erase_started = Instant::now();
    let receipt = erase::erase(&db, None, &secrets, &subject, erase::Options::default(), "bench")
        .await
        .unwrap();
    let erase_end = Instant::now();
    let erased = (erase_end - erase_started).as_secs_f64();
    let total = started.elapsed().as_secs_f64();
    let during = (posts() - before) as f64 / total;
    stop_watch.store(true, Ordering::Relaxed);
    ingested.stop.store(true, Ordering::Relaxed);
    let seen = watcher.await.unwrap();
    task.await.unwrap();

    let erasure = erasures::by_receipt(&db, &receipt).await.unwrap().unwrap();
    let tombstones: i64 = sqlx::query("SELECT COUNT(*) AS n FROM posts WHERE tombstone = 'erased'")
        .fetch_one(db.pool())
        .await
        .unwrap()
        .get("n");
    assert_eq!(tombstones, SUBJECT_POSTS as i64, "every post of the subject erased");
    assert!(
        erasure.counts["mentions"].as_u64().unwrap_or_default() >= MENTIONS as u64,
        "{}",
        erasure.counts
    );

    // Step k runs from when step k is first seen to when step k + 1 is
    // (the step before the first sample counts from the erase's start).
    let at = |step: i64| seen.iter().find(|(s, _)| *s >= step).map_or(erase_end, |(_, t)| *t);
    let mut steps = Vec::new();
    for (k, name) in STEPS.iter().enumerate() {
        let from = if k == 0 { erase_started } else { at(k as i64) };
        let seconds = at(k as i64 + 1).saturating_duration_since(from).as_secs_f64();
        let rows = erasure.counts.get(*name).and_then(Value::as_u64).unwrap_or_default();
        steps.push(format!("{name} {seconds:.2} s ({rows} rows)"));
    }
    // After the receipt is done, recent alerts are judged again.
    let alerts = erase_end.saturating_duration_since(at(STEPS.len() as i64 + 1));
    println!(
        "privacy {backend:<10} erase steps: {}, alerts {:.2} s",
        steps.join(", "),
        alerts.as_secs_f64()
    );
    format!(
        "{backend:<10} {found:>7.2} {erased:>8.2} {alone:>13.0} {during:>13.0} {:>6.2} {:>14}",
        during / alone,
        ingested.failed_commits.load(Ordering::Relaxed)
    )
}

fn main() {
    let n: usize = std::env::var("SOCIALCRM_BENCH_POSTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let rows = runtime.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let sqlite = format!("sqlite://{}?mode=rwc", dir.path().join("privacy.db").display());
        let mut rows = vec![run("sqlite", &sqlite, n).await];
        let pg = std::sync::Mutex::new(None);
        let slot = &pg;
        postgres::in_schema("bench_privacy", |url| async move {
            *slot.lock().unwrap() = Some(run("postgresql", &url, n).await);
        })
        .await;
        rows.extend(pg.into_inner().unwrap());
        rows
    });
    println!(
        "privacy {:<10} {:>7} {:>8} {:>13} {:>13} {:>6} {:>14}",
        "backend", "find s", "erase s", "ingest alone", "during erase", "ratio", "failed commits"
    );
    for row in rows {
        println!("privacy {row}");
    }
    println!("privacy (ingest in posts/s; the rate during the erase is over find + erase)");
}
