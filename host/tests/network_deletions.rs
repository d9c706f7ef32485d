//! Deletions and edits from the networks (docs/network-deletions.md): the
//! bundled plugins' re-checks against each network's fake, applied by the
//! host in the call's transaction. A deleted post becomes a tombstone and
//! leaves every score; an edited one is analysed again.

mod common;

use std::collections::BTreeMap;

use serde_json::json;
use socialcrm::channels::{self, NewChannel};
use socialcrm::ingest::{Ingest, IngestOptions, RecheckReport};
use socialcrm::plugins::Manifest;
use socialcrm::runtime::types::{Header, WebhookRequest};
use socialcrm::runtime::{AnalyzerPlugin, Runtime, RuntimeOptions};
use socialcrm::secrets::SecretBox;
use socialcrm::store::Db;
use socialcrm_fakes::FakeMastodon;
use socialcrm_fakes::bluesky::{APP_PASSWORD, FakeBluesky, HANDLE};
use socialcrm_fakes::mastodon::TOKEN;
use socialcrm_fakes::meta::{self, Delivery, FakeMeta};
use socialcrm_fakes::x::{self, FakeX};
use sqlx::Row;

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn sentiment(runtime: &Runtime) -> AnalyzerPlugin {
    let dir = common::plugin_dir("plugins/sentiment");
    let manifest = std::fs::read_to_string(dir.path().join("plugin.toml")).unwrap();
    let wasm = std::fs::read(dir.path().join("plugin.wasm")).unwrap();
    runtime
        .load_analyzer(Manifest::parse(&manifest).unwrap().sandbox(), &wasm)
        .unwrap()
}

/// A post as stored: text, tombstone, and how many analyses and scores it has.
#[derive(Debug, PartialEq)]
struct Stored {
    text: String,
    tombstone: Option<String>,
    analyses: i64,
    scores: i64,
    label: Option<String>,
}

async fn stored(db: &Db, external_id: &str) -> Stored {
    let row = sqlx::query(
        "SELECT p.text, p.tombstone, \
         (SELECT COUNT(*) FROM analyses a WHERE a.post_id = p.id) AS analyses, \
         (SELECT COUNT(*) FROM post_scores s WHERE s.post_id = p.id) AS scores, \
         (SELECT MAX(a.label) FROM analyses a WHERE a.post_id = p.id) AS label \
         FROM posts p WHERE p.external_id = $1",
    )
    .bind(external_id)
    .fetch_one(db.pool())
    .await
    .unwrap_or_else(|e| panic!("post {external_id}: {e}"));
    Stored {
        text: row.get("text"),
        tombstone: row.get("tombstone"),
        analyses: row.get("analyses"),
        scores: row.get("scores"),
        label: row.get("label"),
    }
}

/// An ingest with the sentiment analyzer and the channel `brand` of `plugin`.
async fn brand(db: &Db, runtime: &Runtime, plugin: &str, config: &[(&str, &str)], secrets: &[(&str, &str)]) -> Ingest {
    let sbox = SecretBox::from_key(&[7; 32]).unwrap();
    let ingest = Ingest::new(
        db.clone(),
        sbox.clone(),
        runtime.clone(),
        vec![sentiment(runtime)],
        IngestOptions::default(),
    );
    let channel = NewChannel {
        name: "brand".into(),
        plugin: plugin.to_string(),
        config: map(config),
        secrets: map(secrets),
        allow_private: true,
    };
    channels::add(db, &sbox, &ingest, channel).await.unwrap();
    ingest
}

/// Syncs `brand` with its re-check due, and returns what the re-check did.
async fn recheck(ingest: &Ingest) -> RecheckReport {
    ingest.recheck_due("brand").await.unwrap();
    let report = ingest.sync_now("brand", "test", &|_| {}).await.unwrap();
    report.rechecked.expect("a re-check ran")
}

/// What every network's deletion path must do: `deleted` is a tombstone
/// with nothing derived from it, `edited` reads `new_text` and was analysed
/// again (its label changed), `kept` is untouched.
async fn assert_applied(db: &Db, deleted: &str, edited: &str, new_text: &str, kept: &Stored, kept_id: &str) {
    let gone = stored(db, deleted).await;
    assert_eq!(
        (
            gone.text.as_str(),
            gone.tombstone.as_deref(),
            gone.analyses,
            gone.scores
        ),
        ("", Some("deleted"), 0, 0),
        "{gone:?}"
    );
    let edit = stored(db, edited).await;
    assert_eq!(edit.text, new_text);
    assert_eq!(edit.tombstone, None);
    assert_eq!(
        (edit.analyses, edit.label.as_deref()),
        (1, Some("negative")),
        "analysed again"
    );
    assert_eq!(edit.scores, 1, "scored again");
    assert_eq!(&stored(db, kept_id).await, kept, "an unchanged post is left alone");
}

#[tokio::test(flavor = "multi_thread")]
async fn mastodon_deletions_and_edits_are_found_by_rechecking_statuses() {
    let dir = common::plugin_dir("plugins/mastodon");
    let runtime = Runtime::new(RuntimeOptions::default()).unwrap();
    let (runtime, plugin) = (&runtime, &dir.path().display().to_string());
    common::on_each_db(move |db| async move {
        let network = FakeMastodon::start().await.unwrap();
        let base = network.base_url();
        let ingest = brand(&db, runtime, plugin, &[("instance", &base)], &[("access-token", TOKEN)]).await;
        // The first sync takes the recorded mentions, older than the window:
        // its re-check hands over nothing and goes through the window.
        let first = ingest.sync_now("brand", "test", &|_| {}).await.unwrap();
        let handed = first.rechecked.map(|r| (r.handed, r.wrapped));
        assert_eq!(handed, Some((0, true)));

        let status = |text: &str| json!({ "content": format!("<p>{text}</p>"), "visibility": "public" });
        for text in ["I love this shop", "Great service, thanks", "Lovely, happy with it"] {
            network.push_mention(status(text));
        }
        ingest.sync_now("brand", "test", &|_| {}).await.unwrap();
        let notified = network.requests().len();
        // The statuses of the fresh mentions, oldest first.
        let statuses: Vec<String> = {
            let rows = sqlx::query("SELECT external_id FROM posts WHERE created_at > $1 ORDER BY id")
                .bind(socialcrm::store::now_ms() - 3_600_000)
                .fetch_all(db.pool())
                .await
                .unwrap();
            rows.iter().map(|r| r.get::<String, _>("external_id")).collect()
        };
        assert_eq!(statuses.len(), 3, "the three fresh mentions are stored");
        let kept = stored(&db, &statuses[2]).await;
        assert_eq!((kept.analyses, kept.label.as_deref()), (1, Some("positive")));

        network.delete_status(&statuses[0]);
        network.edit_status(&statuses[1], "<p>Awful service, I hate it</p>");
        let report = recheck(&ingest).await;
        assert_eq!(
            (report.handed, report.checked, report.deleted, report.edited),
            (3, 3, 1, 1)
        );
        assert!(report.wrapped, "three posts fit a batch: the window is done");
        let looked_up: Vec<String> = network.requests()[notified..]
            .iter()
            .map(|r| r.path.clone())
            .filter(|p| p.starts_with("/api/v1/statuses/"))
            .collect();
        assert_eq!(looked_up.len(), 3, "one lookup per stored status: {looked_up:?}");
        assert_applied(
            &db,
            &statuses[0],
            &statuses[1],
            "Awful service, I hate it",
            &kept,
            &statuses[2],
        )
        .await;

        // Reported again (a re-check after a crash), nothing changes twice.
        let again = recheck(&ingest).await;
        assert_eq!((again.handed, again.deleted, again.edited), (2, 0, 0));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bluesky_deletions_and_edits_are_found_with_get_posts() {
    let dir = common::plugin_dir("plugins/bluesky");
    let runtime = Runtime::new(RuntimeOptions::default()).unwrap();
    let (runtime, plugin) = (&runtime, &dir.path().display().to_string());
    common::on_each_db(move |db| async move {
        let network = FakeBluesky::start().await.unwrap();
        let base = network.base_url();
        let config = [
            ("service", base.as_str()),
            ("identifier", HANDLE),
            ("own-posts", "false"),
        ];
        let uris: Vec<String> = ["I love this shop", "Great service, thanks", "Lovely, happy with it"]
            .iter()
            .map(|t| network.push_mention("ann.example.com", &format!("@{HANDLE} {t}")))
            .collect();
        let ingest = brand(&db, runtime, plugin, &config, &[("app-password", APP_PASSWORD)]).await;
        ingest.sync_now("brand", "test", &|_| {}).await.unwrap();
        let kept = stored(&db, &uris[2]).await;
        assert_eq!((kept.analyses, kept.label.as_deref()), (1, Some("positive")));

        network.delete_post(&uris[0]);
        let new_text = format!("@{HANDLE} Awful service, I hate it");
        network.edit_post(&uris[1], &new_text);
        let before = network.requests().len();
        let report = recheck(&ingest).await;
        assert_eq!(
            (report.handed, report.checked, report.deleted, report.edited),
            (3, 3, 1, 1)
        );
        let lookups = network.requests()[before..]
            .iter()
            .filter(|r| r.path == "/xrpc/app.bsky.feed.getPosts")
            .count();
        assert_eq!(lookups, 1, "three URIs, one getPosts");
        assert_applied(&db, &uris[0], &uris[1], &new_text, &kept, &uris[2]).await;
    })
    .await;
}

/// `delivery` as Meta POSTs it to `/hooks/brand`, through the host.
async fn deliver(ingest: &Ingest, delivery: &Delivery) {
    let request = WebhookRequest {
        method: "POST".into(),
        path: String::new(),
        query: String::new(),
        headers: vec![Header {
            name: "x-hub-signature-256".into(),
            value: delivery.signature.clone().into_bytes(),
        }],
        body: delivery.body.clone(),
    };
    let endpoint = ingest.webhook_endpoint("brand").await.unwrap();
    let answer = ingest.webhook(endpoint, request).await.unwrap();
    assert_eq!(answer.status, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn meta_removed_and_edited_comments_arrive_with_the_feed_webhook() {
    const APP_SECRET: &str = "meta-app-secret";
    let dir = common::plugin_dir("plugins/meta");
    let runtime = Runtime::new(RuntimeOptions::default()).unwrap();
    let (runtime, plugin) = (&runtime, &dir.path().display().to_string());
    common::on_each_db(move |db| async move {
        let network = FakeMeta::start(APP_SECRET).await.unwrap();
        let base = network.base_url();
        let config = [("graph-url", base.as_str()), ("verify-token", "a-verify-token-of-16+")];
        let secrets = [("page-access-token", meta::TOKEN), ("app-secret", APP_SECRET)];
        let ingest = brand(&db, runtime, plugin, &config, &secrets).await;
        let ann = ("3929839453767123", "Ann Buyer");
        let comments: Vec<_> = ["I love this shop", "Great service, thanks", "Lovely, happy with it"]
            .iter()
            .map(|t| network.fb_comment(ann, t, None))
            .collect();
        deliver(&ingest, &network.page_delivery(&comments, &[])).await;
        let id = |c: &serde_json::Value| format!("facebook:{}", c["comment_id"].as_str().unwrap_or_default());
        let kept = stored(&db, &id(&comments[2])).await;
        assert_eq!((kept.analyses, kept.label.as_deref()), (1, Some("positive")));

        let edited = network.fb_comment_edited(&comments[1], "Awful service, I hate it");
        let removed = network.fb_comment_removed(&comments[0]);
        deliver(&ingest, &network.page_delivery(&[edited, removed], &[])).await;
        let (deleted, edited) = (id(&comments[0]), id(&comments[1]));
        assert_applied(
            &db,
            &deleted,
            &edited,
            "Awful service, I hate it",
            &kept,
            &id(&comments[2]),
        )
        .await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn x_compliance_jobs_tombstone_deleted_posts_and_gone_users() {
    let dir = common::plugin_dir("plugins/x");
    let runtime = Runtime::new(RuntimeOptions::default()).unwrap();
    let (runtime, plugin) = (&runtime, &dir.path().display().to_string());
    common::on_each_db(move |db| async move {
        let network = FakeX::start().await.unwrap();
        let (base, storage) = (network.base_url(), network.storage_url());
        let ids: Vec<String> = [
            ("ann", "I love this shop"),
            ("bob", "Great service, thanks"),
            ("cy", "Lovely, happy with it"),
        ]
        .iter()
        .map(|(who, text)| network.push_mention(who, text))
        .collect();
        let config = [
            ("api-url", base.as_str()),
            ("user-id", x::BRAND_ID),
            ("storage-url", storage.as_str()),
        ];
        let secrets = [("access-token", x::TOKEN), ("app-bearer-token", x::APP_TOKEN)];
        let ingest = brand(&db, runtime, plugin, &config, &secrets).await;
        // The first sync stores every mention and sends them up in jobs.
        let first = ingest.sync_now("brand", "test", &|_| {}).await.unwrap();
        let sent = first.rechecked.expect("a re-check ran");
        assert_eq!(sent.checked, sent.handed, "every stored post went up: {sent:?}");
        assert!(sent.handed >= 3);
        let kept = stored(&db, &ids[2]).await;
        assert_eq!((kept.analyses, kept.label.as_deref()), (1, Some("positive")));

        network.delete_post(&ids[0]);
        network.user_gone("bob", "suspended");
        // The jobs are still running: nothing goes up, nothing changes.
        let running = recheck(&ingest).await;
        assert_eq!((running.checked, running.deleted), (0, 0), "{running:?}");
        // Complete: the deleted post and the suspended author's post become tombstones.
        let done = recheck(&ingest).await;
        assert_eq!(done.deleted, 2, "{done:?}");
        for id in &ids[..2] {
            let gone = stored(&db, id).await;
            assert_eq!(
                (
                    gone.text.as_str(),
                    gone.tombstone.as_deref(),
                    gone.analyses,
                    gone.scores
                ),
                ("", Some("deleted"), 0, 0),
                "{id}"
            );
        }
        assert_eq!(
            stored(&db, &ids[2]).await,
            kept,
            "a post without an event is left alone"
        );

        // Each credential went only where its rule sends it.
        let requests = network.requests();
        let auth = |path: &str| -> Vec<String> {
            requests
                .iter()
                .filter(|r| r.path.starts_with(path))
                .map(|r| r.header("authorization").unwrap_or_default().to_string())
                .collect()
        };
        let compliance = auth("/2/compliance/");
        assert!(compliance.len() >= 4, "jobs created and read: {compliance:?}");
        assert!(
            compliance.iter().all(|a| a == &format!("Bearer {}", x::APP_TOKEN)),
            "{compliance:?}"
        );
        let timelines = auth("/2/users/");
        assert!(!timelines.is_empty() && timelines.iter().all(|a| a == &format!("Bearer {}", x::TOKEN)));
        let files = network.storage_requests();
        assert!(
            files.iter().any(|r| r.method == "PUT") && files.iter().any(|r| r.method == "GET"),
            "{files:?}"
        );
        assert!(
            files.iter().all(|r| r.header("authorization").is_none()),
            "no credential reaches the storage origin"
        );
    })
    .await;
}
