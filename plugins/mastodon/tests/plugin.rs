//! The plugin as the host runs it: built for wasm32-wasip2, loaded in the real
//! runtime, answering canned responses made of real Mastodon entities
//! (`tests/data/mastodon_*.jsonl`, recorded from live servers).

use serde_json::{Value, json};
use socialcrm_sdk::testkit::{
    self, Account, CallError, Canned, Change, ChannelPlugin, Direction, Harness, Outbound, PluginError, Post, PostKind,
    ReplyTarget, StoredPost,
};

const INSTANCE: &str = "https://mastodon.example";
const TOKEN: &str = "t0ken";

/// The plugin in a host whose network is `harness`.
fn plugin(harness: &Harness) -> ChannelPlugin {
    harness
        .channel(env!("CARGO_MANIFEST_DIR"))
        .expect("the plugin builds for wasm32-wasip2 and the host loads it")
}

fn account() -> Account {
    testkit::account(&[("instance", INSTANCE)], &[("access-token", TOKEN)])
}

fn jsonl(name: &str) -> Vec<Value> {
    let path = format!("{}/../../tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

/// A mention notification `id` carrying a recorded status, as Mastodon builds it.
fn mention(id: u64, status: &Value) -> Value {
    json!({
        "id": id.to_string(),
        "type": "mention",
        "created_at": status["created_at"],
        "group_key": format!("ungrouped-{id}"),
        "account": status["account"],
        "status": status,
    })
}

fn plugin_error(err: &CallError) -> &PluginError {
    err.plugin_error()
        .unwrap_or_else(|| panic!("expected the plugin's own error, got: {err}"))
}

#[test]
fn check_verifies_the_token() {
    let harness = Harness::new();
    let brand = jsonl("mastodon_statuses.jsonl")
        .into_iter()
        .map(|s| s["account"].clone())
        .find(|a| a["acct"] == "mastodonpy_test")
        .expect("the brand account is recorded");
    let path = "/api/v1/accounts/verify_credentials";
    harness.respond("GET", path, Canned::json(200, &brand));
    harness.respond(
        "GET",
        path,
        Canned::json(401, &json!({"error": "The access token is invalid"})),
    );
    let plugin = plugin(&harness);

    let out = plugin.check(&account()).expect("a good token checks out");
    let said: Vec<&str> = out.logs.iter().map(|l| l.message.as_str()).collect();
    assert_eq!(said, [format!("signed in to {INSTANCE} as @mastodonpy_test")]);
    let seen = harness.requests();
    assert_eq!(seen[0].url, format!("{INSTANCE}{path}"));
    assert_eq!(seen[0].header("authorization"), Some("Bearer t0ken"));

    let err = plugin.check(&account()).expect_err("a revoked token");
    assert!(
        matches!(plugin_error(&err), PluginError::Unauthorized(m) if m.contains("The access token is invalid")),
        "{err}"
    );

    let bare = testkit::account(&[("instance", "mastodon.example")], &[("access-token", TOKEN)]);
    let err = plugin.check(&bare).expect_err("an instance without a scheme");
    assert!(
        matches!(plugin_error(&err), PluginError::InvalidConfig(m) if m.contains("https://mastodon.social")),
        "{err}"
    );
    assert_eq!(harness.requests().len(), 2, "a bad config makes no request");
}

fn assert_plain(post: &Post) {
    let bio = post.author.bio.clone().unwrap_or_default();
    let fields = post.author.fields.iter().map(|f| f.value.as_str());
    for text in [post.text.as_str(), bio.as_str()].into_iter().chain(fields) {
        for markup in ["<p", "<br", "<a ", "<span", "</", "&amp;", "&lt;", "&quot;", "&#39;"] {
            assert!(!text.contains(markup), "`{markup}` left in {text:?}");
        }
    }
}

#[test]
fn polls_the_newest_page_then_walks_forward() {
    let notifications = jsonl("mastodon_notifications.jsonl");
    let statuses: Vec<Value> = jsonl("mastodon_statuses.jsonl")
        .into_iter()
        .filter(|s| s["reblog"].is_null())
        .collect();
    // The next page: a full page of 80 newer mentions carrying recorded statuses, newest first.
    let newer: Vec<Value> = (0..80u64)
        .rev()
        .map(|i| mention(632_508_370 + i, &statuses[i as usize]))
        .collect();
    let link = format!(
        "<{INSTANCE}/api/v1/notifications?limit=80&max_id=632508370&types%5B%5D=mention>; rel=\"next\", \
         <{INSTANCE}/api/v1/notifications?limit=80&min_id=632508449&types%5B%5D=mention>; rel=\"prev\""
    );
    let harness = Harness::new();
    let path = "/api/v1/notifications";
    harness.respond("GET", path, Canned::json(200, &Value::Array(notifications.clone())));
    harness.respond(
        "GET",
        path,
        Canned::json(200, &Value::Array(newer.clone())).header("Link", &link),
    );
    harness.respond("GET", path, Canned::json(200, &json!([])));
    let plugin = plugin(&harness);
    let account = account();

    // First poll: the recorded page as served, no Link header.
    let first = plugin.poll(&account, "").expect("first poll").value;
    let with_status: Vec<&Value> = notifications
        .iter()
        .filter(|n| n["type"] == "mention" && !n["status"].is_null())
        .collect();
    assert_eq!(
        first.posts.len(),
        6,
        "39 mentions of deleted statuses and one `status` are skipped"
    );
    assert_eq!(first.posts.len(), with_status.len());
    // Ids span 1 to 9 digits: "9" would be the newest as text.
    assert_eq!(first.state, r#"{"newest":"632508369"}"#);
    assert!(!first.has_more, "a first poll takes the newest page only");
    for post in &first.posts {
        let n = with_status
            .iter()
            .find(|n| n["status"]["id"] == post.external_id.as_str())
            .expect("a post per status, by status id");
        let (status, account) = (&n["status"], &n["status"]["account"]);
        assert_eq!(post.kind, PostKind::Mention);
        assert_eq!(post.direction, Direction::Inbound);
        assert_eq!(post.raw, n.to_string(), "the notification as received");
        assert_eq!(post.created_at, status["created_at"].as_str().unwrap());
        assert_eq!(post.url.as_deref(), status["url"].as_str());
        assert_eq!(post.language.as_deref(), status["language"].as_str());
        assert_eq!(post.author.external_id, account["id"].as_str().unwrap());
        assert_eq!(post.author.handle, account["acct"].as_str().unwrap());
        assert_eq!(post.author.profile_url.as_deref(), account["url"].as_str());
        assert_eq!(post.author.avatar_url.as_deref(), account["avatar"].as_str());
        assert_eq!(post.author.followers, account["followers_count"].as_u64());
        assert_eq!(post.author.fields.len(), account["fields"].as_array().unwrap().len());
        assert_plain(post);
    }
    let hello = first
        .posts
        .iter()
        .find(|p| p.external_id == "117440822751580347")
        .expect("a recorded mention");
    assert_eq!(hello.text, "@mastodonpy_test hello!");
    assert_eq!(hello.author.display_name, None, "an empty display name is none");

    // Second poll: min_id = the state; the state moves to the Link's prev.
    let second = plugin.poll(&account, &first.state).expect("second poll").value;
    assert_eq!(second.posts.len(), 80);
    assert_eq!(second.state, r#"{"newest":"632508449"}"#);
    assert!(second.has_more, "a full page: more may be waiting");
    let ids: Vec<&str> = second.posts.iter().map(|p| p.external_id.as_str()).collect();
    let expected: Vec<&str> = statuses[..80].iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert_eq!(ids, expected, "oldest first");
    let replies = second.posts.iter().filter(|p| p.kind == PostKind::Reply).count();
    let recorded_replies = statuses[..80].iter().filter(|s| !s["in_reply_to_id"].is_null()).count();
    assert_eq!(replies, recorded_replies);
    assert!(replies > 0);
    for (post, status) in second.posts.iter().zip(&statuses) {
        assert_eq!(post.in_reply_to.as_deref(), status["in_reply_to_id"].as_str());
        assert_plain(post);
    }
    let quoted = second
        .posts
        .iter()
        .find(|p| p.external_id == "116538021398551489")
        .expect("recorded");
    assert!(
        quoted
            .text
            .starts_with("you, ignorant: \"technical metrics such as line count really aren't fit for the purpose"),
        "{}",
        quoted.text
    );
    let frog = second
        .posts
        .iter()
        .find(|p| p.external_id == "117440631354170673")
        .unwrap();
    assert!(
        frog.text
            .starts_with("Day 14: Frog SDF\n\n(signed distance frog?)\n\nhttps://www.shadertoy.com/view/7X3SRB"),
        "{}",
        frog.text
    );
    let warned = second
        .posts
        .iter()
        .find(|p| p.external_id == "110446223051565765")
        .unwrap();
    assert!(
        warned.text.starts_with("test post for mastodon.py stuff\n\n@halcy"),
        "{}",
        warned.text
    );
    let halcy = &warned.author;
    assert_eq!(halcy.handle, "halcy@icosahedron.website");
    assert!(
        halcy.fields.iter().all(|f| !f.value.contains('<')),
        "{:?}",
        halcy.fields
    );

    // Third poll: nothing newer; the state stays.
    let third = plugin.poll(&account, &second.state).expect("third poll").value;
    assert!(third.posts.is_empty() && !third.has_more);
    assert_eq!(third.state, second.state);

    let seen = harness.requests();
    assert_eq!(seen.len(), 3);
    for request in &seen {
        assert_eq!(request.method, "GET");
        assert_eq!(
            request.header("authorization"),
            Some("Bearer t0ken"),
            "attached by the host"
        );
        assert!(
            request.url.starts_with(&format!("{INSTANCE}{path}?")),
            "{}",
            request.url
        );
        assert!(request.url.contains("types%5B%5D=mention") && request.url.contains("limit=80"));
    }
    assert!(!seen[0].url.contains("min_id"), "{}", seen[0].url);
    assert!(seen[1].url.ends_with("&min_id=632508369"), "{}", seen[1].url);
    assert!(seen[2].url.ends_with("&min_id=632508449"), "{}", seen[2].url);
}

#[test]
fn errors_map_to_what_the_host_does_next() {
    let harness = Harness::new();
    // Loaded first: compiling takes a while, and the reset below counts from now.
    let plugin = plugin(&harness);
    let path = "/api/v1/notifications";
    // The shape of `X-RateLimit-Reset`: an ISO 8601 time two minutes ahead.
    let reset = socialcrm_sdk::time::format_millis(socialcrm_sdk::time::now_millis() + 120_000);
    let too_many = || Canned::json(429, &json!({"error": "Too many requests"})).header("X-RateLimit-Remaining", "0");
    harness.respond("GET", path, too_many().header("X-RateLimit-Reset", &reset));
    harness.respond(
        "GET",
        path,
        too_many().header("X-RateLimit-Reset", "2020-01-01T00:00:00.000000Z"),
    );
    harness.respond("GET", path, too_many().header("Retry-After", "30"));
    harness.respond("GET", path, too_many());
    harness.respond(
        "GET",
        path,
        Canned::json(500, &json!({"error": "Internal Server Error"})),
    );
    harness.respond("GET", path, Canned::json(404, &json!({"error": "Record not found"})));
    harness.respond(
        "GET",
        path,
        Canned::new(200, r#"[{"id":"1","type":"mention","created_at":"2026-"#),
    );
    let state = r#"{"newest":"632508369"}"#;
    let poll = || plugin.poll(&account(), state).expect_err("fails");

    let rate_limited = |err: CallError| match plugin_error(&err) {
        PluginError::RateLimited(r) => (r.retry_after_ms, r.message.clone()),
        other => panic!("expected rate-limited, got {other:?}"),
    };
    let (wait, message) = rate_limited(poll());
    assert!(
        (110_000..=120_000).contains(&wait),
        "until X-RateLimit-Reset: {wait} ms"
    );
    assert!(
        message.contains("listing mentions") && message.contains("429"),
        "{message}"
    );
    assert_eq!(
        rate_limited(poll()).0,
        1_000,
        "a reset already past still waits a second"
    );
    assert_eq!(rate_limited(poll()).0, 30_000, "Retry-After without X-RateLimit-Reset");
    assert_eq!(rate_limited(poll()).0, 60_000, "neither header");

    let err = poll();
    assert!(
        matches!(plugin_error(&err), PluginError::Transient(m) if m.contains("HTTP 500")),
        "{err}"
    );
    let err = poll();
    assert!(
        matches!(plugin_error(&err), PluginError::Permanent(m) if m.contains("HTTP 404")),
        "{err}"
    );
    let err = poll();
    assert!(
        matches!(plugin_error(&err), PluginError::Permanent(m) if m.contains("malformed response body")),
        "{err}"
    );

    let err = plugin.poll(&account(), "not our state").expect_err("a foreign state");
    assert!(matches!(plugin_error(&err), PluginError::Permanent(m) if m.contains("unreadable poll state")));
}

#[test]
fn webhooks_are_refused() {
    let harness = Harness::new();
    let request = testkit::WebhookRequest {
        method: "POST".into(),
        path: String::new(),
        query: String::new(),
        headers: Vec::new(),
        body: Vec::new(),
    };
    let err = plugin(&harness)
        .handle_webhook(&account(), &request)
        .expect_err("no webhooks");
    assert!(matches!(plugin_error(&err), PluginError::Permanent(m) if m.contains("by polling")));
}

fn reply_to(id: &str, handle: &str) -> Outbound {
    Outbound {
        text: "Thanks, we're on it!".into(),
        in_reply_to: Some(ReplyTarget {
            external_id: id.into(),
            author_handle: handle.into(),
            thread_id: None,
        }),
        recipient: None,
    }
}

fn created(id: &str) -> Canned {
    Canned::json(
        200,
        &json!({"id": id, "url": format!("{INSTANCE}/@brand/{id}"), "uri": "x", "visibility": "public"}),
    )
}

fn header<'a>(seen: &'a socialcrm_sdk::testkit::Seen, name: &str) -> &'a str {
    seen.header(name).unwrap_or_else(|| panic!("no {name} header"))
}

#[test]
fn send_replies_with_a_mention_and_an_idempotency_key() {
    let harness = Harness::new();
    let parent = "/api/v1/statuses/117445733425619585";
    harness.respond(
        "GET",
        parent,
        Canned::json(200, &json!({"id": "117445733425619585", "visibility": "public"})),
    );
    harness.respond("POST", "/api/v1/statuses", created("555"));
    let plugin = plugin(&harness);

    let message = reply_to("117445733425619585", "sakurina@x.example");
    let sent = plugin.send(&account(), &message).expect("sent").value;
    assert_eq!(sent.external_id, "555");
    assert_eq!(sent.url.as_deref(), Some("https://mastodon.example/@brand/555"));
    let retried = plugin.send(&account(), &message).expect("sent again").value;
    assert_eq!(retried.external_id, "555");

    let seen = harness.requests();
    assert_eq!(seen.len(), 4, "the parent's visibility, then the post, twice");
    assert_eq!(seen[0].method, "GET");
    assert_eq!(seen[0].url, format!("{INSTANCE}{parent}"));
    let post = &seen[1];
    assert_eq!(
        (post.method.as_str(), post.url.as_str()),
        ("POST", "https://mastodon.example/api/v1/statuses")
    );
    assert_eq!(header(post, "authorization"), "Bearer t0ken");
    assert_eq!(header(post, "content-type"), "application/x-www-form-urlencoded");
    assert_eq!(
        String::from_utf8_lossy(&post.body),
        "status=%40sakurina%40x.example%20Thanks%2C%20we%27re%20on%20it%21&in_reply_to_id=117445733425619585"
    );
    let key = header(post, "idempotency-key");
    assert!(key.starts_with("socialcrm-"), "{key}");
    assert_eq!(header(&seen[3], "idempotency-key"), key, "a retry carries the same key");

    // Another text is another status.
    let mut other = reply_to("117445733425619585", "sakurina@x.example");
    other.text = "Sorted now.".into();
    plugin.send(&account(), &other).expect("sent");
    assert_ne!(header(&harness.requests()[5], "idempotency-key"), key);
}

#[test]
fn a_reply_to_a_private_mention_stays_private() {
    let harness = Harness::new();
    let parent = "/api/v1/statuses/117414437953969084";
    harness.respond(
        "GET",
        parent,
        Canned::json(200, &json!({"id": "117414437953969084", "visibility": "direct"})),
    );
    harness.respond("POST", "/api/v1/statuses", created("556"));
    let plugin = plugin(&harness);
    let mut message = reply_to("117414437953969084", "halcy@hachyderm.io");
    message.text = "@halcy@hachyderm.io Got it.".into();
    plugin.send(&account(), &message).expect("sent");
    assert_eq!(
        String::from_utf8_lossy(&harness.requests()[1].body),
        "status=%40halcy%40hachyderm.io%20Got%20it.&in_reply_to_id=117414437953969084&visibility=direct",
        "already mentioned: no second @mention"
    );
}

#[test]
fn a_direct_message_mentions_the_recipient_by_handle() {
    let harness = Harness::new();
    harness.respond(
        "GET",
        "/api/v1/accounts/42",
        Canned::json(200, &json!({"id": "42", "acct": "ann@other.example"})),
    );
    harness.respond("POST", "/api/v1/statuses", created("557"));
    let plugin = plugin(&harness);
    let message = Outbound {
        text: "Your refund is on its way.".into(),
        in_reply_to: None,
        recipient: Some("42".into()),
    };
    assert_eq!(
        plugin.send(&account(), &message).expect("sent").value.external_id,
        "557"
    );
    let seen = harness.requests();
    assert_eq!(seen[0].url, format!("{INSTANCE}/api/v1/accounts/42"));
    assert_eq!(
        String::from_utf8_lossy(&seen[1].body),
        "status=%40ann%40other.example%20Your%20refund%20is%20on%20its%20way.&visibility=direct"
    );
}

#[test]
fn send_failures_are_named() {
    let harness = Harness::new();
    harness.respond(
        "GET",
        "/api/v1/statuses/1",
        Canned::json(404, &json!({"error": "Record not found"})),
    );
    let plugin = plugin(&harness);
    let err = plugin
        .send(&account(), &reply_to("1", "ann"))
        .expect_err("a deleted parent");
    assert!(
        matches!(plugin_error(&err), PluginError::Permanent(m) if m.contains("reading the post being answered") && m.contains("404")),
        "{err}"
    );
    let mut blank = reply_to("1", "ann");
    blank.text = "  ".into();
    let err = plugin.send(&account(), &blank).expect_err("nothing to say");
    assert!(matches!(plugin_error(&err), PluginError::Permanent(m) if m.contains("empty")));
    assert_eq!(harness.requests().len(), 1);
}

#[test]
fn describe_through_the_host_matches_the_manifest() {
    let harness = Harness::new();
    let described = plugin(&harness).describe().expect("describe needs no account").value;
    assert_eq!(described.network, "mastodon");
    assert!(harness.requests().is_empty(), "describe makes no request");
}

fn stored(id: usize, text: &str) -> StoredPost {
    StoredPost {
        external_id: id.to_string(),
        author_id: "42".into(),
        created_at: "2026-11-23T10:00:00Z".into(),
        text: text.into(),
    }
}

/// A status `id` as `GET /api/v1/statuses/:id` answers, edited when `edited_at` is set.
fn status(id: usize, content: &str, edited_at: Option<&str>) -> Value {
    json!({
        "id": id.to_string(), "created_at": "2026-11-23T10:00:00.000Z", "content": content,
        "edited_at": edited_at, "account": {"id": "42", "acct": "ann"},
    })
}

#[test]
fn recheck_reports_deleted_and_edited_statuses_only() {
    let harness = Harness::new();
    harness.respond(
        "GET",
        "/api/v1/statuses/1",
        Canned::json(404, &json!({"error": "Record not found"})),
    );
    let edited = status(2, "<p>now broken</p>", Some("2026-11-24T08:00:00.000Z"));
    harness.respond("GET", "/api/v1/statuses/2", Canned::json(200, &edited));
    // Edited before the host stored it: the text is the same, nothing to report.
    let same = status(3, "<p>as stored</p>", Some("2026-11-23T10:05:00.000Z"));
    harness.respond("GET", "/api/v1/statuses/3", Canned::json(200, &same));
    harness.respond(
        "GET",
        "/api/v1/statuses/4",
        Canned::json(200, &status(4, "<p>never edited</p>", None)),
    );
    let posts = [
        stored(1, "gone"),
        stored(2, "works"),
        stored(3, "as stored"),
        stored(4, "old text"),
    ];

    let out = plugin(&harness)
        .recheck(&account(), &posts)
        .expect("the plugin exports upkeep")
        .expect("the recheck succeeds");
    assert_eq!(out.value, 4);
    assert_eq!(
        out.changes,
        [
            Change::PostDeleted {
                external_id: "1".into()
            },
            Change::PostEdited {
                external_id: "2".into(),
                text: "now broken".into(),
                edited_at: "2026-11-24T08:00:00.000Z".into(),
                raw: Some(edited.to_string()),
            },
        ]
    );
}

#[test]
fn recheck_stays_within_its_request_budget_and_the_rate_limit() {
    let harness = Harness::new();
    for id in 1..=20 {
        let remaining = if id == 3 { "59" } else { "250" };
        let body = Canned::json(200, &status(id, "<p>same</p>", None)).header("x-ratelimit-remaining", remaining);
        harness.respond("GET", &format!("/api/v1/statuses/{id}"), body);
    }
    let posts: Vec<StoredPost> = (1..=20).map(|id| stored(id, "same")).collect();
    let plugin = plugin(&harness);

    // Under the rate-limit reserve after the third status: the rest waits.
    let out = plugin.recheck(&account(), &posts).unwrap().unwrap();
    assert_eq!((out.value, out.requests.len()), (3, 3));
    // From the fourth on, 15 statuses a call at most.
    let out = plugin.recheck(&account(), &posts[3..]).unwrap().unwrap();
    assert_eq!((out.value, out.requests.len()), (15, 15));
    assert!(out.changes.is_empty());
}
