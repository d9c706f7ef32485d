//! The conformance suite itself: the first-party plugins pass it, and the
//! hostile fixtures fail it on the checks they break, for the right reasons.

mod common;

use std::path::Path;
use std::process::Command;

use socialcrm::conformance::{self, Fixtures, LOADS, Outcome, Report, analyzer, channel};
use socialcrm::plugins::Manifest;
use tempfile::TempDir;

const ANALYZER_CHECKS: [&str; 9] = [
    LOADS,
    analyzer::DESCRIBE,
    analyzer::ORDER,
    analyzer::RANGE,
    analyzer::EMPTY,
    analyzer::HUGE,
    analyzer::NON_ENGLISH,
    analyzer::NON_BMP,
    analyzer::DETERMINISTIC,
];

const CHANNEL_CHECKS: [&str; 15] = [
    LOADS,
    channel::DESCRIBE,
    channel::CHECK_EMPTY,
    channel::EMPTY_PAGE,
    channel::ROUND_TRIP,
    channel::OUTPUT,
    channel::KV,
    channel::UNAUTHORIZED,
    channel::RATE_LIMITED,
    channel::TRANSIENT,
    channel::MALFORMED,
    channel::WEBHOOK_CALLS,
    channel::WEBHOOK_FORGED,
    channel::SEND_REPLY,
    channel::SEND_DIRECT,
];

fn mastodon_fixtures() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../plugins/mastodon/conformance"))
}

fn read(dir: &Path) -> (Manifest, Vec<u8>) {
    let manifest = Manifest::parse(&std::fs::read_to_string(dir.join("plugin.toml")).unwrap()).unwrap();
    (manifest, std::fs::read(dir.join("plugin.wasm")).unwrap())
}

fn run(dir: &Path, fixtures: &Fixtures) -> Report {
    let (manifest, wasm) = read(dir);
    let report = conformance::run(manifest, &wasm, fixtures).expect("the runtime starts");
    eprintln!("{report}");
    report
}

/// `conformance.toml` with `text`, in a directory of its own, loaded.
fn fixtures(text: &str) -> Fixtures {
    let dir = TempDir::new().unwrap();
    std::fs::write(dir.path().join("conformance.toml"), text).unwrap();
    Fixtures::load(dir.path()).expect("valid fixtures")
}

fn outcome<'a>(report: &'a Report, name: &str) -> &'a Outcome {
    &report
        .check(name)
        .unwrap_or_else(|| panic!("no check `{name}` in\n{report}"))
        .outcome
}

#[track_caller]
fn assert_fails(report: &Report, name: &str, because: &str) {
    match outcome(report, name) {
        Outcome::Fail(why) => assert!(why.contains(because), "`{name}` failed, but for: {why}"),
        other => panic!("`{name}` should fail ({because}), got {other:?}\n{report}"),
    }
}

#[track_caller]
fn assert_passes(report: &Report, name: &str) {
    assert!(
        matches!(outcome(report, name), Outcome::Pass(_)),
        "`{name}` should pass\n{report}"
    );
}

fn names(report: &Report) -> Vec<&'static str> {
    report.checks.iter().map(|c| c.name).collect()
}

#[test]
fn sentiment_passes_every_check() {
    let dir = common::plugin_dir("plugins/sentiment");
    let report = run(dir.path(), &Fixtures::default());
    assert_eq!(names(&report), ANALYZER_CHECKS);
    assert_eq!(
        (report.passed(), report.failed(), report.skipped()),
        (9, 0, 0),
        "{report}"
    );
    assert!(report.ok(true));
    assert!(report.to_string().ends_with("9 checks: 9 passed, 0 failed, 0 skipped"));
}

#[test]
fn mastodon_passes_every_check_with_its_recordings() {
    let dir = common::plugin_dir("plugins/mastodon");
    let report = run(dir.path(), &Fixtures::load(mastodon_fixtures()).unwrap());
    assert_eq!(names(&report), CHANNEL_CHECKS);
    assert_eq!((report.failed(), report.skipped()), (0, 0), "{report}");
    assert_eq!(
        outcome(&report, channel::ROUND_TRIP),
        &Outcome::Pass(Some("3 pages, 16 posts".into()))
    );
    // The host stops an empty config first: allowed-hosts needs `instance`.
    assert!(
        matches!(outcome(&report, channel::CHECK_EMPTY), Outcome::Pass(Some(note)) if note.contains("instance")),
        "{report}"
    );
}

#[test]
fn without_recordings_the_round_trip_is_skipped_not_passed() {
    let dir = common::plugin_dir("plugins/mastodon");
    let report = run(dir.path(), &Fixtures::default());
    for name in [channel::ROUND_TRIP, channel::OUTPUT, channel::KV] {
        assert!(
            matches!(outcome(&report, name), Outcome::Skip(why) if why.contains("no recorded pages")),
            "{report}"
        );
    }
    for name in [channel::SEND_REPLY, channel::SEND_DIRECT] {
        assert!(
            matches!(outcome(&report, name), Outcome::Skip(why) if why.contains("no recorded [[send]]")),
            "{report}"
        );
    }
    assert_eq!((report.passed(), report.failed(), report.skipped()), (10, 0, 5));
    assert!(report.ok(false) && !report.ok(true), "only --strict fails on skips");
}

#[test]
fn recordings_the_plugin_disagrees_with_fail_the_round_trip() {
    let recorded = std::fs::read_to_string(mastodon_fixtures().join("conformance.toml")).unwrap();
    let copy = |text: String| {
        let dir = TempDir::new().unwrap();
        for file in ["notifications-1.json", "notifications-2.json"] {
            std::fs::copy(mastodon_fixtures().join(file), dir.path().join(file)).unwrap();
        }
        std::fs::write(dir.path().join("conformance.toml"), text).unwrap();
        Fixtures::load(dir.path()).unwrap()
    };
    let plugin = common::plugin_dir("plugins/mastodon");

    let lost = run(plugin.path(), &copy(recorded.replacen("posts = 6", "posts = 7", 1)));
    assert_fails(&lost, channel::ROUND_TRIP, "page 1: 6 posts, the recording expects 7");
    assert!(matches!(outcome(&lost, channel::OUTPUT), Outcome::Skip(_)));

    // Page 2 recorded for another state: the plugin's request matches nothing.
    let elsewhere = run(plugin.path(), &copy(recorded.replace("min_id=632508369", "min_id=1")));
    assert_fails(
        &elsewhere,
        channel::ROUND_TRIP,
        "requests no recorded response of page 2 matches: GET /api/v1/notifications?",
    );

    // The same page twice: the plugin's state moves on, so the recording repeats.
    let repeated = recorded.replace(
        "min_id=632508369\"\nfile = \"notifications-2.json",
        "min_id=632508369\"\nfile = \"notifications-1.json",
    );
    let repeated = run(plugin.path(), &copy(repeated.replace("posts = 10", "posts = 6")));
    assert_fails(&repeated, channel::ROUND_TRIP, "page 2: post `");
    assert_fails(&repeated, channel::ROUND_TRIP, "` was returned before");
}

#[test]
fn fixture_errors_name_the_file_and_place() {
    let dir = TempDir::new().unwrap();
    let write = |text: &str| std::fs::write(dir.path().join("conformance.toml"), text).unwrap();
    write("[[page]]\n[[page.respond]]\npath = \"/a\"\nfile = \"missing.json\"\n");
    let err = Fixtures::load(dir.path()).unwrap_err().to_string();
    assert!(
        err.contains("conformance.toml: page 1, response 1: cannot read"),
        "{err}"
    );
    write("[[page]]\npost = 3\n");
    let err = Fixtures::load(dir.path()).unwrap_err().to_string();
    assert!(err.contains("unknown field `post`"), "{err}");
    let err = Fixtures::load(&dir.path().join("nowhere")).unwrap_err().to_string();
    assert!(err.starts_with("cannot read"), "{err}");
}

/// The hostile channel's `mode`, through the test account.
fn hostile_mode(mode: &str) -> Fixtures {
    fixtures(&format!(
        r#"
[account]
config = {{ mode = "{mode}", target = "https://api.example.net" }}

[[page]]
[[page.respond]]
path = "/ping"
body = "pong"
"#
    ))
}

#[test]
fn the_hostile_channel_lies_about_its_config() {
    let dir = common::plugin_dir("tests/hostile/channel");
    // The made-up account: mode = "conformance", which the plugin does not know.
    let report = run(dir.path(), &Fixtures::default());
    assert_fails(
        &report,
        channel::DESCRIBE,
        "config field `mode`: secret is true here, false in plugin.toml",
    );
    assert_fails(&report, channel::DESCRIBE, "config field `extra` is not in plugin.toml");
    assert_fails(
        &report,
        channel::DESCRIBE,
        "plugin.toml declares config field `target`, describe does not",
    );
    assert_fails(
        &report,
        channel::EMPTY_PAGE,
        "invalid config: unknown mode `conformance`",
    );
    assert_fails(
        &report,
        channel::UNAUTHORIZED,
        "expected unauthorized, got invalid config",
    );
    assert!(!report.ok(false));
}

#[test]
fn a_looping_channel_fails_on_the_deadline() {
    let dir = common::plugin_dir("tests/hostile/channel");
    let report = run(dir.path(), &hostile_mode("loop"));
    assert_fails(&report, channel::EMPTY_PAGE, "timed out after 500ms");
    assert_fails(
        &report,
        channel::ROUND_TRIP,
        "page 1: poll with state ``: timed out after 500ms",
    );
    assert!(matches!(outcome(&report, channel::OUTPUT), Outcome::Skip(_)));
    for name in [
        channel::UNAUTHORIZED,
        channel::RATE_LIMITED,
        channel::TRANSIENT,
        channel::MALFORMED,
    ] {
        assert_fails(&report, name, "the host stopped the call: timed out after 500ms");
    }
}

#[test]
fn a_trapping_channel_fails_with_its_panic() {
    let dir = common::plugin_dir("tests/hostile/channel");
    let report = run(dir.path(), &hostile_mode("panic"));
    assert_fails(&report, channel::EMPTY_PAGE, "hostile plugin panicked on purpose");
    assert_fails(&report, channel::MALFORMED, "but the host stopped the call: trapped");
}

#[test]
fn a_flooding_channel_fails_the_output_limits() {
    let dir = common::plugin_dir("tests/hostile/channel");
    let report = run(dir.path(), &hostile_mode("huge-field"));
    let over = "output over limit: field `text` has 1048576 bytes, more than 262144";
    assert_fails(&report, channel::EMPTY_PAGE, over);
    assert_fails(&report, channel::ROUND_TRIP, over);
    assert_fails(&report, channel::OUTPUT, over);
}

#[test]
fn a_channel_that_ignores_errors_fails_the_mapping() {
    let dir = common::plugin_dir("tests/hostile/channel");
    // `target` turns whatever the network answered into a post.
    let report = run(dir.path(), &hostile_mode("target"));
    assert_fails(&report, channel::EMPTY_PAGE, "the first poll returned 1 posts");
    assert_fails(
        &report,
        channel::UNAUTHORIZED,
        "poll returned a page of 1 posts; expected unauthorized",
    );
    assert_fails(&report, channel::RATE_LIMITED, "expected rate-limited");
    assert_fails(&report, channel::TRANSIENT, "expected transient");
    assert_fails(&report, channel::MALFORMED, "expected an error");
    // Its one recorded page passes, and its posts are well-formed.
    assert_passes(&report, channel::ROUND_TRIP);
    assert_passes(&report, channel::OUTPUT);
}

#[test]
fn a_channel_that_takes_forged_webhooks_fails_the_signature_check() {
    let dir = common::plugin_dir("tests/hostile/channel");
    let report = run(
        dir.path(),
        &fixtures(
            r#"
[account]
config = { mode = "empty", target = "https://api.example.net" }
secrets = { password = "hook-secret" }

[[webhook]]
body = "1 hello"
posts = 1
sign = { header = "x-signature", secret = "password", prefix = "sha256=" }

[[webhook]]
body = "2 again"
status = 202
"#,
        ),
    );
    // The signed call gives its post; the hostile plugin never looks at the signature.
    assert_fails(
        &report,
        channel::WEBHOOK_CALLS,
        "webhook 2: answered 200, the recording expects 202",
    );
    assert_fails(
        &report,
        channel::WEBHOOK_FORGED,
        "webhook 1 with its body altered gave 1 posts",
    );
}

/// The hostile analyzer misbehaves on the first text of a batch.
fn hostile_analyzer(sample: &str) -> Report {
    let dir = common::plugin_dir("tests/hostile/analyzer");
    run(dir.path(), &fixtures(&format!("samples = [\"{sample}\"]")))
}

#[test]
fn the_hostile_analyzer_fails_for_each_misbehaviour() {
    let looping = hostile_analyzer("loop");
    assert_fails(&looping, analyzer::ORDER, "ran out of fuel (200000000 units)");
    assert_fails(&looping, analyzer::DETERMINISTIC, "ran out of fuel");
    // Checks that do not start with the sample still run, and pass.
    for name in [
        analyzer::DESCRIBE,
        analyzer::EMPTY,
        analyzer::HUGE,
        analyzer::NON_ENGLISH,
        analyzer::NON_BMP,
    ] {
        assert_passes(&looping, name);
    }

    let trapping = hostile_analyzer("panic");
    assert_fails(&trapping, analyzer::ORDER, "hostile analyzer panicked on purpose");

    let short = hostile_analyzer("too-few");
    assert_fails(&short, analyzer::ORDER, "invalid output: 0 analyses for 6 posts");

    let out_of_range = hostile_analyzer("out-of-range");
    assert_fails(&out_of_range, analyzer::RANGE, "sentiment 5 is outside [-1, 1]");
}

#[test]
fn a_component_of_the_wrong_kind_fails_to_load() {
    let sentiment = common::plugin_dir("plugins/sentiment");
    let hostile = common::plugin_dir("tests/hostile/channel");
    let (manifest, _) = read(hostile.path());
    let (_, wasm) = read(sentiment.path());
    let report = conformance::run(manifest, &wasm, &Fixtures::default()).unwrap();
    assert_eq!(names(&report), [LOADS]);
    assert_fails(
        &report,
        LOADS,
        "does not export the channel world's `connector` interface",
    );
}

fn socialcrm(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_socialcrm"))
        .args(args)
        .output()
        .expect("the binary runs");
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

#[test]
fn the_command_prints_a_line_per_check_and_exits_by_the_result() {
    let mastodon = common::plugin_dir("plugins/mastodon");
    let conformance = mastodon.path().join("conformance");
    std::fs::create_dir(&conformance).unwrap();
    for entry in std::fs::read_dir(mastodon_fixtures()).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), conformance.join(entry.file_name())).unwrap();
    }
    // `conformance/` beside plugin.toml is found by itself, from the .wasm too.
    let wasm = mastodon.path().join("plugin.wasm");
    let (ok, text) = socialcrm(&["plugin", "test", wasm.to_str().unwrap()]);
    assert!(ok, "{text}");
    assert!(
        text.contains("PASS  state round-trips over the recorded pages (3 pages, 16 posts)"),
        "{text}"
    );
    assert!(text.contains("15 checks: 15 passed, 0 failed, 0 skipped"), "{text}");

    let hostile = common::plugin_dir("tests/hostile/channel");
    let (ok, text) = socialcrm(&["plugin", "test", hostile.path().to_str().unwrap()]);
    assert!(!ok, "{text}");
    assert!(text.contains("FAIL  describe is valid: "), "{text}");
    assert!(
        text.contains("SKIP  state round-trips over the recorded pages: no recorded pages"),
        "{text}"
    );

    let (ok, text) = socialcrm(&[
        "plugin",
        "test",
        "--strict",
        mastodon.path().to_str().unwrap(),
        "--fixtures",
        "/nowhere",
    ]);
    assert!(!ok && text.contains("cannot read /nowhere/conformance.toml"), "{text}");
}
