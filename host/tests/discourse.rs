//! The Discourse plugin (plugins/discourse, written in Python) against a
//! fake Discourse on loopback, and through the conformance suite with its
//! recordings. `cargo xtask test` builds it with componentize-py and runs
//! these; elsewhere they skip, visibly, when it is not built.

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Instant;

use socialcrm::conformance::{self, Fixtures, channel};
use socialcrm::plugins::Manifest;
use socialcrm::runtime::types::{Header, Outbound, PluginError, PostKind, ReplyTarget, WebhookRequest};
use socialcrm::runtime::{Account, ChannelPlugin, Runtime, RuntimeOptions};
use socialcrm_fakes::FakeDiscourse;
use socialcrm_fakes::discourse::{API_KEY, API_USERNAME, Fault, signature};

const WEBHOOK_SECRET: &str = "hook-secret-0123456789";

/// target/plugins/discourse, as `cargo xtask test` builds it; `None` (and a
/// skip) only outside the xtask and CI, where it must be there.
fn built() -> Option<PathBuf> {
    let plugins = std::env::var_os("SOCIALCRM_PYTHON_PLUGINS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../target/plugins")));
    let dir = plugins.join("discourse");
    if dir.join("plugin.wasm").is_file() {
        return Some(dir);
    }
    assert!(
        std::env::var_os("SOCIALCRM_PYTHON_PLUGINS").is_none() && std::env::var_os("CI").is_none(),
        "the Discourse plugin is not built in {}: `cargo xtask test` builds it",
        dir.display()
    );
    common::skipped("the Discourse plugin (Python; `cargo xtask test` builds it with componentize-py)");
    None
}

/// The plugin, loaded once per test process (compiling 20 MB of wasm takes seconds).
fn plugin() -> Option<&'static ChannelPlugin> {
    static PLUGIN: OnceLock<Option<ChannelPlugin>> = OnceLock::new();
    PLUGIN
        .get_or_init(|| {
            let dir = built()?;
            let manifest = Manifest::parse(&std::fs::read_to_string(dir.join("plugin.toml")).unwrap()).unwrap();
            let wasm = std::fs::read(dir.join("plugin.wasm")).unwrap();
            let runtime = Runtime::new(RuntimeOptions::default()).unwrap();
            let start = Instant::now();
            let plugin = runtime.load_channel(manifest.sandbox(), &wasm).unwrap();
            eprintln!(
                "discourse: {:.1} MB compiled in {:.2} s",
                wasm.len() as f64 / 1e6,
                start.elapsed().as_secs_f64()
            );
            Some(plugin)
        })
        .as_ref()
}

fn account(network: &FakeDiscourse, config: &[(&str, &str)]) -> Account {
    let mut values: BTreeMap<String, String> = config.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    values.insert("site".into(), network.base_url());
    Account {
        name: "forum".into(),
        config: values,
        secrets: [
            ("api-key", API_KEY),
            ("api-username", API_USERNAME),
            ("webhook-secret", WEBHOOK_SECRET),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect(),
        allow_private: true,
        ..Account::default()
    }
}

/// A forum with two topics: one in `support` (2), one in `feedback` (3).
async fn forum() -> FakeDiscourse {
    let network = FakeDiscourse::start().await.unwrap();
    let (support, _) = network.new_topic(
        2,
        "Order still processing",
        "maria_k",
        "My order is stuck since Monday.",
    );
    network.reply(support, "jdoe", "Same here, @acme_support any news?", Some(1));
    network.new_topic(
        3,
        "Dark mode please",
        "lin_wei",
        "The app needs a <b>dark</b> mode.\n\nAt night it hurts.",
    );
    network
}

fn ids(posts: &[socialcrm::runtime::types::Post]) -> Vec<String> {
    posts.iter().map(|p| p.external_id.clone()).collect()
}

fn error(result: Result<impl std::fmt::Debug, socialcrm::runtime::CallError>) -> PluginError {
    let err = result.expect_err("the call should fail");
    err.plugin_error()
        .cloned()
        .unwrap_or_else(|| panic!("not a plugin error: {err}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn first_poll_then_resume_without_duplicates() {
    let Some(plugin) = plugin() else { return };
    let network = forum().await;
    let account = account(&network, &[]);
    plugin.check(&account).unwrap();

    let first = plugin.poll(&account, "").unwrap().value;
    assert_eq!(ids(&first.posts), ["101", "102", "103"]);
    assert!(!first.has_more);
    let post = &first.posts[0];
    assert_eq!(post.kind, PostKind::Post);
    assert_eq!(post.text, "My order is stuck since Monday.");
    assert_eq!(post.author.handle, "maria_k");
    assert_eq!(post.author.display_name.as_deref(), Some("Maria k"));
    let base = network.base_url();
    assert_eq!(
        post.url.as_deref(),
        Some(format!("{base}/t/order-still-processing/11/1").as_str())
    );
    let avatar = post.author.avatar_url.as_deref().unwrap_or_default();
    assert!(
        avatar.starts_with(&format!("{base}/user_avatar/forum.example/maria_k/120/")),
        "{avatar}"
    );
    assert_eq!(
        post.author.profile_url.as_deref(),
        Some(format!("{base}/u/maria_k").as_str())
    );
    assert_eq!(post.thread_id.as_deref(), Some("11"));
    assert_eq!(post.created_at, "2026-11-23T10:01:00.000Z");
    let reply = &first.posts[1];
    assert_eq!(
        (reply.kind, reply.text.as_str()),
        (PostKind::Reply, "Same here, @acme_support any news?")
    );
    assert_eq!(
        first.posts[2].text,
        "The app needs a <b>dark</b> mode.\n\nAt night it hurts."
    );

    // Seven new posts, served 3 to a page: the newest page, then a sweep back.
    network.set_page_size(3);
    for i in 0..7 {
        network.reply(11, "jdoe", &format!("Still waiting, day {i}"), None);
    }
    let mut state = first.state.clone();
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        // Each page as the host commits it: a restart resumes from its state.
        let page = plugin.poll(&account, &state).unwrap().value;
        seen.extend(ids(&page.posts));
        state = page.state;
        pages += 1;
        if !page.has_more {
            break;
        }
    }
    seen.sort();
    assert_eq!(
        seen,
        ["104", "105", "106", "107", "108", "109", "110"],
        "none lost, none twice"
    );
    assert_eq!(pages, 3);
    let again = plugin.poll(&account, &state).unwrap().value;
    assert!(again.posts.is_empty() && !again.has_more, "{again:?}");
    assert_eq!(again.state, state);
}

#[tokio::test(flavor = "multi_thread")]
async fn keywords_and_categories_choose_the_posts() {
    let Some(plugin) = plugin() else { return };
    let network = forum().await;
    let only_support = account(&network, &[("categories", "2")]);
    let page = plugin.poll(&only_support, "").unwrap().value;
    assert_eq!(ids(&page.posts), ["101", "102"], "the support category only");

    let dark = account(&network, &[("keywords", "DARK MODE, refund")]);
    let page = plugin.poll(&dark, "").unwrap().value;
    assert_eq!(ids(&page.posts), ["103"], "a keyword, whatever its case");

    let either = account(&network, &[("categories", "3"), ("keywords", "stuck")]);
    assert_eq!(ids(&plugin.poll(&either, "").unwrap().value.posts), ["101", "103"]);

    let bad = account(&network, &[("categories", "support")]);
    assert!(matches!(error(plugin.poll(&bad, "")), PluginError::InvalidConfig(m) if m.contains("category ids")));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reply_carries_both_headers_the_host_attached() {
    let Some(plugin) = plugin() else { return };
    let network = forum().await;
    let account = account(&network, &[]);
    let message = Outbound {
        text: "Sorry for the wait, your order ships on Friday.".into(),
        in_reply_to: Some(ReplyTarget {
            external_id: "102".into(),
            author_handle: "jdoe".into(),
            thread_id: Some("11".into()),
        }),
        recipient: None,
    };
    let out = plugin.send(&account, &message).unwrap();
    let created = network.created();
    assert_eq!(created.len(), 1);
    assert_eq!(created[0]["topic_id"], 11);
    assert_eq!(created[0]["reply_to_post_number"], 2);
    assert_eq!(created[0]["raw"], message.text);
    assert_eq!(out.value.external_id, created[0]["id"].to_string());
    assert_eq!(
        out.value.url.as_deref(),
        Some(format!("{}/t/order-still-processing/11/3", network.base_url()).as_str())
    );
    let requests = network.requests();
    let post = requests.iter().find(|r| r.method == "POST").unwrap();
    // Each header once, with the account's secret: the fake refuses two.
    for (name, value) in [("api-key", API_KEY), ("api-username", API_USERNAME)] {
        let values: Vec<&str> = post
            .headers
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect();
        assert_eq!(values, [value], "{name}");
    }
    // The plugin saw neither: not in what it logged or returned.
    let shown = format!("{:?} {:?}", out.value, out.logs);
    assert!(!shown.contains(API_KEY) && !shown.contains(API_USERNAME), "{shown}");

    let short = Outbound {
        text: "ok".into(),
        ..message
    };
    match error(plugin.send(&account, &short)) {
        PluginError::Permanent(m) => assert!(m.contains("Body is too short"), "{m}"),
        other => panic!("a 422 is permanent, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn http_errors_become_plugin_errors() {
    let Some(plugin) = plugin() else { return };
    let network = forum().await;
    let account = account(&network, &[]);

    network.fail_next(Fault::RateLimited { wait_seconds: 42 });
    match error(plugin.poll(&account, "")) {
        PluginError::RateLimited(r) => {
            assert_eq!(r.retry_after_ms, 42_000);
            assert!(r.message.contains("Please wait 42 seconds"), "{}", r.message);
        }
        other => panic!("429 is rate-limited, got {other:?}"),
    }

    let wrong = Account {
        secrets: [("api-key", "revoked"), ("api-username", API_USERNAME)]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..account.clone()
    };
    match error(plugin.check(&wrong)) {
        PluginError::Unauthorized(m) => assert!(m.contains("not permitted"), "{m}"),
        other => panic!("403 is unauthorized, got {other:?}"),
    }

    network.fail_next(Fault::Status(502));
    assert!(matches!(error(plugin.poll(&account, "")), PluginError::Transient(_)));
    network.fail_next(Fault::Malformed);
    match error(plugin.poll(&account, "")) {
        PluginError::Transient(m) => assert!(m.contains("listing the latest posts") && m.contains("not JSON"), "{m}"),
        other => panic!("a cut body is transient, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn webhooks_need_the_signature() {
    let Some(plugin) = plugin() else { return };
    let network = forum().await;
    let account = account(&network, &[("categories", "2")]);
    let body = serde_json::to_vec(&network.webhook_payload(102).unwrap()).unwrap();
    let request = |signature: &str| WebhookRequest {
        method: "POST".into(),
        path: String::new(),
        query: String::new(),
        headers: [
            ("X-Discourse-Event", "post_created"),
            ("X-Discourse-Event-Type", "post"),
            ("X-Discourse-Event-Signature", signature),
        ]
        .into_iter()
        .map(|(name, value)| Header {
            name: name.into(),
            value: value.as_bytes().to_vec(),
        })
        .collect(),
        body: body.clone(),
    };
    let good = plugin
        .handle_webhook(&account, &request(&signature(WEBHOOK_SECRET, &body)))
        .unwrap()
        .value;
    assert_eq!(good.response.status, 200);
    assert_eq!(ids(&good.posts), ["102"]);
    assert_eq!(good.posts[0].kind, PostKind::Reply);

    for bad in [signature("another secret", &body), "sha256=zz".into(), String::new()] {
        let refused = plugin.handle_webhook(&account, &request(&bad)).unwrap().value;
        assert!(matches!(refused.response.status, 401 | 403), "{bad}: {refused:?}");
        assert!(refused.posts.is_empty());
    }
}

/// The fake's other documented endpoints, which a different plugin could use.
#[tokio::test(flavor = "multi_thread")]
async fn the_fake_speaks_discourses_shapes() {
    let network = forum().await;
    let client = reqwest::Client::new();
    let get = |path: &str, auth: bool| {
        let mut request = client.get(format!("{}{path}", network.base_url()));
        if auth {
            request = request.header("Api-Key", API_KEY).header("Api-Username", API_USERNAME);
        }
        async move {
            let response = request.send().await.unwrap();
            (
                response.status().as_u16(),
                response.json::<serde_json::Value>().await.unwrap(),
            )
        }
    };
    let (status, body) = get("/latest.json", false).await;
    assert_eq!(status, 403);
    assert_eq!(body["error_type"], "invalid_access");
    let (_, latest) = get("/latest.json", true).await;
    let topics = latest["topic_list"]["topics"].as_array().unwrap();
    assert_eq!(topics[0]["slug"], "dark-mode-please", "the latest first");
    assert_eq!(topics[1]["posts_count"], 2);
    let (_, support) = get("/c/support/2.json", true).await;
    assert_eq!(support["topic_list"]["topics"].as_array().unwrap().len(), 1);
    assert_eq!(get("/c/support/3.json", true).await.0, 404);
    let (_, topic) = get("/t/11.json", true).await;
    let posts = topic["post_stream"]["posts"].as_array().unwrap();
    assert_eq!((posts.len(), posts[1]["reply_to_post_number"].as_u64()), (2, Some(1)));
    assert!(posts[0].get("raw").is_none(), "raw only when asked");
    let (_, topic) = get("/t/11.json?include_raw=true", true).await;
    assert_eq!(
        topic["post_stream"]["posts"][0]["raw"],
        "My order is stuck since Monday."
    );
    let (_, found) = get("/search.json?q=dark", true).await;
    assert_eq!(found["posts"][0]["id"], 103);
    assert_eq!(found["topics"][0]["id"], 12);
    let (_, older) = get("/posts.json?before=103", true).await;
    assert_eq!(older["latest_posts"].as_array().unwrap().len(), 2);
    let (_, user) = get("/u/maria_k.json", true).await;
    assert_eq!(user["user"]["username"], "maria_k");
}

#[test]
fn passes_conformance_with_its_recordings() {
    let Some(dir) = built() else { return };
    let manifest = Manifest::parse(&std::fs::read_to_string(dir.join("plugin.toml")).unwrap()).unwrap();
    let wasm = std::fs::read(dir.join("plugin.wasm")).unwrap();
    let fixtures = Fixtures::load(&dir.join("conformance")).unwrap();
    let report = conformance::run(manifest, &wasm, &fixtures).expect("the runtime starts");
    eprintln!("{report}");
    assert_eq!((report.failed(), report.skipped()), (0, 0), "{report}");
    assert_eq!(
        report.check(channel::ROUND_TRIP).map(|c| &c.outcome),
        Some(&conformance::Outcome::Pass(Some("4 pages, 10 posts".into())))
    );
}
