//! Re-analysis after an analyzer upgrade: the upgrade queues a job and pins
//! insights to the old version; the job re-runs the new version over history
//! in batches and resumes from its committed cursor after a crash; the
//! comparison of the two versions is exact; scores change only on switch.
//! Also: posts the catch-up analyses get scored, and `serve`'s scheduled
//! recompute scores by itself. On SQLite and PostgreSQL.

mod common;

use common::http::answer;

use std::sync::Mutex;
use std::time::Duration;

use socialcrm::ingest::{ChannelRef, Ingest, IngestOptions, commit_page};
use socialcrm::insights;
use socialcrm::plugins::registry;
use socialcrm::plugins::{Manifest, Package};
use socialcrm::reanalysis::{self, JobStatus, LabelCount, LabelPair, QueueOnUpgrade, ReanalysisError, RunOptions};
use socialcrm::runtime::types::{Author, Direction, Post, PostKind};
use socialcrm::runtime::{KvChanges, Runtime, RuntimeOptions};
use socialcrm::secrets::SecretBox;
use socialcrm::store::{Backend, Db, now_ms};
use socialcrm::tokens::{self, Role};
use sqlx::Row;

const ACTOR: &str = "test:admin";

/// Texts and the sentiment plugin's label for each.
const TEXTS: [(&str, &str); 7] = [
    ("I love this bike, it is amazing!", "positive"),
    ("Great service, thank you so much", "positive"),
    ("This is the worst purchase ever, totally broken", "negative"),
    ("Terrible support, I am very angry", "negative"),
    ("The shop opens at nine", "neutral"),
    ("We are open on Sunday", "neutral"),
    ("Awful delivery, the box was damaged", "negative"),
];

fn post(n: usize, text: &str) -> Post {
    Post {
        external_id: format!("p{n}"),
        kind: PostKind::Mention,
        direction: Direction::Inbound,
        author: Author {
            external_id: format!("u{n}"),
            handle: format!("user{n}@demo.social"),
            display_name: None,
            profile_url: None,
            avatar_url: None,
            bio: None,
            followers: Some(10),
            fields: vec![],
        },
        text: text.into(),
        url: None,
        thread_id: None,
        in_reply_to: None,
        created_at: "2026-11-22T08:00:00Z".into(),
        language: Some("en".into()),
        raw: "{}".into(),
    }
}

/// Commits the posts of `TEXTS` on a new channel; returns their ids in order.
async fn commit_posts(db: &Db) -> Vec<i64> {
    let id = sqlx::query(
        "INSERT INTO channel_accounts (name, plugin, network, created_at, updated_at) VALUES ($1, $2, $3, 0, 0) \
         RETURNING id",
    )
    .bind("brand")
    .bind("mastodon")
    .bind("mastodon")
    .fetch_one(db.pool())
    .await
    .unwrap()
    .get("id");
    let channel = ChannelRef {
        id,
        network: "mastodon".into(),
        lease_owner: None,
    };
    let page: Vec<Post> = TEXTS.iter().enumerate().map(|(n, (t, _))| post(n, t)).collect();
    commit_page(db, &channel, &page, &[], None, &KvChanges::new())
        .await
        .unwrap()
        .new_posts
}

fn package(manifest: &str, wasm: &[u8]) -> Package {
    Package {
        manifest_text: manifest.to_string(),
        manifest: Manifest::parse(manifest).unwrap(),
        wasm: wasm.to_vec(),
        signature: None,
    }
}

/// Installs `package`, which takes the name of the bundled `sentiment` on
/// purpose: an admin upgrading the analyzer the insights read.
async fn install(db: &Db, runtime: &Runtime, package: &Package) {
    let allow = registry::Allow {
        replace_bundled: true,
        ..registry::Allow::default()
    };
    registry::install_allowing(db, runtime, package, allow, ACTOR)
        .await
        .unwrap();
}

async fn count(db: &Db, sql: &str) -> i64 {
    sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
        .fetch_one(db.pool())
        .await
        .unwrap()
        .get("n")
}

/// The stored score's sentiment and intent of post `id`.
async fn scored(db: &Db, id: i64) -> (Option<f64>, Option<String>) {
    let row = sqlx::query("SELECT sentiment, intent FROM post_scores WHERE post_id = $1")
        .bind(id)
        .fetch_one(db.pool())
        .await
        .unwrap();
    (row.get("sentiment"), row.get("intent"))
}

async fn sentiment_of(db: &Db, id: i64, version: &str) -> f64 {
    sqlx::query("SELECT sentiment FROM analyses WHERE post_id = $1 AND plugin = 'sentiment' AND version = $2")
        .bind(id)
        .bind(version)
        .fetch_one(db.pool())
        .await
        .unwrap()
        .get("sentiment")
}

#[tokio::test(flavor = "multi_thread")]
async fn an_upgrade_reanalyses_history_resumably_and_scores_change_only_on_switch() {
    let dir = common::plugin_dir("plugins/sentiment");
    let manifest = std::fs::read_to_string(dir.path().join("plugin.toml")).unwrap();
    let wasm = std::fs::read(dir.path().join("plugin.wasm")).unwrap();
    let (manifest, wasm) = (&manifest, &wasm);
    let sbox = SecretBox::from_key(&[3; 32]).unwrap();
    let sbox = &sbox;
    common::on_each_db(move |db| async move {
        let runtime = Runtime::new(RuntimeOptions::default()).unwrap();
        let v1 = package(manifest, wasm);
        install(&db, &runtime, &v1).await;
        let ids = commit_posts(&db).await;

        // Posts a crash left unanalysed: the catch-up analyses and scores them.
        let analyzer = runtime.load_analyzer(v1.manifest.sandbox(), wasm).unwrap();
        let ingest = Ingest::new(
            db.clone(),
            sbox.clone(),
            runtime.clone(),
            vec![analyzer],
            IngestOptions::default(),
        );
        assert_eq!(ingest.catch_up_analysis().await.unwrap(), 7);
        assert_eq!(count(&db, "SELECT COUNT(*) AS n FROM post_scores").await, 7);
        let (s0, _) = scored(&db, ids[0]).await;
        assert_eq!(s0, Some(sentiment_of(&db, ids[0], "0.1.0").await));

        // What 0.1.0 said differently: posts 0 and 2 neutral, post 2 a complaint.
        let (real0, real2) = (
            sentiment_of(&db, ids[0], "0.1.0").await,
            sentiment_of(&db, ids[2], "0.1.0").await,
        );
        sqlx::query(
            "UPDATE analyses SET label = 'neutral', sentiment = 0.0 WHERE version = '0.1.0' AND post_id IN ($1, $2)",
        )
        .bind(ids[0])
        .bind(ids[2])
        .execute(db.pool())
        .await
        .unwrap();
        sqlx::query(
            "UPDATE analyses SET intents = '[{\"name\": \"complaint\", \"confidence\": 0.9}]' WHERE post_id = $1",
        )
        .bind(ids[2])
        .execute(db.pool())
        .await
        .unwrap();
        insights::recompute(&db, now_ms()).await.unwrap();
        assert_eq!(scored(&db, ids[0]).await.0, Some(0.0));

        // The upgrade queues a job and pins insights to 0.1.0.
        let v2 = package(&manifest.replace("version = \"0.1.0\"", "version = \"0.2.0\""), wasm);
        registry::upgrade(&db, &runtime, sbox, &v2, ACTOR, &QueueOnUpgrade)
            .await
            .unwrap();
        assert_eq!(
            reanalysis::insights_version(&db, "sentiment").await.unwrap().as_deref(),
            Some("0.1.0")
        );
        let jobs = reanalysis::list(&db, Some("sentiment"), 10).await.unwrap();
        assert_eq!(jobs.len(), 1);
        let job = &jobs[0];
        assert_eq!(
            (job.from_version.as_deref(), job.to_version.as_str(), job.status),
            (Some("0.1.0"), "0.2.0", JobStatus::Running)
        );
        assert_eq!((job.posts_total, job.posts_done, job.last_post_id), (7, 0, ids[6]));
        // Asking again returns the running job.
        let again = reanalysis::start(&db, "sentiment", None, ACTOR).await.unwrap();
        assert_eq!(again.id, job.id);
        // The catch-up leaves history to the job: every post has a sentiment analysis.
        let v2_analyzer = runtime.load_analyzer(v2.manifest.sandbox(), wasm).unwrap();
        let ingest = Ingest::new(
            db.clone(),
            sbox.clone(),
            runtime.clone(),
            vec![v2_analyzer],
            IngestOptions::default(),
        );
        assert_eq!(ingest.catch_up_analysis().await.unwrap(), 0);

        // A worker dies right after its second batch of two posts commits: its
        // task panics there (a dropped future could still commit a batch more
        // before the drop, on a busy machine).
        let a = RunOptions {
            batch: 2,
            lease_ttl: Duration::from_millis(1500),
            ..RunOptions::new("node-a")
        };
        let (db_a, runtime_a, id) = (db.clone(), runtime.clone(), job.id);
        let died = tokio::spawn(async move {
            let die_at_four = |j: &reanalysis::Job| assert!(j.posts_done < 4, "node-a dies here");
            reanalysis::run(&db_a, &runtime_a, id, &a, &die_at_four).await
        })
        .await;
        assert!(died.is_err_and(|e| e.is_panic()), "node-a died mid-job");
        let after_kill = reanalysis::get(&db, job.id).await.unwrap();
        assert_eq!(
            (after_kill.posts_done, after_kill.cursor_post_id, after_kill.status),
            (4, ids[3], JobStatus::Running)
        );
        let v2_rows = "SELECT COUNT(*) AS n FROM analyses WHERE version = '0.2.0'";
        assert_eq!(count(&db, v2_rows).await, 4, "analyses commit with the cursor");

        // Another node waits for the lease, then resumes from the cursor.
        let b = RunOptions {
            batch: 2,
            ..RunOptions::new("node-b")
        };
        let held = reanalysis::run(&db, &runtime, job.id, &b, &|_| {}).await.unwrap_err();
        assert!(
            matches!(held, ReanalysisError::Held { ref owner, .. } if owner == "node-a"),
            "{held}"
        );
        // Waits for the dead worker's lease to expire (not a guessed sleep).
        let expired = async || {
            let until: i64 = sqlx::query_scalar("SELECT lease_until FROM reanalysis_jobs WHERE id = $1")
                .bind(job.id)
                .fetch_one(db.pool())
                .await
                .unwrap();
            until < now_ms()
        };
        let start = std::time::Instant::now();
        while !expired().await {
            assert!(start.elapsed() < Duration::from_secs(30), "the lease never expired");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let seen = Mutex::new(Vec::new());
        let done = reanalysis::run(&db, &runtime, job.id, &b, &|j| seen.lock().unwrap().push(j.posts_done))
            .await
            .unwrap();
        assert_eq!(
            *seen.lock().unwrap(),
            vec![4, 6, 7],
            "resumed at post 5, never redid one"
        );
        assert_eq!(
            (done.status, done.posts_done, done.posts_failed),
            (JobStatus::Done, 7, 0)
        );
        assert!(done.finished_at.is_some() && done.lease_owner.is_none());
        assert_eq!(count(&db, v2_rows).await, 7);
        let labels: Vec<String> = sqlx::query("SELECT label FROM analyses WHERE version = '0.2.0' ORDER BY post_id")
            .fetch_all(db.pool())
            .await
            .unwrap()
            .iter()
            .map(|r| r.get("label"))
            .collect();
        assert_eq!(labels, TEXTS.map(|(_, label)| label.to_string()));

        // The comparison: posts 0 and 2 changed label, post 2 its top intent.
        let c = reanalysis::compare(&db, "sentiment", "0.1.0", "0.2.0", 5)
            .await
            .unwrap();
        let s = |x: &str| Some(x.to_string());
        assert_eq!((c.compared, c.label_agreement, c.intent_agreement), (7, 5, 6));
        assert_eq!(
            c.labels_confusion,
            vec![
                LabelPair {
                    from: s("negative"),
                    to: s("negative"),
                    posts: 2
                },
                LabelPair {
                    from: s("neutral"),
                    to: s("neutral"),
                    posts: 2
                },
                LabelPair {
                    from: s("neutral"),
                    to: s("negative"),
                    posts: 1
                },
                LabelPair {
                    from: s("neutral"),
                    to: s("positive"),
                    posts: 1
                },
                LabelPair {
                    from: s("positive"),
                    to: s("positive"),
                    posts: 1
                },
            ]
        );
        assert_eq!(
            c.labels,
            vec![
                LabelCount {
                    label: s("negative"),
                    from: 2,
                    to: 3
                },
                LabelCount {
                    label: s("neutral"),
                    from: 4,
                    to: 2
                },
                LabelCount {
                    label: s("positive"),
                    from: 1,
                    to: 2
                },
            ]
        );
        assert_eq!(
            c.intents_confusion,
            vec![
                LabelPair {
                    from: None,
                    to: None,
                    posts: 6
                },
                LabelPair {
                    from: s("complaint"),
                    to: None,
                    posts: 1
                },
            ]
        );
        assert_eq!(c.sentiment_compared, 7);
        assert_eq!(
            c.mean_sentiment_delta,
            Some(((real0 + real2) / 7.0 * 1e6).round() / 1e6)
        );
        let examples: Vec<i64> = c.examples.iter().map(|e| e.post_id).collect();
        assert_eq!(examples, vec![ids[2], ids[0]]);
        assert_eq!(c.examples[0].from_intent.as_deref(), Some("complaint"));
        assert_eq!(c.examples[0].text, TEXTS[2].0);

        // Shadow rows change no score, even after a recompute.
        insights::recompute(&db, now_ms()).await.unwrap();
        assert_eq!(scored(&db, ids[0]).await, (Some(0.0), None));
        assert_eq!(
            scored(&db, ids[2]).await,
            (Some(0.0), None),
            "intents are read from `intent` only"
        );

        // Over HTTP: the same comparison; only an admin switches.
        let server = common::http::start(&db).await;
        let admin = tokens::create(&db, "root", Role::Admin, ACTOR).await.unwrap();
        let agent = tokens::create(&db, "alice", Role::Agent, ACTOR).await.unwrap();
        let http = reqwest::Client::new();
        let (status, body) = answer(
            http.get(server.api("/analyzers/sentiment/compare?from=0.1.0&to=0.2.0"))
                .bearer_auth(&agent),
        )
        .await;
        assert_eq!((status, body), (200, serde_json::to_value(&c).unwrap()));
        let (status, jobs) = answer(
            http.get(server.api("/analyzers/jobs?plugin=sentiment"))
                .bearer_auth(&agent),
        )
        .await;
        assert_eq!((status, jobs["items"][0]["status"].as_str()), (200, Some("done")));
        let switch = |version: &str, token: &str| {
            http.post(server.api("/analyzers/sentiment/switch"))
                .bearer_auth(token)
                .json(&serde_json::json!({ "version": version }))
        };
        assert_eq!(answer(switch("0.2.0", &agent)).await.0, 403);
        let (status, body) = answer(switch("9.9.9", &admin)).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (409, Some("conflict")),
            "{body}"
        );

        // Switching rescores with 0.2.0.
        let (status, switched) = answer(switch("0.2.0", &admin)).await;
        assert_eq!(status, 200, "{switched}");
        assert_eq!(switched["from_version"], "0.1.0");
        assert_eq!(switched["recompute"]["posts_changed"], 2);
        assert_eq!(scored(&db, ids[0]).await, (Some(real0), None));
        assert_eq!(scored(&db, ids[2]).await, (Some(real2), None));
        assert_eq!(
            reanalysis::insights_version(&db, "sentiment").await.unwrap().as_deref(),
            Some("0.2.0")
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cancelled_job_stops_and_serve_works_queued_jobs() {
    let dir = common::plugin_dir("plugins/sentiment");
    let manifest = std::fs::read_to_string(dir.path().join("plugin.toml")).unwrap();
    let wasm = std::fs::read(dir.path().join("plugin.wasm")).unwrap();
    let (manifest, wasm) = (&manifest, &wasm);
    common::on_each_db(move |db| async move {
        let runtime = Runtime::new(RuntimeOptions::default()).unwrap();
        install(&db, &runtime, &package(manifest, wasm)).await;
        commit_posts(&db).await;
        let first = reanalysis::start(&db, "sentiment", None, ACTOR).await.unwrap();
        // Nothing analysed yet: nothing to compare with.
        assert_eq!((first.from_version, first.posts_total), (None, 7));
        let cancelled = reanalysis::cancel(&db, first.id, ACTOR).await.unwrap();
        assert_eq!(cancelled.status, JobStatus::Cancelled);
        let untouched = reanalysis::run(&db, &runtime, first.id, &RunOptions::new("x"), &|_| {})
            .await
            .unwrap();
        assert_eq!((untouched.status, untouched.posts_done), (JobStatus::Cancelled, 0));

        // A queued job is worked by the background worker.
        let queued = reanalysis::start(&db, "sentiment", None, ACTOR).await.unwrap();
        assert_ne!(queued.id, first.id);
        let (stop_tx, stop) = tokio::sync::watch::channel(false);
        let worker = reanalysis::Worker {
            idle: Duration::from_millis(50),
            ..reanalysis::Worker::new(&db, &runtime, "test-node")
        };
        let working = tokio::spawn(reanalysis::work(worker, stop));
        let mut status = JobStatus::Running;
        for _ in 0..200 {
            status = reanalysis::get(&db, queued.id).await.unwrap().status;
            if status != JobStatus::Running {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        stop_tx.send(true).unwrap();
        working.await.unwrap();
        assert_eq!(status, JobStatus::Done);
        assert_eq!(
            count(&db, "SELECT COUNT(*) AS n FROM analyses WHERE plugin = 'sentiment'").await,
            7
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_scheduled_recompute_scores_without_a_command() {
    common::on_each_db(|db| async move {
        commit_posts(&db).await;
        assert_eq!(count(&db, "SELECT COUNT(*) AS n FROM post_scores").await, 0);
        let (stop_tx, stop) = tokio::sync::watch::channel(false);
        let scoring = tokio::spawn(insights::schedule::run(db.clone(), Duration::from_millis(50), stop));
        let mut scored = 0;
        for _ in 0..200 {
            scored = count(&db, "SELECT COUNT(*) AS n FROM post_scores").await;
            if scored == 7 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        stop_tx.send(true).unwrap();
        scoring.await.unwrap();
        assert_eq!(scored, 7);

        // An interval of zero disables it.
        let (_stop_tx, stop) = tokio::sync::watch::channel(false);
        tokio::time::timeout(
            Duration::from_secs(1),
            insights::schedule::run(db.clone(), Duration::ZERO, stop),
        )
        .await
        .expect("returns at once");
    })
    .await;
}

/// An analyzer upgrade and the re-analysis it queues are one transaction: when
/// the queueing fails, the new version is not stored, so no version is ever
/// active without its re-analysis.
#[tokio::test(flavor = "multi_thread")]
async fn an_upgrade_and_its_reanalysis_commit_together() {
    let dir = common::plugin_dir("plugins/sentiment");
    let manifest = std::fs::read_to_string(dir.path().join("plugin.toml")).unwrap();
    let wasm = std::fs::read(dir.path().join("plugin.wasm")).unwrap();
    let (manifest, wasm) = (&manifest, &wasm);
    common::on_each_db(move |db| async move {
        let runtime = Runtime::new(RuntimeOptions::default()).unwrap();
        let sbox = SecretBox::from_key(&[3; 32]).unwrap();
        install(&db, &runtime, &package(manifest, wasm)).await;
        // The queueing fails: a job row cannot be written.
        let refuse = match db.backend() {
            Backend::Sqlite => vec![
                "CREATE TRIGGER no_jobs BEFORE INSERT ON reanalysis_jobs BEGIN SELECT RAISE(ABORT, 'no jobs'); END",
            ],
            Backend::Postgres => vec![
                "CREATE FUNCTION no_jobs() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'no jobs'; END $$ LANGUAGE plpgsql",
                "CREATE TRIGGER no_jobs BEFORE INSERT ON reanalysis_jobs FOR EACH ROW EXECUTE FUNCTION no_jobs()",
            ],
        };
        for sql in refuse {
            sqlx::query(sqlx::AssertSqlSafe(sql)).execute(db.pool()).await.unwrap();
        }
        let v2 = package(&manifest.replace("version = \"0.1.0\"", "version = \"0.2.0\""), wasm);
        let err = registry::upgrade(&db, &runtime, &sbox, &v2, ACTOR, &QueueOnUpgrade).await.unwrap_err();
        assert!(err.to_string().contains("no jobs"), "{err}");
        let versions: Vec<(String, i64)> = sqlx::query_as("SELECT version, active FROM plugins WHERE name = 'sentiment'")
            .fetch_all(db.pool())
            .await
            .unwrap();
        assert_eq!(versions, [("0.1.0".to_string(), 1)], "0.2.0 is not stored");
        assert_eq!(count(&db, "SELECT COUNT(*) AS n FROM audit_log WHERE action = 'plugin.upgrade'").await, 0);
    })
    .await;
}
