//! The Meta plugin, built for wasm32-wasip2, in the host with its real network
//! transport: webhook deliveries the fake Meta signs, and replies through the
//! fake Graph API over loopback HTTP.
//!
//! Plugin calls block (on wasi:http) while the fake serves on this test's
//! tokio runtime, so every call runs on a blocking thread.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde_json::json;
use socialcrm::plugins::Manifest;
use socialcrm::runtime::types::{Direction, PluginError, Post, PostKind};
use socialcrm::runtime::types::{Header, Outbound, ReplyTarget, Sent, WebhookRequest, WebhookResult};
use socialcrm::runtime::{Account, CallError, ChannelPlugin, Runtime, RuntimeOptions};
use socialcrm_sdk::testkit;
use socialcrm_tests::fake::meta::{Delivery, FakeMeta, Fault, IG_MEDIA_ID, PAGE_ID, PAGE_POST_ID, TOKEN};

const PLUGIN_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../plugins/meta");
const APP_SECRET: &str = "3c1e2d5f8a9b4c7d6e0f1a2b3c4d5e6f";
const VERIFY_TOKEN: &str = "a-verify-token-of-our-choosing";

fn built() -> &'static (Manifest, Vec<u8>) {
    static BUILT: OnceLock<(Manifest, Vec<u8>)> = OnceLock::new();
    BUILT.get_or_init(|| {
        let wasm = testkit::build(PLUGIN_DIR).expect("the Meta plugin builds for wasm32-wasip2");
        let manifest = std::fs::read_to_string(format!("{PLUGIN_DIR}/plugin.toml")).expect("plugin.toml");
        (
            Manifest::parse(&manifest).expect("a valid plugin.toml"),
            std::fs::read(wasm).expect("the built wasm"),
        )
    })
}

async fn setup() -> (FakeMeta, ChannelPlugin, Account) {
    let fake = FakeMeta::start(APP_SECRET).await.expect("the fake starts");
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
        config: BTreeMap::from([
            ("graph-url".to_string(), fake.base_url()),
            ("verify-token".to_string(), VERIFY_TOKEN.to_string()),
        ]),
        secrets: BTreeMap::from([
            ("page-access-token".to_string(), TOKEN.to_string()),
            ("app-secret".to_string(), APP_SECRET.to_string()),
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

async fn webhook(plugin: &ChannelPlugin, account: &Account, request: WebhookRequest) -> WebhookResult {
    let (plugin, account) = (plugin.clone(), account.clone());
    blocking(move || plugin.handle_webhook(&account, &request).map(|out| out.value))
        .await
        .expect("the webhook is handled")
}

async fn send(plugin: &ChannelPlugin, account: &Account, message: Outbound) -> Result<Sent, CallError> {
    let (plugin, account) = (plugin.clone(), account.clone());
    blocking(move || plugin.send(&account, &message).map(|out| out.value)).await
}

async fn check(plugin: &ChannelPlugin, account: &Account) -> Result<(), CallError> {
    let (plugin, account) = (plugin.clone(), account.clone());
    blocking(move || plugin.check(&account).map(|_| ())).await
}

fn plugin_error(err: &CallError) -> &PluginError {
    err.plugin_error()
        .unwrap_or_else(|| panic!("expected the plugin's own error, got: {err}"))
}

fn get(query: &str) -> WebhookRequest {
    WebhookRequest {
        method: "GET".into(),
        path: String::new(),
        query: query.into(),
        headers: Vec::new(),
        body: Vec::new(),
    }
}

fn post(signature: Option<&str>, body: &[u8]) -> WebhookRequest {
    let mut headers = vec![Header {
        name: "content-type".into(),
        value: b"application/json".to_vec(),
    }];
    headers.extend(signature.map(|s| Header {
        name: "X-Hub-Signature-256".into(),
        value: s.as_bytes().to_vec(),
    }));
    WebhookRequest {
        method: "POST".into(),
        path: String::new(),
        query: String::new(),
        headers,
        body: body.to_vec(),
    }
}

fn signed(delivery: &Delivery) -> WebhookRequest {
    post(Some(&delivery.signature), &delivery.body)
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
async fn verification_answers_the_challenge_only_for_the_right_token() {
    let (fake, plugin, account) = setup().await;
    let good = format!("hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token={VERIFY_TOKEN}");
    let result = webhook(&plugin, &account, get(&good)).await;
    assert_eq!(result.response.status, 200);
    assert_eq!(result.response.body, b"1158201444");
    assert!(result.posts.is_empty());

    for bad in [
        "hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=guess".to_string(),
        format!("hub.mode=subscribe&hub.challenge=1&hub.verify_token={VERIFY_TOKEN}x"),
        format!("hub.mode=unsubscribe&hub.challenge=1&hub.verify_token={VERIFY_TOKEN}"),
        "hub.mode=subscribe&hub.challenge=1".to_string(),
    ] {
        let result = webhook(&plugin, &account, get(&bad)).await;
        assert_eq!(result.response.status, 403, "{bad}");
        assert!(!String::from_utf8_lossy(&result.response.body).contains("1158201444"));
    }
    assert!(fake.requests().is_empty(), "verification needs no request");
}

#[tokio::test(flavor = "multi_thread")]
async fn signed_deliveries_become_posts_and_forgeries_none() {
    let (fake, plugin, account) = setup().await;
    let comment = fake.fb_comment(("3929839453767123", "Ann Buyer"), "Where is my order?", None);
    let answer = fake.fb_comment((PAGE_ID, "Acme"), "On its way!", comment["comment_id"].as_str());
    let reaction = json!({ "item": "reaction", "verb": "add", "reaction_type": "like", "post_id": PAGE_POST_ID,
                           "from": { "id": "1", "name": "x" } });
    let message = fake.message("6217523951594946", "Hi, can you help?");
    let delivery = fake.page_delivery(&[comment.clone(), reaction, answer], std::slice::from_ref(&message));
    let result = webhook(&plugin, &account, signed(&delivery)).await;
    assert_eq!(result.response.status, 200);
    let posts = &result.posts;
    assert_eq!(posts.len(), 3, "the reaction carries no post");
    let comment_id = comment["comment_id"].as_str().unwrap();
    assert_eq!(posts[0].external_id, format!("facebook:{comment_id}"));
    assert_eq!(
        (posts[0].kind, posts[0].direction),
        (PostKind::Comment, Direction::Inbound)
    );
    assert_eq!(posts[0].text, "Where is my order?");
    assert_eq!(posts[0].author.external_id, "3929839453767123");
    assert_eq!(posts[0].author.display_name.as_deref(), Some("Ann Buyer"));
    assert_eq!(posts[0].thread_id.as_deref(), Some(PAGE_POST_ID));
    assert_eq!(posts[0].raw, comment.to_string());
    assert_eq!(
        (posts[1].kind, posts[1].direction),
        (PostKind::Reply, Direction::Outbound)
    );
    assert_eq!(
        posts[1].in_reply_to.as_deref(),
        Some(format!("facebook:{comment_id}").as_str())
    );
    assert_eq!(posts[2].kind, PostKind::DirectMessage);
    assert_eq!(
        posts[2].external_id,
        format!("messenger:{}", message["message"]["mid"].as_str().unwrap())
    );

    let ig = fake.ig_comment(("232323232", "curious.cat"), "Love it! Ships to Portugal?");
    let result = webhook(
        &plugin,
        &account,
        signed(&fake.instagram_delivery(std::slice::from_ref(&ig))),
    )
    .await;
    assert_eq!(result.response.status, 200);
    assert_eq!(result.posts.len(), 1);
    let ig_post = &result.posts[0];
    assert_eq!(ig_post.external_id, format!("instagram:{}", ig["id"].as_str().unwrap()));
    assert_eq!(
        (ig_post.kind, ig_post.author.handle.as_str()),
        (PostKind::Comment, "curious.cat")
    );
    assert_eq!(ig_post.thread_id.as_deref(), Some(IG_MEDIA_ID));

    // A changed byte, another secret's signature, a malformed or missing header: no posts.
    let mut tampered = delivery.body.clone();
    let at = tampered.iter().position(|b| *b == b'?').expect("a ?");
    tampered[at] = b'!';
    let wrong = FakeMeta::start("not-the-app-secret")
        .await
        .expect("another fake")
        .deliver(&json!({"object":"page"}));
    let other_body = post(Some(&wrong.signature), &delivery.body);
    let cases = [
        (post(Some(&delivery.signature), &tampered), 403),
        (other_body, 403),
        (post(Some(&wrong.signature), &wrong.body), 403),
        (post(Some("sha256=not-hex"), &delivery.body), 401),
        (
            post(Some(delivery.signature.trim_start_matches("sha256=")), &delivery.body),
            401,
        ),
        (post(None, &delivery.body), 401),
    ];
    for (i, (request, status)) in cases.into_iter().enumerate() {
        let result = webhook(&plugin, &account, request).await;
        assert_eq!(result.response.status, status, "case {i}");
        assert!(result.posts.is_empty(), "case {i}");
    }

    // Signed but unreadable: refused without posts, not an account failure.
    let garbage = fake.deliver(&json!({ "object": "instagram", "entry": [{ "id": "1", "time": 1,
        "changes": [{ "field": "comments", "value": { "id": "2" } }] }] }));
    let result = webhook(&plugin, &account, signed(&garbage)).await;
    assert_eq!(result.response.status, 400);
    assert!(result.posts.is_empty());
    let empty = webhook(
        &plugin,
        &account,
        signed(&fake.deliver(&json!({ "object": "page", "entry": [] }))),
    )
    .await;
    assert_eq!((empty.response.status, empty.posts.len()), (200, 0));
    assert!(fake.requests().is_empty(), "deliveries need no request");
}

#[tokio::test(flavor = "multi_thread")]
async fn replies_go_to_the_edge_of_each_kind_of_post() {
    let (fake, plugin, account) = setup().await;
    let comment = fake.fb_comment(("3929839453767123", "Ann Buyer"), "Broken on arrival", None);
    let ig = fake.ig_comment(("232323232", "curious.cat"), "Ships to Portugal?");
    let message = fake.message("6217523951594946", "Hello?");
    let mut posts = webhook(
        &plugin,
        &account,
        signed(&fake.page_delivery(std::slice::from_ref(&comment), &[message])),
    )
    .await
    .posts;
    posts.extend(
        webhook(
            &plugin,
            &account,
            signed(&fake.instagram_delivery(std::slice::from_ref(&ig))),
        )
        .await
        .posts,
    );
    assert_eq!(posts.len(), 3);

    let sent = send(
        &plugin,
        &account,
        reply_to(&posts[0], "Sorry! A new one is on its way."),
    )
    .await
    .expect("fb");
    let sent_ig = send(&plugin, &account, reply_to(&posts[2], "Yes, we do!"))
        .await
        .expect("ig");
    let sent_dm = send(&plugin, &account, reply_to(&posts[1], "Hi! How can we help?"))
        .await
        .expect("dm");

    let created = fake.created();
    assert_eq!(created.len(), 3);
    let comment_id = comment["comment_id"].as_str().unwrap();
    assert_eq!(
        (created[0].edge.as_str(), created[0].target.as_str()),
        ("comments", comment_id)
    );
    assert_eq!(created[0].text, "Sorry! A new one is on its way.");
    assert_eq!(sent.external_id, format!("facebook:{}", created[0].id));
    assert_eq!(sent.url, Some(format!("https://www.facebook.com/{}", created[0].id)));
    assert_eq!(
        (created[1].edge.as_str(), created[1].target.as_str()),
        ("replies", ig["id"].as_str().unwrap())
    );
    assert_eq!(sent_ig.external_id, format!("instagram:{}", created[1].id));
    assert_eq!(
        (created[2].edge.as_str(), created[2].target.as_str()),
        ("messages", "6217523951594946")
    );
    assert_eq!(sent_dm.external_id, format!("messenger:{}", created[2].id));

    let requests = fake.requests();
    let paths: Vec<String> = requests.iter().map(|r| format!("{} {}", r.method, r.path)).collect();
    assert_eq!(
        paths,
        [
            format!("POST /v21.0/{comment_id}/comments"),
            format!("POST /v21.0/{}/replies", ig["id"].as_str().unwrap()),
            "POST /v21.0/me/messages".to_string(),
        ]
    );
    for request in &requests {
        assert_eq!(
            request.header("authorization"),
            Some(format!("Bearer {TOKEN}").as_str())
        );
        let all = format!("{} {} {:?}", request.query, request.body, request.headers);
        assert!(!all.contains(APP_SECRET), "the app secret never leaves the host");
    }
    assert_eq!(
        requests[0].field("message").as_deref(),
        Some("Sorry! A new one is on its way.")
    );
    assert_eq!(requests[2].field("messaging_type").as_deref(), Some("RESPONSE"));

    // A comment the Graph API does not know: Graph's code 100, permanent.
    let mut gone = posts[0].clone();
    gone.external_id = "facebook:1_2".into();
    let err = send(&plugin, &account, reply_to(&gone, "hello?"))
        .await
        .expect_err("unknown");
    assert!(
        matches!(plugin_error(&err), PluginError::Permanent(m) if m.contains("code 100/33") && m.contains("fbtrace_id")),
        "{err}"
    );
    let mut foreign = posts[0].clone();
    foreign.external_id = "388222313622361_1".into();
    let err = send(&plugin, &account, reply_to(&foreign, "hello?"))
        .await
        .expect_err("not ours");
    assert!(matches!(plugin_error(&err), PluginError::Permanent(_)), "{err}");
    assert_eq!(fake.requests().len(), 4, "an id not of this channel makes no request");
}

#[tokio::test(flavor = "multi_thread")]
async fn graph_errors_map_by_code_then_status() {
    let (fake, plugin, account) = setup().await;
    let comment = fake.fb_comment(("1", "Ann"), "hi", None);
    let posts = webhook(&plugin, &account, signed(&fake.page_delivery(&[comment], &[])))
        .await
        .posts;
    let reply = reply_to(&posts[0], "Thanks!");

    fake.fail_next(Fault::ExpiredToken);
    let err = send(&plugin, &account, reply.clone()).await.expect_err("expired");
    assert!(
        matches!(plugin_error(&err), PluginError::Unauthorized(m) if m.contains("code 190/463") && m.contains("HTTP 400")),
        "{err}"
    );
    for code in [4, 17, 32, 613] {
        fake.fail_next(Fault::RateLimited {
            code,
            regain_minutes: 3,
        });
        let err = send(&plugin, &account, reply.clone()).await.expect_err("rate limited");
        let PluginError::RateLimited(limit) = plugin_error(&err) else {
            panic!("code {code}: expected rate-limited, got {err}");
        };
        assert_eq!(limit.retry_after_ms, 180_000, "code {code}");
        assert!(limit.message.contains(&format!("(#{code})")), "{}", limit.message);
    }
    fake.fail_next(Fault::Status(500));
    let err = send(&plugin, &account, reply.clone()).await.expect_err("server error");
    assert!(
        matches!(plugin_error(&err), PluginError::Transient(m) if m.contains("HTTP 500")),
        "{err}"
    );
    fake.fail_next(Fault::Malformed);
    let err = send(&plugin, &account, reply.clone()).await.expect_err("truncated");
    assert!(
        matches!(plugin_error(&err), PluginError::Permanent(m) if m.contains("malformed response body")),
        "{err}"
    );
    assert!(fake.created().is_empty(), "nothing was created by a failed call");

    let sent = send(&plugin, &account, reply).await.expect("then it works");
    assert_eq!(fake.created().len(), 1);
    assert!(sent.external_id.starts_with("facebook:"));

    let mut revoked = account.clone();
    revoked.secrets.insert("page-access-token".into(), "wrong".into());
    let err = check(&plugin, &revoked).await.expect_err("a wrong token");
    assert!(
        matches!(plugin_error(&err), PluginError::Unauthorized(m) if m.contains("code 190")),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn check_verifies_the_token_and_rejects_bad_configs() {
    let (fake, plugin, account) = setup().await;
    check(&plugin, &account).await.expect("a good token");
    let first = &fake.requests()[0];
    assert_eq!((first.method.as_str(), first.path.as_str()), ("GET", "/v21.0/me"));

    let mut empty = account.clone();
    empty.config.insert("verify-token".into(), String::new());
    let err = check(&plugin, &empty).await.expect_err("no verify token");
    assert!(
        matches!(plugin_error(&err), PluginError::InvalidConfig(m) if m.contains("`verify-token` is required")),
        "{err}"
    );
    let mut short = account.clone();
    short.config.insert("verify-token".into(), "1234".into());
    let err = check(&plugin, &short).await.expect_err("a guessable token");
    assert!(
        matches!(plugin_error(&err), PluginError::InvalidConfig(m) if m.contains("at least 16")),
        "{err}"
    );
    assert_eq!(fake.requests().len(), 1, "a bad config makes no request");

    let (p, a) = (plugin.clone(), account.clone());
    let err = blocking(move || p.poll(&a, "").map(|_| ()))
        .await
        .expect_err("webhook only");
    assert!(
        matches!(plugin_error(&err), PluginError::Permanent(m) if m.contains("webhook")),
        "{err}"
    );
}
