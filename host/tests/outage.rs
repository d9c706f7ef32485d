//! Faults outside the process. PostgreSQL going away under a running server,
//! through a TCP proxy the test cuts, stalls or freezes: the API and the
//! webhooks answer 503 with their error body within the pool's acquire
//! timeout (never a hang or a 500), nothing of a failed write is stored, and
//! everything serves again by itself when the database is back; a sync or a
//! delivery cut off resumes with every post once. A SQLite database that
//! cannot grow (a full disk) stops ingest with that error, stays intact, and
//! resumes once room is made.

mod common;

use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use std::collections::BTreeMap;

use common::http::{answer, start, start_with};
use serde_json::json;
use socialcrm::channels::{self, NewChannel};
use socialcrm::ingest::{Ingest, IngestOptions, Schedule, SchedulerOptions};
use socialcrm::runtime::{Runtime, RuntimeOptions};
use socialcrm::secrets::SecretBox;
use socialcrm::store::{ConnectOptions, Db, POSTGRES_ACQUIRE_TIMEOUT};
use socialcrm::tokens::{self, Role};
use socialcrm_fakes::FakeMastodon;
use socialcrm_fakes::mastodon::TOKEN;
use socialcrm_fakes::meta::{self, Delivery, FakeMeta};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

const UP: u8 = 0;
/// New connections are refused.
const DOWN: u8 = 1;
/// New connections are accepted and never answered.
const STALLED: u8 = 2;
/// Open connections stop carrying bytes either way (a database that hangs
/// mid-statement); new ones are held as when stalled.
const FROZEN: u8 = 3;
/// A connection whose client sends `COMMIT` is dropped before it arrives:
/// the transaction was sent whole and the database rolls it back.
const CUT_AT_COMMIT: u8 = 4;

/// A TCP proxy to `upstream` that the test can cut, stall or freeze, and
/// restore.
struct Proxy {
    addr: String,
    mode: Arc<AtomicU8>,
    open: Arc<Mutex<Vec<JoinHandle<()>>>>,
    accept: JoinHandle<()>,
}

impl Proxy {
    async fn start(upstream: String) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let mode = Arc::new(AtomicU8::new(UP));
        let open: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let (now, conns) = (mode.clone(), open.clone());
        let accept = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let at_accept = now.load(Ordering::SeqCst);
                if at_accept == DOWN {
                    continue; // dropped: the connection is refused
                }
                let (upstream, mode) = (upstream.clone(), now.clone());
                let conn = tokio::spawn(async move {
                    if matches!(at_accept, STALLED | FROZEN) {
                        tokio::time::sleep(Duration::from_secs(3600)).await;
                    }
                    if let Ok(server) = TcpStream::connect(&upstream).await {
                        let (client_read, client_write) = client.into_split();
                        let (server_read, server_write) = server.into_split();
                        // Either side ending closes both.
                        tokio::select! {
                            () = pump(client_read, server_write, &mode, true) => {}
                            () = pump(server_read, client_write, &mode, false) => {}
                        }
                    }
                });
                conns.lock().unwrap().push(conn);
            }
        });
        Proxy {
            addr,
            mode,
            open,
            accept,
        }
    }

    /// Sets `mode` for new connections and the open ones; refusing or
    /// stalling also drops every open connection.
    fn set(&self, mode: u8) {
        self.mode.store(mode, Ordering::SeqCst);
        if matches!(mode, DOWN | STALLED) {
            for conn in self.open.lock().unwrap().drain(..) {
                conn.abort();
            }
        }
    }
}

/// Copies `from` to `to` while the proxy's mode lets it (see the modes).
async fn pump(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, mode: &AtomicU8, from_client: bool) {
    let mut buf = vec![0; 64 << 10];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        // Frozen bytes are held until the connection is dropped.
        while mode.load(Ordering::SeqCst) == FROZEN {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let chunk = &buf[..n];
        if from_client && mode.load(Ordering::SeqCst) == CUT_AT_COMMIT && chunk.windows(6).any(|w| w == b"COMMIT") {
            return;
        }
        if to.write_all(chunk).await.is_err() {
            return;
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.set(DOWN);
        self.accept.abort();
    }
}

/// `url` with its `host:port` replaced by `addr`.
fn through(url: &str, addr: &str) -> (String, String) {
    let authority_start = url.find('@').map_or_else(|| url.find("://").unwrap() + 3, |at| at + 1);
    let authority_end = url[authority_start..]
        .find(['/', '?'])
        .map_or(url.len(), |i| authority_start + i);
    let upstream = url[authority_start..authority_end].to_string();
    (
        format!("{}{addr}{}", &url[..authority_start], &url[authority_end..]),
        upstream,
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn the_api_answers_503_while_postgresql_is_away_and_recovers() {
    common::on_postgres(|url, _| async move {
        let (_, upstream) = through(&url, "");
        let proxy = Proxy::start(upstream).await;
        let (proxied, _) = through(&url, &proxy.addr);
        let db = Db::connect(&proxied).await.expect("PostgreSQL through the proxy");
        let token = tokens::create(&db, "viewer", Role::Viewer, "test").await.unwrap();
        let server = start(&db).await;
        let http = reqwest::Client::new();
        let get = |path: &str| http.get(server.api(path)).bearer_auth(&token);
        assert_eq!(answer(get("/posts")).await.0, 200);

        // Refused, then held without an answer (a database that stalls).
        for mode in [DOWN, STALLED] {
            proxy.set(mode);
            let asked = Instant::now();
            let (status, body) = answer(get("/posts")).await;
            assert_eq!(status, 503, "{body}");
            assert_eq!(body["error"]["code"], "database", "{body}");
            assert!(
                asked.elapsed() < POSTGRES_ACQUIRE_TIMEOUT + Duration::from_secs(3),
                "answered in {:?}",
                asked.elapsed()
            );
        }
        let health = reqwest::get(format!("{}/healthz", server.root)).await.unwrap();
        assert_eq!(health.status(), 503);

        proxy.set(UP);
        let back = Instant::now();
        loop {
            let (status, body) = answer(get("/posts")).await;
            if status == 200 {
                break;
            }
            assert_eq!(status, 503, "{body}");
            assert!(back.elapsed() < Duration::from_secs(30), "the server never recovered");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await;
}

/// A sync whose database goes away between two pages fails with the
/// database's error and stores nothing of the page it could not commit; the
/// next sync, once the database is back, stores every post exactly once.
#[tokio::test(flavor = "multi_thread")]
async fn a_sync_cut_off_from_postgresql_resumes_with_every_post_once() {
    let plugin = common::plugin_dir("plugins/mastodon");
    let plugin = &plugin.path().display().to_string();
    common::on_postgres(|url, _| async move {
        let (_, upstream) = through(&url, "");
        let proxy = Proxy::start(upstream).await;
        let (proxied, _) = through(&url, &proxy.addr);
        let db = Db::connect(&proxied).await.expect("PostgreSQL through the proxy");
        let (network, ingest) = common::brand::mastodon_brand(&db, plugin, "node").await;
        let before = stored(&db).await;
        for i in 0..200 {
            network.push_mention(json!({ "content": format!("<p>@brand question {i}</p>") }));
        }

        // The first page commits; the database goes away while the next is fetched.
        network.set_latency(Duration::from_millis(400));
        let pages = Arc::new(AtomicU8::new(0));
        let sync = tokio::spawn({
            let (ingest, pages) = (ingest.clone(), pages.clone());
            async move {
                ingest
                    .sync_now("brand", "node", &|_| {
                        pages.fetch_add(1, Ordering::SeqCst);
                    })
                    .await
            }
        });
        let started = Instant::now();
        while pages.load(Ordering::SeqCst) == 0 {
            assert!(started.elapsed() < Duration::from_secs(30), "no page committed");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        proxy.set(DOWN);
        let err = sync
            .await
            .unwrap()
            .expect_err("the sync cannot commit without its database");
        assert!(err.to_string().contains("database"), "{err}");

        proxy.set(UP);
        network.set_latency(Duration::ZERO);
        let resumed = Instant::now();
        let report = loop {
            match ingest.sync_now("brand", "node", &|_| {}).await {
                Ok(report) => break report,
                // The failed sync's lease runs out first.
                Err(e) => assert!(resumed.elapsed() < Duration::from_secs(120), "{e}"),
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        };
        assert!(report.new_posts > 0, "the rest arrives after the outage");
        let after = stored(&db).await;
        assert_eq!(after.len(), before.len() + 200, "every post stored");
        let unique: std::collections::HashSet<&String> = after.iter().collect();
        assert_eq!(unique.len(), after.len(), "none stored twice");
    })
    .await;
}

/// The external ids of the stored posts.
async fn stored(db: &Db) -> Vec<String> {
    sqlx::query_scalar("SELECT external_id FROM posts")
        .fetch_all(db.pool())
        .await
        .unwrap()
}

const APP_SECRET: &str = "3c1e2d5f8a9b4c7d6e0f1a2b3c4d5e6f";

/// Webhook deliveries while PostgreSQL is away, stalled, or lost at the
/// commit: each answers 503 with the error body (which the network retries)
/// within the pool's acquire timeout, and stores nothing; redelivered once the
/// database is back, every post is stored exactly once.
#[tokio::test(flavor = "multi_thread")]
async fn webhook_deliveries_during_an_outage_are_stored_once_on_redelivery() {
    let plugin = common::plugin_dir("plugins/meta");
    let plugin = &plugin.path().display().to_string();
    common::on_postgres(|url, _| async move {
        let (_, upstream) = through(&url, "");
        let proxy = Proxy::start(upstream).await;
        let (proxied, _) = through(&url, &proxy.addr);
        let db = Db::connect(&proxied).await.expect("PostgreSQL through the proxy");
        let network = FakeMeta::start(APP_SECRET).await.unwrap();
        let sbox = SecretBox::from_key(&[7; 32]).unwrap();
        let runtime = Runtime::new(RuntimeOptions::default()).unwrap();
        let ingest = Ingest::new(db.clone(), sbox.clone(), runtime, vec![], IngestOptions::default());
        let new = NewChannel {
            name: "page".into(),
            plugin: plugin.clone(),
            config: BTreeMap::from([
                ("graph-url".into(), network.base_url()),
                ("verify-token".into(), "a-verify-token-of-our-choosing".into()),
            ]),
            secrets: BTreeMap::from([
                ("page-access-token".into(), meta::TOKEN.into()),
                ("app-secret".into(), APP_SECRET.into()),
            ]),
            allow_private: true,
        };
        channels::add(&db, &sbox, &ingest, new).await.unwrap();
        let server = start_with(ingest).await;
        let http = reqwest::Client::new();
        let deliver = async |delivery: &Delivery| {
            let request = http
                .post(format!("{}/hooks/page", server.root))
                .header("content-type", "application/json")
                .header("x-hub-signature-256", &delivery.signature)
                .body(delivery.body.clone());
            let asked = Instant::now();
            let answered = answer(request).await;
            (answered, asked.elapsed())
        };
        let (posts, identities) = (
            common::count(&db, "posts").await,
            common::count(&db, "identities").await,
        );

        // Three deliveries of two comments and a message each, one per fault.
        let mut deliveries = Vec::new();
        for (i, mode) in [DOWN, STALLED, CUT_AT_COMMIT].into_iter().enumerate() {
            let comments = [
                network.fb_comment(("5001", "Ana"), &format!("question {i}"), None),
                network.fb_comment(("5002", "Ben"), &format!("praise {i}"), None),
            ];
            let delivery = network.page_delivery(&comments, &[network.message("6001", &format!("hello {i}"))]);
            proxy.set(mode);
            let ((status, body), took) = deliver(&delivery).await;
            assert_eq!(status, 503, "mode {mode}: {body}");
            assert_eq!(body["error"]["code"], "unavailable", "mode {mode}: {body}");
            assert!(
                took < POSTGRES_ACQUIRE_TIMEOUT + Duration::from_secs(3),
                "mode {mode}: answered in {took:?}"
            );
            deliveries.push(delivery);
        }

        proxy.set(UP);
        assert_eq!(
            common::count(&db, "posts").await,
            posts,
            "nothing of a failed delivery is stored"
        );
        assert_eq!(common::count(&db, "identities").await, identities, "nor its authors");
        // The network redelivers, and may deliver twice.
        for delivery in deliveries.iter().chain(&deliveries) {
            let ((status, body), _) = deliver(delivery).await;
            assert_eq!(status, 200, "{body}");
        }
        let after = stored(&db).await;
        assert_eq!(after.len(), posts as usize + 9, "every post stored: {after:?}");
        let unique: std::collections::HashSet<&String> = after.iter().collect();
        assert_eq!(unique.len(), after.len(), "none stored twice");
        assert_eq!(
            common::count(&db, "identities").await,
            identities + 3,
            "each author once"
        );
    })
    .await;
}

/// Several clients on a few API routes while PostgreSQL freezes (open
/// connections hang mid-statement, new ones are held) for longer than the
/// pool's acquire timeout and is then cut off: every answer is 503 with the
/// error body, none later than the freeze and the acquire timeout allow, and
/// the API serves again by itself when the database is back. Two scheduler
/// nodes run throughout: the account is never polled by both at once, and
/// every post arrives exactly once.
#[tokio::test(flavor = "multi_thread")]
async fn the_api_under_load_answers_503_through_a_frozen_then_cut_postgresql() {
    let plugin = common::plugin_dir("plugins/mastodon");
    let plugin = &plugin.path().display().to_string();
    common::on_postgres(|url, _| async move {
        let (_, upstream) = through(&url, "");
        let proxy = Proxy::start(upstream).await;
        let (proxied, _) = through(&url, &proxy.addr);
        let db = Db::connect(&proxied).await.expect("PostgreSQL through the proxy");
        let network = FakeMastodon::start().await.unwrap();
        let sbox = SecretBox::from_key(&[7; 32]).unwrap();
        let node = || {
            let runtime = Runtime::new(RuntimeOptions::default()).unwrap();
            let options = IngestOptions {
                schedule: Schedule {
                    interval: Duration::from_millis(200),
                    backoff: Duration::from_millis(300),
                    max_backoff: Duration::from_secs(1),
                },
                lease_ttl: Duration::from_secs(2),
                ..IngestOptions::default()
            };
            Ingest::new(db.clone(), sbox.clone(), runtime, vec![], options)
        };
        let ingest = node();
        let new = NewChannel {
            name: "brand".into(),
            plugin: plugin.clone(),
            config: BTreeMap::from([("instance".into(), network.base_url())]),
            secrets: BTreeMap::from([("access-token".into(), TOKEN.into())]),
            allow_private: true,
        };
        channels::add(&db, &sbox, &ingest, new).await.unwrap();
        ingest.sync_now("brand", "setup", &|_| {}).await.unwrap();
        let before = stored(&db).await.len();
        network.set_latency(Duration::from_millis(20));
        let (stop, stopped) = watch::channel(false);
        let nodes: Vec<_> = ["node-a", "node-b"]
            .into_iter()
            .map(|name| {
                let scheduler = SchedulerOptions {
                    node: name.into(),
                    idle: Duration::from_millis(100),
                    ..SchedulerOptions::default()
                };
                tokio::spawn(socialcrm::ingest::run(node(), scheduler, stopped.clone()))
            })
            .collect();
        let token = tokens::create(&db, "admin", Role::Admin, "test").await.unwrap();
        let server = start(&db).await;
        let http = reqwest::Client::new();
        const ROUTES: [&str; 5] = ["/posts", "/contacts", "/channels", "/insights/alerts", "/me"];
        for route in ROUTES {
            let (status, body) = answer(http.get(server.api(route)).bearer_auth(&token)).await;
            assert_eq!(status, 200, "{route}: {body}");
        }
        for i in 0..20 {
            network.push_mention(json!({ "content": format!("<p>@brand before {i}</p>") }));
        }

        let frozen_for = POSTGRES_ACQUIRE_TIMEOUT + Duration::from_secs(1);
        let bound = frozen_for + POSTGRES_ACQUIRE_TIMEOUT + Duration::from_secs(3);
        proxy.set(FROZEN);
        let outage = Arc::new(AtomicBool::new(true));
        let clients: Vec<_> = (0..6)
            .map(|client| {
                let (http, token, outage) = (http.clone(), token.clone(), outage.clone());
                let urls: Vec<String> = ROUTES.iter().map(|route| server.api(route)).collect();
                tokio::spawn(async move {
                    let mut answers = Vec::new();
                    let mut next = client;
                    while outage.load(Ordering::SeqCst) {
                        let url = &urls[next % urls.len()];
                        next += 1;
                        let asked = Instant::now();
                        let (status, body) = answer(http.get(url).bearer_auth(&token)).await;
                        answers.push((url.clone(), status, body, asked.elapsed()));
                    }
                    answers
                })
            })
            .collect();
        for i in 0..20 {
            network.push_mention(json!({ "content": format!("<p>@brand during {i}</p>") }));
        }
        tokio::time::sleep(frozen_for).await;
        proxy.set(DOWN);
        tokio::time::sleep(Duration::from_secs(2)).await;
        outage.store(false, Ordering::SeqCst);
        let mut held = Duration::ZERO;
        for client in clients {
            for (url, status, body, took) in client.await.unwrap() {
                assert_eq!(status, 503, "{url}: {body}");
                assert_eq!(body["error"]["code"], "database", "{url}: {body}");
                assert!(took < bound, "{url} answered in {took:?}");
                held = held.max(took);
            }
        }
        assert!(held >= Duration::from_secs(1), "the freeze held requests ({held:?})");

        proxy.set(UP);
        let back = Instant::now();
        for route in ROUTES {
            loop {
                let (status, body) = answer(http.get(server.api(route)).bearer_auth(&token)).await;
                if status == 200 {
                    break;
                }
                assert_eq!(status, 503, "{route}: {body}");
                assert!(back.elapsed() < Duration::from_secs(30), "{route} never recovered");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
        let arrived = Instant::now();
        while stored(&db).await.len() < before + 40 {
            assert!(
                arrived.elapsed() < Duration::from_secs(60),
                "the mentions never arrived"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let after = stored(&db).await;
        let unique: std::collections::HashSet<&String> = after.iter().collect();
        assert_eq!(
            (after.len(), unique.len()),
            (before + 40, before + 40),
            "every post once"
        );
        assert_eq!(network.max_in_flight(), 1, "never polled by both nodes at once");
        stop.send(true).unwrap();
        for node in nodes {
            tokio::time::timeout(Duration::from_secs(30), node)
                .await
                .unwrap()
                .unwrap();
        }
    })
    .await;
}

/// A SQLite database that cannot grow (as on a full disk, through
/// `ConnectOptions::sqlite_max_pages`): a sync fails with "database or disk
/// is full", which the account records, and stores nothing of the page it
/// could not commit; the file stays intact; once room is made the next sync
/// stores every post exactly once.
#[tokio::test(flavor = "multi_thread")]
async fn a_full_sqlite_database_stops_ingest_cleanly_and_resumes_when_room_is_made() {
    let plugin = common::plugin_dir("plugins/mastodon");
    let plugin = plugin.path().display().to_string();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("socialcrm.db").display());
    let capped = ConnectOptions {
        sqlite_max_pages: Some(2048),
    };
    let db = Db::connect_with(&url, capped).await.expect("open SQLite");
    let network = FakeMastodon::start().await.unwrap();
    let sbox = SecretBox::from_key(&[7; 32]).unwrap();
    let runtime = Runtime::new(RuntimeOptions::default()).unwrap();
    let ingest = Ingest::new(db.clone(), sbox.clone(), runtime, vec![], IngestOptions::default());
    let new = NewChannel {
        name: "brand".into(),
        plugin,
        config: BTreeMap::from([("instance".into(), network.base_url())]),
        secrets: BTreeMap::from([("access-token".into(), TOKEN.into())]),
        allow_private: true,
    };
    channels::add(&db, &sbox, &ingest, new).await.unwrap();
    ingest.sync_now("brand", "node", &|_| {}).await.unwrap();
    let (posts, identities) = (
        common::count(&db, "posts").await,
        common::count(&db, "identities").await,
    );

    // Whatever room is left goes to ballast: large rows, then small ones.
    sqlx::query("CREATE TABLE ballast (b BLOB)")
        .execute(db.pool())
        .await
        .unwrap();
    for size in [64 << 10, 256] {
        let full = loop {
            let insert = sqlx::query("INSERT INTO ballast (b) VALUES (zeroblob($1))").bind(size);
            if let Err(e) = insert.execute(db.pool()).await {
                break e.to_string();
            }
        };
        assert!(full.contains("database or disk is full"), "{full}");
    }
    for i in 0..100 {
        network.push_mention(json!({ "content": format!("<p>@brand question {i}</p>") }));
    }
    let err = ingest
        .sync_now("brand", "node", &|_| {})
        .await
        .expect_err("no room for the page");
    assert!(err.to_string().contains("database or disk is full"), "{err}");
    let (status, last_error): (String, Option<String>) =
        sqlx::query_as("SELECT status, last_error FROM channel_accounts WHERE name = 'brand'")
            .fetch_one(db.pool())
            .await
            .unwrap();
    assert!(
        last_error
            .as_deref()
            .unwrap_or_default()
            .contains("database or disk is full"),
        "{status}: {last_error:?}"
    );
    assert_eq!(
        common::count(&db, "posts").await,
        posts,
        "nothing of the page is stored"
    );
    assert_eq!(common::count(&db, "identities").await, identities, "nor its authors");
    assert_eq!(integrity(&db).await, "ok");

    // Room is made; the mentions the failed sync fetched come again.
    sqlx::query("DELETE FROM ballast").execute(db.pool()).await.unwrap();
    let report = ingest.sync_now("brand", "node", &|_| {}).await.expect("room again");
    assert_eq!(report.new_posts, 100);
    let after = stored(&db).await;
    let unique: std::collections::HashSet<&String> = after.iter().collect();
    assert_eq!(
        (after.len(), unique.len()),
        (posts as usize + 100, posts as usize + 100)
    );
    assert_eq!(integrity(&db).await, "ok");
}

/// `PRAGMA integrity_check`'s verdict.
async fn integrity(db: &Db) -> String {
    sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(db.pool())
        .await
        .unwrap()
}
