//! The Bluesky plugin, built for wasm32-wasip2, in the host with its real
//! network transport, against the fake PDS over loopback HTTP.
//!
//! Plugin calls block (on wasi:http) while the fake serves on this test's
//! tokio runtime, so every call runs on a blocking thread. A call's key-value
//! writes (the session) are applied to the account only when it succeeds, as
//! the host commits them.

use std::collections::{BTreeMap, HashSet};
use std::sync::OnceLock;

use serde_json::Value;
use socialcrm::plugins::Manifest;
use socialcrm::runtime::types::{Direction, PluginError, Post, PostKind};
use socialcrm::runtime::types::{Outbound, Page, ReplyTarget, Sent};
use socialcrm::runtime::{Account, CallError, ChannelPlugin, FailReason, Runtime, RuntimeOptions};
use socialcrm_sdk::testkit;
use socialcrm_tests::fake::bluesky::{APP_PASSWORD, DID, FakeBluesky, Fault, HANDLE, RecordedRequest};

const PLUGIN_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../plugins/bluesky");
const NOTIFICATIONS: &str = "app.bsky.notification.listNotifications";
const CREATE_SESSION: &str = "com.atproto.server.createSession";
const REFRESH_SESSION: &str = "com.atproto.server.refreshSession";

fn built() -> &'static (Manifest, Vec<u8>) {
    static BUILT: OnceLock<(Manifest, Vec<u8>)> = OnceLock::new();
    BUILT.get_or_init(|| {
        let wasm = testkit::build(PLUGIN_DIR).expect("the Bluesky plugin builds for wasm32-wasip2");
        let manifest = std::fs::read_to_string(format!("{PLUGIN_DIR}/plugin.toml")).expect("plugin.toml");
        (
            Manifest::parse(&manifest).expect("a valid plugin.toml"),
            std::fs::read(wasm).expect("the built wasm"),
        )
    })
}

/// A fake server, the plugin in a host with the real transport, and an
/// account on the fake with `config` on top of the service and identifier.
async fn setup(config: &[(&str, &str)]) -> (FakeBluesky, ChannelPlugin, Account) {
    let fake = FakeBluesky::start().await.expect("the fake starts");
    let plugin = blocking(|| {
        let (manifest, wasm) = built();
        let runtime = Runtime::new(RuntimeOptions::default()).expect("a runtime");
        runtime
            .load_channel(manifest.sandbox(), wasm)
            .expect("the plugin loads")
    })
    .await;
    let mut settings = BTreeMap::from([
        ("service".to_string(), fake.base_url()),
        ("identifier".to_string(), HANDLE.to_string()),
    ]);
    settings.extend(config.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let account = Account {
        name: "brand".into(),
        config: settings,
        secrets: BTreeMap::from([("app-password".to_string(), APP_PASSWORD.to_string())]),
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

/// One poll; its key-value writes are kept when it succeeds.
async fn poll(plugin: &ChannelPlugin, account: &mut Account, state: &str) -> Result<Page, CallError> {
    let (plugin, snapshot, state) = (plugin.clone(), account.clone(), state.to_string());
    let out = blocking(move || plugin.poll(&snapshot, &state)).await?;
    account.apply_kv(out.kv_changes);
    Ok(out.value)
}

async fn send(plugin: &ChannelPlugin, account: &mut Account, message: Outbound) -> Result<Sent, CallError> {
    let (plugin, snapshot) = (plugin.clone(), account.clone());
    let out = blocking(move || plugin.send(&snapshot, &message)).await?;
    account.apply_kv(out.kv_changes);
    Ok(out.value)
}

async fn check(plugin: &ChannelPlugin, account: &Account) -> Result<(), CallError> {
    let (plugin, account) = (plugin.clone(), account.clone());
    blocking(move || plugin.check(&account).map(|_| ())).await
}

/// Polls until the plugin says nothing more is ready, returning every post and the last state.
async fn poll_through(plugin: &ChannelPlugin, account: &mut Account, state: &str) -> (Vec<Post>, String, usize) {
    let mut state = state.to_string();
    let mut posts = Vec::new();
    for calls in 1..=50 {
        let page = poll(plugin, account, &state).await.expect("polling");
        posts.extend(page.posts);
        state = page.state;
        if !page.has_more {
            return (posts, state, calls);
        }
    }
    panic!("the plugin never stopped saying has-more");
}

fn uris(posts: &[Post]) -> Vec<String> {
    posts.iter().map(|p| p.external_id.clone()).collect()
}

fn sorted(mut list: Vec<String>) -> Vec<String> {
    list.sort();
    list
}

fn plugin_error(err: &CallError) -> &PluginError {
    err.plugin_error()
        .unwrap_or_else(|| panic!("expected the plugin's own error, got: {err}"))
}

fn nsids(requests: &[RecordedRequest]) -> Vec<&str> {
    requests.iter().map(RecordedRequest::nsid).collect()
}

/// The app password travels only in createSession bodies, filled by the host.
fn assert_password_only_in_sign_ins(requests: &[RecordedRequest]) {
    for r in requests {
        let in_headers = r.headers.iter().any(|(_, v)| v.contains(APP_PASSWORD));
        assert!(!in_headers && !r.query.contains(APP_PASSWORD), "{r:?}");
        if r.nsid() == CREATE_SESSION {
            let body: Value = serde_json::from_str(&r.body).expect("a JSON body");
            assert_eq!(body["password"], APP_PASSWORD, "the host filled the placeholder");
            assert_eq!(body["identifier"], HANDLE);
        } else {
            assert!(!r.body.contains(APP_PASSWORD), "{r:?}");
        }
        assert!(
            !r.body.contains("{{secret."),
            "a placeholder reached the network: {r:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn check_signs_in_and_refuses_a_bad_config_or_password() {
    let (fake, plugin, account) = setup(&[]).await;
    check(&plugin, &account).await.expect("the right app password");
    let requests = fake.requests();
    assert_eq!(nsids(&requests), [CREATE_SESSION]);
    assert_password_only_in_sign_ins(&requests);

    for (field, value) in [
        ("identifier", "not a handle"),
        ("identifier", ""),
        ("service", "ftp://bsky.social"),
        ("keywords", " , "),
        ("own-posts", "maybe"),
    ] {
        let mut bad = account.clone();
        bad.config.insert(field.into(), value.into());
        let err = check(&plugin, &bad).await.expect_err("an invalid config");
        let named = match &err.reason {
            // The host itself refuses a service it cannot make an allowed host of.
            FailReason::Config(m) => m.contains(field),
            _ => matches!(plugin_error(&err), PluginError::InvalidConfig(m) if m.contains(&format!("`{field}`"))),
        };
        assert!(named, "{field}={value:?}: {err}");
    }
    assert_eq!(fake.requests().len(), 1, "a bad config makes no request");

    let mut wrong = account.clone();
    wrong
        .secrets
        .insert("app-password".into(), "wrong-pass-word-here".into());
    let err = check(&plugin, &wrong).await.expect_err("a wrong app password");
    assert!(
        matches!(plugin_error(&err), PluginError::Unauthorized(m) if m.contains("Invalid identifier or password")),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_session_is_kept_refreshed_when_it_expires_and_recreated_when_refresh_fails() {
    let (fake, plugin, mut account) = setup(&[("own-posts", "false")]).await;
    let state = poll(&plugin, &mut account, "").await.expect("first poll").state;
    assert!(account.kv.contains_key("session"), "the session is kept");
    let state = poll(&plugin, &mut account, &state).await.expect("second poll").state;
    assert_eq!(nsids(&fake.requests()), [CREATE_SESSION, NOTIFICATIONS, NOTIFICATIONS]);
    let access = |r: &RecordedRequest| r.header("authorization").map(str::to_string);
    let first_token = access(&fake.requests()[1]);
    assert!(
        first_token
            .as_deref()
            .is_some_and(|t| t.starts_with("Bearer fake-access-jwt."))
    );
    assert_eq!(access(&fake.requests()[2]), first_token, "the stored token is reused");

    // The access token expires: ExpiredToken, a refresh, the same request again.
    let before_refresh = account.clone();
    fake.expire_access_tokens();
    let uri = fake.push_mention("alice.test", &format!("hi @{HANDLE}"));
    let page = poll(&plugin, &mut account, &state).await.expect("after a refresh");
    assert_eq!(uris(&page.posts), std::slice::from_ref(&uri));
    let requests = fake.requests();
    assert_eq!(nsids(&requests[3..]), [NOTIFICATIONS, REFRESH_SESSION, NOTIFICATIONS]);
    assert!(access(&requests[4]).is_some_and(|t| t.starts_with("Bearer fake-refresh-jwt.")));
    assert_ne!(access(&requests[5]), first_token, "the refreshed token is used");

    // A stale copy of the session: its refresh token was used up, so the plugin signs in again.
    let mut stale = before_refresh;
    fake.expire_access_tokens();
    let again = poll(&plugin, &mut stale, &state).await.expect("after signing in again");
    assert_eq!(uris(&again.posts), [uri]);
    let requests = fake.requests();
    assert_eq!(
        nsids(&requests[6..]),
        [NOTIFICATIONS, REFRESH_SESSION, CREATE_SESSION, NOTIFICATIONS]
    );
    assert_password_only_in_sign_ins(&requests);
}

#[tokio::test(flavor = "multi_thread")]
async fn pages_and_polls_hand_over_every_item_exactly_once() {
    let (fake, plugin, mut account) = setup(&[("own-posts", "false")]).await;
    let own = fake.push_own_post("Our spring sale starts today");
    let history: Vec<String> = (0..60)
        .map(|i| fake.push_mention("old.test", &format!("old mention {i} @{HANDLE}")))
        .collect();

    let first = poll(&plugin, &mut account, "").await.expect("first poll");
    assert_eq!(
        uris(&first.posts),
        history[10..],
        "the newest page of 50, oldest first; older history is not news"
    );
    assert!(!first.has_more);

    // 120 new items of all three kinds, then new ones between the pages of a sweep.
    let mut expected = Vec::new();
    for i in 0..40 {
        expected.push(fake.push_mention("alice.test", &format!("mention {i} @{HANDLE}")));
        expected.push(fake.push_reply("bob.test", &format!("reply {i}"), &own));
        expected.push(fake.push_quote("carol.test", &format!("quote {i}"), &own));
    }
    let mut state = first.state;
    let mut seen = Vec::new();
    let mut pages = Vec::new();
    loop {
        let page = poll(&plugin, &mut account, &state).await.expect("catching up");
        pages.push((page.posts.len(), page.has_more));
        seen.extend(page.posts);
        state = page.state;
        if !page.has_more {
            break;
        }
        expected.push(fake.push_mention("dave.test", &format!("meanwhile @{HANDLE}")));
    }
    assert_eq!(pages, [(50, true), (50, true), (20, false)]);
    let (rest, state, _) = poll_through(&plugin, &mut account, &state).await;
    assert_eq!(rest.len(), 2, "the two that arrived during the sweep");
    seen.extend(rest);
    assert_eq!(sorted(uris(&seen)), sorted(expected.clone()), "each item exactly once");
    assert_eq!(seen.iter().map(|p| &p.external_id).collect::<HashSet<_>>().len(), 122);

    let kinds = |kind| seen.iter().filter(|p| p.kind == kind).count();
    assert_eq!(
        (kinds(PostKind::Mention), kinds(PostKind::Reply), kinds(PostKind::Quote)),
        (42, 40, 40)
    );
    let reply = seen.iter().find(|p| p.kind == PostKind::Reply).expect("a reply");
    assert_eq!(reply.in_reply_to.as_deref(), Some(own.as_str()));
    assert_eq!(reply.thread_id.as_deref(), Some(own.as_str()));
    assert_eq!(
        reply.author.external_id,
        fake.did_of("bob.test"),
        "identities key on the DID"
    );
    assert_eq!(reply.author.handle, "bob.test");
    assert_eq!(reply.direction, Direction::Inbound);
    let rkey = reply.external_id.rsplit('/').next().unwrap();
    assert_eq!(
        reply.url.as_deref(),
        Some(format!("https://bsky.app/profile/bob.test/post/{rkey}").as_str())
    );
    let raw: Value = serde_json::from_str(&reply.raw).expect("raw is the notification");
    assert_eq!(
        (raw["reason"].as_str(), raw["uri"].as_str()),
        (Some("reply"), Some(reply.external_id.as_str()))
    );

    let empty = poll(&plugin, &mut account, &state).await.expect("nothing new");
    assert!(empty.posts.is_empty() && !empty.has_more);
    assert_eq!(empty.state, state, "an empty page keeps the state");
    for r in fake.requests().iter().filter(|r| r.nsid() == NOTIFICATIONS) {
        let q = r.query_pairs();
        assert!(q.contains(&("limit".into(), "50".into())), "{}", r.query);
        let reasons: Vec<&str> = q
            .iter()
            .filter(|(k, _)| k == "reasons")
            .map(|(_, v)| v.as_str())
            .collect();
        assert_eq!(reasons, ["mention", "reply", "quote"]);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_empty_account_starts_at_nothing_and_then_takes_everything() {
    let (fake, plugin, mut account) = setup(&[]).await;
    let first = poll(&plugin, &mut account, "").await.expect("first poll");
    assert!(first.posts.is_empty() && !first.has_more);
    assert!(!first.state.is_empty(), "the state records that polling began");
    let again = poll(&plugin, &mut account, &first.state).await.expect("still nothing");
    assert!(again.posts.is_empty());

    let mut expected: Vec<String> = (0..70)
        .map(|i| fake.push_mention("erin.test", &format!("{i} @{HANDLE}")))
        .collect();
    let own = fake.push_own_post("Welcome to our new account");
    expected.push(own.clone());
    let (posts, _, calls) = poll_through(&plugin, &mut account, &again.state).await;
    // Two full pages, then an empty one: a short page need not be the last
    // (the AppView drops posts it hides after paging), the end of the list is.
    assert_eq!(calls, 3);
    assert_eq!(sorted(uris(&posts)), sorted(expected));
    let own_post = posts.iter().find(|p| p.external_id == own).expect("the own post");
    assert_eq!(
        (own_post.direction, own_post.kind),
        (Direction::Outbound, PostKind::Post)
    );
    assert_eq!(own_post.author.external_id, DID);
}

#[tokio::test(flavor = "multi_thread")]
async fn faults_fail_the_poll_and_the_same_state_retries() {
    let (fake, plugin, mut account) = setup(&[]).await;
    let state = poll(&plugin, &mut account, "").await.expect("first poll").state;
    let pushed: Vec<String> = (0..3)
        .map(|i| fake.push_mention("frank.test", &format!("help {i} @{HANDLE}")))
        .collect();

    fake.fail_next(Fault::RateLimited { reset_in_secs: 90 });
    let err = poll(&plugin, &mut account, &state).await.expect_err("rate limited");
    match plugin_error(&err) {
        PluginError::RateLimited(r) => {
            assert!((80_000..=91_000).contains(&r.retry_after_ms), "{} ms", r.retry_after_ms);
            assert!(r.message.contains("RateLimitExceeded"), "{}", r.message);
        }
        other => panic!("expected rate-limited, got {other:?}"),
    }
    fake.set_rate_limit(0, 30);
    let err = poll(&plugin, &mut account, &state)
        .await
        .expect_err("the budget is spent");
    assert!(
        matches!(plugin_error(&err), PluginError::RateLimited(r) if (20_000..=31_000).contains(&r.retry_after_ms)),
        "{err}"
    );
    fake.set_rate_limit(100, 300);

    fake.fail_next(Fault::Status(500));
    let err = poll(&plugin, &mut account, &state).await.expect_err("server error");
    assert!(
        matches!(plugin_error(&err), PluginError::Transient(m) if m.contains("HTTP 500")),
        "{err}"
    );

    fake.fail_next(Fault::Malformed);
    let err = poll(&plugin, &mut account, &state).await.expect_err("truncated body");
    assert!(
        matches!(plugin_error(&err), PluginError::Permanent(m) if m.contains("listing notifications") && m.contains("malformed response body")),
        "{err}"
    );

    // One refused token is renewed and the poll goes on.
    fake.fail_next(Fault::Unauthorized);
    let retried = poll(&plugin, &mut account, &state).await.expect("a renewed session");
    let again = poll(&plugin, &mut account, &state).await.expect("and again");
    assert_eq!(uris(&retried.posts), pushed, "nothing of a failed call was kept");
    assert_eq!(uris(&again.posts), pushed);
    assert_eq!(retried.posts[2].text, format!("help 2 @{HANDLE}"));
    let refreshed = fake.requests().iter().filter(|r| r.nsid() == REFRESH_SESSION).count();
    assert_eq!(refreshed, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_revoked_app_password_is_unauthorized() {
    let (fake, plugin, mut account) = setup(&[]).await;
    let state = poll(&plugin, &mut account, "").await.expect("first poll").state;
    fake.change_app_password("new0-pass-word-here");
    let err = poll(&plugin, &mut account, &state)
        .await
        .expect_err("every token revoked");
    assert!(
        matches!(plugin_error(&err), PluginError::Unauthorized(m) if m.contains("Invalid identifier or password")),
        "{err}"
    );
    let requests = fake.requests();
    let tail: Vec<&str> = nsids(&requests).into_iter().rev().take(3).collect();
    assert_eq!(
        tail,
        [CREATE_SESSION, REFRESH_SESSION, NOTIFICATIONS],
        "refresh, then sign-in, failed"
    );
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
async fn a_reply_goes_into_the_thread_once() {
    let (fake, plugin, mut account) = setup(&[("own-posts", "false")]).await;
    let state = poll(&plugin, &mut account, "").await.expect("first poll").state;
    let own = fake.push_own_post("New release is out");
    let first = fake.push_reply("gina.test", "It crashes on start", &own);
    let nested = fake.push_reply("hank.test", "Same here", &first);
    let mention = fake.push_mention("ivy.test", &format!("@{HANDLE} where is my order?"));
    let page = poll(&plugin, &mut account, &state).await.expect("the new posts");
    let post = |uri: &str| {
        page.posts
            .iter()
            .find(|p| p.external_id == uri)
            .unwrap_or_else(|| panic!("{uri} was polled"))
    };
    let nested_post = post(&nested);
    assert_eq!(nested_post.in_reply_to.as_deref(), Some(first.as_str()));
    assert_eq!(nested_post.thread_id.as_deref(), Some(own.as_str()));

    // An answer deep in a thread: the root stays the thread's first post.
    let message = reply_to(nested_post, "Sorry! A fix is on its way.");
    let sent = send(&plugin, &mut account, message.clone()).await.expect("reply sent");
    let created = fake.created();
    assert_eq!(created.len(), 1);
    let record = &created[0]["value"];
    assert_eq!(created[0]["uri"], sent.external_id.as_str());
    assert_eq!(record["$type"], "app.bsky.feed.post");
    assert_eq!(record["text"], "Sorry! A fix is on its way.");
    let strong = |uri: &str| {
        let view = fake.post_view(uri).expect("a known post");
        serde_json::json!({ "uri": view["uri"], "cid": view["cid"] })
    };
    assert_eq!(record["reply"]["root"], strong(&own));
    assert_eq!(record["reply"]["parent"], strong(&nested));
    assert!(
        record["createdAt"].as_str().is_some_and(|t| t.ends_with('Z')),
        "{record}"
    );
    let rkey = sent.external_id.rsplit('/').next().expect("an rkey");
    assert!(sent.external_id.starts_with(&format!("at://{DID}/app.bsky.feed.post/")));
    assert_eq!(
        sent.url.as_deref(),
        Some(format!("https://bsky.app/profile/{HANDLE}/post/{rkey}").as_str())
    );

    // A retry after a lost answer finds the post instead of posting it again.
    let retried = send(&plugin, &mut account, message).await.expect("retried");
    assert_eq!(retried.external_id, sent.external_id);
    assert_eq!(fake.created().len(), 1);

    // An answer to a post that starts its thread: root and parent are that post.
    send(
        &plugin,
        &mut account,
        reply_to(post(&mention), "Checking now, {{secret.app-password}}"),
    )
    .await
    .expect("reply to a mention");
    let created = fake.created();
    assert_eq!(created.len(), 2);
    assert_eq!(created[1]["value"]["reply"]["root"], strong(&mention));
    assert_eq!(created[1]["value"]["reply"]["parent"], strong(&mention));
    assert_eq!(
        created[1]["value"]["text"], "Checking now, {{secret.app-password}}",
        "a placeholder in a reply is published as written, never filled"
    );
    assert_password_only_in_sign_ins(&fake.requests());

    let err = send(&plugin, &mut account, reply_to(post(&mention), "  "))
        .await
        .expect_err("an empty reply");
    assert!(
        matches!(plugin_error(&err), PluginError::Permanent(m) if m.contains("empty")),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn listening_finds_posts_that_never_tag_the_brand() {
    let (fake, plugin, mut account) = setup(&[("keywords", "acme, \"acme cloud\"")]).await;
    let old = fake.push_post("jack.test", "My old Acme toaster");
    let first = poll(&plugin, &mut account, "").await.expect("first poll");
    assert_eq!(uris(&first.posts), [old], "the newest hits start the listening");

    let mut expected: Vec<String> = (0..60)
        .map(|i| fake.push_post("kim.test", &format!("ACME blender number {i} broke")))
        .collect();
    fake.push_post("lee.test", "nothing to see here");
    let cloud = fake.push_post("mia.test", "acme cloud is down again");
    expected.push(cloud.clone());
    // Both a mention and a search hit: handed over once, as the mention.
    let both = fake.push_mention("ned.test", &format!("@{HANDLE} acme support?"));
    expected.push(both.clone());
    let own = fake.push_own_post("Acme cloud status: all good");
    expected.push(own.clone());

    let (posts, state, _) = poll_through(&plugin, &mut account, &first.state).await;
    let mut found = uris(&posts);
    found.sort();
    let unique = found.len();
    found.dedup();
    assert_eq!(unique, found.len(), "no post twice: {found:?}");
    assert_eq!(found, sorted(expected));
    let hit = posts.iter().find(|p| p.external_id == cloud).expect("the phrase hit");
    assert_eq!((hit.kind, hit.direction), (PostKind::Post, Direction::Inbound));
    assert_eq!(hit.author.external_id, fake.did_of("mia.test"));
    let both = posts.iter().find(|p| p.external_id == both).expect("the mention");
    assert_eq!(both.kind, PostKind::Mention);
    let own = posts.iter().find(|p| p.external_id == own).expect("the own post");
    assert_eq!(own.direction, Direction::Outbound);

    let searches: Vec<RecordedRequest> = fake
        .requests()
        .into_iter()
        .filter(|r| r.nsid() == "app.bsky.feed.searchPosts")
        .collect();
    let queries: HashSet<String> = searches
        .iter()
        .map(|r| {
            let q = r.query_pairs();
            assert!(q.contains(&("sort".into(), "latest".into())), "{}", r.query);
            q.into_iter()
                .find(|(k, _)| k == "q")
                .map(|(_, v)| v)
                .unwrap_or_default()
        })
        .collect();
    assert_eq!(
        queries,
        HashSet::from(["acme".to_string(), "\"acme cloud\"".to_string()])
    );
    let later = poll(&plugin, &mut account, &state).await.expect("nothing new");
    assert!(later.posts.is_empty());
}

/// A handle on the author's own domain is a profile field the network
/// verified (the AppView checked its DNS record or `/.well-known/atproto-did`),
/// marked for the host through `verification`; a handle under the hosting
/// service's domain is not the author's site.
#[tokio::test(flavor = "multi_thread")]
async fn a_handle_on_an_own_domain_is_marked_verified() {
    let (fake, plugin, mut account) = setup(&[]).await;
    let state = poll(&plugin, &mut account, "").await.expect("first poll").state;
    fake.push_mention("mayarides.example", &format!("hi @{HANDLE}"));
    fake.push_mention("tom.bsky.social", &format!("hello @{HANDLE}"));
    let (plugin, snapshot) = (plugin.clone(), account.clone());
    let out = blocking(move || plugin.poll(&snapshot, &state)).await.expect("a poll");
    let fields: Vec<(String, Vec<(String, String)>)> = out
        .value
        .posts
        .iter()
        .map(|p| {
            let fields = p
                .author
                .fields
                .iter()
                .map(|f| (f.name.clone(), f.value.clone()))
                .collect();
            (p.author.handle.clone(), fields)
        })
        .collect();
    assert_eq!(
        fields,
        [
            (
                "mayarides.example".to_string(),
                vec![("Domain".to_string(), "https://mayarides.example".to_string())]
            ),
            ("tom.bsky.social".to_string(), vec![])
        ]
    );
    let marked: Vec<_> = out.verified.into_iter().collect();
    assert_eq!(
        marked,
        [(
            fake.did_of("mayarides.example"),
            "Domain".to_string(),
            "https://mayarides.example".to_string()
        )]
    );
}
