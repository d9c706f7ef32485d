//! `socialcrm demo` end to end, on SQLite and PostgreSQL: its own Mastodon
//! and Threads networks serve what the bundled mastodon and threads plugins
//! call (the checks, the brand's mentions page by page, the post a reply
//! answers, the replies, Threads' token renewal), every customer post reaches
//! the inbox once, on its own network, with the time it was written, while
//! they keep arriving, and a second run on the same data reads the new
//! networks without taking the history twice. The world's 90 days of history
//! give every insight something to show as soon as the demo prints its
//! token: per-product trends, a spike alert, advocates, churn risk from the
//! bundled scorer, and a macro response waiting for approval.

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use socialcrm::store::Db;

/// The demo world's posts at start: 181 of the history (90 days), a burst of
/// 12 complaints in the last day or two, and 14 of the last hours; then 6
/// arriving one by one.
const POSTS: usize = 207;
const ARRIVING: usize = 6;
/// Those of them on Threads (35 at start, 3 arriving); the others are on Mastodon.
const ON_THREADS: usize = 35;
const ARRIVING_ON_THREADS: usize = 3;
/// Replies among them: 10 answers to customers' questions and 10 thanks in
/// the history, and 3 answers in the last hours.
const REPLIES: usize = 23;
/// The open inbox at start: the burst and the last hours (the history is handled).
const OPEN_AT_START: usize = 26;
/// The channel accounts the demo adds.
const MASTODON: &str = "demo";
const THREADS: &str = "demo-threads";
const DAY_MS: i64 = 86_400_000;

fn external_ids(posts: &[Value]) -> BTreeSet<String> {
    posts
        .iter()
        .map(|p| p["external_id"].as_str().unwrap().to_string())
        .collect()
}

fn on(posts: &[Value], channel: &str) -> usize {
    posts.iter().filter(|p| p["channel"] == channel).count()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_demo_networks_feed_the_bundled_plugins() {
    let plugins = common::demo::plugins();
    let plugins = plugins.path();
    common::on_each_db_url(|url, db| async move {
        let url = url.as_str();
        let data = tempfile::tempdir().unwrap();
        let demo = tokio::task::block_in_place(|| common::demo::Demo::start(url, data.path(), plugins));
        let health = reqwest::get(format!("{}/healthz", demo.root)).await.unwrap();
        assert_eq!(health.status(), 200);

        // Each network takes its channel's token and no other.
        let client = reqwest::Client::new();
        let credentials = format!("{}/api/v1/accounts/verify_credentials", demo.network("Mastodon"));
        for request in [client.get(&credentials), client.get(&credentials).bearer_auth("wrong")] {
            let (status, body) = common::http::answer(request).await;
            assert_eq!((status, &body["error"]), (401, &json!("The access token is invalid")));
        }
        let threads = demo.network("Threads");
        let me = format!("{threads}/v1.0/me?fields=id,username");
        for request in [client.get(&me), client.get(&me).bearer_auth("wrong")] {
            let (status, body) = common::http::answer(request).await;
            assert_eq!((status, &body["error"]["code"]), (400, &json!(190)), "{body}");
        }

        // Right after the start, before anything more arrives: the history
        // is in, with its times, and every insight shows it.
        let at_start = demo.posts().await;
        assert_eq!(
            external_ids(&at_start).len(),
            POSTS,
            "{} posts at start",
            at_start.len()
        );
        assert_eq!(demo.inbox("open").await.len(), OPEN_AT_START, "the open inbox at start");
        insights_at_start(&demo, &at_start).await;

        // Every post, each once and on its network: the history, then those arriving.
        let posts = demo.wait_for_posts(POSTS + ARRIVING).await;
        assert_eq!(external_ids(&posts).len(), POSTS + ARRIVING, "{posts:#?}");
        assert_eq!(
            (on(&posts, MASTODON), on(&posts, THREADS)),
            (
                POSTS + ARRIVING - ON_THREADS - ARRIVING_ON_THREADS,
                ON_THREADS + ARRIVING_ON_THREADS
            )
        );
        let replies_to_customers = posts.iter().filter(|p| p["in_reply_to"].is_string()).count();
        assert_eq!(replies_to_customers, REPLIES, "threads keep their parent");
        let maya = posts
            .iter()
            .find(|p| p["author"]["handle"] == "maya@demo.social" && text(p).starts_with("Three months"))
            .expect("Maya's post");
        assert_eq!(maya["author"]["display_name"], "Maya Okafor");
        let raj = posts
            .iter()
            .find(|p| p["channel"] == THREADS && text(p).starts_with("Does the @lumenbikes X2 fit"))
            .expect("Raj's question on Threads");
        assert_eq!(
            (&raj["author"]["handle"], &raj["kind"]),
            (&json!("raj"), &json!("mention"))
        );
        assert!(
            raj["url"]
                .as_str()
                .unwrap()
                .starts_with("https://www.threads.net/@raj/post/"),
            "{raj}"
        );
        let marco = posts
            .iter()
            .find(|p| p["in_reply_to"] == raj["external_id"])
            .expect("Marco's answer to Raj");
        assert_eq!(marco["channel"], THREADS);

        // A reply goes out through each network (Mastodon reads the post answered first).
        let (status, reply) = common::http::answer(
            client
                .post(format!("{}/api/v1/posts/{}/replies", demo.root, maya["id"]))
                .bearer_auth(&demo.token)
                .json(&json!({"text": "Thanks, Maya! Enjoy the rides."})),
        )
        .await;
        assert_eq!((status, reply["status"].as_str()), (201, Some("sent")), "{reply}");
        let sent_id = reply["external_id"].as_str().expect("the status id");
        let sent_url = reply["url"].as_str().expect("the status URL");
        assert!(sent_url.ends_with(&format!("/@lumenbikes/{sent_id}")), "{sent_url}");
        let replied = demo.get(&format!("/posts/{}/replies", maya["id"])).await;
        assert_eq!(replied["items"].as_array().map(Vec::len), Some(1));

        let text = "The L frame fits up to 200 cm, Raj. Happy to help you pick!";
        let (status, reply) = common::http::answer(
            client
                .post(format!("{}/api/v1/posts/{}/replies", demo.root, raj["id"]))
                .bearer_auth(&demo.token)
                .json(&json!({ "text": text })),
        )
        .await;
        assert_eq!((status, reply["status"].as_str()), (201, Some("sent")), "{reply}");
        let sent_id = reply["external_id"].as_str().expect("the media id");
        let sent_url = reply["url"].as_str().expect("the permalink");
        assert!(
            sent_url.starts_with("https://www.threads.net/@lumenbikes/post/"),
            "{sent_url}"
        );
        // Threads keeps it, under Raj's post.
        let (status, sent) = common::http::answer(
            client
                .get(format!(
                    "{threads}/v1.0/{sent_id}?fields=text,username,replied_to,root_post"
                ))
                .bearer_auth("demo-threads-token"),
        )
        .await;
        assert_eq!(status, 200, "{sent}");
        assert_eq!(
            (
                &sent["text"],
                &sent["username"],
                &sent["replied_to"]["id"],
                &sent["root_post"]["id"]
            ),
            (
                &json!(text),
                &json!("lumenbikes"),
                &raj["external_id"],
                &raj["external_id"]
            )
        );

        // When the host renews the Threads token (due two days after it was
        // entered), the network gives a new one and the polls go on with it.
        renew_threads_token_now(&db).await;
        renewed_and_polled(&demo).await;

        // Again, on the same data: new networks (new ports), the history not taken twice.
        drop(demo);
        let again = tokio::task::block_in_place(|| common::demo::Demo::start(url, data.path(), plugins));
        let posts_again = again.wait_for_posts(POSTS + 2 * ARRIVING).await;
        let ids = external_ids(&posts_again);
        assert_eq!(ids.len(), POSTS + 2 * ARRIVING);
        assert!(ids.is_superset(&external_ids(&posts)));
        assert_eq!(on(&posts_again, THREADS), ON_THREADS + 2 * ARRIVING_ON_THREADS);
        tokio::time::sleep(Duration::from_secs(4)).await;
        assert_eq!(again.posts().await.len(), POSTS + 2 * ARRIVING, "nothing more arrives");
        // The apology is drafted once, not again for the same alert.
        let pending = again.get("/responses?status=pending-approval").await;
        assert_eq!(pending["items"].as_array().map(Vec::len), Some(1), "{pending}");
    })
    .await;
}

fn text(post: &Value) -> &str {
    post["text"].as_str().unwrap_or_default()
}

/// What a user sees at once when the demo starts: a product's sentiment and
/// volume over 90 days, a spike alert with its example posts, advocates with
/// their points, churn risk explained by the bundled scorer, and an apology
/// to the spike's authors waiting for approval. `posts` are all the posts.
async fn insights_at_start(demo: &common::demo::Demo, posts: &[Value]) {
    // History over 90 days: the X2's buyers talk about it most days.
    let now = socialcrm::store::now_ms();
    let trend = demo
        .get(&format!(
            "/insights/trends?product=X2&bucket=day&since={}&until={now}",
            now - 90 * DAY_MS
        ))
        .await;
    let points = trend["items"].as_array().expect("the trend's points");
    let days = points.iter().filter(|p| p["posts"].as_i64() > Some(0)).count();
    assert!(days >= 60, "X2 buyers posted on {days} of 90 days: {trend}");
    assert!(
        points.iter().any(|p| p["negative"].as_i64() > Some(0))
            && points.iter().any(|p| p["mean_sentiment"].is_number()),
        "{trend}"
    );
    let created: BTreeSet<i64> = posts.iter().filter_map(|p| p["created_at"].as_i64()).collect();
    let oldest = created.first().copied().unwrap_or(now);
    assert!(
        now - oldest > 85 * DAY_MS,
        "the oldest post is {} days old",
        (now - oldest) / DAY_MS
    );

    // The burst of complaints about the X2's battery is an alert, with examples.
    let alerts = demo.get("/insights/alerts").await;
    let alert = alerts["items"]
        .as_array()
        .and_then(|a| a.iter().find(|a| a["subject"] == "battery" && a["scope"] == "aspect"))
        .unwrap_or_else(|| panic!("no alert on what posts say of the battery: {alerts}"));
    let signals = alert["signals"].as_array().expect("signals");
    assert!(signals.contains(&json!("negative-share")), "{alert}");
    assert!(alert["posts"].as_i64() >= Some(10), "{alert}");
    let examples = alert["examples"].as_array().expect("examples");
    assert!(!examples.is_empty(), "{alert}");
    for id in examples {
        let post = demo.get(&format!("/posts/{id}")).await;
        assert!(text(&post).contains("battery"), "{post}");
    }

    // The bundled analyzer finds the taxonomy's entries: the battery's trend.
    let battery = demo
        .get(&format!(
            "/insights/trends?aspect=battery&since={}&until={now}",
            now - 90 * DAY_MS
        ))
        .await;
    let mentions: i64 = battery["items"]
        .as_array()
        .map_or(0, |p| p.iter().filter_map(|p| p["posts"].as_i64()).sum());
    assert!(mentions >= 12, "{battery}");

    // Customers who answer other customers earn points, with the events behind them.
    let advocates = demo.get("/insights/advocates").await;
    let top = &advocates["items"][0];
    assert!(top["points"].as_i64() > Some(0), "{advocates}");
    assert!(
        top["explanation"]
            .as_str()
            .is_some_and(|e| e.contains("answered question")),
        "{top}"
    );
    assert!(top["events"].as_array().is_some_and(|e| !e.is_empty()), "{top}");

    // The bundled scorer ranks churn risk and says why.
    let churn = demo.get("/insights/churn?limit=5").await;
    let riskiest = &churn["items"][0];
    assert_eq!(riskiest["scorer"], "churn 0.1.0", "{churn}");
    assert!(
        riskiest["explanation"].as_str().is_some_and(|e| !e.is_empty()),
        "{riskiest}"
    );
    assert!(riskiest["churn"].as_f64() > Some(0.3), "{riskiest}");

    // An apology to the spike's authors waits for someone to approve it.
    let pending = demo.get("/responses?status=pending-approval").await;
    let apology = pending["items"]
        .as_array()
        .and_then(|r| r.iter().find(|r| r["kind"] == "macro"))
        .unwrap_or_else(|| panic!("no macro response pending: {pending}"));
    assert_eq!(apology["alert_id"], alert["id"], "{apology}");
    assert_eq!(apology["aspect"], "battery", "{apology}");
    assert!(apology["counts"]["queued"].as_i64() >= Some(10), "{apology}");
    assert_eq!(apology["approved_by"], Value::Null, "{apology}");
}

/// Makes the Threads channel's token due: it expires in a minute.
async fn renew_threads_token_now(db: &Db) {
    let soon = socialcrm::store::now_ms() + 60_000;
    let updated = sqlx::query(
        "UPDATE credential_expiry SET expires_at = $1, refreshed_at = $2 \
         WHERE channel_id = (SELECT id FROM channel_accounts WHERE name = $3)",
    )
    .bind(soon)
    .bind(soon - 2 * 86_400_000)
    .bind(THREADS)
    .execute(db.pool())
    .await
    .unwrap()
    .rows_affected();
    assert_eq!(updated, 1, "the token's expiry is recorded when the channel is added");
}

/// Waits until the egress log shows the Threads token renewed by the demo
/// network and a poll answered after it.
async fn renewed_and_polled(demo: &common::demo::Demo) {
    let start = Instant::now();
    loop {
        let egress = demo.get("/plugins/threads/egress?limit=200").await;
        let entries = egress["items"].as_array().cloned().unwrap_or_default();
        // Newest first.
        let renewal = entries.iter().position(|e| e["call"] == "refresh-token");
        if let Some(renewal) = renewal {
            let renewed = &entries[renewal];
            assert_eq!(
                (&renewed["path"], &renewed["status"]),
                (&json!("/refresh_access_token"), &json!(200)),
                "{renewed}"
            );
            let after = &entries[..renewal];
            assert!(
                after.iter().all(|e| e["status"] == 200),
                "a request refused after the renewal: {after:#?}"
            );
            if after.iter().any(|e| e["call"] == "poll") {
                return;
            }
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no renewal and poll after it in 60 s: {entries:#?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
