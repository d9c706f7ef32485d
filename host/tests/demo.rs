//! `socialcrm demo` end to end, on SQLite and PostgreSQL: its own Mastodon
//! network serves what the bundled mastodon plugin calls (the check, the
//! brand's mentions page by page, the post a reply answers, the reply), every
//! customer post reaches the inbox once while they keep arriving, and a second
//! run on the same data reads the new network without taking the history twice.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// The demo world's posts: 14 at start, 6 arriving one by one.
const POSTS: usize = 20;
const ARRIVING: usize = 6;

/// A running `socialcrm demo`; killed when dropped.
struct Demo {
    child: Child,
    // Held open: the demo's stdout is this pipe until it ends.
    _stdout: BufReader<ChildStdout>,
    log: std::path::PathBuf,
    network: String,
    root: String,
    token: String,
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Demo {
    /// Starts the demo on `url` and reads the addresses and token it prints.
    fn start(url: &str, data: &Path, plugins: &Path) -> Demo {
        // Both runs of a test write to one log, shown when the test fails.
        let log = data.join("demo.log");
        let stderr = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_socialcrm"))
            .env("SOCIALCRM_PLUGIN_DIR", plugins)
            .args(["--database-url", url, "--data-dir"])
            .arg(data)
            .args(["demo", "--listen", "127.0.0.1:0", "--every", "1"])
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("start socialcrm demo");
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let (mut network, mut root) = (None, None);
        let token = loop {
            let mut line = String::new();
            if stdout.read_line(&mut line).unwrap() == 0 {
                let _ = child.wait();
                panic!(
                    "the demo ended before its token:\n{}",
                    std::fs::read_to_string(&log).unwrap()
                );
            }
            let line = line.trim();
            if let Some(url) = line.strip_prefix("demo network (Mastodon API) at ") {
                network = Some(url.to_string());
            } else if let Some(url) = line.strip_prefix("socialcrm demo running at ") {
                root = Some(url.trim_end_matches('/').to_string());
            } else if let Some(token) = line.strip_prefix("admin token: ") {
                break token.to_string();
            }
        };
        Demo {
            child,
            _stdout: stdout,
            log,
            network: network.expect("the network's address"),
            root: root.expect("the demo's address"),
            token,
        }
    }

    async fn get(&self, path: &str) -> Value {
        let (status, body) = common::http::answer(
            reqwest::Client::new()
                .get(format!("{}/api/v1{path}", self.root))
                .bearer_auth(&self.token),
        )
        .await;
        assert_eq!(status, 200, "{path}: {body}");
        body
    }

    /// The demo channel's posts in the inbox.
    async fn posts(&self) -> Vec<Value> {
        let body = self.get("/posts?channel=demo&limit=200").await;
        body["items"].as_array().cloned().unwrap_or_default()
    }

    async fn wait_for_posts(&self, count: usize) -> Vec<Value> {
        let start = Instant::now();
        loop {
            let posts = self.posts().await;
            if posts.len() >= count {
                return posts;
            }
            assert!(
                start.elapsed() < Duration::from_secs(120),
                "{} of {count} posts after 120 s; the demo's log:\n{}",
                posts.len(),
                std::fs::read_to_string(&self.log).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

fn external_ids(posts: &[Value]) -> std::collections::BTreeSet<String> {
    posts
        .iter()
        .map(|p| p["external_id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_demo_network_feeds_the_bundled_mastodon_plugin() {
    // The plugins as `cargo xtask build-plugins` lays them out, built from this tree.
    let plugins = tempfile::tempdir().unwrap();
    for name in ["mastodon", "sentiment", "intent"] {
        let built = common::plugin_dir(&format!("plugins/{name}"));
        let dir = plugins.path().join(name);
        std::fs::create_dir(&dir).unwrap();
        for file in ["plugin.toml", "plugin.wasm"] {
            std::fs::copy(built.path().join(file), dir.join(file)).unwrap();
        }
    }
    let plugins = plugins.path();
    common::on_each_db_url(|url, _db| async move {
        let url = url.as_str();
        let data = tempfile::tempdir().unwrap();
        let demo = tokio::task::block_in_place(|| Demo::start(url, data.path(), plugins));
        let health = reqwest::get(format!("{}/healthz", demo.root)).await.unwrap();
        assert_eq!(health.status(), 200);

        // The network takes the channel's token and no other.
        let credentials = format!("{}/api/v1/accounts/verify_credentials", demo.network);
        let client = reqwest::Client::new();
        for request in [client.get(&credentials), client.get(&credentials).bearer_auth("wrong")] {
            let (status, body) = common::http::answer(request).await;
            assert_eq!((status, &body["error"]), (401, &json!("The access token is invalid")));
        }

        // Every post, each once: the history, then those arriving (polled with min_id).
        let posts = demo.wait_for_posts(POSTS).await;
        assert_eq!(external_ids(&posts).len(), POSTS, "{posts:#?}");
        let replies_to_customers = posts.iter().filter(|p| p["in_reply_to"].is_string()).count();
        assert_eq!(replies_to_customers, 3, "threads keep their parent");
        let maya = posts
            .iter()
            .find(|p| p["author"]["handle"] == "maya@demo.social")
            .expect("Maya's post");
        assert_eq!(maya["author"]["display_name"], "Maya Okafor");

        // A reply goes out through the network (it reads the post answered first).
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

        // Again, on the same data: a new network (new port), the history not taken twice.
        drop(demo);
        let again = tokio::task::block_in_place(|| Demo::start(url, data.path(), plugins));
        let posts_again = again.wait_for_posts(POSTS + ARRIVING).await;
        let ids = external_ids(&posts_again);
        assert_eq!(ids.len(), POSTS + ARRIVING);
        assert!(ids.is_superset(&external_ids(&posts)));
        tokio::time::sleep(Duration::from_secs(4)).await;
        assert_eq!(again.posts().await.len(), POSTS + ARRIVING, "nothing more arrives");
    })
    .await;
}
