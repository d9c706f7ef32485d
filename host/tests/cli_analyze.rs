//! `socialcrm analyze`: one JSON line out per JSON line in, in order.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

fn sentiment_wasm() -> String {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../plugins/sentiment");
    socialcrm_sdk::testkit::build(dir)
        .expect("build the sentiment plugin")
        .display()
        .to_string()
}

fn analyze(args: &[&str], input: &str) -> Output {
    // A data directory of its own: none is left in the source tree.
    let data = tempfile::tempdir().expect("a temporary directory");
    let mut child = Command::new(env!("CARGO_BIN_EXE_socialcrm"))
        .arg("--data-dir")
        .arg(data.path())
        .arg("analyze")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start socialcrm");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write input");
    child.wait_with_output().expect("socialcrm runs")
}

fn lines(output: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

#[test]
fn prints_one_analysis_per_line_in_order() {
    let wasm = sentiment_wasm();
    let texts = [
        "I love this bike, it is fantastic!",
        "Worst support ever. Never again :(",
        "",
        "ok",
    ];
    let input: String = texts
        .iter()
        .enumerate()
        .map(|(i, t)| format!("{}\n", serde_json::json!({"id": format!("p{i}"), "text": t})))
        .collect();
    // A batch of 3 makes the 4 lines span two plugin calls.
    let output = analyze(&["--plugin", &wasm, "--batch", "3", "-"], &input);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let out = lines(&output);
    assert_eq!(out.len(), texts.len());
    for (i, line) in out.iter().enumerate() {
        assert_eq!(line["id"], format!("p{i}"));
        let score = line["score"].as_f64().expect("a score");
        assert!((-1.0..=1.0).contains(&score));
    }
    assert_eq!(out[0]["label"], "positive");
    assert_eq!(out[1]["label"], "negative");
    assert_eq!(out[2]["label"], "neutral");
}

#[test]
fn bad_lines_are_reported_and_the_rest_analyzed() {
    let wasm = sentiment_wasm();
    let input = "{\"id\":1,\"text\":\"great\"}\nnot json\n{\"text\":\"no id\"}\n\n{\"id\":2,\"text\":\"awful\"}\n";
    let output = analyze(&["--plugin", &wasm], input);
    assert_eq!(output.status.code(), Some(1));
    let out = lines(&output);
    assert_eq!(out.len(), 4, "one line per non-empty input line");
    assert_eq!(out[0]["id"], 1);
    assert_eq!(out[1]["line"], 2);
    assert!(out[1]["error"].as_str().unwrap().starts_with("not JSON"));
    assert_eq!(out[2]["line"], 3);
    assert!(out[2]["error"].as_str().unwrap().contains("missing \"id\""));
    assert_eq!(out[3]["id"], 2);
    assert_eq!(out[3]["label"], "negative");
    assert!(String::from_utf8_lossy(&output.stderr).contains("2 line(s) could not be analyzed"));
}

#[test]
fn an_unknown_plugin_says_what_to_do() {
    let output = analyze(&["--plugin", "no-such-plugin"], "");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("no plugin `no-such-plugin`"), "{stderr}");
    assert!(stderr.contains("cargo xtask build-plugins"), "{stderr}");
}

#[test]
fn a_channel_plugin_is_not_an_analyzer() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../plugins/mastodon");
    let wasm = socialcrm_sdk::testkit::build(dir).expect("build the mastodon plugin");
    let plugin_dir = tempfile::tempdir().unwrap();
    std::fs::copy(format!("{dir}/plugin.toml"), plugin_dir.path().join("plugin.toml")).unwrap();
    std::fs::copy(wasm, plugin_dir.path().join("plugin.wasm")).unwrap();
    let output = analyze(&["--plugin", &plugin_dir.path().display().to_string()], "");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("plugin mastodon is a channel plugin, not an analyzer"),
        "{stderr}"
    );
}
