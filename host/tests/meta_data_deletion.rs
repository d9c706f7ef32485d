//! Meta's data-deletion callback (docs/privacy.md): a signed request POSTed
//! to the running server's `/hooks/{channel}/data-deletion` records the
//! request, erases the identity it names with its posts, and answers the
//! status URL and confirmation code; the status page tells the person where
//! it stands, and nothing else. A forged request records and erases nothing.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::Value;
use socialcrm::channels::{self, NewChannel};
use socialcrm::ingest::{Ingest, IngestOptions};
use socialcrm::runtime::types::{Header, WebhookRequest};
use socialcrm::runtime::{Runtime, RuntimeOptions};
use socialcrm::secrets::SecretBox;
use socialcrm::store::Db;
use socialcrm_fakes::meta::{self, FakeMeta};

const APP_SECRET: &str = "meta-app-secret";
const ANN: (&str, &str) = ("3929839453767123", "Ann Buyer");
const BOB: (&str, &str) = ("5182736450912834", "Bob Shopper");

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// The channel `brand` of the Meta plugin at `plugin`, talking to `network`.
async fn brand(db: &Db, runtime: &Runtime, plugin: &str, network: &FakeMeta) -> Ingest {
    let sbox = SecretBox::from_key(&[7; 32]).unwrap();
    let ingest = Ingest::new(
        db.clone(),
        sbox.clone(),
        runtime.clone(),
        vec![],
        IngestOptions::default(),
    );
    let base = network.base_url();
    let channel = NewChannel {
        name: "brand".into(),
        plugin: plugin.to_string(),
        config: map(&[("graph-url", base.as_str()), ("verify-token", "a-verify-token-of-16+")]),
        secrets: map(&[("page-access-token", meta::TOKEN), ("app-secret", APP_SECRET)]),
        allow_private: true,
    };
    channels::add(db, &sbox, &ingest, channel).await.unwrap();
    ingest
}

/// Comments of Ann and Bob, delivered by the page webhook.
async fn comments(ingest: &Ingest, network: &FakeMeta) {
    let comments = [
        network.fb_comment(ANN, "Where is my parcel?", None),
        network.fb_comment(ANN, "Still waiting", None),
        network.fb_comment(BOB, "Lovely shop", None),
    ];
    let delivery = network.page_delivery(&comments, &[]);
    let request = WebhookRequest {
        method: "POST".into(),
        path: String::new(),
        query: String::new(),
        headers: vec![Header {
            name: "x-hub-signature-256".into(),
            value: delivery.signature.into_bytes(),
        }],
        body: delivery.body,
    };
    let endpoint = ingest.webhook_endpoint("brand").await.unwrap();
    assert_eq!(ingest.webhook(endpoint, request).await.unwrap().status, 200);
}

/// Posts of network user `user` that still hold their text, and whether the
/// identity is there.
async fn held(db: &Db, user: &str) -> (i64, i64) {
    let posts: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM posts p JOIN identities i ON i.id = p.identity_id \
         WHERE i.external_user_id = $1 AND p.tombstone IS NULL",
    )
    .bind(user)
    .fetch_one(db.pool())
    .await
    .unwrap();
    let identities: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM identities WHERE external_user_id = $1")
        .bind(user)
        .fetch_one(db.pool())
        .await
        .unwrap();
    (posts, identities)
}

/// POSTs `body` as Meta does to the callback: status and body.
async fn callback(client: &reqwest::Client, root: &str, body: Vec<u8>) -> (u16, String) {
    let response = client
        .post(format!("{root}/hooks/brand/data-deletion"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

/// The JSON status at `url`, once it is `complete` (or after 30 s, whatever it is).
async fn completed(client: &reqwest::Client, url: &str) -> Value {
    let start = Instant::now();
    loop {
        let response = client
            .get(url)
            .header("accept", "application/json")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["cache-control"], "no-store");
        let status: Value = response.json().await.unwrap();
        if status["status"] == "complete" || start.elapsed() > Duration::from_secs(30) {
            return status;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_signed_data_deletion_request_erases_the_identity_and_reports_complete() {
    let dir = common::plugin_dir("plugins/meta");
    let runtime = Runtime::new(RuntimeOptions::default()).unwrap();
    let (runtime, plugin) = (&runtime, &dir.path().display().to_string());
    common::on_each_db(move |db| async move {
        let network = FakeMeta::start(APP_SECRET).await.unwrap();
        let ingest = brand(&db, runtime, plugin, &network).await;
        comments(&ingest, &network).await;
        assert_eq!((held(&db, ANN.0).await, held(&db, BOB.0).await), ((2, 1), (1, 1)));
        let server = common::http::start_with(ingest).await;
        let client = reqwest::Client::new();

        // Forged: signed with another secret. Refused, nothing recorded or erased.
        let forged = meta::signed_request("not-the-app-secret", ANN.0);
        assert_eq!(callback(&client, &server.root, forged).await.0, 403);
        let unsigned = b"signed_request=e30".to_vec();
        assert_eq!(callback(&client, &server.root, unsigned).await.0, 400);
        assert_eq!(common::count(&db, "deletion_requests").await, 0);
        assert_eq!(common::count(&db, "erasures").await, 0);

        let (status, body) = callback(&client, &server.root, network.data_deletion_request(ANN.0)).await;
        assert_eq!(status, 200, "{body}");
        let ticket: Value = serde_json::from_str(&body).unwrap();
        let code = ticket["confirmation_code"].as_str().unwrap();
        assert_eq!(code.len(), 32, "128 random bits in hex: {code}");
        assert!(code.bytes().all(|b| b.is_ascii_hexdigit()));
        let url = ticket["url"].as_str().unwrap();
        assert_eq!(url, format!("{}/deletions/{code}", server.root));

        let status = completed(&client, url).await;
        assert_eq!(status["status"], "complete", "{status}");
        assert!(status["received_at"].as_i64().unwrap() <= status["completed_at"].as_i64().unwrap());
        assert_eq!(status.as_object().unwrap().len(), 3, "status and dates only: {status}");
        assert_eq!(held(&db, ANN.0).await, (0, 0), "Ann's posts and identity are erased");
        assert_eq!(held(&db, BOB.0).await, (1, 1), "Bob's are not");
        let user_ids: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM deletion_requests WHERE external_user_id IS NOT NULL")
                .fetch_one(db.pool())
                .await
                .unwrap();
        assert_eq!(user_ids, 0, "the request keeps no user id once its erasure started");

        let page = client.get(url).send().await.unwrap();
        assert_eq!(page.status(), 200);
        assert_eq!(page.headers()["referrer-policy"], "no-referrer");
        let html = page.text().await.unwrap();
        assert!(html.contains("Your data is deleted"), "{html}");
        assert!(!html.contains(ANN.1) && !html.contains(ANN.0), "{html}");

        // Someone the host holds nothing about: recorded, complete at once.
        let (status, body) = callback(&client, &server.root, network.data_deletion_request("999")).await;
        assert_eq!(status, 200, "{body}");
        let ticket: Value = serde_json::from_str(&body).unwrap();
        let status = completed(&client, ticket["url"].as_str().unwrap()).await;
        assert_eq!(status["status"], "complete", "{status}");
        assert_eq!(common::count(&db, "deletion_requests").await, 2);
        assert_eq!(common::count(&db, "erasures").await, 1);

        // Unknown and malformed codes are the same 404.
        for code in ["0123456789abcdef0123456789abcdef", "nope"] {
            let response = client
                .get(format!("{}/deletions/{code}", server.root))
                .header("accept", "application/json")
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 404, "{code}");
            let body: Value = response.json().await.unwrap();
            assert_eq!(body["error"]["code"], "not-found");
        }
        let page = client
            .get(format!("{}/deletions/0123456789abcdef0123456789abcdef", server.root))
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 404);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_status_url_starts_with_the_public_url() {
    let dir = common::plugin_dir("plugins/meta");
    let runtime = Runtime::new(RuntimeOptions::default()).unwrap();
    let (runtime, plugin) = (&runtime, &dir.path().display().to_string());
    common::on_each_db(move |db| async move {
        let network = FakeMeta::start(APP_SECRET).await.unwrap();
        let ingest = brand(&db, runtime, plugin, &network).await;
        let client = reqwest::Client::new();
        let code_and_url = |body: String| {
            let ticket: Value = serde_json::from_str(&body).unwrap();
            let field = |name: &str| ticket[name].as_str().unwrap_or_default().to_string();
            (field("confirmation_code"), field("url"))
        };

        // Behind a proxy that terminates TLS, without --public-url: the origin called, in https.
        let server = common::http::start_with(ingest.clone()).await;
        let response = client
            .post(format!("{}/hooks/brand/data-deletion", server.root))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-forwarded-proto", "https")
            .body(network.data_deletion_request(ANN.0))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let (code, url) = code_and_url(response.text().await.unwrap());
        let origin = server.root.replace("http://", "https://");
        assert_eq!(url, format!("{origin}/deletions/{code}"));

        // With --public-url: that, whatever the request says.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let root = format!("http://{}", listener.local_addr().unwrap());
        let public = url::Url::parse("https://crm.example.com/").unwrap();
        let app = socialcrm::server::router(socialcrm::app::App::new(ingest).with_public_url(public));
        let task = tokio::spawn(async move { axum::serve(listener, app).await });
        let (status, body) = callback(&client, &root, network.data_deletion_request(BOB.0)).await;
        assert_eq!(status, 200, "{body}");
        let (code, url) = code_and_url(body);
        assert_eq!(url, format!("https://crm.example.com/deletions/{code}"));
        task.abort();
    })
    .await;
}
