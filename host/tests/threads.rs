//! The Threads channel through the host against the fake Threads on
//! loopback: the brand's threads, their replies and mentions paged forward
//! once each, keyword search with and without its permission, throttles and
//! errors, the long-lived token renewed by the host before it expires (and
//! a refused renewal pausing the account), and a reply through a container
//! and its publish. On SQLite and PostgreSQL.

mod common;

use common::map;
use socialcrm::channels::{self, NewChannel};
use socialcrm::ingest::{Ingest, IngestOptions, SyncReport};
use socialcrm::plugins::Manifest;
use socialcrm::runtime::types::{LogLevel, PluginError};
use socialcrm::runtime::{Account, Runtime, RuntimeOptions};
use socialcrm::store::{Db, accounts};
use socialcrm_fakes::threads::{BRAND_ID, FakeThreads, Fault, LONG_LIVED_SECS, REFRESH_PATH, TOKEN};
use sqlx::Row;

/// The channel `brand` on the fake Threads, searching for `keywords`.
async fn brand(db: &Db, runtime: &Runtime, plugin: &str, network: &FakeThreads, keywords: &str) -> Ingest {
    let ingest = Ingest::new(
        db.clone(),
        common::brand::secret_box(),
        runtime.clone(),
        Vec::new(),
        IngestOptions::default(),
    );
    let base = network.base_url();
    let mut config = vec![("api-url", base.as_str()), ("user-id", BRAND_ID)];
    if !keywords.is_empty() {
        config.push(("keywords", keywords));
    }
    let channel = NewChannel {
        name: "brand".into(),
        plugin: plugin.to_string(),
        config: map(&config),
        secrets: map(&[("access-token", TOKEN)]),
        allow_private: true,
    };
    channels::add(db, &common::brand::secret_box(), &ingest, channel)
        .await
        .unwrap();
    ingest
}

async fn sync(ingest: &Ingest) -> Result<SyncReport, socialcrm::ingest::IngestError> {
    ingest.sync_now("brand", "test", &|_| {}).await
}

/// Stored posts of `kind`.
async fn posts(db: &Db, kind: &str) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM posts WHERE kind = $1")
        .bind(kind)
        .fetch_one(db.pool())
        .await
        .unwrap()
}

async fn status(db: &Db) -> (String, Option<String>) {
    let row = sqlx::query("SELECT status, last_error FROM channel_accounts WHERE name = 'brand'")
        .fetch_one(db.pool())
        .await
        .unwrap();
    (row.get("status"), row.get("last_error"))
}

#[tokio::test(flavor = "multi_thread")]
async fn threads_replies_and_mentions_come_forward_once_each() {
    let dir = common::plugin_dir("plugins/threads");
    let runtime = Runtime::new(RuntimeOptions::default()).unwrap();
    let (runtime, plugin) = (&runtime, &dir.path().display().to_string());
    common::on_each_db(move |db| async move {
        let network = FakeThreads::start().await.unwrap();
        let ingest = brand(&db, runtime, plugin, &network, "").await;

        // History: the brand's two threads, their six replies, thirty mentions.
        let first = sync(&ingest).await.unwrap();
        assert_eq!((first.new_posts, first.duplicates), (38, 0), "{first:?}");
        assert_eq!(
            (
                posts(&db, "post").await,
                posts(&db, "reply").await,
                posts(&db, "mention").await
            ),
            (2, 6, 30)
        );

        // More than a page of each: 150 mentions (pages of 100), 30 replies
        // under an old thread (conversation pages of 25), and a new thread
        // whose replies are all news.
        let old_thread: String =
            sqlx::query_scalar("SELECT external_id FROM posts WHERE kind = 'post' ORDER BY created_at LIMIT 1")
                .fetch_one(db.pool())
                .await
                .unwrap();
        for i in 0..150 {
            network.push_mention(&format!("fan_{}", i % 9), &format!("question {i}"));
        }
        for i in 0..30 {
            network.push_reply(&format!("user_{i}"), &old_thread, &format!("reply {i}"));
        }
        let launch = network.push_thread("We are live in Lisbon!");
        let answer = network.push_reply("rui", &launch, "Obrigado!");
        network.push_reply("acme", &answer, "De nada!");
        let second = sync(&ingest).await.unwrap();
        assert_eq!((second.new_posts, second.duplicates), (150 + 30 + 3, 0), "{second:?}");
        assert!(second.pages > 1, "walked down page by page: {second:?}");

        let direction: String = sqlx::query_scalar("SELECT direction FROM posts WHERE text = 'De nada!'")
            .fetch_one(db.pool())
            .await
            .unwrap();
        assert_eq!(direction, "outbound", "the brand's own reply");
        let (thread, parent): (Option<String>, Option<String>) =
            sqlx::query_as("SELECT thread_id, in_reply_to FROM posts WHERE text = 'Obrigado!'")
                .fetch_one(db.pool())
                .await
                .unwrap();
        assert_eq!(
            (thread.as_deref(), parent.as_deref()),
            (Some(launch.as_str()), Some(launch.as_str()))
        );

        // Nothing new: an empty page of every list, the place kept.
        let third = sync(&ingest).await.unwrap();
        assert_eq!((third.new_posts, third.duplicates, third.pages), (0, 0, 1), "{third:?}");
        let reply = network.push_reply("late", &launch, "one more");
        let fourth = sync(&ingest).await.unwrap();
        assert_eq!(fourth.new_posts, 1, "{fourth:?}");
        let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM posts WHERE external_id = $1")
            .bind(&reply)
            .fetch_one(db.pool())
            .await
            .unwrap();
        assert_eq!(stored, 1);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn keyword_search_finds_posts_and_its_permission_missing_stops_nothing_else() {
    let dir = common::plugin_dir("plugins/threads");
    let runtime = Runtime::new(RuntimeOptions::default()).unwrap();
    let (runtime, plugin) = (&runtime, &dir.path().display().to_string());
    common::on_each_db(move |db| async move {
        let network = FakeThreads::start().await.unwrap();
        let ingest = brand(&db, runtime, plugin, &network, "invoicing").await;
        sync(&ingest).await.unwrap();
        network.push_post("lee.builds", "Has anyone tried acme for invoicing?");
        let found = sync(&ingest).await.unwrap();
        assert_eq!(found.new_posts, 1, "{found:?}");
        let searched = network
            .requests()
            .into_iter()
            .rfind(|r| r.path == "/v1.0/keyword_search")
            .unwrap();
        assert_eq!(searched.param("q").as_deref(), Some("invoicing"));
        assert_eq!(searched.param("search_type").as_deref(), Some("RECENT"));

        // Without the permission: the search is refused, the rest goes on.
        network.set_keyword_search(false);
        network.push_post("nadia.h", "invoicing with acme is easy");
        network.push_mention("rita", "my invoice is wrong");
        let before = network.requests().len();
        let report = sync(&ingest).await.unwrap();
        assert_eq!(report.new_posts, 1, "the mention only: {report:?}");
        assert!(
            network.requests()[before..]
                .iter()
                .any(|r| r.path == "/v1.0/keyword_search")
        );
        assert_eq!(status(&db).await, ("active".to_string(), None));

        // Granted again: the search takes up where it stood.
        network.set_keyword_search(true);
        assert_eq!(sync(&ingest).await.unwrap().new_posts, 1);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_search_permission_is_told_in_the_plugins_log() {
    let dir = common::plugin_dir("plugins/threads");
    let network = FakeThreads::start().await.unwrap();
    network.set_keyword_search(false);
    let manifest = Manifest::parse(&std::fs::read_to_string(dir.path().join("plugin.toml")).unwrap()).unwrap();
    let wasm = std::fs::read(dir.path().join("plugin.wasm")).unwrap();
    let account = Account {
        name: "brand".into(),
        config: map(&[
            ("api-url", &network.base_url()),
            ("user-id", BRAND_ID),
            ("keywords", "acme"),
        ]),
        secrets: map(&[("access-token", TOKEN)]),
        allow_private: true,
        ..Account::default()
    };
    let out = tokio::task::spawn_blocking(move || {
        let runtime = Runtime::new(RuntimeOptions::default()).unwrap();
        let plugin = runtime.load_channel(manifest.sandbox(), &wasm).unwrap();
        plugin.poll(&account, "")
    })
    .await
    .unwrap()
    .unwrap();
    assert_eq!(out.value.posts.len(), 38, "threads, replies and mentions all the same");
    let warned: Vec<&str> = out
        .logs
        .iter()
        .filter(|l| l.level == LogLevel::Warn)
        .map(|l| l.message.as_str())
        .collect();
    assert_eq!(warned.len(), 1, "{warned:?}");
    assert!(warned[0].contains("keyword search skipped: the token lacks the threads_keyword_search permission"));
    assert!(warned[0].contains("(#10) Application does not have permission for this action"));
}

#[tokio::test(flavor = "multi_thread")]
async fn throttles_wait_and_errors_are_retried_without_losing_posts() {
    let dir = common::plugin_dir("plugins/threads");
    let runtime = Runtime::new(RuntimeOptions::default()).unwrap();
    let (runtime, plugin) = (&runtime, &dir.path().display().to_string());
    common::on_each_db(move |db| async move {
        let network = FakeThreads::start().await.unwrap();
        let ingest = brand(&db, runtime, plugin, &network, "").await;
        sync(&ingest).await.unwrap();
        network.push_mention("ann", "hello?");

        network.fail_next(Fault::Throttled {
            code: 17,
            retry_after_secs: Some(90),
        });
        let err = sync(&ingest).await.unwrap_err();
        assert!(
            matches!(err_kind(&err), Some(PluginError::RateLimited(r)) if r.retry_after_ms == 90_000),
            "{err}"
        );
        let (state, error) = status(&db).await;
        assert_eq!(state, "rate-limited");
        assert!(error.unwrap().contains("(#17) User request limit reached"));

        network.fail_next(Fault::Throttled {
            code: 4,
            retry_after_secs: None,
        });
        let err = sync(&ingest).await.unwrap_err();
        assert!(
            matches!(err_kind(&err), Some(PluginError::RateLimited(r)) if r.retry_after_ms == 600_000),
            "ten minutes without a Retry-After: {err}"
        );
        network.fail_next(Fault::TooManyRequests);
        assert!(matches!(
            err_kind(&sync(&ingest).await.unwrap_err()),
            Some(PluginError::RateLimited(_))
        ));

        network.fail_next(Fault::Status(503));
        let err = sync(&ingest).await.unwrap_err();
        assert!(matches!(err_kind(&err), Some(PluginError::Transient(_))), "{err}");
        assert_eq!(status(&db).await.0, "failing");

        network.fail_next(Fault::Malformed);
        let err = sync(&ingest).await.unwrap_err();
        assert!(
            matches!(err_kind(&err), Some(PluginError::Permanent(m)) if m.contains("malformed")),
            "{err}"
        );

        // The mention waited out every failure and comes once.
        let report = sync(&ingest).await.unwrap();
        assert_eq!((report.new_posts, report.duplicates), (1, 0));
        assert_eq!(status(&db).await, ("active".to_string(), None));
    })
    .await;
}

fn err_kind(err: &socialcrm::ingest::IngestError) -> Option<&PluginError> {
    match err {
        socialcrm::ingest::IngestError::Call(call) => call.plugin_error(),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_near_expiry_is_renewed_by_the_host_and_stored_sealed() {
    let dir = common::plugin_dir("plugins/threads");
    let plugin = &dir.path().display().to_string();
    common::on_each_db(move |db| async move {
        // A runtime per database: its egress log is the first ingest's.
        let runtime = &Runtime::new(RuntimeOptions::default()).unwrap();
        let network = FakeThreads::start().await.unwrap();
        let ingest = brand(&db, runtime, plugin, &network, "").await;
        sync(&ingest).await.unwrap();
        assert!(network.requests().iter().all(|r| r.path != REFRESH_PATH), "not due yet");
        // A token entered by hand is first due within two days: Threads tells
        // a token's expiry only when it renews it, and cannot renew an expired one.
        let id: i64 = sqlx::query_scalar("SELECT id FROM channel_accounts WHERE name = 'brand'")
            .fetch_one(db.pool())
            .await
            .unwrap();
        let row = sqlx::query("SELECT expires_at, refreshed_at FROM credential_expiry WHERE channel_id = $1")
            .bind(id)
            .fetch_one(db.pool())
            .await
            .unwrap();
        let (expires, entered): (i64, i64) = (row.get("expires_at"), row.get("refreshed_at"));
        assert_eq!(expires - entered, 2 * 86_400_000);
        // Two days on, it expires in a minute: within the margin.
        let soon = socialcrm::store::now_ms() + 60_000;
        sqlx::query("UPDATE credential_expiry SET expires_at = $2, refreshed_at = $3 WHERE channel_id = $1")
            .bind(id)
            .bind(soon)
            .bind(soon - 2 * 86_400_000)
            .execute(db.pool())
            .await
            .unwrap();

        let before = network.requests().len();
        network.push_mention("ann", "still there?");
        assert_eq!(sync(&ingest).await.unwrap().new_posts, 1);
        let requests = network.requests()[before..].to_vec();
        let refresh = &requests[0];
        assert_eq!(refresh.path, REFRESH_PATH, "renewed before the poll");
        assert_eq!(refresh.param("grant_type").as_deref(), Some("th_refresh_token"));
        assert_eq!(refresh.param("access_token").as_deref(), Some(TOKEN));
        assert!(requests[1..].iter().all(|r| r.path != REFRESH_PATH));
        for polled in &requests[1..] {
            assert_eq!(polled.header("authorization"), Some("Bearer fake-threads-token-1"));
        }

        // Stored sealed, with the new expiry.
        let raw: String = sqlx::query_scalar("SELECT secrets FROM channel_accounts WHERE name = 'brand'")
            .fetch_one(db.pool())
            .await
            .unwrap();
        assert!(!raw.contains("fake-threads-token"), "{raw}");
        let stored = accounts::load(&db, &common::brand::secret_box(), "brand")
            .await
            .unwrap();
        assert_eq!(stored.account.secrets["access-token"], "fake-threads-token-1");
        let expires: i64 = sqlx::query_scalar("SELECT expires_at FROM credential_expiry WHERE channel_id = $1")
            .bind(id)
            .fetch_one(db.pool())
            .await
            .unwrap();
        let expected = socialcrm::store::now_ms() + i64::try_from(LONG_LIVED_SECS).unwrap() * 1000;
        assert!((expected - expires).abs() < 60_000, "about 60 days ahead: {expires}");

        // Not due again: the next sync polls with the new token alone.
        let before = network.requests().len();
        sync(&ingest).await.unwrap();
        assert!(network.requests()[before..].iter().all(|r| r.path != REFRESH_PATH));

        // The renewal is in the egress log by its path, the token not in it.
        ingest.egress().flush().await;
        let egress = socialcrm::egress::list(&db, "threads", 1000, i64::MAX).await.unwrap();
        let refreshes: Vec<_> = egress.iter().filter(|e| e.call == "refresh-token").collect();
        assert_eq!(refreshes.len(), 1, "{egress:?}");
        assert_eq!(
            (refreshes[0].path.as_str(), refreshes[0].status),
            (REFRESH_PATH, Some(200))
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_expired_token_that_threads_will_not_renew_pauses_the_account() {
    let dir = common::plugin_dir("plugins/threads");
    let runtime = Runtime::new(RuntimeOptions::default()).unwrap();
    let (runtime, plugin) = (&runtime, &dir.path().display().to_string());
    common::on_each_db(move |db| async move {
        let network = FakeThreads::start().await.unwrap();
        let ingest = brand(&db, runtime, plugin, &network, "").await;
        sync(&ingest).await.unwrap();
        network.expire_tokens();
        let before = network.requests().len();
        let err = sync(&ingest).await.unwrap_err().to_string();
        assert_eq!(
            err,
            "the network refused to refresh the token: HTTP 400; re-authorize the account"
        );
        let paths: Vec<String> = network.requests()[before..].iter().map(|r| r.path.clone()).collect();
        assert_eq!(
            paths.len(),
            2,
            "one refused poll (code 190), one refused renewal, no retry: {paths:?}"
        );
        assert_eq!(paths[1], REFRESH_PATH);
        assert_eq!(status(&db).await, ("paused".to_string(), Some(err)));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reply_goes_out_as_a_container_and_its_publish() {
    let dir = common::plugin_dir("plugins/threads");
    let runtime = Runtime::new(RuntimeOptions::default()).unwrap();
    let (runtime, plugin) = (&runtime, &dir.path().display().to_string());
    common::on_each_db(move |db| async move {
        let network = FakeThreads::start().await.unwrap();
        let ingest = brand(&db, runtime, plugin, &network, "").await;
        let mention = network.push_mention("rita_gomes", "the invite link expired");
        sync(&ingest).await.unwrap();
        let post_id: i64 = sqlx::query_scalar("SELECT id FROM posts WHERE external_id = $1")
            .bind(&mention)
            .fetch_one(db.pool())
            .await
            .unwrap();
        let queued = socialcrm::replies::queue(&db, post_id, "Sorry! A new link is on its way.", None, "agent")
            .await
            .unwrap();
        let before = network.requests().len();
        let reply = socialcrm::replies::send(&ingest, queued.id, "agent").await.unwrap();
        assert_eq!(
            (reply.status.as_str(), reply.error.as_deref()),
            ("sent", None),
            "{reply:?}"
        );

        let published = network.published();
        assert_eq!(published.len(), 1);
        assert_eq!(published[0]["reply_to_id"], mention.as_str());
        assert_eq!(published[0]["text"], "Sorry! A new link is on its way.");
        assert_eq!(reply.external_id.as_deref(), published[0]["id"].as_str());
        assert!(
            reply
                .url
                .as_deref()
                .is_some_and(|u| u.starts_with("https://www.threads.net/@acme/post/"))
        );

        let requests = network.requests()[before..].to_vec();
        let steps: Vec<(&str, &str)> = requests.iter().map(|r| (r.method.as_str(), r.path.as_str())).collect();
        let user = format!("/v1.0/{BRAND_ID}");
        assert_eq!(
            steps,
            [
                ("POST", format!("{user}/threads").as_str()),
                ("POST", format!("{user}/threads_publish").as_str()),
                (
                    "GET",
                    format!("/v1.0/{}", published[0]["id"].as_str().unwrap()).as_str()
                ),
            ]
        );
        assert_eq!(requests[0].field("media_type").as_deref(), Some("TEXT"));
        assert_eq!(requests[0].field("reply_to_id").as_deref(), Some(mention.as_str()));
        let container = requests[1].param("creation_id").unwrap();
        assert!(!container.is_empty());

        // Publishing a container twice (or one never made) is refused as Threads does.
        let again = reqwest::Client::new()
            .post(format!(
                "{}{user}/threads_publish?creation_id={container}",
                network.base_url()
            ))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), 400);
        let body: serde_json::Value = again.json().await.unwrap();
        assert_eq!(
            (body["error"]["code"].as_i64(), body["error"]["error_subcode"].as_i64()),
            (Some(24), Some(4_279_009))
        );
        assert_eq!(network.published().len(), 1);
    })
    .await;
}
