//! The Reddit plugin, built for wasm32-wasip2, in the host with its real
//! network transport, against the fake Reddit over loopback HTTP.
//!
//! Plugin calls block (on wasi:http) while the fake serves on this test's
//! tokio runtime, so every call runs on a blocking thread.

use std::collections::{BTreeMap, HashSet};
use std::sync::OnceLock;

use serde_json::{Value, json};
use socialcrm::plugins::Manifest;
use socialcrm::runtime::types::{Direction, PluginError, Post, PostKind};
use socialcrm::runtime::types::{Outbound, Page, ReplyTarget, Sent};
use socialcrm::runtime::{Account, CallError, ChannelPlugin, Runtime, RuntimeOptions};
use socialcrm_sdk::testkit;
use socialcrm_tests::fake::reddit::{BRAND, FakeReddit, Fault, TOKEN, recorded_comments, user_fullname};

const PLUGIN_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../plugins/reddit");

fn built() -> &'static (Manifest, Vec<u8>) {
    static BUILT: OnceLock<(Manifest, Vec<u8>)> = OnceLock::new();
    BUILT.get_or_init(|| {
        let wasm = testkit::build(PLUGIN_DIR).expect("the Reddit plugin builds for wasm32-wasip2");
        let manifest = std::fs::read_to_string(format!("{PLUGIN_DIR}/plugin.toml")).expect("plugin.toml");
        (
            Manifest::parse(&manifest).expect("a valid plugin.toml"),
            std::fs::read(wasm).expect("the built wasm"),
        )
    })
}

/// A fake server, the plugin in a host with the real transport, and an
/// account on the fake with `config` added.
async fn setup(config: &[(&str, &str)]) -> (FakeReddit, ChannelPlugin, Account) {
    let fake = FakeReddit::start().await.expect("the fake starts");
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
        ("username".to_string(), BRAND.to_string()),
    ]);
    values.extend(config.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let account = Account {
        name: "brand".into(),
        config: values,
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

async fn check(plugin: &ChannelPlugin, account: &Account) -> Result<(), CallError> {
    let (plugin, account) = (plugin.clone(), account.clone());
    blocking(move || plugin.check(&account).map(|_| ())).await
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

fn rate_limited(err: &CallError) -> (u64, String) {
    match plugin_error(err) {
        PluginError::RateLimited(r) => (r.retry_after_ms, r.message.clone()),
        other => panic!("expected rate-limited, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_inbox_is_read_newest_page_first_then_page_by_page_once_each() {
    let (fake, plugin, account) = setup(&[]).await;
    let inbox = fake.inbox_names();
    assert_eq!(inbox.len(), 120);

    let first = poll(&plugin, &account, "").await.expect("first poll");
    assert!(!first.has_more, "the history before the first poll is not fetched");
    let ids: Vec<&str> = first.posts.iter().map(|p| p.external_id.as_str()).collect();
    let newest_page: Vec<&str> = inbox[..100].iter().rev().map(String::as_str).collect();
    assert_eq!(ids, newest_page, "the newest page, oldest first");

    // Real recorded comments, mapped: authors keyed on their Reddit user id.
    let recorded: Vec<Value> = recorded_comments().expect("recorded");
    for post in &first.posts {
        let comment = recorded
            .iter()
            .find(|c| c["name"] == post.external_id.as_str())
            .expect("a recorded comment");
        assert_eq!(post.direction, Direction::Inbound);
        assert!(matches!(
            post.kind,
            PostKind::Mention | PostKind::Reply | PostKind::Comment
        ));
        assert_eq!(post.in_reply_to.as_deref(), comment["parent_id"].as_str());
        let author = comment["author"].as_str().expect("an author");
        if author == "[deleted]" {
            assert_eq!(post.author.external_id, "[deleted]");
        } else {
            assert_eq!(
                post.author.external_id,
                user_fullname(author),
                "keyed on author_fullname"
            );
            assert_eq!(post.author.handle, author);
            assert_eq!(
                post.author.profile_url.as_deref(),
                Some(format!("https://www.reddit.com/user/{author}").as_str())
            );
        }
        let raw: Value = serde_json::from_str(&post.raw).expect("raw is the listing child");
        assert_eq!(raw["data"]["name"], post.external_id.as_str());
        assert!(
            post.url
                .as_deref()
                .is_some_and(|u| u.starts_with("https://www.reddit.com/r/"))
        );
    }
    let kinds: HashSet<String> = first.posts.iter().map(|p| format!("{:?}", p.kind)).collect();
    assert_eq!(kinds.len(), 3, "mentions, replies and post replies: {kinds:?}");

    // 250 new mentions, real comment shapes: three pages up, each once.
    let pushed = fake.push_recorded_mentions(250);
    let (ids, pages, state) = drain(&plugin, &account, &first.state).await;
    assert_eq!(pages, [(100, true), (100, true), (50, false)]);
    assert_eq!(ids, pushed, "every new mention once, oldest first");

    // Nothing new: an empty page, the state kept.
    let empty = poll(&plugin, &account, &state).await.expect("nothing new");
    assert!(empty.posts.is_empty() && !empty.has_more);
    assert_eq!(empty.state, state);

    let requests = fake.requests();
    for request in &requests {
        assert_eq!(
            (request.method.as_str(), request.path.as_str()),
            ("GET", "/message/inbox")
        );
        assert_eq!(
            request.header("authorization"),
            Some(format!("Bearer {TOKEN}").as_str()),
            "attached by the host"
        );
        let agent = request.header("user-agent").unwrap_or_default();
        assert!(
            agent.starts_with("socialcrm:socialcrm-reddit:v") && agent.ends_with(&format!("(by /u/{BRAND})")),
            "{agent}"
        );
        assert_eq!(request.param("limit").as_deref(), Some("100"));
        assert_eq!(
            request.param("mark").as_deref(),
            Some("false"),
            "the inbox stays unread"
        );
        assert_eq!(request.param("raw_json").as_deref(), Some("1"));
    }
    assert_eq!(requests[0].param("before"), None);
    assert_eq!(requests[1].param("before"), Some(inbox[0].clone()));
    assert_eq!(requests[2].param("before"), Some(pushed[99].clone()));
    assert_eq!(requests[3].param("before"), Some(pushed[199].clone()));
}

#[tokio::test(flavor = "multi_thread")]
async fn mentions_arriving_between_polls_come_exactly_once() {
    let (fake, plugin, account) = setup(&[]).await;
    let mut state = poll(&plugin, &account, "").await.expect("first poll").state;
    let mut all = Vec::new();
    for (round, count) in [3usize, 0, 101, 1, 0, 57].into_iter().enumerate() {
        let pushed: Vec<String> = (0..count)
            .map(|i| fake.push_mention(json!({ "body": format!("round {round} mention {i} u/acme_support") })))
            .collect();
        let (ids, _, next) = drain(&plugin, &account, &state).await;
        assert_eq!(ids, pushed, "round {round}");
        all.extend(ids);
        state = next;
    }
    let unique: HashSet<&String> = all.iter().collect();
    assert_eq!(unique.len(), all.len(), "no mention twice");
    assert_eq!(all.len(), 162);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deleted_anchor_neither_loses_nor_repeats_mentions() {
    let (fake, plugin, account) = setup(&[]).await;
    let state = poll(&plugin, &account, "").await.expect("first poll").state;
    let pushed: Vec<String> = (0..5)
        .map(|i| fake.push_mention(json!({ "body": format!("mention {i}") })))
        .collect();
    let page = poll(&plugin, &account, &state).await.expect("the new ones");
    assert_eq!(page.posts.len(), 5);
    // The comment the cursor stands on is deleted; Reddit then lists nothing
    // `before` it, as if nothing were new.
    fake.remove(&pushed[4]);
    let later: Vec<String> = (0..3)
        .map(|i| fake.push_mention(json!({ "body": format!("later {i}") })))
        .collect();
    let (ids, _, state) = drain(&plugin, &account, &page.state).await;
    assert_eq!(ids, later);
    let (ids, _, _) = drain(&plugin, &account, &state).await;
    assert!(ids.is_empty(), "and nothing again: {ids:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn keyword_search_finds_posts_that_never_tag_the_brand() {
    let (fake, plugin, account) = setup(&[("keywords", "acme, acme cloud"), ("subreddits", "sysadmin,devops")]).await;
    let old = fake.push_post("sysadmin", "Acme was down yesterday", "", None);
    let first = poll(&plugin, &account, "").await.expect("first poll");
    let searched: Vec<&Post> = first.posts.iter().filter(|p| p.kind == PostKind::Post).collect();
    assert_eq!(searched.len(), 1);
    assert_eq!(searched[0].external_id, old);

    let hit = fake.push_post(
        "devops",
        "Is anyone else seeing timeouts?",
        "Our **ACME Cloud** deploys hang since this morning.",
        Some("ops_person"),
    );
    fake.push_post("devops", "Kubernetes question", "nothing about the brand", None);
    fake.push_post("gaming", "acme anvils in games", "off-topic subreddit", None);
    let by_brand = fake.push_post("sysadmin", "Acme status page", "", Some(BRAND));
    let mention = fake.push_mention(json!({ "body": "u/acme_support help" }));

    let page = poll(&plugin, &account, &first.state).await.expect("second poll");
    let ids: Vec<&str> = page.posts.iter().map(|p| p.external_id.as_str()).collect();
    assert_eq!(ids, [mention.as_str(), hit.as_str(), by_brand.as_str()]);
    let post = &page.posts[1];
    assert_eq!(post.kind, PostKind::Post);
    assert_eq!(post.direction, Direction::Inbound);
    assert_eq!(
        post.text,
        "Is anyone else seeing timeouts?\n\nOur ACME Cloud deploys hang since this morning."
    );
    assert_eq!(post.author.external_id, user_fullname("ops_person"));
    assert_eq!(post.thread_id.as_deref(), Some(hit.as_str()));
    assert!(
        post.url
            .as_deref()
            .is_some_and(|u| u.starts_with("https://www.reddit.com/r/devops/comments/"))
    );
    assert_eq!(page.posts[2].direction, Direction::Outbound, "the brand's own post");

    let empty = poll(&plugin, &account, &page.state).await.expect("nothing new");
    assert!(empty.posts.is_empty());

    let searches: Vec<_> = fake
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with("/search"))
        .collect();
    assert_eq!(searches.len(), 4, "first, second, then an empty page and its check");
    for request in &searches {
        assert_eq!(request.path, "/r/sysadmin+devops/search");
        assert_eq!(request.param("q").as_deref(), Some("acme OR \"acme cloud\""));
        assert_eq!(request.param("restrict_sr").as_deref(), Some("1"));
        assert_eq!(request.param("sort").as_deref(), Some("new"));
        assert_eq!(request.param("type").as_deref(), Some("link"));
    }
    assert_eq!(searches[1].param("before"), Some(old));

    // Other keywords are another search: it starts afresh.
    let mut changed = account.clone();
    changed.config.insert("keywords".into(), "kubernetes".into());
    let page = poll(&plugin, &changed, &empty.state).await.expect("a new search");
    let found: Vec<&str> = page.posts.iter().map(|p| p.text.as_str()).collect();
    assert_eq!(found, ["Kubernetes question\n\nnothing about the brand"]);
    assert_eq!(fake.requests().last().and_then(|r| r.param("before")), None);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_429_waits_until_the_reset_the_headers_name() {
    let (fake, plugin, account) = setup(&[]).await;
    fake.fail_next(Fault::RateLimited { reset_in_secs: 90 });
    let err = poll(&plugin, &account, "").await.expect_err("rate limited");
    let (wait, message) = rate_limited(&err);
    assert!((89_000..=90_000).contains(&wait), "{wait} ms");
    assert!(
        message.contains("reading the inbox") && message.contains("429"),
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_used_up_budget_stops_before_the_next_request() {
    let (fake, plugin, account) = setup(&[("keywords", "acme")]).await;
    fake.push_post("sysadmin", "acme?", "", None);
    fake.set_rate_limit(1, 120);
    let err = poll(&plugin, &account, "").await.expect_err("the budget is spent");
    let (wait, message) = rate_limited(&err);
    assert!((119_000..=120_000).contains(&wait), "{wait} ms");
    assert!(
        message.contains("searching new posts") && message.contains("X-Ratelimit-Remaining"),
        "{message}"
    );
    assert_eq!(fake.requests().len(), 1, "the search was not sent into a 429");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_revoked_token_is_unauthorized() {
    let (fake, plugin, mut account) = setup(&[]).await;
    fake.fail_next(Fault::Unauthorized);
    let err = poll(&plugin, &account, "").await.expect_err("revoked");
    assert!(
        matches!(plugin_error(&err), PluginError::Unauthorized(m) if m.contains("401") && m.contains("Unauthorized")),
        "{err}"
    );
    account.secrets.insert("access-token".into(), "wrong".into());
    let err = check(&plugin, &account).await.expect_err("a wrong token");
    assert!(matches!(plugin_error(&err), PluginError::Unauthorized(_)), "{err}");
    fake.fail_next(Fault::Status(403));
    let err = poll(&plugin, &account, "")
        .await
        .expect_err("a token without the scope");
    assert!(
        matches!(plugin_error(&err), PluginError::Unauthorized(m) if m.contains("403")),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_500_is_transient_and_the_retry_brings_the_same_posts() {
    let (fake, plugin, account) = setup(&[]).await;
    let state = poll(&plugin, &account, "").await.expect("first poll").state;
    let pushed = fake.push_recorded_mentions(3);
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
async fn a_malformed_body_fails_the_page_whole() {
    let (fake, plugin, account) = setup(&[]).await;
    let state = poll(&plugin, &account, "").await.expect("first poll").state;
    let good = fake.push_mention(json!({ "body": "fine" }));

    fake.fail_next(Fault::Malformed);
    let err = poll(&plugin, &account, &state).await.expect_err("truncated body");
    assert!(
        matches!(plugin_error(&err), PluginError::Permanent(m) if m.contains("reading the inbox") && m.contains("malformed listing")),
        "{err}"
    );

    // One child without a time: no post of the page is returned.
    fake.push_inbox_raw(json!({ "kind": "t1", "data": { "name": "t1_broken", "author": "x", "body": "no time" } }));
    let after = fake.push_mention(json!({ "body": "also fine" }));
    let err = poll(&plugin, &account, &state).await.expect_err("a broken child");
    assert!(
        matches!(plugin_error(&err), PluginError::Permanent(m) if m.contains("t1_broken") && m.contains("created_utc")),
        "{err}"
    );
    fake.remove("t1_broken");
    let page = poll(&plugin, &account, &state).await.expect("fixed");
    let ids: Vec<String> = page.posts.iter().map(|p| p.external_id.clone()).collect();
    assert_eq!(ids, [good, after]);
}

fn reply_to(post: &Post, text: &str) -> Outbound {
    Outbound {
        text: text.into(),
        in_reply_to: Some(ReplyTarget {
            external_id: post.external_id.clone(),
            author_handle: post.author.handle.clone(),
            thread_id: post.thread_id.clone(),
        }),
        recipient: None,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reply_is_posted_as_a_comment_on_the_mention() {
    let (fake, plugin, account) = setup(&[]).await;
    let state = poll(&plugin, &account, "").await.expect("first poll").state;
    let mention = fake.push_mention(json!({ "body": "u/acme_support my order never came", "author": "Ann_B" }));
    let page = poll(&plugin, &account, &state).await.expect("the mention");
    let post = &page.posts[0];
    assert_eq!(post.external_id, mention);

    let text = "Sorry about that! We've sent you a DM & a refund.";
    let sent = send(&plugin, &account, reply_to(post, text)).await.expect("sent");
    let posted = fake.posted();
    assert_eq!(posted.len(), 1);
    let comment = &posted[0];
    assert_eq!(sent.external_id, comment["name"].as_str().unwrap());
    assert!(sent.external_id.starts_with("t1_"));
    assert_eq!(
        sent.url,
        Some(format!(
            "https://www.reddit.com{}",
            comment["permalink"].as_str().unwrap()
        ))
    );
    assert_eq!(comment["parent_id"], mention.as_str());
    assert_eq!(comment["body"], text);

    let request = fake.requests().into_iter().last().expect("the comment request");
    assert_eq!(
        (request.method.as_str(), request.path.as_str()),
        ("POST", "/api/comment")
    );
    assert_eq!(
        request.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(request.field("api_type").as_deref(), Some("json"));
    assert_eq!(request.field("thing_id"), Some(mention.clone()));
    assert_eq!(request.field("text").as_deref(), Some(text));

    // A deleted parent is Reddit's error in a 200: permanent.
    fake.remove(&mention);
    let err = send(&plugin, &account, reply_to(post, "still there?"))
        .await
        .expect_err("deleted");
    assert!(
        matches!(plugin_error(&err), PluginError::Permanent(m) if m.contains("DELETED_COMMENT")),
        "{err}"
    );
    assert_eq!(fake.posted().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn reddits_ratelimit_in_a_200_body_is_rate_limited() {
    let (fake, plugin, account) = setup(&[]).await;
    let page = poll(&plugin, &account, "").await.expect("first poll");
    let post = page.posts.last().expect("a post");
    fake.fail_next(Fault::ActionRateLimit { minutes: 5 });
    let err = send(&plugin, &account, reply_to(post, "Thanks!"))
        .await
        .expect_err("too much");
    let (wait, message) = rate_limited(&err);
    assert_eq!(wait, 300_000);
    assert!(
        message.contains("RATELIMIT") && message.contains("try again in 5 minutes"),
        "{message}"
    );
    assert!(fake.posted().is_empty());

    let sent = send(&plugin, &account, reply_to(post, "Thanks!"))
        .await
        .expect("later it works");
    assert_eq!(fake.posted()[0]["name"], sent.external_id.as_str());
}

#[tokio::test(flavor = "multi_thread")]
async fn check_verifies_the_account_and_rejects_bad_configs() {
    let (fake, plugin, account) = setup(&[("keywords", "acme")]).await;
    check(&plugin, &account).await.expect("the right account");
    assert_eq!(fake.requests()[0].path, "/api/v1/me");

    let mut other = account.clone();
    other.config.insert("username".into(), "someone_else".into());
    let err = check(&plugin, &other).await.expect_err("another account's token");
    assert!(
        matches!(plugin_error(&err), PluginError::InvalidConfig(m) if m.contains("u/acme_support") && m.contains("someone_else")),
        "{err}"
    );

    let mut empty = account.clone();
    empty.config.insert("username".into(), String::new());
    let err = check(&plugin, &empty).await.expect_err("no username");
    assert!(
        matches!(plugin_error(&err), PluginError::InvalidConfig(m) if m.contains("`username` is required")),
        "{err}"
    );
    let mut bad = account.clone();
    bad.config.insert("subreddits".into(), "sysadmin, not a sub".into());
    let err = check(&plugin, &bad).await.expect_err("a bad subreddit");
    assert!(
        matches!(plugin_error(&err), PluginError::InvalidConfig(m) if m.contains("not a sub")),
        "{err}"
    );
    let mut subs_only = account.clone();
    subs_only.config.remove("keywords");
    subs_only.config.insert("subreddits".into(), "sysadmin".into());
    let err = check(&plugin, &subs_only).await.expect_err("nothing to search for");
    assert!(matches!(plugin_error(&err), PluginError::InvalidConfig(_)), "{err}");
    assert_eq!(fake.requests().len(), 2, "a bad config makes no request");
}
