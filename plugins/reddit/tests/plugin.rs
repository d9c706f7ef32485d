//! The plugin as the host runs it: built for wasm32-wasip2, loaded in the real
//! runtime, answering canned Reddit responses made of recorded comments
//! (`tests/data/reddit_comments.jsonl`). The end-to-end tests against the
//! fake Reddit are in `tests/tests/reddit.rs`.

use serde_json::{Value, json};
use socialcrm_sdk::testkit::{
    self, Account, CallError, Canned, ChannelPlugin, Harness, Outbound, PluginError, PostKind, ReplyTarget,
};

const API: &str = "https://oauth.reddit.com";

fn plugin(harness: &Harness) -> ChannelPlugin {
    harness
        .channel(env!("CARGO_MANIFEST_DIR"))
        .expect("the plugin builds for wasm32-wasip2 and the host loads it")
}

fn account() -> Account {
    testkit::account(
        &[("api-url", API), ("username", "acme_support")],
        &[("access-token", "t0ken")],
    )
}

fn plugin_error(err: &CallError) -> &PluginError {
    err.plugin_error()
        .unwrap_or_else(|| panic!("expected the plugin's own error, got: {err}"))
}

/// Recorded comments as inbox children, newest first, with the fields the
/// inbox adds (`author_fullname`, `type`).
fn inbox(count: usize) -> Value {
    let data = include_str!("../../../tests/data/reddit_comments.jsonl");
    let mut children: Vec<Value> = data
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|c| c["author"] != "[deleted]")
        .take(count)
        .map(|mut c| {
            c["author_fullname"] = json!(format!("t2_{}", c["author"].as_str().unwrap_or_default().len()));
            c["type"] = json!("username_mention");
            json!({ "kind": "t1", "data": c })
        })
        .collect();
    children.sort_by(|a, b| {
        b["data"]["created_utc"]
            .as_f64()
            .partial_cmp(&a["data"]["created_utc"].as_f64())
            .unwrap()
    });
    json!({ "kind": "Listing", "data": { "after": null, "before": null, "children": children } })
}

#[test]
fn polls_the_inbox_with_the_credential_and_user_agent() {
    let harness = Harness::new();
    harness.respond(
        "GET",
        "/message/inbox",
        Canned::json(200, &inbox(5))
            .header("X-Ratelimit-Remaining", "598.0")
            .header("X-Ratelimit-Reset", "300"),
    );
    let page = plugin(&harness).poll(&account(), "").expect("a page").value;
    assert_eq!(page.posts.len(), 5);
    assert!(page.posts.iter().all(|p| p.kind == PostKind::Mention));
    let times: Vec<&str> = page.posts.iter().map(|p| p.created_at.as_str()).collect();
    let mut sorted = times.clone();
    sorted.sort();
    assert_eq!(times, sorted, "oldest first");
    let state: Value = serde_json::from_str(&page.state).expect("JSON state");
    assert_eq!(state["inbox"]["newest"], page.posts[4].external_id.as_str());

    let seen = harness.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(
        seen[0].url,
        format!("{API}/message/inbox?mark=false&limit=100&raw_json=1")
    );
    assert_eq!(seen[0].header("authorization"), Some("Bearer t0ken"));
    assert!(
        seen[0]
            .header("user-agent")
            .is_some_and(|ua| ua.ends_with("(by /u/acme_support)"))
    );
}

#[test]
fn a_429_without_reddit_headers_falls_back_to_retry_after() {
    let harness = Harness::new();
    harness.respond(
        "GET",
        "/message/inbox",
        Canned::json(429, &json!({"message": "Too Many Requests", "error": 429})).header("Retry-After", "7"),
    );
    let err = plugin(&harness).poll(&account(), "").expect_err("limited");
    assert!(
        matches!(plugin_error(&err), PluginError::RateLimited(r) if r.retry_after_ms == 7_000),
        "{err}"
    );
}

#[test]
fn send_refuses_what_reddit_cannot_take_without_a_request() {
    let harness = Harness::new();
    let plugin = plugin(&harness);
    let reply = |id: &str, text: &str| Outbound {
        text: text.into(),
        in_reply_to: Some(ReplyTarget {
            external_id: id.into(),
            author_handle: "ann".into(),
            thread_id: None,
        }),
        recipient: None,
    };
    for (message, expected) in [
        (reply("t1_abc", "  "), "empty"),
        (reply("t1_abc", &"x".repeat(10_001)), "at most 10000"),
        (reply("abc", "hi"), "fullname"),
        (
            Outbound {
                text: "hi".into(),
                in_reply_to: None,
                recipient: None,
            },
            "replies only",
        ),
        (
            Outbound {
                text: "hi".into(),
                in_reply_to: None,
                recipient: Some("t2_x".into()),
            },
            "direct messages",
        ),
    ] {
        let err = plugin.send(&account(), &message).expect_err("refused");
        assert!(
            matches!(plugin_error(&err), PluginError::Permanent(m) if m.contains(expected)),
            "{expected}: {err}"
        );
    }
    assert!(harness.requests().is_empty());
}

#[test]
fn webhooks_are_refused_and_describe_matches_the_manifest() {
    let harness = Harness::new();
    let plugin = plugin(&harness);
    let request = testkit::WebhookRequest {
        method: "POST".into(),
        path: String::new(),
        query: String::new(),
        headers: Vec::new(),
        body: Vec::new(),
    };
    let err = plugin.handle_webhook(&account(), &request).expect_err("no webhooks");
    assert!(matches!(plugin_error(&err), PluginError::Permanent(m) if m.contains("by polling")));
    let described = plugin.describe().expect("describe").value;
    assert_eq!(described.network, "reddit");
}
