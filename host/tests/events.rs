//! Events out, on SQLite and PostgreSQL: an event is written only when a
//! subscription wants its type; deliveries are signed the Standard Webhooks
//! way (checked with the `standardwebhooks` crate, not our code), retried
//! through a receiver that is down, slow, failing or closing connections
//! until it recovers; a private address is refused unless allowed; a
//! subscription that keeps failing is disabled and audited; replay and
//! secret rotation; two workers never send one delivery at once; a `serve`
//! killed mid-delivery loses no event.

mod common;

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing;
use base64::Engine as _;
use serde_json::{Value, json};
use socialcrm::events::subscriptions::{self, Delivery};
use socialcrm::events::{
    DeliveryOptions, DeliveryStatus, Event, EventError, EventType, NewSubscription, Outbox, Worker,
};
use socialcrm::ingest::{ChannelRef, commit_page};
use socialcrm::runtime::types::{Author, Direction, Post, PostKind};
use socialcrm::secrets::SecretBox;
use socialcrm::store::{Db, audit_entries, now_ms};
use sqlx::Row;
use standardwebhooks::Webhook;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

const KEY: [u8; 32] = [9; 32];

fn secret_box() -> SecretBox {
    SecretBox::from_key(&KEY).unwrap()
}

/// Short enough for tests: a 300 ms deadline, retries from 50 ms up to 200 ms.
fn fast(node: &str) -> DeliveryOptions {
    DeliveryOptions {
        node: node.into(),
        timeout: Duration::from_millis(300),
        backoff: Duration::from_millis(50),
        max_backoff: Duration::from_millis(200),
        idle: Duration::from_millis(20),
        ..DeliveryOptions::default()
    }
}

/// A receiver on loopback that records every request and answers with
/// `status` after `delay_ms`.
#[derive(Clone)]
struct Receiver {
    status: Arc<AtomicU16>,
    delay_ms: Arc<AtomicU64>,
    got: Arc<Mutex<Vec<(HeaderMap, Bytes)>>>,
}

impl Receiver {
    fn new() -> Receiver {
        Receiver {
            status: Arc::new(AtomicU16::new(200)),
            delay_ms: Arc::new(AtomicU64::new(0)),
            got: Arc::default(),
        }
    }

    /// Serves on `listener` until the task is aborted.
    fn serve(&self, listener: TcpListener) -> JoinHandle<()> {
        let app = Router::new()
            .route("/hook", routing::post(receive))
            .with_state(self.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        })
    }

    fn got(&self) -> Vec<(HeaderMap, Bytes)> {
        self.got.lock().unwrap().clone()
    }
}

async fn receive(State(r): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    r.got.lock().unwrap().push((headers, body));
    let delay = r.delay_ms.load(Ordering::SeqCst);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    StatusCode::from_u16(r.status.load(Ordering::SeqCst)).unwrap()
}

/// A loopback port nothing listens on (yet).
async fn free_port() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap()
}

async fn subscribe(db: &Db, url: &str, types: &[EventType]) -> (i64, String) {
    let new = NewSubscription {
        url: url.into(),
        types: types.to_vec(),
        allow_private: true,
        ..NewSubscription::default()
    };
    let created = subscriptions::subscribe(db, &secret_box(), &new, "test").await.unwrap();
    (created.subscription.id, created.secret)
}

/// Writes one `plugin.installed` event as a producer does.
async fn emit(db: &Db, name: &str) {
    let outbox = Outbox::of(db).await.unwrap();
    let mut tx = db.begin().await.unwrap();
    let event = Event::new(EventType::PluginInstalled, json!({"name": name, "version": "1.0.0"}));
    outbox.write(&mut tx, [event]).await.unwrap();
    tx.commit().await.unwrap();
}

async fn count(db: &Db, table: &str) -> i64 {
    sqlx::query(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) AS n FROM {table}")))
        .fetch_one(db.pool())
        .await
        .unwrap()
        .get("n")
}

async fn deliveries(db: &Db, subscription: i64) -> Vec<Delivery> {
    subscriptions::deliveries(db, Some(subscription), None, i64::MAX, 200)
        .await
        .unwrap()
}

/// Runs delivery rounds until `done` holds of the subscription's deliveries
/// (a generous bound against a hung test, not a speed requirement).
async fn deliver_until(worker: &Worker, db: &Db, subscription: i64, what: &str, done: impl Fn(&[Delivery]) -> bool) {
    let start = Instant::now();
    loop {
        worker.round().await.unwrap();
        let now = deliveries(db, subscription).await;
        if done(&now) {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "timed out waiting for {what}: {now:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Checks a request with the `standardwebhooks` crate and returns its body.
fn verified(secret: &str, (headers, body): &(HeaderMap, Bytes)) -> Value {
    Webhook::new(secret)
        .unwrap()
        .verify(body, headers)
        .unwrap_or_else(|e| panic!("signature refused: {e:?} {headers:?}"));
    serde_json::from_slice(body).unwrap()
}

fn header<'a>(request: &'a (HeaderMap, Bytes), name: &str) -> &'a str {
    request.0.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default()
}

fn post(id: &str, text: &str) -> Post {
    Post {
        external_id: id.into(),
        kind: PostKind::Mention,
        direction: Direction::Inbound,
        author: Author {
            external_id: "u1".into(),
            handle: "maya@demo.social".into(),
            display_name: Some("Maya".into()),
            profile_url: None,
            avatar_url: None,
            bio: None,
            followers: Some(12),
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

async fn channel(db: &Db) -> ChannelRef {
    let now = now_ms();
    let id = sqlx::query(
        "INSERT INTO channel_accounts (name, plugin, network, created_at, updated_at) VALUES ('brand', 'mastodon', \
         'mastodon', $1, $1) RETURNING id",
    )
    .bind(now)
    .fetch_one(db.pool())
    .await
    .unwrap()
    .get("id");
    ChannelRef {
        id,
        network: "mastodon".into(),
        lease_owner: None,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn only_wanted_event_types_are_written() {
    common::on_each_db(|db| async move {
        let brand = channel(&db).await;
        let page = |n: usize| -> Vec<Post> { (0..3).map(|i| post(&format!("{n}-{i}"), "hello")).collect() };
        commit_page(&db, &brand, &page(1), &[], None, &Default::default())
            .await
            .unwrap();
        assert_eq!(count(&db, "event_outbox").await, 0, "nobody listens");

        subscribe(&db, "https://hooks.example.com/a", &[EventType::PluginInstalled]).await;
        commit_page(&db, &brand, &page(2), &[], None, &Default::default())
            .await
            .unwrap();
        assert_eq!(count(&db, "event_outbox").await, 0, "post.received is not wanted");

        let (id, _) = subscribe(&db, "https://hooks.example.com/b", &[EventType::PostReceived]).await;
        let committed = commit_page(&db, &brand, &page(3), &[], None, &Default::default())
            .await
            .unwrap();
        assert_eq!(count(&db, "event_outbox").await, 3);
        let data: String = sqlx::query("SELECT data FROM event_outbox ORDER BY id LIMIT 1")
            .fetch_one(db.pool())
            .await
            .unwrap()
            .get("data");
        let data: Value = serde_json::from_str(&data).unwrap();
        assert_eq!(data["post_id"], committed.new_posts[0]);
        assert_eq!(
            (data["channel"].as_str(), data["text"].as_str()),
            (Some("brand"), Some("hello"))
        );
        assert_eq!(data["author"]["handle"], "maya@demo.social");

        // A repoll stores nothing new, so it reports nothing.
        commit_page(&db, &brand, &page(3), &[], None, &Default::default())
            .await
            .unwrap();
        assert_eq!(count(&db, "event_outbox").await, 3);

        // Disabled, the type is not wanted any more.
        subscriptions::set_enabled(&db, id, false, "test").await.unwrap();
        commit_page(&db, &brand, &page(4), &[], None, &Default::default())
            .await
            .unwrap();
        assert_eq!(count(&db, "event_outbox").await, 3);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn fan_out_follows_the_filters() {
    common::on_each_db(|db| async move {
        let (a, _) = subscribe(&db, "https://a.example.com/", &[EventType::PostReceived]).await;
        let new = NewSubscription {
            url: "https://b.example.com/".into(),
            types: vec![EventType::PostReceived, EventType::PluginInstalled],
            channel: Some("other".into()),
            ..NewSubscription::default()
        };
        let b = subscriptions::subscribe(&db, &secret_box(), &new, "test")
            .await
            .unwrap()
            .subscription
            .id;
        let brand = channel(&db).await;
        commit_page(&db, &brand, &[post("1", "hi")], &[], None, &Default::default())
            .await
            .unwrap();
        emit(&db, "acme").await;
        socialcrm::events::outbox::fan_out(&db).await.unwrap();
        let types = |d: Vec<Delivery>| d.into_iter().map(|d| d.event_type).collect::<Vec<_>>();
        assert_eq!(types(deliveries(&db, a).await), vec![EventType::PostReceived]);
        // `other` filters out brand's post; a plugin event carries no channel.
        assert_eq!(types(deliveries(&db, b).await), vec![EventType::PluginInstalled]);
    })
    .await;
}

/// How the receiver misbehaves before it recovers.
#[derive(Clone, Copy, Debug)]
enum Fault {
    Down,
    Slow,
    Status500,
    CloseConnection,
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_receiver_gets_the_event_once_it_recovers() {
    common::on_each_db(|db| async move {
        for fault in [Fault::Down, Fault::Slow, Fault::Status500, Fault::CloseConnection] {
            let addr = free_port().await;
            let receiver = Receiver::new();
            let bad: Option<JoinHandle<()>> = match fault {
                Fault::Down => None,
                Fault::Slow => {
                    receiver.delay_ms.store(2_000, Ordering::SeqCst);
                    Some(receiver.serve(TcpListener::bind(addr).await.unwrap()))
                }
                Fault::Status500 => {
                    receiver.status.store(500, Ordering::SeqCst);
                    Some(receiver.serve(TcpListener::bind(addr).await.unwrap()))
                }
                Fault::CloseConnection => {
                    let listener = TcpListener::bind(addr).await.unwrap();
                    Some(tokio::spawn(async move {
                        while let Ok((stream, _)) = listener.accept().await {
                            drop(stream);
                        }
                    }))
                }
            };
            let url = format!("http://{addr}/hook");
            let (id, secret) = subscribe(&db, &url, &[EventType::PluginInstalled]).await;
            emit(&db, &format!("{fault:?}")).await;
            let worker = Worker::new(db.clone(), secret_box(), fast("node-a"));
            deliver_until(&worker, &db, id, "two failed attempts", |d| {
                d.len() == 1 && d[0].attempts >= 2
            })
            .await;
            let failed = &deliveries(&db, id).await[0];
            assert_eq!(failed.status, DeliveryStatus::Pending, "{fault:?}");
            assert!(failed.last_error.is_some(), "{fault:?}: {failed:?}");
            match fault {
                Fault::Status500 => assert_eq!(failed.last_status, Some(500)),
                _ => assert_eq!(failed.last_status, None, "{fault:?}"),
            }

            // Recovered.
            let good = match (fault, bad) {
                (Fault::Slow | Fault::Status500, Some(server)) => {
                    receiver.delay_ms.store(0, Ordering::SeqCst);
                    receiver.status.store(200, Ordering::SeqCst);
                    server
                }
                (_, bad) => {
                    if let Some(bad) = bad {
                        bad.abort();
                        let _ = bad.await;
                    }
                    receiver.serve(TcpListener::bind(addr).await.unwrap())
                }
            };
            deliver_until(&worker, &db, id, "the delivery", |d| {
                d[0].status == DeliveryStatus::Delivered
            })
            .await;
            let done = &deliveries(&db, id).await[0];
            assert_eq!(done.last_status, Some(200), "{fault:?}");
            assert!(done.attempts >= 3, "{fault:?}: {done:?}");
            let got = receiver.got();
            let last = got.last().unwrap();
            let body = verified(&secret, last);
            assert_eq!(body["type"], "plugin.installed");
            assert_eq!(body["data"]["name"], format!("{fault:?}"));
            assert_eq!(header(last, "webhook-id"), done.event_id);
            // Every attempt that reached it carried the same id.
            assert!(
                got.iter().all(|r| header(r, "webhook-id") == done.event_id),
                "{fault:?}"
            );
            good.abort();
            subscriptions::remove(&db, id, "test").await.unwrap();
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn private_addresses_are_refused_unless_allowed() {
    common::on_each_db(|db| async move {
        let receiver = Receiver::new();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = receiver.serve(listener);
        for url in [format!("http://127.0.0.1:{port}/hook"), "http://[::1]/hook".into()] {
            let new = NewSubscription {
                url,
                types: vec![EventType::PluginInstalled],
                ..NewSubscription::default()
            };
            let refused = subscriptions::subscribe(&db, &secret_box(), &new, "test").await;
            assert!(matches!(refused, Err(EventError::Refused(_))), "{refused:?}");
        }
        // A name is resolved at delivery: `localhost` is loopback, so refused then.
        let new = NewSubscription {
            url: format!("http://localhost:{port}/hook"),
            types: vec![EventType::PluginInstalled],
            ..NewSubscription::default()
        };
        let id = subscriptions::subscribe(&db, &secret_box(), &new, "test")
            .await
            .unwrap()
            .subscription
            .id;
        emit(&db, "acme").await;
        let worker = Worker::new(db.clone(), secret_box(), fast("node-a"));
        deliver_until(&worker, &db, id, "a refused attempt", |d| {
            d.len() == 1 && d[0].attempts >= 1
        })
        .await;
        let refused = &deliveries(&db, id).await[0];
        assert!(
            refused
                .last_error
                .as_deref()
                .unwrap_or_default()
                .contains("private or loopback"),
            "{refused:?}"
        );
        assert!(receiver.got().is_empty(), "nothing reached the receiver");

        // Allowed, the same receiver gets it.
        let (allowed, secret) = subscribe(
            &db,
            &format!("http://localhost:{port}/hook"),
            &[EventType::PluginInstalled],
        )
        .await;
        emit(&db, "beta").await;
        deliver_until(&worker, &db, allowed, "the delivery", |d| {
            d.first().is_some_and(|d| d.status == DeliveryStatus::Delivered)
        })
        .await;
        assert_eq!(verified(&secret, &receiver.got()[0])["data"]["name"], "beta");
        server.abort();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_subscription_failing_too_long_is_disabled_and_the_admin_told() {
    common::on_each_db(|db| async move {
        let addr = free_port().await;
        let (id, _) = subscribe(&db, &format!("http://{addr}/hook"), &[EventType::PluginInstalled]).await;
        emit(&db, "acme").await;
        let options = DeliveryOptions {
            disable_after: Duration::from_millis(300),
            ..fast("node-a")
        };
        let worker = Worker::new(db.clone(), secret_box(), options);
        let start = Instant::now();
        while subscriptions::get(&db, id).await.unwrap().status == "active" {
            worker.round().await.unwrap();
            assert!(start.elapsed() < Duration::from_secs(60), "never disabled");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let s = subscriptions::get(&db, id).await.unwrap();
        assert_eq!(s.status, "disabled");
        assert!(s.consecutive_failures >= 2, "{s:?}");
        assert!(
            s.disabled_reason
                .as_deref()
                .unwrap_or_default()
                .contains("failed attempts in a row"),
            "{s:?}"
        );
        let audit = audit_entries(db.pool(), 20).await.unwrap();
        assert!(
            audit
                .iter()
                .any(|e| e.action == "events.subscription.disabled" && e.subject == format!("event-subscription:{id}")),
            "{audit:?}"
        );
        // Disabled: nothing is attempted, and new events are not recorded for it.
        let attempts = deliveries(&db, id).await[0].attempts;
        emit(&db, "beta").await;
        for _ in 0..5 {
            worker.round().await.unwrap();
        }
        assert_eq!(deliveries(&db, id).await.len(), 1);
        assert_eq!(deliveries(&db, id).await[0].attempts, attempts);

        // Enabled again with a receiver: the pending delivery goes out.
        let receiver = Receiver::new();
        let server = receiver.serve(TcpListener::bind(addr).await.unwrap());
        let enabled = subscriptions::set_enabled(&db, id, true, "admin").await.unwrap();
        assert_eq!((enabled.status.as_str(), enabled.failing_since), ("active", None));
        deliver_until(&worker, &db, id, "the delivery", |d| {
            d[0].status == DeliveryStatus::Delivered
        })
        .await;
        server.abort();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn replay_redelivers_and_a_rotated_secret_signs_beside_the_old_one() {
    common::on_each_db(|db| async move {
        let receiver = Receiver::new();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let server = receiver.serve(listener);
        let (id, old) = subscribe(&db, &url, &[EventType::PluginInstalled]).await;
        emit(&db, "acme").await;
        let worker = Worker::new(db.clone(), secret_box(), fast("node-a"));
        deliver_until(&worker, &db, id, "the delivery", |d| {
            d.first().is_some_and(|d| d.status == DeliveryStatus::Delivered)
        })
        .await;
        let first = deliveries(&db, id).await.remove(0);

        let rotated = subscriptions::rotate_secret(&db, &secret_box(), id, Duration::from_secs(60), "admin")
            .await
            .unwrap();
        assert_ne!(rotated.secret, old);
        let replayed = subscriptions::replay(&db, first.id, "admin").await.unwrap();
        assert_eq!((replayed.status, replayed.attempts), (DeliveryStatus::Pending, 0));
        deliver_until(&worker, &db, id, "the replay", |d| {
            d[0].status == DeliveryStatus::Delivered
        })
        .await;
        let got = receiver.got();
        assert_eq!(got.len(), 2);
        assert_eq!(header(&got[1], "webhook-id"), first.event_id, "a replay keeps the id");
        assert_eq!(header(&got[1], "webhook-signature").split(' ').count(), 2);
        // Both the new and the old secret verify it during the grace period.
        assert_eq!(verified(&rotated.secret, &got[1]), verified(&old, &got[1]));

        // Without a grace period only the new secret signs.
        let again = subscriptions::rotate_secret(&db, &secret_box(), id, Duration::ZERO, "admin")
            .await
            .unwrap();
        subscriptions::replay(&db, first.id, "admin").await.unwrap();
        deliver_until(&worker, &db, id, "the second replay", |d| {
            d[0].status == DeliveryStatus::Delivered
        })
        .await;
        let last = receiver.got().pop().unwrap();
        verified(&again.secret, &last);
        assert!(Webhook::new(&rotated.secret).unwrap().verify(&last.1, &last.0).is_err());
        let actions: Vec<String> = audit_entries(db.pool(), 10)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.action)
            .collect();
        assert!(actions.contains(&"events.replay".into()) && actions.contains(&"events.rotate-secret".into()));
        server.abort();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn two_workers_never_send_one_delivery_at_once() {
    common::on_each_db(|db| async move {
        let receiver = Receiver::new();
        receiver.delay_ms.store(100, Ordering::SeqCst);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let server = receiver.serve(listener);
        let (id, _) = subscribe(&db, &url, &[EventType::PluginInstalled]).await;
        for i in 0..20 {
            emit(&db, &format!("p{i}")).await;
        }
        let a = Worker::new(db.clone(), secret_box(), fast("node-a"));
        let b = Worker::new(db.clone(), secret_box(), fast("node-b"));
        let start = Instant::now();
        while deliveries(&db, id)
            .await
            .iter()
            .any(|d| d.status != DeliveryStatus::Delivered)
            || deliveries(&db, id).await.len() < 20
        {
            let (x, y) = tokio::join!(a.round(), b.round());
            x.unwrap();
            y.unwrap();
            assert!(start.elapsed() < Duration::from_secs(60), "not all delivered");
        }
        let mut ids: Vec<String> = receiver
            .got()
            .iter()
            .map(|r| header(r, "webhook-id").to_string())
            .collect();
        assert_eq!(ids.len(), 20, "each event sent once");
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 20);
        server.abort();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn delivered_events_are_pruned_after_the_retention_period() {
    common::on_each_db(|db| async move {
        let receiver = Receiver::new();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let server = receiver.serve(listener);
        let (id, _) = subscribe(&db, &url, &[EventType::PluginInstalled]).await;
        emit(&db, "acme").await;
        let keep = Worker::new(db.clone(), secret_box(), fast("node-a"));
        deliver_until(&keep, &db, id, "the delivery", |d| {
            d.first().is_some_and(|d| d.status == DeliveryStatus::Delivered)
        })
        .await;
        // Pending ones stay whatever their age (within 30 days).
        server.abort();
        emit(&db, "beta").await;
        socialcrm::events::outbox::fan_out(&db).await.unwrap();
        assert_eq!(keep.prune().await.unwrap(), 0, "within the retention period");
        let prune_all = Worker::new(
            db.clone(),
            secret_box(),
            DeliveryOptions {
                retention: Duration::ZERO,
                ..fast("node-a")
            },
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
        assert_eq!(prune_all.prune().await.unwrap(), 1, "the delivered event only");
        let left = deliveries(&db, id).await;
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].status, DeliveryStatus::Pending);
    })
    .await;
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
async fn a_serve_killed_mid_delivery_loses_no_event() {
    let sentiment = common::plugin_dir("plugins/sentiment");
    let sentiment = &sentiment.path().display().to_string();
    common::on_each_db_url(|url, db| async move {
        let receiver = Receiver::new();
        // The first request hangs: the node is killed while sending it.
        receiver.delay_ms.store(60_000, Ordering::SeqCst);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let hook = format!("http://{}/hook", listener.local_addr().unwrap());
        let server = receiver.serve(listener);
        let (id, secret) = subscribe(&db, &hook, &[EventType::PluginInstalled]).await;
        emit(&db, "acme").await;
        let data = tempfile::tempdir().unwrap();
        let serve = || {
            let child = Command::new(env!("CARGO_BIN_EXE_socialcrm"))
                .env(
                    "SOCIALCRM_SECRET_KEY",
                    base64::engine::general_purpose::STANDARD.encode(KEY),
                )
                .args(["--database-url", &url, "--analyzer", sentiment, "--data-dir"])
                .arg(data.path())
                .args([
                    "serve",
                    "--listen",
                    "127.0.0.1:0",
                    "--event-timeout",
                    "2",
                    "--event-backoff",
                    "0.1",
                ])
                .stdout(Stdio::null())
                .spawn()
                .unwrap();
            Killed(child)
        };
        let mut first = serve();
        let start = Instant::now();
        while receiver.got().is_empty() {
            assert!(
                start.elapsed() < Duration::from_secs(90),
                "the first attempt never came"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        first.0.kill().unwrap();
        first.0.wait().unwrap();
        let leased = &deliveries(&db, id).await[0];
        assert_eq!(
            (leased.status, leased.attempts),
            (DeliveryStatus::Pending, 0),
            "killed before recording"
        );

        receiver.delay_ms.store(0, Ordering::SeqCst);
        let _second = serve();
        let start = Instant::now();
        while deliveries(&db, id).await[0].status != DeliveryStatus::Delivered {
            assert!(
                start.elapsed() < Duration::from_secs(90),
                "never delivered after the restart"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let got = receiver.got();
        assert!(got.len() >= 2, "sent again after the kill");
        let event_id = header(&got[0], "webhook-id").to_string();
        assert!(got.iter().all(|r| header(r, "webhook-id") == event_id));
        assert_eq!(verified(&secret, got.last().unwrap())["data"]["name"], "acme");
        server.abort();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn admins_manage_subscriptions_over_the_api() {
    use socialcrm::tokens::{self, Role};
    common::on_each_db(|db| async move {
        let server = common::http::start(&db).await;
        let admin = tokens::create(&db, "root", Role::Admin, "test").await.unwrap();
        let agent = tokens::create(&db, "agent-1", Role::Agent, "test").await.unwrap();
        let http = reqwest::Client::new();
        let call = |method: reqwest::Method, path: &str, token: &str| {
            http.request(method, server.api(path)).bearer_auth(token)
        };
        use reqwest::Method;
        let body = json!({"url": "https://hooks.example.com/crm", "types": ["post.analyzed"], "intent": "complaint", "min_priority": 40});
        let (status, _) = common::http::answer(call(Method::POST, "/events/subscriptions", &agent).json(&body)).await;
        assert_eq!(status, 403, "admins only");
        let (status, created) = common::http::answer(call(Method::POST, "/events/subscriptions", &admin).json(&body)).await;
        assert_eq!(status, 201, "{created}");
        assert!(created["secret"].as_str().unwrap().starts_with("whsec_"));
        let s = &created["subscription"];
        assert_eq!((s["status"].as_str(), s["intent"].as_str()), (Some("active"), Some("complaint")));
        assert_eq!(s["types"], json!(["post.analyzed"]));
        let id = s["id"].as_i64().unwrap();

        for (bad, want) in [
            (json!({"url": "http://127.0.0.1:8080/", "types": ["post.received"]}), 422),
            (json!({"url": "http://169.254.169.254/latest", "types": ["post.received"]}), 422),
            (json!({"url": "ftp://x.example", "types": ["post.received"]}), 400),
            (json!({"url": "https://x.example", "types": []}), 400),
            (json!({"url": "https://x.example", "types": ["post.deleted"]}), 422),
            (json!({"url": "https://x.example", "types": ["post.received"], "min_priority": -1}), 400),
            (json!({"url": "https://x.example", "types": ["post.received"], "allow_private": true}), 422),
        ] {
            let (status, answer) = common::http::answer(call(Method::POST, "/events/subscriptions", &admin).json(&bad)).await;
            assert_eq!(status, want, "{bad}: {answer}");
            assert!(answer["error"]["code"].is_string(), "{answer}");
        }

        let (status, list) = common::http::answer(call(Method::GET, "/events/subscriptions", &admin)).await;
        assert_eq!((status, list["items"].as_array().map(Vec::len)), (200, Some(1)));
        assert!(list["items"][0].get("secret").is_none(), "never shown again");
        let (status, _) = common::http::answer(call(Method::GET, "/events/subscriptions/999", &admin)).await;
        assert_eq!(status, 404);
        let (status, off) = common::http::answer(call(Method::POST, &format!("/events/subscriptions/{id}/disable"), &admin)).await;
        assert_eq!((status, off["status"].as_str()), (200, Some("disabled")));
        let (status, on) = common::http::answer(call(Method::POST, &format!("/events/subscriptions/{id}/enable"), &admin)).await;
        assert_eq!((status, on["status"].as_str()), (200, Some("active")));
        let rotate = format!("/events/subscriptions/{id}/rotate-secret");
        let (status, rotated) = common::http::answer(call(Method::POST, &rotate, &admin)).await;
        assert_eq!(status, 200, "{rotated}");
        assert_ne!(rotated["secret"], created["secret"]);
        let (status, _) =
            common::http::answer(call(Method::POST, &rotate, &admin).json(&json!({"grace_seconds": 10_000_000}))).await;
        assert_eq!(status, 400);

        let (status, page) = common::http::answer(call(Method::GET, "/events/deliveries?status=pending&limit=5", &admin)).await;
        assert_eq!((status, page["items"].as_array().map(Vec::len)), (200, Some(0)));
        let (status, _) = common::http::answer(call(Method::GET, "/events/deliveries?status=odd", &admin)).await;
        assert_eq!(status, 400);
        let (status, _) = common::http::answer(call(Method::POST, "/events/deliveries/5/replay", &admin)).await;
        assert_eq!(status, 404);
        let (status, _) = common::http::answer(call(Method::DELETE, &format!("/events/subscriptions/{id}"), &admin)).await;
        assert_eq!(status, 204);
        let (status, _) = common::http::answer(call(Method::DELETE, &format!("/events/subscriptions/{id}"), &admin)).await;
        assert_eq!(status, 404);
        let audit = audit_entries(db.pool(), 20).await.unwrap();
        assert!(audit.iter().any(|e| e.action == "events.subscribe" && e.actor == "root"), "{audit:?}");
    })
    .await;
}

/// What events cost the ingest (not a pass/fail test; run with `--ignored
/// --nocapture`): the wanted-types check alone, and commits of the same
/// pages when nobody listens, when another type is wanted, and when
/// `post.received` is.
#[tokio::test(flavor = "multi_thread")]
#[ignore]
async fn measure_the_outbox_cost() {
    common::on_each_db(|db| async move {
        let start = Instant::now();
        for _ in 0..100_000 {
            Outbox::of(&db).await.unwrap();
        }
        println!(
            "{:?}: Outbox::of {:?} per call",
            db.backend(),
            start.elapsed() / 100_000
        );
        let brand = channel(&db).await;
        let mut n = 0;
        let mut run = async |label: &str| {
            let start = Instant::now();
            for _ in 0..20 {
                let page: Vec<Post> = (0..500)
                    .map(|_| {
                        n += 1;
                        post(
                            &n.to_string(),
                            "a post of an ordinary length, about as long as most of them",
                        )
                    })
                    .collect();
                commit_page(&db, &brand, &page, &[], None, &Default::default())
                    .await
                    .unwrap();
            }
            println!(
                "{:?}: {label}: {:?} per 500-post page",
                db.backend(),
                start.elapsed() / 20
            );
        };
        run("warm-up").await;
        run("nobody listens").await;
        subscribe(&db, "https://a.example.com/", &[EventType::PluginInstalled]).await;
        run("another type wanted").await;
        subscribe(&db, "https://b.example.com/", &[EventType::PostReceived]).await;
        run("post.received wanted").await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_scored_post_is_reported_with_its_priority() {
    common::on_each_db(|db| async move {
        let brand = channel(&db).await;
        let (id, _) = subscribe(&db, "https://hooks.example.com/a", &[EventType::PostAnalyzed]).await;
        let committed = commit_page(&db, &brand, &[post("1", "hello")], &[], None, &Default::default())
            .await
            .unwrap();
        assert_eq!(count(&db, "event_outbox").await, 0, "post.received is not wanted");
        socialcrm::insights::refresh_posts(&db, &committed.new_posts, now_ms())
            .await
            .unwrap();
        let row = sqlx::query("SELECT type, channel, priority, data FROM event_outbox")
            .fetch_one(db.pool())
            .await
            .unwrap();
        assert_eq!(row.get::<String, _>("type"), "post.analyzed");
        assert_eq!(row.get::<Option<String>, _>("channel").as_deref(), Some("brand"));
        let data: Value = serde_json::from_str(&row.get::<String, _>("data")).unwrap();
        assert_eq!(data["post_id"], committed.new_posts[0]);
        assert_eq!(
            Some(data["priority"].as_f64().unwrap()),
            row.get::<Option<f64>, _>("priority")
        );
        assert!(data["explanation"].is_string(), "{data}");
        // A priority filter above it: no delivery.
        subscriptions::remove(&db, id, "test").await.unwrap();
        let new = NewSubscription {
            url: "https://hooks.example.com/b".into(),
            types: vec![EventType::PostAnalyzed],
            min_priority: Some(999.0),
            ..NewSubscription::default()
        };
        let high = subscriptions::subscribe(&db, &secret_box(), &new, "test")
            .await
            .unwrap()
            .subscription
            .id;
        socialcrm::insights::refresh_posts(&db, &committed.new_posts, now_ms())
            .await
            .unwrap();
        socialcrm::events::outbox::fan_out(&db).await.unwrap();
        assert!(deliveries(&db, high).await.is_empty());
    })
    .await;
}
