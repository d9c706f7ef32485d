//! `socialcrm demo` as a child process, for tests that need the whole product
//! running with data in it.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The plugins the demo installs, laid out as `cargo xtask build-plugins`
/// does and built from this tree.
pub fn plugins() -> tempfile::TempDir {
    let plugins = tempfile::tempdir().unwrap();
    for name in ["mastodon", "threads", "sentiment", "intent", "churn"] {
        let built = super::plugin_dir(&format!("plugins/{name}"));
        let dir = plugins.path().join(name);
        std::fs::create_dir(&dir).unwrap();
        for file in ["plugin.toml", "plugin.wasm"] {
            std::fs::copy(built.path().join(file), dir.join(file)).unwrap();
        }
    }
    plugins
}

/// A running `socialcrm demo`; killed when dropped.
pub struct Demo {
    child: Child,
    // Held open: the demo's stdout is this pipe until it ends.
    _stdout: BufReader<ChildStdout>,
    pub log: std::path::PathBuf,
    /// Each demo network's base URL by its API (`Mastodon`, `Threads`).
    pub networks: BTreeMap<String, String>,
    pub root: String,
    pub token: String,
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Demo {
    /// Starts the demo on `url` and reads the addresses and token it prints.
    pub fn start(url: &str, data: &Path, plugins: &Path) -> Demo {
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
        let (mut networks, mut root) = (BTreeMap::new(), None);
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
            if let Some((api, url)) = line
                .strip_prefix("demo network (")
                .and_then(|rest| rest.split_once(" API) at "))
            {
                networks.insert(api.to_string(), url.to_string());
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
            networks,
            root: root.expect("the demo's address"),
            token,
        }
    }

    pub async fn get(&self, path: &str) -> Value {
        let (status, body) = super::http::answer(
            reqwest::Client::new()
                .get(format!("{}/api/v1{path}", self.root))
                .bearer_auth(&self.token),
        )
        .await;
        assert_eq!(status, 200, "{path}: {body}");
        body
    }

    /// The base URL of the demo network that speaks `api`.
    pub fn network(&self, api: &str) -> &str {
        self.networks
            .get(api)
            .unwrap_or_else(|| panic!("no demo network speaks {api}: {:?}", self.networks))
    }

    /// The demo channels' posts in the inbox, of every network, open and closed.
    pub async fn posts(&self) -> Vec<Value> {
        let mut posts = self.inbox("open").await;
        posts.extend(self.inbox("closed").await);
        posts
    }

    /// The posts of the inbox with `status` (`open` or `closed`), newest first.
    pub async fn inbox(&self, status: &str) -> Vec<Value> {
        let mut posts = Vec::new();
        let mut cursor = String::new();
        loop {
            let body = self
                .get(&format!("/posts?status={status}&sort=newest&limit=200{cursor}"))
                .await;
            posts.extend(body["items"].as_array().cloned().unwrap_or_default());
            match body["next_cursor"].as_str() {
                Some(next) => cursor = format!("&cursor={next}"),
                None => return posts,
            }
        }
    }

    pub async fn wait_for_posts(&self, count: usize) -> Vec<Value> {
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
