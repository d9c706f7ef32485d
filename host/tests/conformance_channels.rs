//! The bundled channel plugins pass `plugin test` with their recorded sets
//! (`plugins/NAME/conformance`), and a tampered recording fails the round trip
//! with a message that names what went wrong.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use socialcrm::conformance::{self, Fixtures, Outcome, Report, channel};
use socialcrm::plugins::Manifest;
use tempfile::TempDir;

fn recordings(plugin: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../plugins")
        .join(plugin)
        .join("conformance")
}

fn run(plugin: &TempDir, fixtures: &Fixtures) -> Report {
    let dir = plugin.path();
    let manifest = Manifest::parse(&std::fs::read_to_string(dir.join("plugin.toml")).unwrap()).unwrap();
    let wasm = std::fs::read(dir.join("plugin.wasm")).unwrap();
    let report = conformance::run(manifest, &wasm, fixtures).expect("the runtime starts");
    eprintln!("{report}");
    report
}

/// The plugin's recordings, with `file` edited by `edit` (which must change it).
fn tampered(plugin: &str, file: &str, edit: impl Fn(&str) -> String) -> Fixtures {
    let dir = TempDir::new().unwrap();
    for entry in std::fs::read_dir(recordings(plugin)).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.path().join(entry.file_name())).unwrap();
    }
    let path = dir.path().join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    let edited = edit(&text);
    assert_ne!(edited, text, "the edit of {file} changes nothing");
    std::fs::write(&path, edited).unwrap();
    Fixtures::load(dir.path()).expect("valid fixtures")
}

fn outcome<'a>(report: &'a Report, name: &str) -> &'a Outcome {
    &report
        .check(name)
        .unwrap_or_else(|| panic!("no check `{name}` in\n{report}"))
        .outcome
}

/// Every check passed, and the round trip walked `pages` pages and `posts` posts.
#[track_caller]
fn assert_all_pass(report: &Report, pages: usize, posts: usize) {
    assert_eq!(
        (report.checks.len(), report.passed(), report.failed(), report.skipped()),
        (15, 15, 0, 0),
        "{report}"
    );
    assert!(report.ok(true));
    assert_eq!(
        outcome(report, channel::ROUND_TRIP),
        &Outcome::Pass(Some(format!("{pages} pages, {posts} posts")))
    );
}

#[track_caller]
fn assert_round_trip_fails(report: &Report, because: &str) {
    match outcome(report, channel::ROUND_TRIP) {
        Outcome::Fail(why) => assert!(why.contains(because), "failed, but for: {why}"),
        other => panic!("the round trip should fail ({because}), got {other:?}\n{report}"),
    }
}

#[test]
fn bluesky_passes_with_its_recordings_and_fails_a_tampered_cursor() {
    let plugin = common::plugin_dir("plugins/bluesky");
    let report = run(&plugin, &Fixtures::load(&recordings("bluesky")).unwrap());
    assert_all_pass(&report, 4, 14);
    // Every request, the sign-in first, gets the one empty body.
    assert!(
        matches!(outcome(&report, channel::EMPTY_PAGE), Outcome::Pass(Some(note)) if note.contains("\"notifications\":[]")),
        "{report}"
    );

    // Page 3 recorded for another cursor: the sweep's request matches nothing.
    let elsewhere = tampered("bluesky", "conformance.toml", |t| {
        t.replace(
            "cursor=2026-11-23T10%3A58%3A00.412Z",
            "cursor=2026-11-23T09%3A00%3A00.000Z",
        )
    });
    assert_round_trip_fails(
        &run(&plugin, &elsewhere),
        "requests no recorded response of page 3 matches: GET /xrpc/app.bsky.notification.listNotifications?",
    );
}

#[test]
fn reddit_passes_with_its_recordings_and_fails_a_lost_post() {
    let plugin = common::plugin_dir("plugins/reddit");
    let report = run(&plugin, &Fixtures::load(&recordings("reddit")).unwrap());
    assert_all_pass(&report, 4, 15);

    // The recording expects one more post after the deleted anchor than the page holds.
    let lost = tampered("reddit", "conformance.toml", |t| {
        t.replacen("posts = 2", "posts = 3", 1)
    });
    assert_round_trip_fails(&run(&plugin, &lost), "page 3: 2 posts, the recording expects 3");
}

#[test]
fn x_passes_with_its_recordings_and_fails_a_broken_post() {
    let plugin = common::plugin_dir("plugins/x");
    let report = run(&plugin, &Fixtures::load(&recordings("x")).unwrap());
    assert_all_pass(&report, 4, 13);

    // A post without its time: the plugin refuses the page, naming the post.
    let broken = tampered("x", "mentions-3.json", |t| {
        t.replacen("\"created_at\": \"2026-11-23T10:42:20.000Z\",", "", 1)
    });
    let report = run(&plugin, &broken);
    assert_round_trip_fails(&report, "page 3: poll with state `{\"mentions\":");
    assert_round_trip_fails(&report, "post 1861219930117591040 has no `created_at`");
}

#[test]
fn youtube_passes_with_its_recordings_and_fails_a_comment_without_a_time() {
    let plugin = common::plugin_dir("plugins/youtube");
    let report = run(&plugin, &Fixtures::load(&recordings("youtube")).unwrap());
    assert_all_pass(&report, 6, 12);

    // The thread found after the restarted walk, without its time: the page is refused, naming it.
    let broken = tampered("youtube", "channel-4.json", |t| {
        t.replacen("\"publishedAt\": \"2026-11-23T10:31:12Z\",", "", 1)
    });
    let report = run(&plugin, &broken);
    assert_round_trip_fails(&report, "page 4: poll with state `{\"channel\":");
    assert_round_trip_fails(&report, "comment UgxA7Cv9Bn1Mq3Wr5Ty2AaABAg has no `publishedAt`");
}

#[test]
fn threads_passes_with_its_recordings_and_fails_a_walk_with_a_lost_cursor() {
    let plugin = common::plugin_dir("plugins/threads");
    let report = run(&plugin, &Fixtures::load(&recordings("threads")).unwrap());
    assert_all_pass(&report, 4, 15);

    // Page 2 recorded without `paging.next`: the walk never starts, and the
    // third poll asks for a page the recording does not hold.
    let stopped = tampered("threads", "mentions-2.json", |t| {
        t.replacen(
            r#""next": "https://graph.threads.net/v1.0/17841401234567890/mentions?limit=100&after=QVFIUm1lbnRpb24yMDQ""#,
            r#""previous": "https://graph.threads.net/v1.0/17841401234567890/mentions?before=QVFIUm1lbnRpb24yMDU""#,
            1,
        )
    });
    assert_round_trip_fails(
        &run(&plugin, &stopped),
        "requests no recorded response of page 3 matches: GET /v1.0/17841401234567890/mentions?",
    );
}

#[test]
fn meta_passes_what_applies_to_a_webhook_channel() {
    let plugin = common::plugin_dir("plugins/meta");
    let report = run(&plugin, &Fixtures::load(&recordings("meta")).unwrap());
    assert_eq!(
        (report.checks.len(), report.passed(), report.failed(), report.skipped()),
        (15, 7, 0, 8),
        "{report}"
    );
    let why = Outcome::Skip("describe does not claim the `poll` capability".into());
    assert!(report.checks[3..11].iter().all(|c| c.outcome == why), "{report}");
    assert!(report.ok(false) && !report.ok(true));
}

#[test]
fn whatsapp_passes_what_applies_to_a_webhook_channel_and_refuses_a_forged_delivery() {
    let plugin = common::plugin_dir("plugins/whatsapp");
    let report = run(&plugin, &Fixtures::load(&recordings("whatsapp")).unwrap());
    assert_eq!(
        (report.checks.len(), report.passed(), report.failed(), report.skipped()),
        (15, 7, 0, 8),
        "{report}"
    );
    assert!(report.ok(false) && !report.ok(true));
}

#[test]
fn a_bundled_plugin_named_on_the_command_line_uses_its_recordings() {
    // The layout `cargo xtask build-plugins` writes: target/plugins/NAME.
    let plugins = TempDir::new().unwrap();
    let built = common::plugin_dir("plugins/bluesky");
    let bundled = plugins.path().join("bluesky");
    std::fs::create_dir_all(bundled.join("conformance")).unwrap();
    for file in ["plugin.toml", "plugin.wasm"] {
        std::fs::copy(built.path().join(file), bundled.join(file)).unwrap();
    }
    for entry in std::fs::read_dir(recordings("bluesky")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), bundled.join("conformance").join(entry.file_name())).unwrap();
    }
    let out = Command::new(env!("CARGO_BIN_EXE_socialcrm"))
        .args(["plugin", "test", "--strict", "bluesky"])
        .env("SOCIALCRM_PLUGIN_DIR", plugins.path())
        .output()
        .expect("the binary runs");
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("PASS  state round-trips over the recorded pages (4 pages, 14 posts)"),
        "{text}"
    );
    assert!(text.contains("15 checks: 15 passed, 0 failed, 0 skipped"), "{text}");

    // The same run as JSON and as JUnit XML, for CI.
    let report = |format: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_socialcrm"))
            .args(["plugin", "test", "--strict", "--format", format, "bluesky"])
            .env("SOCIALCRM_PLUGIN_DIR", plugins.path())
            .output()
            .expect("the binary runs");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let json: serde_json::Value = serde_json::from_str(&report("json")).expect("a JSON report");
    assert_eq!(
        (json["passed"].as_u64(), json["failed"].as_u64()),
        (Some(15), Some(0)),
        "{json}"
    );
    assert_eq!(json["checks"].as_array().map(Vec::len), Some(15));
    let junit = report("junit");
    assert!(
        junit.starts_with("<?xml") && junit.contains("tests=\"15\" failures=\"0\" skipped=\"0\""),
        "{junit}"
    );
    assert_eq!(junit.matches("<testcase ").count(), 15, "{junit}");
}

#[tokio::test(flavor = "multi_thread")]
async fn record_writes_fixtures_without_secrets_that_replay_green() {
    use socialcrm_fakes::mastodon::{FakeMastodon, TOKEN};
    let network = FakeMastodon::start().await.unwrap();
    let plugin = common::plugin_dir("plugins/mastodon");
    let record = |extra: &[&str]| {
        let instance = format!("instance={}", network.base_url());
        let mut args = vec!["plugin", "test", "--record", "--allow-private", "--pages", "2"];
        args.extend(["--config", &instance, "--secret", "access-token"]);
        args.extend(extra);
        let out = Command::new(env!("CARGO_BIN_EXE_socialcrm"))
            .args(&args)
            .arg(plugin.path())
            .env("SOCIALCRM_SECRET_ACCESS_TOKEN", TOKEN)
            .output()
            .expect("the binary runs");
        let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
        (out.status.success(), text)
    };
    let (ok, text) = tokio::task::block_in_place(|| record(&[]));
    assert!(ok, "{text}");
    assert!(text.contains("recorded 2 pages"), "{text}");
    assert!(
        text.contains("PASS  state round-trips over the recorded pages (2 pages, "),
        "{text}"
    );

    // Nothing written holds the token; the account names it as a placeholder.
    let dir = plugin.path().join("conformance");
    let mut files = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        assert!(!text.contains(TOKEN), "{text}");
        files += 1;
    }
    assert!(files >= 3, "conformance.toml and a body per response");
    let toml = std::fs::read_to_string(dir.join("conformance.toml")).unwrap();
    assert!(toml.contains(r#"access-token = "recorded-secret""#), "{toml}");

    // The same recording replays in the runner and in the testkit's format reader.
    let report = run(&plugin, &Fixtures::load(&dir).unwrap());
    assert!(
        matches!(report.check(channel::ROUND_TRIP).unwrap().outcome, Outcome::Pass(_)),
        "{report}"
    );

    // An existing recording is kept unless asked.
    let (ok, text) = tokio::task::block_in_place(|| record(&[]));
    assert!(!ok && text.contains("pass --overwrite"), "{text}");
    let (ok, text) = tokio::task::block_in_place(|| record(&["--overwrite"]));
    assert!(ok, "{text}");
}
