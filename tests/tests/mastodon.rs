//! The Mastodon plugin, built for wasm32-wasip2, in the host with its real
//! network transport, against the fake Mastodon over loopback HTTP.
//!
//! Plugin calls block (on wasi:http) while the fake serves on this test's
//! tokio runtime, so every call runs on a blocking thread.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde_json::{Value, json};
use socialcrm::plugins::Manifest;
use socialcrm::runtime::types::{Outbound, Page, ReplyTarget, Sent};
use socialcrm::runtime::types::{PluginError, Post};
use socialcrm::runtime::{Account, CallError, ChannelPlugin, FailReason, Runtime, RuntimeOptions};
use socialcrm_sdk::testkit;
use socialcrm_tests::fake::mastodon::{FakeMastodon, Fault, TOKEN};

const PLUGIN_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../plugins/mastodon");

fn built() -> &'static (Manifest, Vec<u8>) {
    static BUILT: OnceLock<(Manifest, Vec<u8>)> = OnceLock::new();
    BUILT.get_or_init(|| {
        let wasm = testkit::build(PLUGIN_DIR).expect("the Mastodon plugin builds for wasm32-wasip2");
        let manifest = std::fs::read_to_string(format!("{PLUGIN_DIR}/plugin.toml")).expect("plugin.toml");
        (
            Manifest::parse(&manifest).expect("a valid plugin.toml"),
            std::fs::read(wasm).expect("the built wasm"),
        )
    })
}

/// A fake server, the plugin in a host with the real transport, and an account on the fake.
async fn setup() -> (FakeMastodon, ChannelPlugin, Account) {
    let fake = FakeMastodon::start().await.expect("the fake starts");
    let plugin = blocking(|| {
        let (manifest, wasm) = built();
        let runtime = Runtime::new(RuntimeOptions::default()).expect("a runtime");
        runtime
            .load_channel(manifest.sandbox(), wasm)
            .expect("the plugin loads")
    })
    .await;
    let account = Account {
        name: "brand".into(),
        config: BTreeMap::from([("instance".to_string(), fake.base_url())]),
        secrets: BTreeMap::from([("access-token".to_string(), TOKEN.to_string())]),
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

fn state_of(id: &str) -> String {
    json!({ "newest": id }).to_string()
}

/// The notification id a post came from, out of its raw JSON.
fn notification_id(post: &Post) -> String {
    let raw: Value = serde_json::from_str(&post.raw).expect("raw is the notification JSON");
    raw["id"].as_str().expect("a notification id").to_string()
}

fn plugin_error(err: &CallError) -> &PluginError {
    err.plugin_error()
        .unwrap_or_else(|| panic!("expected the plugin's own error, got: {err}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn first_poll_takes_the_newest_page_then_later_polls_catch_up_once() {
    let (fake, plugin, account) = setup().await;
    let newest = fake.mention_ids()[0].clone();

    let first = poll(&plugin, &account, "").await.expect("first poll");
    assert_eq!(first.state, state_of(&newest));
    assert!(!first.has_more, "the history before the first poll is not fetched");
    assert_eq!(
        first.posts.len(),
        80,
        "the newest full page, every mention with a status"
    );
    assert!(first.posts.iter().any(|p| notification_id(p) == newest));

    let pushed: Vec<String> = (0..200)
        .map(|i| fake.push_mention(json!({ "content": format!("<p>mention {i} &amp; more</p>"), "language": "en" })))
        .collect();
    let mut state = first.state;
    let mut seen = Vec::new();
    let mut pages = Vec::new();
    loop {
        let page = poll(&plugin, &account, &state).await.expect("catching up");
        pages.push((page.posts.len(), page.has_more));
        seen.extend(page.posts.iter().map(notification_id));
        state = page.state;
        if !page.has_more {
            break;
        }
    }
    assert_eq!(pages, [(80, true), (80, true), (40, false)]);
    assert_eq!(seen, pushed, "every new mention once, oldest first");
    assert_eq!(state, state_of(&pushed[199]));

    let empty = poll(&plugin, &account, &state).await.expect("nothing new");
    assert!(empty.posts.is_empty() && !empty.has_more);
    assert_eq!(empty.state, state, "an empty page keeps the state");

    let requests = fake.requests();
    assert_eq!(requests.len(), 5);
    for (i, request) in requests.iter().enumerate() {
        assert_eq!(
            (request.method.as_str(), request.path.as_str()),
            ("GET", "/api/v1/notifications")
        );
        assert_eq!(
            request.header("authorization"),
            Some(format!("Bearer {TOKEN}").as_str())
        );
        let query = request.query_pairs();
        assert!(
            query.contains(&("types[]".into(), "mention".into())),
            "{}",
            request.query
        );
        let min_id = query.iter().find(|(k, _)| k == "min_id").map(|(_, v)| v.as_str());
        assert_eq!(min_id.is_some(), i > 0, "{}", request.query);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn walking_forward_crosses_from_9_to_10_digit_ids() {
    let (fake, plugin, account) = setup().await;
    // The fake's synthesised mentions start at 999_999_900.
    let start = "999999899";
    let expected: Vec<String> = fake
        .mention_ids()
        .into_iter()
        .rev()
        .filter(|id| id.len() > start.len() || id.as_str() > start)
        .collect();
    assert!(expected.iter().any(|id| id.len() == 9) && expected.iter().any(|id| id.len() == 10));

    let mut state = state_of(start);
    let mut seen = Vec::new();
    for _ in 0..20 {
        let page = poll(&plugin, &account, &state).await.expect("walking");
        seen.extend(page.posts.iter().map(notification_id));
        state = page.state;
        if !page.has_more {
            break;
        }
    }
    assert_eq!(seen, expected, "each mention once, in order");
    assert_eq!(state, state_of(&expected[expected.len() - 1]));
}

#[tokio::test(flavor = "multi_thread")]
async fn faults_fail_the_poll_and_leave_the_state_to_retry() {
    let (fake, plugin, account) = setup().await;
    let state = poll(&plugin, &account, "").await.expect("first poll").state;
    let pushed: Vec<String> = (0..3)
        .map(|i| fake.push_mention(json!({ "content": format!("<p>help {i}</p>") })))
        .collect();

    fake.fail_next(Fault::RateLimited { reset_in_secs: 90 });
    let err = poll(&plugin, &account, &state).await.expect_err("rate limited");
    match plugin_error(&err) {
        PluginError::RateLimited(r) => {
            assert!((80_000..=90_000).contains(&r.retry_after_ms), "{} ms", r.retry_after_ms);
            assert!(r.message.contains("429"), "{}", r.message);
        }
        other => panic!("expected rate-limited, got {other:?}"),
    }

    fake.fail_next(Fault::Unauthorized);
    let err = poll(&plugin, &account, &state).await.expect_err("token revoked");
    assert!(
        matches!(plugin_error(&err), PluginError::Unauthorized(m) if m.contains("The access token is invalid")),
        "{err}"
    );

    fake.fail_next(Fault::Status(500));
    let err = poll(&plugin, &account, &state).await.expect_err("server error");
    assert!(
        matches!(plugin_error(&err), PluginError::Transient(m) if m.contains("HTTP 500")),
        "{err}"
    );

    fake.fail_next(Fault::Malformed);
    let err = poll(&plugin, &account, &state).await.expect_err("truncated body");
    assert!(
        matches!(plugin_error(&err), PluginError::Permanent(m) if m.contains("malformed response body")),
        "{err}"
    );

    // Nothing of a failed call is kept: the same state brings the same posts.
    let retried = poll(&plugin, &account, &state).await.expect("the retry works");
    let again = poll(&plugin, &account, &state).await.expect("and again");
    let ids = |page: &Page| page.posts.iter().map(notification_id).collect::<Vec<_>>();
    assert_eq!(ids(&retried), pushed);
    assert_eq!(ids(&again), pushed);
    assert_eq!(retried.posts[2].text, "help 2");
    assert_eq!(retried.state, state_of(&pushed[2]));
}

#[tokio::test(flavor = "multi_thread")]
async fn check_accepts_the_token_and_refuses_a_wrong_one() {
    let (fake, plugin, mut account) = setup().await;
    let check = |account: Account| {
        let plugin = plugin.clone();
        blocking(move || plugin.check(&account).map(|_| ()))
    };
    check(account.clone()).await.expect("the right token");
    assert_eq!(fake.requests()[0].path, "/api/v1/accounts/verify_credentials");

    account.secrets.insert("access-token".into(), "wrong".into());
    let err = check(account).await.expect_err("a wrong token");
    assert!(matches!(plugin_error(&err), PluginError::Unauthorized(_)), "{err}");
}

fn reply(post: &Post, text: &str) -> Outbound {
    Outbound {
        text: text.into(),
        in_reply_to: Some(ReplyTarget {
            external_id: post.external_id.clone(),
            author_handle: post.author.handle.clone(),
            thread_id: None,
        }),
        recipient: None,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reply_is_posted_once_with_the_mention() {
    let (fake, plugin, account) = setup().await;
    let state = poll(&plugin, &account, "").await.expect("first poll").state;
    fake.push_mention(json!({ "content": "<p>where is my order?</p>" }));
    fake.push_mention(json!({ "content": "<p>psst, my address</p>", "visibility": "direct" }));
    let page = poll(&plugin, &account, &state).await.expect("the new mentions");
    let (public, private) = (&page.posts[0], &page.posts[1]);

    let message = reply(public, "Sorry about that, checking now.");
    let sent = send(&plugin, &account, message.clone()).await.expect("reply sent");
    let posted = fake.posted();
    assert_eq!(posted.len(), 1);
    let status = &posted[0];
    assert_eq!(status["id"], sent.external_id.as_str());
    assert_eq!(status["url"].as_str(), sent.url.as_deref());
    assert_eq!(status["in_reply_to_id"], public.external_id.as_str());
    let mention = format!("@{} Sorry about that", public.author.handle);
    assert!(
        status["content"].as_str().unwrap_or_default().contains(&mention),
        "{status}"
    );
    assert_eq!(status["visibility"], "public");

    let retried = send(&plugin, &account, message).await.expect("retried");
    assert_eq!(
        retried.external_id, sent.external_id,
        "the Idempotency-Key dedupes the retry"
    );
    assert_eq!(fake.posted().len(), 1);

    send(&plugin, &account, reply(private, "Got it, thanks."))
        .await
        .expect("private reply sent");
    let posted = fake.posted();
    assert_eq!(posted.len(), 2);
    assert_eq!(posted[1]["in_reply_to_id"], private.external_id.as_str());
    assert_eq!(
        posted[1]["visibility"], "direct",
        "an answer to a private mention stays private"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn loopback_is_refused_unless_the_admin_allows_it() {
    let (fake, plugin, mut account) = setup().await;
    account.allow_private = false;
    let err = poll(&plugin, &account, "").await.expect_err("loopback refused");
    assert!(
        matches!(&err.reason, FailReason::RequestRefused(m) if m.contains("private or loopback")),
        "{err}"
    );
    assert!(fake.requests().is_empty(), "nothing reached the server");
}
