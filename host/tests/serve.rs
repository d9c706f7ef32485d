//! The ingest engine under stress, on SQLite and PostgreSQL: a sync killed
//! with SIGKILL resumes and stores every post exactly once; two `serve`
//! nodes share accounts without ever polling one at the same time, and a
//! page slower than the lease keeps it; a
//! malformed page is rejected whole while other accounts go on; a plugin
//! that times out backs off alone; webhooks and the read API over HTTP;
//! hostile webhook callers (floods, huge bodies) and hostile plugin answers;
//! `serve --dev` reloading a plugin on disk.

mod common;

use std::collections::{BTreeMap, HashSet};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};
use socialcrm::app::App;
use socialcrm::channels::{self, NewChannel};
use socialcrm::ingest::lease::AccountKind;
use socialcrm::ingest::{self, Ingest, IngestOptions, Schedule, SchedulerOptions};
use socialcrm::runtime::{Runtime, RuntimeOptions};
use socialcrm::secrets::SecretBox;
use socialcrm::store::Db;
use socialcrm::tokens::{self, Role};
use socialcrm_fakes::FakeMastodon;
use socialcrm_fakes::mastodon::TOKEN;
use sqlx::Row;
use tokio::sync::watch;

const KEY: [u8; 32] = [7; 32];

fn sbox() -> SecretBox {
    SecretBox::from_key(&KEY).expect("a 32-byte key")
}

fn ingest(db: &Db, options: IngestOptions) -> Ingest {
    let runtime = Runtime::new(RuntimeOptions::default()).expect("runtime");
    Ingest::new(db.clone(), sbox(), runtime, vec![], options)
}

fn fast() -> IngestOptions {
    IngestOptions {
        schedule: Schedule {
            interval: Duration::from_millis(100),
            backoff: Duration::from_millis(600),
            max_backoff: Duration::from_secs(60),
        },
        lease_ttl: Duration::from_secs(3),
        ..IngestOptions::default()
    }
}

async fn add_mastodon(db: &Db, ingest: &Ingest, plugin: &str, name: &str, network: &FakeMastodon) {
    let new = NewChannel {
        name: name.into(),
        plugin: plugin.into(),
        config: BTreeMap::from([("instance".into(), network.base_url())]),
        secrets: BTreeMap::from([("access-token".into(), TOKEN.into())]),
        allow_private: true,
    };
    channels::add(db, &sbox(), ingest, new).await.expect("add the channel");
}

/// The external ids of a channel's posts.
async fn posts_of(db: &Db, channel: &str) -> Vec<String> {
    column_of(db, channel, "external_id").await
}

/// The texts of a channel's posts.
async fn texts_of(db: &Db, channel: &str) -> Vec<String> {
    column_of(db, channel, "text").await
}

async fn column_of(db: &Db, channel: &str, column: &str) -> Vec<String> {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT p.{column} AS v FROM posts p JOIN channel_accounts c ON c.id = p.channel_id WHERE c.name = $1 \
         ORDER BY p.{column}"
    )))
    .bind(channel)
    .fetch_all(db.pool())
    .await
    .expect("posts")
    .iter()
    .map(|r| r.get("v"))
    .collect()
}

async fn account(db: &Db, name: &str) -> (String, Option<String>, i64, i64) {
    let r = sqlx::query("SELECT status, last_error, failures, next_poll_at FROM channel_accounts WHERE name = $1")
        .bind(name)
        .fetch_one(db.pool())
        .await
        .expect("the account");
    (
        r.get("status"),
        r.get("last_error"),
        r.get("failures"),
        r.get("next_poll_at"),
    )
}

/// Whether `done` came true within `limit`.
async fn came_true<F: AsyncFn() -> bool>(limit: Duration, done: F) -> bool {
    let start = Instant::now();
    while !done().await {
        if start.elapsed() > limit {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    true
}

async fn wait_for<F: AsyncFn() -> bool>(what: &str, limit: Duration, done: F) {
    assert!(came_true(limit, done).await, "timed out waiting for {what}");
}

/// The socialcrm binary on `url`, with the test's secret key and plugins.
fn socialcrm(url: &str, data_dir: &std::path::Path, sentiment: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_socialcrm"));
    cmd.env(
        "SOCIALCRM_SECRET_KEY",
        base64::engine::general_purpose::STANDARD.encode(KEY),
    )
    .env("SOCIALCRM_LOG", "socialcrm=debug")
    .args(["--database-url", url, "--analyzer", sentiment, "--lease-ttl", "3"])
    .arg("--data-dir")
    .arg(data_dir)
    .stdout(Stdio::null());
    cmd
}

/// Kills the child when dropped, so a failing test leaves no process behind.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sync_killed_mid_way_resumes_and_stores_every_post_once() {
    let mastodon = common::plugin_dir("plugins/mastodon");
    let sentiment = common::plugin_dir("plugins/sentiment");
    let (mastodon, sentiment) = (
        &mastodon.path().display().to_string(),
        &sentiment.path().display().to_string(),
    );
    common::on_each_db_url(|url, db| async move {
        let network = FakeMastodon::start().await.unwrap();
        let ingest = ingest(&db, fast());
        add_mastodon(&db, &ingest, mastodon, "brand", &network).await;
        let first = ingest.sync_now("brand", "test", &|_| {}).await.unwrap();
        let pushed: Vec<String> = (0..1200).map(|i| format!("@brand question {i}?")).collect();
        for text in &pushed {
            network.push_mention(json!({ "content": format!("<p>{text}</p>") }));
        }
        // Slow pages (15 pages of 80) so the kill lands mid-way.
        network.set_latency(Duration::from_millis(120));

        let data = tempfile::tempdir().unwrap();
        let mut child = Killed(
            socialcrm(&url, data.path(), sentiment)
                .args(["channel", "sync", "brand"])
                .stderr(Stdio::null())
                .spawn()
                .expect("start socialcrm"),
        );
        let before = first.new_posts + 200;
        wait_for("the first pages", Duration::from_secs(60), async || {
            posts_of(&db, "brand").await.len() >= before
        })
        .await;
        child.0.kill().expect("SIGKILL");
        child.0.wait().unwrap();
        let stored = posts_of(&db, "brand").await.len();
        assert!(
            stored < first.new_posts + pushed.len(),
            "killed mid-way ({stored} stored)"
        );

        // The dead process's lease expires; a new sync resumes from the committed state.
        network.set_latency(Duration::ZERO);
        wait_for(
            "the dead process's lease to expire",
            Duration::from_secs(30),
            async || {
                let until: i64 = sqlx::query_scalar("SELECT lease_until FROM channel_accounts WHERE name = 'brand'")
                    .fetch_one(db.pool())
                    .await
                    .unwrap();
                until < socialcrm::store::now_ms()
            },
        )
        .await;
        let status = socialcrm(&url, data.path(), sentiment)
            .args(["channel", "sync", "brand"])
            .status()
            .expect("run socialcrm");
        assert!(status.success());
        let texts = texts_of(&db, "brand").await;
        assert_eq!(texts.len(), first.new_posts + pushed.len(), "every post once");
        let texts: HashSet<&String> = texts.iter().collect();
        for text in &pushed {
            assert!(texts.contains(text), "`{text}` stored");
        }
        let unanalysed: i64 = sqlx::query(
            "SELECT COUNT(*) AS n FROM posts p WHERE NOT EXISTS (SELECT 1 FROM analyses a WHERE a.post_id = p.id)",
        )
        .fetch_one(db.pool())
        .await
        .unwrap()
        .get("n");
        assert_eq!(unanalysed, 0, "every stored post analysed");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn two_nodes_on_postgres_share_ten_accounts_without_overlap() {
    let mastodon = common::plugin_dir("plugins/mastodon");
    let sentiment = common::plugin_dir("plugins/sentiment");
    let (mastodon, sentiment) = (
        &mastodon.path().display().to_string(),
        &sentiment.path().display().to_string(),
    );
    common::on_postgres(|url, db| async move {
        let ingest = ingest(&db, fast());
        let mut networks = Vec::new();
        for i in 0..10 {
            let network = FakeMastodon::start().await.unwrap();
            add_mastodon(&db, &ingest, mastodon, &format!("brand{i}"), &network).await;
            // The first sync starts at the newest page; later ones take everything after it.
            ingest.sync_now(&format!("brand{i}"), "setup", &|_| {}).await.unwrap();
            network.set_latency(Duration::from_millis(15));
            networks.push(network);
        }
        let data = tempfile::tempdir().unwrap();
        let logs: Vec<tempfile::NamedTempFile> = (0..2).map(|_| tempfile::NamedTempFile::new().unwrap()).collect();
        let _nodes: Vec<Killed> = logs
            .iter()
            .map(|log| {
                Killed(
                    socialcrm(&url, data.path(), sentiment)
                        .args([
                            "serve",
                            "--listen",
                            "127.0.0.1:0",
                            "--poll-interval",
                            "1",
                            "--workers",
                            "3",
                        ])
                        .stderr(log.reopen().unwrap())
                        .spawn()
                        .expect("start a node"),
                )
            })
            .collect();

        let mut pushed = Vec::new();
        for round in 0..3 {
            for network in &networks {
                let texts: Vec<String> = (0..60).map(|i| format!("@brand r{round} q{i}")).collect();
                for text in &texts {
                    network.push_mention(json!({ "content": format!("<p>{text}</p>") }));
                }
                pushed.push(texts);
            }
            tokio::time::sleep(Duration::from_millis(700)).await;
        }
        for (i, network) in networks.iter().enumerate() {
            let want: Vec<&String> = pushed.iter().skip(i).step_by(networks.len()).flatten().collect();
            let name = format!("brand{i}");
            let arrived = came_true(Duration::from_secs(90), async || {
                let texts: HashSet<String> = texts_of(&db, &name).await.into_iter().collect();
                want.iter().all(|text| texts.contains(*text))
            })
            .await;
            let log = |i: usize| std::fs::read_to_string(logs[i].path()).unwrap_or_default();
            assert!(arrived, "{name}'s mentions did not arrive:\n{}\n{}", log(0), log(1));
            let ids = posts_of(&db, &name).await;
            let unique: HashSet<&String> = ids.iter().collect();
            assert_eq!(unique.len(), ids.len(), "{name}: every post once");
            assert_eq!(
                network.max_in_flight(),
                1,
                "{name} was never polled by two nodes at once:\n{}\n{}",
                log(0),
                log(1)
            );
        }
        for log in &logs {
            let text = std::fs::read_to_string(log.path()).unwrap();
            assert!(text.contains("synced"), "both nodes did work:\n{text}");
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_page_slower_than_the_lease_keeps_the_lease() {
    let mastodon = common::plugin_dir("plugins/mastodon");
    let mastodon = &mastodon.path().display().to_string();
    common::on_each_db(|db| async move {
        let network = FakeMastodon::start().await.unwrap();
        let ttl = Duration::from_millis(900);
        let ingest = ingest(
            &db,
            IngestOptions {
                lease_ttl: ttl,
                ..fast()
            },
        );
        add_mastodon(&db, &ingest, mastodon, "brand", &network).await;
        ingest.sync_now("brand", "setup", &|_| {}).await.unwrap();
        network.push_mention(json!({ "content": "<p>@brand slow</p>" }));
        // One request lasts three lease lifetimes.
        network.set_latency(ttl * 3);
        let sync = tokio::spawn({
            let ingest = ingest.clone();
            async move { ingest.sync_now("brand", "node-a", &|_| {}).await }
        });
        tokio::time::sleep(ttl * 2).await;
        let taken = socialcrm::ingest::lease::acquire(&db, "brand", AccountKind::Channel, "node-b", ttl).await;
        assert!(
            matches!(taken, Err(socialcrm::ingest::lease::LeaseError::Held { ref owner, .. }) if owner == "node-a"),
            "the live sync still holds the lease: {taken:?}"
        );
        let report = sync.await.unwrap().expect("the slow sync completes");
        assert_eq!(report.new_posts, 1);
        assert_eq!(network.max_in_flight(), 1);
    })
    .await;
}

/// Runs the scheduler in this process until the returned sender says stop.
fn run_scheduler(ingest: &Ingest) -> (watch::Sender<bool>, tokio::task::JoinHandle<()>) {
    let (stop, stopped) = watch::channel(false);
    let options = SchedulerOptions {
        node: "test".into(),
        workers: 2,
        pages_per_turn: 20,
        idle: Duration::from_millis(20),
    };
    (stop, tokio::spawn(ingest::run(ingest.clone(), options, stopped)))
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_dev_reloads_a_plugin_on_disk_when_its_files_change() {
    let mastodon = common::plugin_dir("plugins/mastodon");
    let path = mastodon.path().display().to_string();
    let other = common::plugin_dir("tests/hostile/channel");
    let data = tempfile::tempdir().unwrap();
    let db = Db::open_default(data.path()).await.unwrap();
    let dev = ingest(
        &db,
        IngestOptions {
            dev_reload: true,
            ..fast()
        },
    );
    let plain = ingest(&db, fast());
    let digest = async |ingest: &Ingest| {
        ingest
            .channel_plugin(&path)
            .await
            .expect("it loads")
            .meta()
            .digest
            .clone()
    };
    let first = digest(&dev).await;
    assert_eq!(digest(&dev).await, first, "unchanged files: the loaded plugin");
    assert_eq!(digest(&plain).await, first);

    std::fs::copy(other.path().join("plugin.wasm"), mastodon.path().join("plugin.wasm")).unwrap();
    let rebuilt = digest(&dev).await;
    assert_ne!(rebuilt, first, "--dev loads the new build");
    assert_eq!(digest(&plain).await, first, "without --dev the loaded plugin stays");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_malformed_page_is_rejected_whole_and_other_accounts_go_on() {
    let mastodon = common::plugin_dir("plugins/mastodon");
    let mastodon = &mastodon.path().display().to_string();
    common::on_each_db(|db| async move {
        let (good, bad) = (
            FakeMastodon::start().await.unwrap(),
            FakeMastodon::start().await.unwrap(),
        );
        let ingest = ingest(&db, fast());
        add_mastodon(&db, &ingest, mastodon, "good", &good).await;
        add_mastodon(&db, &ingest, mastodon, "bad", &bad).await;
        bad.push_mention(json!({"content": "<p>fine</p>"}));
        bad.push_mention(json!({"content": "<p>broken</p>", "created_at": "yesterday"}));

        let (stop, scheduler) = run_scheduler(&ingest);
        wait_for("the bad account's failure", Duration::from_secs(30), async || {
            account(&db, "bad").await.2 >= 1
        })
        .await;
        good.push_mention(json!({"content": "<p>still here</p>"}));
        wait_for("the good account's new mention", Duration::from_secs(30), async || {
            texts_of(&db, "good").await.iter().any(|t| t == "still here")
        })
        .await;
        stop.send(true).unwrap();
        scheduler.await.unwrap();

        let (status, error, _, _) = account(&db, "bad").await;
        assert_eq!(status, "failing");
        let error = error.unwrap_or_default();
        assert!(error.contains("`yesterday` is not an RFC 3339 time"), "{error}");
        assert!(posts_of(&db, "bad").await.is_empty(), "nothing of that page stored");
        assert_eq!(account(&db, "good").await.0, "active");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_plugin_that_times_out_backs_off_alone() {
    let mastodon = common::plugin_dir("plugins/mastodon");
    let hostile = common::plugin_dir("tests/hostile/channel");
    let (mastodon, hostile) = (
        &mastodon.path().display().to_string(),
        &hostile.path().display().to_string(),
    );
    common::on_each_db(|db| async move {
        let network = FakeMastodon::start().await.unwrap();
        let ingest = ingest(&db, fast());
        add_mastodon(&db, &ingest, mastodon, "brand", &network).await;
        let slow = NewChannel {
            name: "slow".into(),
            plugin: hostile.clone(),
            config: BTreeMap::from([("mode".into(), "loop".into()), ("target".into(), network.base_url())]),
            secrets: BTreeMap::new(),
            allow_private: true,
        };
        channels::add(&db, &sbox(), &ingest, slow).await.unwrap();

        let (stop, scheduler) = run_scheduler(&ingest);
        wait_for("three timeouts", Duration::from_secs(60), async || {
            account(&db, "slow").await.2 >= 3
        })
        .await;
        let polls = |n: &FakeMastodon| {
            n.requests()
                .iter()
                .filter(|r| r.path == "/api/v1/notifications")
                .count()
        };
        let brand_polls = polls(&network);
        stop.send(true).unwrap();
        scheduler.await.unwrap();

        let (status, error, failures, next) = account(&db, "slow").await;
        assert_eq!(status, "failing");
        assert!(error.unwrap_or_default().contains("timed out"));
        // Three timeouts took at least 0.6 + 1.2 s of backoff (plus 3 × 0.5 s of
        // deadline); the healthy account, polled every 0.1 s, went on meanwhile.
        assert!(failures >= 3);
        assert!(next > socialcrm::store::now_ms(), "still backing off");
        assert!(
            brand_polls >= 6,
            "the healthy account kept its pace ({brand_polls} polls)"
        );
        assert_eq!(account(&db, "brand").await.0, "active");
    })
    .await;
}

/// Two channels of the hostile plugin, `hooked` (echoes) and `stuck` (loops
/// until its deadline), and the server in front of them: its base URL and task.
async fn hooked_and_stuck(
    db: &Db,
    ingest: &Ingest,
    hostile: &str,
) -> (String, tokio::task::JoinHandle<std::io::Result<()>>) {
    for (name, mode) in [("hooked", "echo"), ("stuck", "loop")] {
        let new = NewChannel {
            name: name.into(),
            plugin: hostile.to_string(),
            config: BTreeMap::from([
                ("mode".into(), mode.into()),
                ("target".into(), "http://127.0.0.1:9".into()),
            ]),
            secrets: BTreeMap::new(),
            allow_private: true,
        };
        channels::add(db, &sbox(), ingest, new).await.unwrap();
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = socialcrm::server::router(App::new(ingest.clone()));
    (base, tokio::spawn(async move { axum::serve(listener, app).await }))
}

#[tokio::test(flavor = "multi_thread")]
async fn webhooks_and_the_read_api_over_http() {
    let hostile = common::plugin_dir("tests/hostile/channel");
    let hostile = &hostile.path().display().to_string();
    common::on_each_db(|db| async move {
        let ingest = ingest(&db, fast());
        let (base, server) = hooked_and_stuck(&db, &ingest, hostile).await;
        let token = tokens::create(&db, "agent-1", Role::Agent, "test").await.unwrap();
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(
            reqwest::header::AUTHORIZATION,
            format!("Bearer {token}").parse().unwrap(),
        );
        let http = reqwest::Client::builder().default_headers(headers).build().unwrap();

        let health = http.get(format!("{base}/healthz")).send().await.unwrap();
        assert_eq!(health.status(), 200);

        // A verification challenge comes back as the plugin answers it.
        let challenge = http
            .get(format!("{base}/hooks/hooked?hub.challenge=42"))
            .send()
            .await
            .unwrap();
        assert_eq!(challenge.status(), 200);
        assert!(
            challenge.headers().get("x-echo-method").is_none(),
            "headers off the allow-list are dropped"
        );
        assert_eq!(challenge.text().await.unwrap(), "hub.challenge=42");

        // Posts a push carries are stored once, however often it is delivered.
        for _ in 0..2 {
            let push = http
                .post(format!("{base}/hooks/hooked"))
                .body("m1 first push\nm2 second push")
                .send()
                .await
                .unwrap();
            assert_eq!(push.status(), 200);
        }
        assert_eq!(posts_of(&db, "hooked").await, ["m1", "m2"]);

        let unknown = http.post(format!("{base}/hooks/nobody")).send().await.unwrap();
        assert_eq!(unknown.status(), 404);
        let body: Value = unknown.json().await.unwrap();
        assert_eq!(body["error"]["code"], "not-found");
        let stuck = http
            .post(format!("{base}/hooks/stuck"))
            .body("x y")
            .send()
            .await
            .unwrap();
        assert_eq!(
            stuck.status(),
            503,
            "a plugin that times out is the hook's failure only"
        );
        assert!(posts_of(&db, "stuck").await.is_empty());

        let page: Value = http
            .get(format!("{base}/api/v1/posts?channel=hooked&sort=newest&limit=1"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(page["items"][0]["external_id"], "m2", "newest first");
        assert_eq!(page["items"][0]["author"]["handle"], "mallory");
        let next = page["next_cursor"].as_str().expect("a next page");
        let rest: Value = http
            .get(format!("{base}/api/v1/posts?channel=hooked&sort=newest&cursor={next}"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(rest["items"][0]["text"], "first push");
        assert_eq!(rest["items"].as_array().map(Vec::len), Some(1));
        assert!(rest["next_cursor"].is_null());
        // A reply is recorded even when the network refuses it.
        let post_id = page["items"][0]["id"].as_i64().unwrap();
        let reply = http
            .post(format!("{base}/api/v1/posts/{post_id}/replies"))
            .json(&json!({"text": "thanks!"}))
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), 201);
        let reply: Value = reply.json().await.unwrap();
        assert_eq!(reply["status"], "failed");
        assert!(
            reply["error"].as_str().unwrap_or_default().contains("cannot send"),
            "{reply}"
        );
        let listed: Value = http
            .get(format!("{base}/api/v1/posts/{post_id}/replies"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(listed["items"][0]["id"], reply["id"]);
        let empty = http
            .post(format!("{base}/api/v1/posts/{post_id}/replies"))
            .json(&json!({"text": " "}))
            .send()
            .await
            .unwrap();
        assert_eq!(empty.status(), 400);
        let bad = http.get(format!("{base}/api/v1/posts?limit=0")).send().await.unwrap();
        assert_eq!(bad.status(), 400);
        // The calls above are counted; /metrics needs no token.
        let metrics = reqwest::get(format!("{base}/metrics")).await.unwrap().text().await.unwrap();
        for expected in [
            "socialcrm_plugin_call_seconds_count{plugin=\"hostile-channel\",call=\"handle-webhook\"}",
            "socialcrm_plugin_call_failures_total{plugin=\"hostile-channel\",call=\"handle-webhook\",reason=\"timeout\"}",
            "socialcrm_ingest_posts_total{network=",
            "socialcrm_http_responses_total{status=\"400\"}",
        ] {
            assert!(metrics.contains(expected), "{expected} in {metrics}");
        }
        server.abort();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_webhook_callers_and_answers_are_contained() {
    let hostile = common::plugin_dir("tests/hostile/channel");
    let hostile = &hostile.path().display().to_string();
    common::on_each_db(|db| async move {
        let ingest = ingest(&db, fast());
        let (base, server) = hooked_and_stuck(&db, &ingest, hostile).await;
        let http = reqwest::Client::new();

        // The answer is the plugin's (here the caller's query, echoed): it is
        // served as inert text, never as a page of the web UI's origin.
        let echoed = http
            .get(format!("{base}/hooks/hooked?<script>alert(1)</script>"))
            .send()
            .await
            .unwrap();
        assert_eq!(echoed.status(), 200);
        let headers = echoed.headers();
        assert_eq!(headers["content-security-policy"], "default-src 'none'; sandbox");
        assert_eq!(headers["x-content-type-options"], "nosniff");
        assert_eq!(headers["content-type"], "text/plain; charset=utf-8");
        assert!(headers.get("x-echo-method").is_none());
        let below = http.get(format!("{base}/hooks/hooked/a/b?q=1")).send().await.unwrap();
        assert_eq!(below.status(), 200, "a path below the channel reaches the same plugin");
        assert_eq!(below.text().await.unwrap(), "q=1");

        // Bodies are read up to the manifest's limit (the default, 1 MiB).
        let limit = socialcrm::plugins::WebhookSpec::DEFAULT_MAX_BODY_BYTES;
        let over = http
            .post(format!("{base}/hooks/hooked"))
            .body(vec![b'x'; limit + 1])
            .send()
            .await
            .unwrap();
        assert_eq!(over.status(), 413);
        let at = http
            .post(format!("{base}/hooks/hooked"))
            .body(vec![b'x'; limit])
            .send()
            .await
            .unwrap();
        assert_eq!(at.status(), 200, "a body at the limit is taken");

        // A flood of calls that each hold the plugin until its deadline: the
        // channel takes 8 at once, the rest are told when to come back.
        let calls = (0..24).map(|_| {
            let (http, url) = (http.clone(), format!("{base}/hooks/stuck"));
            tokio::spawn(async move { http.post(url).body("x y").send().await.unwrap() })
        });
        let mut statuses = Vec::new();
        for call in calls.collect::<Vec<_>>() {
            let response = call.await.unwrap();
            if response.status() == 429 {
                let retry: u64 = response.headers()["retry-after"].to_str().unwrap().parse().unwrap();
                assert!(retry >= 1, "Retry-After in whole seconds");
            }
            statuses.push(response.status().as_u16());
        }
        let busy = statuses.iter().filter(|s| **s == 429).count();
        let ran = statuses.iter().filter(|s| **s == 503).count();
        assert_eq!(busy + ran, 24, "{statuses:?}");
        assert!(ran <= 8 && busy >= 16, "at most 8 in flight: {statuses:?}");
        assert!(posts_of(&db, "stuck").await.is_empty());

        // Another channel keeps its own slots meanwhile, and the flooded one recovers.
        let other = http
            .post(format!("{base}/hooks/hooked"))
            .body("m9 still here")
            .send()
            .await
            .unwrap();
        assert_eq!(other.status(), 200);
        assert_eq!(posts_of(&db, "hooked").await, ["m9"]);
        server.abort();
    })
    .await;
}
