//! PostgreSQL going away under a running server, through a TCP proxy the
//! test cuts or stalls: the API answers 503 with its error body within the
//! pool's acquire timeout (never a hang or a 500), and serves again by itself
//! when the database is back.

mod common;

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use std::collections::BTreeMap;

use common::http::{answer, start};
use serde_json::json;
use socialcrm::channels::{self, NewChannel};
use socialcrm::ingest::{Ingest, IngestOptions};
use socialcrm::runtime::{Runtime, RuntimeOptions};
use socialcrm::secrets::SecretBox;
use socialcrm::store::{Db, POSTGRES_ACQUIRE_TIMEOUT};
use socialcrm::tokens::{self, Role};
use socialcrm_fakes::FakeMastodon;
use socialcrm_fakes::mastodon::TOKEN;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

const UP: u8 = 0;
/// New connections are refused.
const DOWN: u8 = 1;
/// New connections are accepted and never answered.
const STALLED: u8 = 2;

/// A TCP proxy to `upstream` that the test can cut or stall (every open
/// connection dropped, new ones refused or held) and restore.
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
            while let Ok((mut client, _)) = listener.accept().await {
                let mode = now.load(Ordering::SeqCst);
                if mode == DOWN {
                    continue; // dropped: the connection is refused
                }
                let upstream = upstream.clone();
                let conn = tokio::spawn(async move {
                    if mode == STALLED {
                        tokio::time::sleep(Duration::from_secs(3600)).await;
                    }
                    if let Ok(mut server) = TcpStream::connect(&upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
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

    /// Drops every open connection; new ones get `mode`.
    fn set(&self, mode: u8) {
        self.mode.store(mode, Ordering::SeqCst);
        if mode != UP {
            for conn in self.open.lock().unwrap().drain(..) {
                conn.abort();
            }
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
        let network = FakeMastodon::start().await.unwrap();
        let sbox = SecretBox::from_key(&[7; 32]).unwrap();
        let runtime = Runtime::new(RuntimeOptions::default()).unwrap();
        let ingest = Ingest::new(db.clone(), sbox.clone(), runtime, vec![], IngestOptions::default());
        let new = NewChannel {
            name: "brand".into(),
            plugin: plugin.clone(),
            config: BTreeMap::from([("instance".into(), network.base_url())]),
            secrets: BTreeMap::from([("access-token".into(), TOKEN.into())]),
            allow_private: true,
        };
        channels::add(&db, &sbox, &ingest, new).await.unwrap();
        ingest.sync_now("brand", "node", &|_| {}).await.unwrap();
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
