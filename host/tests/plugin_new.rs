//! The plugin author's workflow from an empty directory, with the real binary:
//! `socialcrm plugin new` → `cargo build --release --target wasm32-wasip2` →
//! `cargo test` in the new crate → `socialcrm plugin test` on what it built →
//! `plugin pack` → `keygen` → `sign` → `trust add` → `install` under a
//! policy that requires signatures → run the installed plugin (an analyzer
//! over posts; a scorer bound to `churn-risk`, over imported contacts).
//! Each step is a method of [`Generated`]; later steps append to [`workflow`].
//!
//! The new crate lives outside this repository and depends on nothing in it:
//! `plugin new` writes the SDK built into the binary into the crate. The new
//! crates build into `target/scaffold`, so registry dependencies compile once
//! and later runs reuse them.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

use tempfile::TempDir;

/// A plugin crate made by `socialcrm plugin new` in a directory of its own.
struct Generated {
    name: String,
    dir: PathBuf,
    _tmp: TempDir,
}

fn target_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/scaffold")
}

/// Runs `command`, failing the test with its output unless it succeeds.
#[track_caller]
fn run(what: &str, command: &mut Command) -> String {
    let start = Instant::now();
    let Output { status, stdout, stderr } = command.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    let out = String::from_utf8_lossy(&stdout).into_owned() + &String::from_utf8_lossy(&stderr);
    assert!(status.success(), "{what} failed ({status}):\n{out}");
    eprintln!("{what}: {:.1} s", start.elapsed().as_secs_f64());
    out
}

fn cargo(dir: &Path) -> Command {
    let mut cargo = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    // No debug info: the generated crate's tests link the host and wasmtime,
    // whose full debug info costs gigabytes of disk.
    cargo
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", target_dir())
        .env("CARGO_PROFILE_DEV_DEBUG", "false");
    cargo
}

fn socialcrm() -> Command {
    Command::new(env!("CARGO_BIN_EXE_socialcrm"))
}

impl Generated {
    /// `socialcrm plugin new` into a fresh temporary directory.
    fn new(kind: &str) -> Generated {
        let tmp = TempDir::new().expect("a temporary directory");
        let name = format!("hello-{kind}");
        let dir = tmp.path().join(&name);
        let out = run(
            "plugin new",
            socialcrm()
                .args(["plugin", "new", &name, "--kind", kind, "--dir"])
                .arg(&dir),
        );
        assert!(out.contains("src/lib.rs") && out.contains("plugin.toml"), "{out}");
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .and_then(|p| p.canonicalize().ok())
            .expect("the repository");
        let canonical = dir.canonicalize().expect("the new crate");
        assert!(
            !canonical.starts_with(&repo),
            "{} is inside the repository",
            canonical.display()
        );
        let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).expect("Cargo.toml");
        assert!(
            manifest.contains("path = \"socialcrm-sdk/sdk\"") && !manifest.contains(&*repo.to_string_lossy()),
            "the crate depends on the repository:\n{manifest}"
        );
        Generated { name, dir, _tmp: tmp }
    }

    /// `socialcrm plugin build`: cargo for wasm32-wasip2, the component
    /// beside plugin.toml as plugin.wasm, loaded in the sandbox.
    fn build(&self) -> PathBuf {
        let out = run(
            "plugin build",
            socialcrm()
                .args(["plugin", "build"])
                .arg(&self.dir)
                .env("CARGO_TARGET_DIR", target_dir()),
        );
        let wasm = self.dir.join("plugin.wasm");
        assert!(
            out.contains(&format!("built {}", wasm.display())) && out.contains("it loads in the sandbox"),
            "{out}"
        );
        assert!(wasm.is_file());
        wasm
    }

    /// The crate's own tests: native unit tests and the component in the host.
    fn cargo_test(&self) {
        let out = run("cargo test", cargo(&self.dir).arg("test"));
        let passed: usize = out
            .lines()
            .filter_map(|l| l.strip_prefix("test result: ok. "))
            .filter_map(|l| l.split_once(" passed").and_then(|(n, _)| n.parse::<usize>().ok()))
            .sum();
        assert!(passed >= 4, "unit tests and host tests, {passed} passed:\n{out}");
    }

    /// `socialcrm plugin test` on the built component, strict: no check skipped.
    fn conformance(&self, wasm: &Path) -> String {
        let out = run(
            "plugin test",
            socialcrm().args(["plugin", "test", "--strict"]).arg(wasm),
        );
        assert!(!out.contains("FAIL") && !out.contains("SKIP"), "{out}");
        eprintln!("{out}");
        out
    }
}

impl Generated {
    /// `socialcrm` on this plugin's own data directory.
    fn admin(&self, what: &str, args: &[&str]) -> String {
        let data = self._tmp.path().join("data");
        run(
            what,
            socialcrm()
                .arg("--data-dir")
                .arg(&data)
                .args(args)
                .env_remove("SOCIALCRM_DATABASE_URL"),
        )
    }

    /// Packs, signs with a new key, trusts it, requires signatures, installs.
    fn publish(&self) {
        let out = self._tmp.path().join("dist");
        std::fs::create_dir_all(&out).unwrap();
        let (dir, dist) = (self.dir.display().to_string(), out.display().to_string());
        self.admin("plugin pack", &["plugin", "pack", &dir, "--out", &dist]);
        let package = out.join(format!("{}-0.1.0.scpkg", self.name)).display().to_string();
        self.admin("plugin keygen", &["plugin", "keygen", "me", "--out", &dist]);
        let key = out.join("me.key").display().to_string();
        self.admin("plugin sign", &["plugin", "sign", &package, "--key", &key]);
        let public = out.join("me.pub").display().to_string();
        self.admin("plugin trust add", &["plugin", "trust", "add", &public]);
        self.admin("plugin policy", &["plugin", "policy", "--require-signatures", "true"]);
        let installed = self.admin("plugin install", &["plugin", "install", &package]);
        assert!(
            installed.contains(&format!("installed {} 0.1.0 (signed by", self.name)),
            "{installed}"
        );
    }

    /// Runs the installed analyzer by name over two posts.
    fn analyze_installed(&self) {
        let data = self._tmp.path().join("data");
        let mut child = socialcrm()
            .arg("--data-dir")
            .arg(&data)
            .args(["analyze", "--plugin", &self.name])
            .env_remove("SOCIALCRM_DATABASE_URL")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(b"{\"id\":1,\"text\":\"hello there\"}\n{\"id\":2,\"text\":\"SO ANGRY\"}\n")
            .unwrap();
        let out = child.wait_with_output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{text}");
        let ids: Vec<i64> = text
            .lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["id"]
                    .as_i64()
                    .unwrap()
            })
            .collect();
        assert_eq!(ids, [1, 2], "one analysis per post, in order:\n{text}");
    }
}

impl Generated {
    /// Binds the installed scorer to `churn-risk` and scores three imported
    /// contacts with it: lapsed, loyal, never ordered.
    fn score_installed(&self) {
        let bound = self.admin("scorer bind", &["scorer", "bind", "churn-risk", &self.name]);
        assert!(
            bound.contains(&format!("churn-risk is made by {}", self.name)),
            "{bound}"
        );
        let files = self._tmp.path();
        let contacts = files.join("contacts.csv");
        std::fs::write(&contacts, "id,name\nc1,Lapsed\nc2,Loyal\nc3,Prospect\n").expect("contacts.csv");
        let day_ms = 86_400_000u128;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("a clock after 1970")
            .as_millis();
        let mut orders = format!(
            "id,contact_id,kind,amount,currency,occurred_at\nt1,c1,purchase,40,EUR,{}\n",
            now - 200 * day_ms
        );
        for (i, days) in [10, 40, 70, 100, 130].into_iter().enumerate() {
            orders += &format!("t{},c2,purchase,40,EUR,{}\n", i + 2, now - days * day_ms);
        }
        let transactions = files.join("transactions.csv");
        std::fs::write(&transactions, orders).expect("transactions.csv");
        let path = |p: &Path| p.display().to_string();
        self.admin("import contacts", &["import", "contacts", &path(&contacts)]);
        self.admin("import transactions", &["import", "transactions", &path(&transactions)]);
        self.admin("insights recompute", &["insights", "recompute"]);
        let out = self.admin("insights churn", &["insights", "churn", "--top", "10", "--json"]);
        let ranked: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}:\n{out}"));
        let row = |i: usize| {
            let r = &ranked[i];
            (
                r["external_id"].as_str(),
                r["explanation"].as_str(),
                r["scorer"].as_str(),
            )
        };
        let scorer = format!("{} 0.1.0", self.name);
        assert_eq!(
            row(0),
            (
                Some("c1"),
                Some("last order 200 days ago; 1 order in 12 months"),
                Some(scorer.as_str())
            ),
            "{out}"
        );
        assert_eq!(
            row(1),
            (Some("c3"), Some("never ordered"), Some(scorer.as_str())),
            "{out}"
        );
    }
}

impl Generated {
    /// `plugin build` loads what it built as the manifest's kind: an analyzer
    /// whose plugin.toml says `channel` is refused, naming the world.
    fn build_refuses_another_world(&self) {
        let path = self.dir.join("plugin.toml");
        let manifest = std::fs::read_to_string(&path).expect("plugin.toml");
        let lying = manifest.replace("kind = \"analyzer\"", "kind = \"channel\"\nnetwork = \"feed\"");
        assert_ne!(lying, manifest);
        std::fs::write(&path, lying).expect("plugin.toml written");
        let out = socialcrm()
            .args(["plugin", "build"])
            .arg(&self.dir)
            .env("CARGO_TARGET_DIR", target_dir())
            .output()
            .expect("plugin build runs");
        let said = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "a channel manifest on an analyzer built");
        assert!(said.contains("does not load as a channel"), "{said}");
        std::fs::write(&path, manifest).expect("plugin.toml restored");
    }

    /// An analyzer's crate has the analyzer world only: a call to the
    /// key-value store, a channel import, does not compile.
    fn cannot_reach_the_channel_world(&self) {
        let lib = self.dir.join("src/lib.rs");
        let mut code = std::fs::read_to_string(&lib).expect("src/lib.rs");
        code.push_str("\npub fn remember() {\n    let _ = socialcrm_sdk::kv::get(\"seen\");\n}\n");
        std::fs::write(&lib, code).expect("src/lib.rs written");
        let out = cargo(&self.dir)
            .args(["check", "--target", "wasm32-wasip2"])
            .output()
            .expect("cargo check runs");
        let said = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "an analyzer compiled a kv call");
        assert!(said.contains("`kv`"), "{said}");
    }

    /// `plugin dev` against a local feed serving the crate's recorded pages:
    /// check and two polls, each with its posts, requests and log lines; the
    /// secret, read from the environment, is sent and never printed.
    fn dev_polls_a_local_feed(&self) {
        let pages = |name: &str| std::fs::read(self.dir.join("conformance").join(name)).expect("a recorded page");
        let feed = LocalFeed::start(vec![("", pages("page-1.json")), ("cursor=c2", pages("page-2.json"))]);
        let out = run(
            "plugin dev",
            socialcrm()
                .args(["plugin", "dev"])
                .arg(&self.dir)
                .arg("--config")
                .arg(format!("endpoint={}/posts", feed.origin))
                .args(["--secret", "api-token", "--allow-private"])
                .env("SOCIALCRM_SECRET_API_TOKEN", "dev-s3cret")
                .env("CARGO_TARGET_DIR", target_dir()),
        );
        for said in [
            "check: ok",
            "poll 1: ok",
            "2 posts, has-more true, state \"c2\"",
            "@alice: Loving the new release!",
            "poll 2: ok",
            "1 posts, has-more false, state \"c3\"",
            "GET http://127.0.0.1/posts → 200",
            "log Debug: 1 posts after cursor `c2`",
        ] {
            assert!(out.contains(said), "`{said}` missing:\n{out}");
        }
        assert!(!out.contains("poll 3"), "stops when nothing more is ready:\n{out}");
        assert!(!out.contains("dev-s3cret"), "{out}");
        let auth = feed.authorizations();
        assert_eq!(auth.len(), 3, "{auth:?}");
        assert!(auth.iter().all(|a| a == "Bearer dev-s3cret"), "{auth:?}");
    }

    /// `plugin dev --watch` runs again after a change to the sources, with the
    /// rebuilt plugin. Prints how long the first run and the rerun took.
    fn dev_watch_reruns_after_a_change(&self) {
        use std::io::{BufRead, BufReader};
        use std::sync::mpsc;

        let pages = |name: &str| std::fs::read(self.dir.join("conformance").join(name)).expect("a recorded page");
        let feed = LocalFeed::start(vec![("", pages("page-1.json")), ("cursor=c2", pages("page-2.json"))]);
        let start = Instant::now();
        let mut child = socialcrm()
            .args(["plugin", "dev"])
            .arg(&self.dir)
            .arg("--config")
            .arg(format!("endpoint={}/posts", feed.origin))
            .args(["--secret", "api-token=t", "--allow-private", "--watch"])
            .env("CARGO_TARGET_DIR", target_dir())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("plugin dev --watch starts");
        let stdout = child.stdout.take().expect("its output");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut said = Vec::new();
        let mut wait_for = |want: &str| {
            let deadline = Instant::now() + std::time::Duration::from_secs(300);
            while Instant::now() < deadline {
                if let Ok(line) = rx.recv_timeout(std::time::Duration::from_millis(200)) {
                    let found = line.contains(want);
                    said.push(line);
                    if found {
                        return;
                    }
                }
            }
            panic!("`{want}` never came:\n{}", said.join("\n"));
        };
        wait_for("watching");
        let first = start.elapsed();
        let lib = self.dir.join("src/lib.rs");
        let code = std::fs::read_to_string(&lib).expect("src/lib.rs");
        let changed = code.replace("posts after cursor", "posts after the cursor");
        assert_ne!(code, changed);
        std::fs::write(&lib, changed).expect("src/lib.rs changed");
        let edited = Instant::now();
        wait_for("1 posts after the cursor `c2`");
        let rerun = edited.elapsed();
        let _ = child.kill();
        let _ = child.wait();
        std::fs::write(&lib, code).expect("src/lib.rs restored");
        eprintln!(
            "plugin dev: first run (build, check, polls) {:.1} s; after a change, the rebuilt plugin polled again in {:.1} s",
            first.as_secs_f64(),
            rerun.as_secs_f64()
        );
    }
}

/// A feed on loopback (the fakes' server scaffold) answering `GET
/// /posts?QUERY` with a body per query, and the `authorization` headers it saw.
struct LocalFeed {
    origin: String,
    seen: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    _server: socialcrm_fakes::Server,
    _runtime: tokio::runtime::Runtime,
}

impl LocalFeed {
    fn start(pages: Vec<(&'static str, Vec<u8>)>) -> LocalFeed {
        use axum::http::{HeaderMap, Uri};
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let log = seen.clone();
        let posts = move |uri: Uri, headers: HeaderMap| {
            if let Some(auth) = headers.get("authorization").and_then(|v| v.to_str().ok()) {
                log.lock().map(|mut l| l.push(auth.to_string())).ok();
            }
            let query = uri.query().unwrap_or_default();
            let body = pages
                .iter()
                .find(|(q, _)| *q == query)
                .map_or(b"{\"posts\": []}".to_vec(), |(_, b)| b.clone());
            async move { ([("content-type", "application/json")], body) }
        };
        let router = axum::Router::new().route("/posts", axum::routing::get(posts));
        let runtime = tokio::runtime::Runtime::new().expect("a runtime for the feed");
        let (server, ()) = runtime
            .block_on(socialcrm_fakes::Server::start("the feed", |_| Ok((router, ()))))
            .expect("the feed starts");
        LocalFeed {
            origin: server.base_url(),
            seen,
            _server: server,
            _runtime: runtime,
        }
    }

    fn authorizations(&self) -> Vec<String> {
        self.seen.lock().map(|l| l.clone()).unwrap_or_default()
    }
}

/// The whole workflow for one kind of plugin.
fn workflow(kind: &str) -> String {
    let plugin = Generated::new(kind);
    let wasm = plugin.build();
    plugin.cargo_test();
    let report = plugin.conformance(&wasm);
    if kind == "channel" {
        plugin.dev_polls_a_local_feed();
        plugin.dev_watch_reruns_after_a_change();
    }
    plugin.publish();
    if kind == "scorer" {
        plugin.score_installed();
    }
    if kind == "analyzer" {
        plugin.analyze_installed();
        plugin.build_refuses_another_world();
        plugin.cannot_reach_the_channel_world();
    }
    report
}

#[test]
fn a_new_analyzer_builds_passes_its_tests_and_conforms() {
    let report = workflow("analyzer");
    assert!(report.contains("9 checks: 9 passed, 0 failed, 0 skipped"), "{report}");
}

#[test]
fn a_new_channel_builds_passes_its_tests_and_conforms() {
    let report = workflow("channel");
    assert!(
        report.contains("PASS  state round-trips over the recorded pages (3 pages, 3 posts)"),
        "{report}"
    );
    assert!(report.contains("15 checks: 15 passed, 0 failed, 0 skipped"), "{report}");
}

#[test]
fn a_new_scorer_builds_passes_its_tests_and_conforms() {
    let report = workflow("scorer");
    assert!(report.contains("2 checks: 2 passed, 0 failed, 0 skipped"), "{report}");
}

#[test]
fn a_new_source_builds_and_passes_its_tests() {
    let plugin = Generated::new("source");
    plugin.build();
    plugin.cargo_test();
}

#[test]
fn plugin_new_refuses_a_used_directory_and_a_bad_name() {
    let tmp = TempDir::new().unwrap();
    std::fs::write(tmp.path().join("notes.txt"), "mine").unwrap();
    let out = socialcrm()
        .args(["plugin", "new", "fine", "--kind", "channel", "--dir"])
        .arg(tmp.path())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("exists and is not empty"),
        "{err}"
    );

    let out = socialcrm()
        .args(["plugin", "new", "Bad_Name", "--kind", "analyzer", "--dir"])
        .arg(tmp.path().join("x"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("invalid plugin name `Bad_Name`"),
        "{err}"
    );
    assert!(!tmp.path().join("x").exists());
}
