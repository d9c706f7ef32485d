//! The X plugin, built for wasm32-wasip2, in the host with its real network
//! transport, against the fake X over loopback HTTP.
//!
//! Plugin calls block (on wasi:http) while the fake serves on this test's
//! tokio runtime, so every call runs on a blocking thread.

use std::collections::{BTreeMap, HashSet};
use std::sync::OnceLock;

use serde_json::Value;
use socialcrm::plugins::Manifest;
use socialcrm::runtime::types::{Direction, PluginError, PostKind};
use socialcrm::runtime::types::{Header, Outbound, Page, ReplyTarget, Sent, WebhookRequest, WebhookResult};
use socialcrm::runtime::{Account, CallError, ChannelPlugin, Runtime, RuntimeOptions};
use socialcrm_sdk::testkit;
use socialcrm_tests::fake::meta::hmac_sha256;
use socialcrm_tests::fake::x::{BRAND_ID, FakeX, Fault, TOKEN, base64, user_id};

const PLUGIN_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../plugins/x");
const CONSUMER_SECRET: &str = "kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw";

fn built() -> &'static (Manifest, Vec<u8>) {
    static BUILT: OnceLock<(Manifest, Vec<u8>)> = OnceLock::new();
    BUILT.get_or_init(|| {
        let wasm = testkit::build(PLUGIN_DIR).expect("the X plugin builds for wasm32-wasip2");
        let manifest = std::fs::read_to_string(format!("{PLUGIN_DIR}/plugin.toml")).expect("plugin.toml");
        (
            Manifest::parse(&manifest).expect("a valid plugin.toml"),
            std::fs::read(wasm).expect("the built wasm"),
        )
    })
}

async fn setup(config: &[(&str, &str)]) -> (FakeX, ChannelPlugin, Account) {
    let fake = FakeX::start().await.expect("the fake starts");
    let plugin = blocking(|| {
        let (manifest, wasm) = built();
        let runtime = Runtime::new(RuntimeOptions::default()).expect("a runtime");
        runtime
            .load_channel(manifest.sandbox(), wasm)
            .expect("the plugin loads")
    })
    .await;
    let mut values = BTreeMap::from([
        ("api-url".to_string(), fake.base_url()),
        ("user-id".to_string(), BRAND_ID.to_string()),
    ]);
    values.extend(config.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let account = Account {
        name: "brand".into(),
        config: values,
        secrets: BTreeMap::from([
            ("access-token".to_string(), TOKEN.to_string()),
            ("consumer-secret".to_string(), CONSUMER_SECRET.to_string()),
        ]),
        // The fake listens on loopback, which only an admin can allow.
        allow_private: true,
        ..Account::default()
    };
    (fake, plugin, account)
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f)
        .await
        .expect("the blocking call completes")
}

async fn poll(plugin: &ChannelPlugin, account: &Account, state: &str) -> Result<Page, CallError> {
    let (plugin, account, state) = (plugin.clone(), account.clone(), state.to_string());
    blocking(move || plugin.poll(&account, &state).map(|out| out.value)).await
}

async fn send(plugin: &ChannelPlugin, account: &Account, message: Outbound) -> Result<Sent, CallError> {
    let (plugin, account) = (plugin.clone(), account.clone());
    blocking(move || plugin.send(&account, &message).map(|out| out.value)).await
}

async fn check(plugin: &ChannelPlugin, account: &Account) -> Result<(), CallError> {
    let (plugin, account) = (plugin.clone(), account.clone());
    blocking(move || plugin.check(&account).map(|_| ())).await
}

async fn webhook(plugin: &ChannelPlugin, account: &Account, request: WebhookRequest) -> WebhookResult {
    let (plugin, account) = (plugin.clone(), account.clone());
    blocking(move || plugin.handle_webhook(&account, &request).map(|out| out.value))
        .await
        .expect("the webhook is handled")
}

/// Polls from `state` until no more is waiting: the posts' ids in order, the
/// pages' (size, has-more) and the last state.
async fn drain(plugin: &ChannelPlugin, account: &Account, state: &str) -> (Vec<String>, Vec<(usize, bool)>, String) {
    let (mut ids, mut pages, mut state) = (Vec::new(), Vec::new(), state.to_string());
    for _ in 0..20 {
        let page = poll(plugin, account, &state).await.expect("polling");
        pages.push((page.posts.len(), page.has_more));
        ids.extend(page.posts.iter().map(|p| p.external_id.clone()));
        state = page.state;
        if !page.has_more {
            return (ids, pages, state);
        }
    }
    panic!("more than 20 pages: {pages:?}");
}

fn plugin_error(err: &CallError) -> &PluginError {
    err.plugin_error()
        .unwrap_or_else(|| panic!("expected the plugin's own error, got: {err}"))
}

fn sorted(mut ids: Vec<String>) -> Vec<String> {
    ids.sort_by_key(|id| id.parse::<u64>().expect("numeric ids"));
    ids
}

#[tokio::test(flavor = "multi_thread")]
async fn mentions_come_newest_page_first_then_walk_down_once_each() {
    let (fake, plugin, account) = setup(&[]).await;
    let first = poll(&plugin, &account, "").await.expect("first poll");
    assert!(!first.has_more);
    let initial = fake.mention_ids();
    let ids: Vec<String> = first.posts.iter().map(|p| p.external_id.clone()).collect();
    assert_eq!(ids, initial.iter().rev().cloned().collect::<Vec<_>>(), "oldest first");
    for post in &first.posts {
        let raw: Value = serde_json::from_str(&post.raw).expect("raw is the post JSON");
        assert_eq!(raw["id"], post.external_id.as_str());
        assert_eq!(post.kind, PostKind::Mention);
        assert_eq!(post.direction, Direction::Inbound);
        assert_eq!(
            post.author.external_id,
            user_id(&post.author.handle),
            "keyed on the user id"
        );
        assert_eq!(post.author.external_id, raw["author_id"].as_str().unwrap());
        assert!(post.author.handle.starts_with("customer_"));
        assert!(
            post.author.followers.is_some() && post.author.bio.is_some(),
            "user.fields asked for"
        );
        assert_eq!(post.thread_id.as_deref(), Some(post.external_id.as_str()));
        assert_eq!(post.language.as_deref(), Some("en"));
        assert!(post.created_at.ends_with(".000Z"));
        assert_eq!(
            post.url.as_deref(),
            Some(format!("https://x.com/i/web/status/{}", post.external_id).as_str())
        );
    }

    // 250 new mentions: three pages walked down, each mention once.
    let pushed: Vec<String> = (0..250)
        .map(|i| fake.push_mention(&format!("fan_{}", i % 13), &format!("mention {i} <3 & more")))
        .collect();
    let (ids, pages, state) = drain(&plugin, &account, &first.state).await;
    assert_eq!(pages, [(100, true), (100, true), (50, false)]);
    assert_eq!(sorted(ids.clone()), pushed);
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), 250);

    // Nothing new: an empty page, the state kept.
    let empty = poll(&plugin, &account, &state).await.expect("nothing new");
    assert!(empty.posts.is_empty() && !empty.has_more);
    assert_eq!(empty.state, state);

    let requests = fake.requests();
    assert_eq!(requests.len(), 5);
    for request in &requests {
        assert_eq!(request.path, format!("/2/users/{BRAND_ID}/mentions"));
        assert_eq!(
            request.header("authorization"),
            Some(format!("Bearer {TOKEN}").as_str())
        );
        assert_eq!(request.param("max_results").as_deref(), Some("100"));
        assert_eq!(request.param("expansions").as_deref(), Some("author_id"));
        assert_eq!(
            request.param("tweet.fields").as_deref(),
            Some("created_at,conversation_id,in_reply_to_user_id,referenced_tweets,lang")
        );
        assert!(
            request
                .param("user.fields")
                .is_some_and(|f| f.contains("public_metrics"))
        );
        assert!(!request.query.contains(CONSUMER_SECRET) && !request.body.contains(CONSUMER_SECRET));
    }
    assert_eq!(requests[0].param("since_id"), None);
    let since = initial[0].clone();
    assert_eq!(requests[1].param("since_id"), Some(since.clone()));
    assert_eq!(requests[1].param("pagination_token"), None);
    assert_eq!(
        requests[2].param("since_id"),
        Some(since.clone()),
        "the walk keeps since_id"
    );
    assert!(requests[2].param("pagination_token").is_some());
    assert!(requests[3].param("pagination_token").is_some());
    assert_eq!(
        requests[4].param("since_id"),
        pushed.last().cloned(),
        "then above the newest"
    );
    assert_eq!(requests[4].param("pagination_token"), None);
}

#[tokio::test(flavor = "multi_thread")]
async fn mentions_arriving_between_polls_and_mid_walk_come_exactly_once() {
    let (fake, plugin, account) = setup(&[]).await;
    let mut state = poll(&plugin, &account, "").await.expect("first poll").state;
    let mut all = Vec::new();
    let mut pushed_all = Vec::new();
    for (round, count) in [3usize, 0, 101, 1, 0, 57].into_iter().enumerate() {
        let pushed: Vec<String> = (0..count)
            .map(|i| fake.push_mention("regular", &format!("round {round} mention {i}")))
            .collect();
        pushed_all.extend(pushed.clone());
        let (ids, _, next) = drain(&plugin, &account, &state).await;
        assert_eq!(sorted(ids.clone()), pushed, "round {round}");
        all.extend(ids);
        state = next;
    }
    // Mid-walk: a page is read, more arrive, the walk goes on.
    let before: Vec<String> = (0..150)
        .map(|i| fake.push_mention("regular", &format!("walk {i}")))
        .collect();
    let page = poll(&plugin, &account, &state).await.expect("first page of the walk");
    assert!(page.has_more);
    let during: Vec<String> = (0..5)
        .map(|i| fake.push_mention("regular", &format!("during {i}")))
        .collect();
    let (rest, _, state) = drain(&plugin, &account, &page.state).await;
    let mut walked: Vec<String> = page.posts.iter().map(|p| p.external_id.clone()).collect();
    walked.extend(rest);
    assert_eq!(
        sorted(walked.clone()),
        before,
        "the walk ends where the last poll stood"
    );
    // What arrived mid-walk sits above the walk's top: the next poll takes it.
    let (after, _, _) = drain(&plugin, &account, &state).await;
    assert_eq!(sorted(after.clone()), during);
    walked.extend(after);
    let mut expected = before.clone();
    expected.extend(during.clone());
    assert_eq!(sorted(walked.clone()), expected);
    all.extend(walked);
    pushed_all.extend(expected);

    let unique: HashSet<&String> = all.iter().collect();
    assert_eq!(unique.len(), all.len(), "no mention twice");
    assert_eq!(sorted(all), pushed_all);
}

#[tokio::test(flavor = "multi_thread")]
async fn keyword_search_finds_posts_that_never_tag_the_brand() {
    let (fake, plugin, account) = setup(&[("keywords", "acme, acme cloud")]).await;
    let old = fake.push_post("early_bird", "Acme was down yesterday");
    let first = poll(&plugin, &account, "").await.expect("first poll");
    let searched: Vec<&str> = first
        .posts
        .iter()
        .filter(|p| p.kind == PostKind::Post)
        .map(|p| p.external_id.as_str())
        .collect();
    assert_eq!(searched, [old.as_str()]);

    let hit = fake.push_post("ops_person", "Our ACME Cloud deploys hang since this morning");
    fake.push_post("someone", "Kubernetes question, nothing about the brand");
    let mention = fake.push_mention("fan", "help please");
    let page = poll(&plugin, &account, &first.state).await.expect("second poll");
    let ids: Vec<&str> = page.posts.iter().map(|p| p.external_id.as_str()).collect();
    assert_eq!(
        ids,
        [mention.as_str(), hit.as_str()],
        "the mention found by both comes once"
    );
    let post = &page.posts[1];
    assert_eq!(post.kind, PostKind::Post);
    assert_eq!(post.author.external_id, user_id("ops_person"));

    let searches: Vec<_> = fake
        .requests()
        .into_iter()
        .filter(|r| r.path == "/2/tweets/search/recent")
        .collect();
    assert_eq!(searches.len(), 2);
    for request in &searches {
        assert_eq!(
            request.param("query").as_deref(),
            Some("(acme OR \"acme cloud\") -is:retweet")
        );
        assert_eq!(request.param("max_results").as_deref(), Some("100"));
    }
    assert_eq!(searches[0].param("since_id"), None);
    assert_eq!(searches[1].param("since_id"), Some(old));

    // Over a page of hits walks with `next_token`.
    let hits: Vec<String> = (0..120)
        .map(|i| fake.push_post("crowd", &format!("acme thing {i}")))
        .collect();
    let (ids, pages, _) = drain(&plugin, &account, &page.state).await;
    assert_eq!(pages, [(100, true), (20, false)]);
    assert_eq!(sorted(ids), hits);
    let last = fake
        .requests()
        .into_iter()
        .rev()
        .find(|r| r.path == "/2/tweets/search/recent")
        .unwrap();
    assert!(last.param("next_token").is_some() && last.param("pagination_token").is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_429_waits_until_the_reset_the_headers_name() {
    let (fake, plugin, account) = setup(&[]).await;
    fake.fail_next(Fault::RateLimited { reset_in_secs: 90 });
    let err = poll(&plugin, &account, "").await.expect_err("rate limited");
    let PluginError::RateLimited(limit) = plugin_error(&err) else {
        panic!("expected rate-limited, got {err}");
    };
    assert!(
        (88_000..=90_000).contains(&limit.retry_after_ms),
        "{} ms",
        limit.retry_after_ms
    );
    assert!(
        limit.message.contains("listing mentions") && limit.message.contains("Too Many Requests"),
        "{}",
        limit.message
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_revoked_token_is_unauthorized() {
    let (fake, plugin, mut account) = setup(&[]).await;
    fake.fail_next(Fault::Unauthorized);
    let err = poll(&plugin, &account, "").await.expect_err("revoked");
    assert!(
        matches!(plugin_error(&err), PluginError::Unauthorized(m) if m.contains("HTTP 401") && m.contains("Unauthorized")),
        "{err}"
    );
    account.secrets.insert("access-token".into(), "wrong".into());
    let err = check(&plugin, &account).await.expect_err("a wrong token");
    assert!(matches!(plugin_error(&err), PluginError::Unauthorized(_)), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_500_is_transient_and_the_retry_brings_the_same_posts() {
    let (fake, plugin, account) = setup(&[]).await;
    let state = poll(&plugin, &account, "").await.expect("first poll").state;
    let pushed: Vec<String> = (0..3).map(|i| fake.push_mention("fan", &format!("m{i}"))).collect();
    fake.fail_next(Fault::Status(500));
    let err = poll(&plugin, &account, &state).await.expect_err("server error");
    assert!(
        matches!(plugin_error(&err), PluginError::Transient(m) if m.contains("HTTP 500")),
        "{err}"
    );
    let page = poll(&plugin, &account, &state).await.expect("the retry works");
    let ids: Vec<String> = page.posts.iter().map(|p| p.external_id.clone()).collect();
    assert_eq!(ids, pushed);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_malformed_body_fails_the_page_whole_and_partial_errors_do_not() {
    let (fake, plugin, account) = setup(&[]).await;
    let state = poll(&plugin, &account, "").await.expect("first poll").state;
    let good = fake.push_mention("fan", "fine");
    fake.fail_next(Fault::Malformed);
    let err = poll(&plugin, &account, &state).await.expect_err("truncated body");
    assert!(
        matches!(plugin_error(&err), PluginError::Permanent(m) if m.contains("listing mentions") && m.contains("malformed timeline")),
        "{err}"
    );
    // X leaves a suspended author out of `includes` and says so in `errors`.
    let hidden = fake.push_mention_by_suspended("from the shadows");
    let page = poll(&plugin, &account, &state)
        .await
        .expect("partial errors still give a page");
    let ids: Vec<&str> = page.posts.iter().map(|p| p.external_id.as_str()).collect();
    assert_eq!(ids, [good.as_str(), hidden.as_str()]);
    assert_eq!(page.posts[1].author.external_id, user_id("suspended_user"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reply_is_posted_in_reply_to_the_mention() {
    let (fake, plugin, account) = setup(&[]).await;
    let state = poll(&plugin, &account, "").await.expect("first poll").state;
    let mention = fake.push_mention("ann_b", "my order never came");
    let page = poll(&plugin, &account, &state).await.expect("the mention");
    let post = &page.posts[0];
    assert_eq!(post.external_id, mention);

    let text = "Sorry about that! We've sent you a DM & a refund.";
    let reply = Outbound {
        text: text.into(),
        in_reply_to: Some(ReplyTarget {
            external_id: post.external_id.clone(),
            author_handle: post.author.handle.clone(),
            thread_id: post.thread_id.clone(),
        }),
        recipient: None,
    };
    let sent = send(&plugin, &account, reply.clone()).await.expect("sent");
    let posted = fake.posted();
    assert_eq!(posted.len(), 1);
    assert_eq!(sent.external_id, posted[0]["id"].as_str().unwrap());
    assert_eq!(
        sent.url,
        Some(format!("https://x.com/i/web/status/{}", sent.external_id))
    );
    assert_eq!(posted[0]["referenced_tweets"][0]["id"], mention.as_str());
    assert_eq!(posted[0]["conversation_id"], mention.as_str());
    let request = fake.requests().into_iter().last().expect("the post request");
    assert_eq!((request.method.as_str(), request.path.as_str()), ("POST", "/2/tweets"));
    let body: Value = serde_json::from_str(&request.body).expect("a JSON body");
    assert_eq!(
        body,
        serde_json::json!({ "text": text, "reply": { "in_reply_to_tweet_id": mention } })
    );

    // The same text again is X's duplicate-content 403: permanent, not a revoked token.
    let err = send(&plugin, &account, reply).await.expect_err("duplicate");
    assert!(
        matches!(plugin_error(&err), PluginError::Permanent(m) if m.contains("duplicate content")),
        "{err}"
    );
    assert_eq!(fake.posted().len(), 1);
}

fn hook(method: &str, query: &str, headers: &[(&str, &str)], body: &[u8]) -> WebhookRequest {
    WebhookRequest {
        method: method.into(),
        path: String::new(),
        query: query.into(),
        headers: headers
            .iter()
            .map(|(n, v)| Header {
                name: n.to_string(),
                value: v.as_bytes().to_vec(),
            })
            .collect(),
        body: body.to_vec(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_crc_answer_is_the_hmac_of_the_token() {
    let (fake, plugin, account) = setup(&[]).await;
    let token = "Nm0yZWQ3YjMtOTI2Yy00MjY0LWI3ZmMtYzU4M2M2Mzg3ZDc3";
    let result = webhook(
        &plugin,
        &account,
        hook("GET", &format!("crc_token={token}&nonce=MTU2"), &[], b""),
    )
    .await;
    assert_eq!(result.response.status, 200);
    assert!(result.posts.is_empty());
    let body: Value = serde_json::from_slice(&result.response.body).expect("JSON");
    let expected = format!(
        "sha256={}",
        base64(&hmac_sha256(CONSUMER_SECRET.as_bytes(), token.as_bytes()))
    );
    assert_eq!(body["response_token"], expected.as_str());
    assert!(fake.requests().is_empty(), "the CRC needs no request");

    let missing = webhook(&plugin, &account, hook("GET", "nonce=1", &[], b"")).await;
    assert_eq!(missing.response.status, 400);

    // Without the secret the account cannot answer: a configuration to fix.
    let mut bare = account.clone();
    bare.secrets.remove("consumer-secret");
    let (p, a) = (plugin.clone(), bare);
    let err = blocking(move || p.handle_webhook(&a, &hook("GET", "crc_token=x", &[], b"")).map(|_| ()))
        .await
        .expect_err("no consumer secret");
    assert!(
        matches!(plugin_error(&err), PluginError::InvalidConfig(m) if m.contains("consumer-secret")),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_delivery_cannot_be_signed_through_the_crc_answer() {
    let (fake, plugin, account) = setup(&[]).await;
    let ids = vec![fake.push_mention("mallory", "forged praise")];
    // The forger has a well-formed delivery but not the secret: it asks the
    // CRC to sign the payload, then delivers it with that answer.
    let payload = fake.activity("not-the-secret", &ids).body;
    let query = format!(
        "crc_token={}",
        socialcrm_sdk::http::encode(&String::from_utf8_lossy(&payload))
    );
    let crc = webhook(&plugin, &account, hook("GET", &query, &[], b"")).await;
    assert_eq!(crc.response.status, 400, "a JSON value is not a CRC token");
    let answer: Option<Value> = serde_json::from_slice(&crc.response.body).ok();
    let signature = answer
        .as_ref()
        .and_then(|a| a["response_token"].as_str())
        .unwrap_or("sha256=")
        .to_string();
    assert_eq!(signature, "sha256=", "nothing was signed");
    let delivery = hook("POST", "", &[("x-twitter-webhooks-signature", &signature)], &payload);
    let result = webhook(&plugin, &account, delivery).await;
    assert_eq!(result.response.status, 403, "a bad signature");
    assert!(result.posts.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn signed_activity_becomes_posts_and_forgeries_none() {
    let (fake, plugin, account) = setup(&[]).await;
    let ids = vec![
        fake.push_mention("ann_b", "webhook hello"),
        fake.push_post("acme", "our own update"),
    ];
    let delivery = fake.activity(CONSUMER_SECRET, &ids);
    let signed = |signature: &str, body: &[u8]| {
        hook(
            "POST",
            "",
            &[
                ("x-twitter-webhooks-signature", signature),
                ("content-type", "application/json"),
            ],
            body,
        )
    };
    let result = webhook(&plugin, &account, signed(&delivery.signature, &delivery.body)).await;
    assert_eq!(result.response.status, 200);
    let got: Vec<&str> = result.posts.iter().map(|p| p.external_id.as_str()).collect();
    assert_eq!(got, [ids[0].as_str(), ids[1].as_str()]);
    assert_eq!(result.posts[0].kind, PostKind::Mention);
    assert_eq!(result.posts[0].text, "@acme webhook hello");
    assert_eq!(result.posts[0].author.external_id, user_id("ann_b"));
    assert!(result.posts[0].created_at.ends_with("+00:00"));
    assert_eq!(result.posts[1].direction, Direction::Outbound);

    let mut tampered = delivery.body.clone();
    let at = tampered.iter().position(|b| *b == b'w').expect("a w");
    tampered[at] = b'W';
    let result = webhook(&plugin, &account, signed(&delivery.signature, &tampered)).await;
    assert_eq!(result.response.status, 403);
    assert!(result.posts.is_empty());

    let other = fake.activity("another-secret", &ids);
    let result = webhook(&plugin, &account, signed(&other.signature, &delivery.body)).await;
    assert_eq!(result.response.status, 403);
    assert!(result.posts.is_empty());

    let unsigned = webhook(&plugin, &account, hook("POST", "", &[], &delivery.body)).await;
    assert_eq!(unsigned.response.status, 401);
    assert!(unsigned.posts.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn check_verifies_the_account_and_rejects_bad_configs() {
    let (fake, plugin, account) = setup(&[("keywords", "acme")]).await;
    check(&plugin, &account).await.expect("the right account");
    assert_eq!(fake.requests()[0].path, "/2/users/me");

    let mut other = account.clone();
    other.config.insert("user-id".into(), "12".into());
    let err = check(&plugin, &other).await.expect_err("another account's token");
    assert!(
        matches!(plugin_error(&err), PluginError::InvalidConfig(m) if m.contains("@acme") && m.contains("`12`")),
        "{err}"
    );
    let mut empty = account.clone();
    empty.config.insert("user-id".into(), String::new());
    let err = check(&plugin, &empty).await.expect_err("no user id");
    assert!(
        matches!(plugin_error(&err), PluginError::InvalidConfig(m) if m.contains("`user-id` is required")),
        "{err}"
    );
    assert_eq!(fake.requests().len(), 2, "a bad config makes no request");

    // An unknown user id: X answers errors only, in a 200.
    let err = poll(&plugin, &other, "").await.expect_err("unknown user");
    assert!(
        matches!(plugin_error(&err), PluginError::InvalidConfig(m) if m.contains("user-id")),
        "{err}"
    );
}
