//! Hostile plugins: every misbehaviour fails only its own call, with an error
//! that names the plugin and the reason; the next call runs on a fresh
//! instance and works; nothing from the failed call is kept.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant};

use socialcrm::plugins::Manifest;
use socialcrm::runtime::{Account, AnalyzerPlugin, ChannelPlugin, FailReason, LoadError, Runtime, RuntimeOptions};
use socialcrm_sdk::testkit::{self, Harness};

#[path = "common/fixtures.rs"]
mod fixtures;
use fixtures::{ANALYZER_DIR, CHANNEL_DIR, Egress, input, load, mode, private, silent_server};

fn channel(runtime: &Runtime) -> ChannelPlugin {
    let (manifest, wasm) = load(CHANNEL_DIR);
    runtime.load_channel(manifest.sandbox(), &wasm).unwrap()
}

fn analyzer(runtime: &Runtime) -> AnalyzerPlugin {
    let (manifest, wasm) = load(ANALYZER_DIR);
    runtime.load_analyzer(manifest.sandbox(), &wasm).unwrap()
}

/// Asserts the failure names the plugin and the reason, then that a fresh
/// instance serves the next call (its call counter starts again at 1).
fn assert_fails_then_recovers(plugin: &ChannelPlugin, account: &Account, check: impl Fn(&FailReason) -> bool) {
    let err = plugin.poll(account, "").expect_err("the hostile call must fail");
    let message = err.to_string();
    assert!(message.starts_with("plugin hostile-channel: poll: "), "{message}");
    assert!(check(&err.reason), "unexpected reason: {message}");
    assert_next_calls_work(plugin);
}

fn assert_next_calls_work(plugin: &ChannelPlugin) {
    for _ in 0..2 {
        let next = plugin.poll(&mode("calls"), "").expect("the next call works");
        assert_eq!(next.value.posts[0].text, "1", "each call gets a fresh instance");
    }
}

/// The hostile plugin's deadline (`channel-timeout-ms`), and how late after
/// it a call may end: an epoch tick, dropping the call, a loaded machine.
const DEADLINE: Duration = Duration::from_millis(500);
const GRACE: Duration = Duration::from_millis(1_000);

/// Asserts the call is cut off at its deadline with reason `Timeout`, then
/// that the next call works. The call runs on a thread of its own, so a
/// deadline that does not hold fails the test instead of hanging it.
fn assert_cut_off_at_the_deadline(plugin: &ChannelPlugin, account: &Account) {
    let (sent, received) = std::sync::mpsc::channel();
    let (p, a) = (plugin.clone(), account.clone());
    std::thread::spawn(move || {
        let start = Instant::now();
        let result = p.poll(&a, "").map(|_| ());
        let _ = sent.send((result, start.elapsed()));
    });
    let (result, took) = received
        .recv_timeout(Duration::from_secs(20))
        .expect("the call did not end within 20 s of a 500 ms deadline");
    let err = result.expect_err("the hostile call must fail");
    assert!(
        matches!(err.reason, FailReason::Timeout(d) if d == DEADLINE),
        "unexpected reason: {err}"
    );
    assert!(took < DEADLINE + GRACE, "the call took {took:?}");
    assert_next_calls_work(plugin);
}

#[test]
fn infinite_loop_in_a_channel_call_hits_the_deadline() {
    let harness = Harness::new();
    let plugin = channel(harness.runtime());
    assert_cut_off_at_the_deadline(&plugin, &mode("loop"));
}

#[test]
fn a_guest_sleeping_in_a_host_call_is_cut_off_at_the_deadline() {
    let runtime = Runtime::new(RuntimeOptions::default()).unwrap();
    let plugin = channel(&runtime);
    // `sleep` writes a key before it sleeps: a call cut off returns no writes.
    assert_cut_off_at_the_deadline(&plugin, &mode("sleep"));
}

#[test]
fn a_server_that_never_answers_is_cut_off_at_the_call_deadline() {
    // The request's own deadline (8 s) is longer than the call's (500 ms).
    let runtime = Runtime::new(RuntimeOptions::default()).unwrap();
    let egress = std::sync::Arc::new(Egress::default());
    runtime.record_egress_to(egress.clone());
    let plugin = channel(&runtime);
    assert_cut_off_at_the_deadline(&plugin, &private("target", &silent_server()));
    // The request the deadline cut off is on record.
    let calls = egress.0.lock().unwrap();
    let cut_off = calls
        .iter()
        .flat_map(|c| &c.requests)
        .find(|r| r.path == "/ping")
        .expect("recorded");
    assert_eq!(cut_off.error.as_deref(), Some("no answer before the call ended"));
    assert_eq!(cut_off.status, None);
}

#[test]
fn a_request_body_never_finished_is_cut_off_at_the_call_deadline() {
    let runtime = Runtime::new(RuntimeOptions::default()).unwrap();
    let plugin = channel(&runtime);
    assert_cut_off_at_the_deadline(&plugin, &private("unfinished-body", &silent_server()));
}

#[test]
fn memory_bomb_hits_the_memory_limit() {
    let harness = Harness::new();
    let plugin = channel(harness.runtime());
    assert_fails_then_recovers(
        &plugin,
        &mode("bomb"),
        |r| matches!(r, FailReason::MemoryLimit(m) if m.contains("memory limit of 67108864 bytes exceeded")),
    );
}

#[test]
fn panic_is_a_trap_with_the_panic_message() {
    let harness = Harness::new();
    let plugin = channel(harness.runtime());
    assert_fails_then_recovers(
        &plugin,
        &mode("panic"),
        |r| matches!(r, FailReason::Trap(m) if m.contains("hostile plugin panicked on purpose")),
    );
}

#[test]
fn request_to_a_host_not_allowed_is_refused_and_never_sent() {
    let harness = Harness::new();
    let plugin = channel(harness.runtime());
    assert_fails_then_recovers(
        &plugin,
        &mode("denied"),
        |r| matches!(r, FailReason::RequestRefused(m) if m == "https://example.com:443 is not in the plugin's allowed hosts"),
    );
    assert!(
        harness.requests().is_empty(),
        "a refused request never reaches the network"
    );
}

#[test]
fn loopback_and_private_addresses_are_refused_unless_allowed() {
    // A real server on loopback, reachable only when the admin allows private addresses.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { break };
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\nconnection: close\r\n\r\npong");
        }
    });
    let runtime = Runtime::new(RuntimeOptions::default()).unwrap();
    let plugin = channel(&runtime);
    let target = format!("http://127.0.0.1:{port}");
    let mut account = testkit::account(&[("mode", "target"), ("target", &target)], &[]);

    account.allow_private = false;
    let err = plugin.poll(&account, "").expect_err("loopback must be refused");
    assert!(
        matches!(&err.reason, FailReason::RequestRefused(m) if m.contains("127.0.0.1") && m.contains("private or loopback")),
        "{err}"
    );

    account.allow_private = true;
    let page = plugin.poll(&account, "").expect("allowed by the admin");
    assert_eq!(page.value.posts[0].text, "pong");
    assert_eq!(page.requests.len(), 1);
    assert_eq!(page.requests[0].status, Some(200));
    assert_eq!(page.requests[0].path, "/ping");
}

#[test]
fn a_million_posts_exceed_the_output_cap() {
    let harness = Harness::new();
    let plugin = channel(harness.runtime());
    assert_fails_then_recovers(&plugin, &mode("million-posts"), |r| {
        matches!(r, FailReason::OutputLimit(m) if m.contains("1000000 posts, more than the 1000 allowed"))
            || matches!(r, FailReason::MemoryLimit(_))
    });
}

#[test]
fn an_oversized_field_exceeds_the_field_cap() {
    let harness = Harness::new();
    let plugin = channel(harness.runtime());
    assert_fails_then_recovers(
        &plugin,
        &mode("huge-field"),
        |r| matches!(r, FailReason::OutputLimit(m) if m.contains("field `text` has 1048576 bytes")),
    );
}

#[test]
fn a_100_mb_string_cannot_be_built_within_the_memory_limit() {
    let harness = Harness::new();
    let plugin = channel(harness.runtime());
    assert_fails_then_recovers(&plugin, &mode("huge-string"), |r| {
        matches!(r, FailReason::MemoryLimit(_))
    });
}

/// A plugin cannot make the host hold more than 1 MiB of verification marks
/// per call, however many it sends.
#[test]
fn verification_marks_are_capped_per_call() {
    let harness = Harness::new();
    let plugin = channel(harness.runtime());
    let out = plugin.poll(&mode("verify-flood"), "").unwrap();
    let kept: usize = out.verified.iter().map(|(a, n, v)| a.len() + n.len() + v.len()).sum();
    assert!(kept > 512 << 10 && kept <= 1 << 20, "{kept} bytes of marks kept");
}

/// A config field the manifest marks secret (`password`) is never handed to
/// the plugin, even when an account's config holds it.
#[test]
fn a_secret_config_field_never_reaches_the_plugin() {
    let harness = Harness::new();
    let plugin = channel(harness.runtime());
    let mut account = mode("config");
    account.config.insert("password".into(), "hunter2".into());
    let seen = plugin.poll(&account, "").unwrap().value.posts[0].text.clone();
    assert!(seen.contains("mode=config"), "{seen}");
    assert!(!seen.contains("hunter2") && !seen.contains("password"), "{seen}");
}

#[test]
fn key_value_writes_of_a_failed_call_are_not_kept() {
    let harness = Harness::new();
    let plugin = channel(harness.runtime());
    let mut account = mode("kv-then-panic");
    let err = plugin.poll(&account, "").unwrap_err();
    assert!(
        matches!(&err.reason, FailReason::Trap(m) if m.contains("after a key-value write")),
        "{err}"
    );

    account.config.insert("mode".into(), "kv".into());
    let ok = plugin.poll(&account, "").unwrap();
    assert_eq!(
        ok.value.posts[0].text, "",
        "the failed call's write never reached the next call"
    );
    assert_eq!(
        ok.kv_changes.get("token"),
        Some(&Some(b"fresh".to_vec())),
        "a successful call's writes come back to commit"
    );

    account.kv.insert("token".into(), b"fresh".to_vec());
    let again = plugin.poll(&account, "").unwrap();
    assert_eq!(
        again.value.posts[0].text, "fresh",
        "committed values are visible to later calls"
    );
}

fn assert_analyzer_fails_then_recovers(plugin: &AnalyzerPlugin, text: &str, check: impl Fn(&FailReason) -> bool) {
    let err = plugin
        .analyze(&[input(text), input("fine")])
        .expect_err("the hostile batch must fail");
    let message = err.to_string();
    assert!(message.starts_with("plugin hostile-analyzer: analyze: "), "{message}");
    assert!(check(&err.reason), "unexpected reason: {message}");
    let ok = plugin
        .analyze(&[input("fine"), input("also fine")])
        .expect("the next call works");
    assert_eq!(ok.value.len(), 2);
    assert_eq!(ok.value[0].sentiment, Some(0.5));
}

#[test]
fn infinite_loop_in_an_analyzer_runs_out_of_fuel() {
    let runtime = Runtime::new(RuntimeOptions::default()).unwrap();
    let plugin = analyzer(&runtime);
    assert_analyzer_fails_then_recovers(&plugin, "loop", |r| matches!(r, FailReason::OutOfFuel(200_000_000)));
}

#[test]
fn analyzer_memory_bomb_and_panic_fail_their_batch_only() {
    let runtime = Runtime::new(RuntimeOptions::default()).unwrap();
    let plugin = analyzer(&runtime);
    assert_analyzer_fails_then_recovers(&plugin, "bomb", |r| matches!(r, FailReason::MemoryLimit(_)));
    assert_analyzer_fails_then_recovers(
        &plugin,
        "panic",
        |r| matches!(r, FailReason::Trap(m) if m.contains("hostile analyzer panicked on purpose")),
    );
}

#[test]
fn analyzer_output_is_checked() {
    let runtime = Runtime::new(RuntimeOptions::default()).unwrap();
    let plugin = analyzer(&runtime);
    assert_analyzer_fails_then_recovers(
        &plugin,
        "too-few",
        |r| matches!(r, FailReason::InvalidOutput(m) if m == "0 analyses for 2 posts"),
    );
    assert_analyzer_fails_then_recovers(
        &plugin,
        "out-of-range",
        |r| matches!(r, FailReason::InvalidOutput(m) if m.contains("sentiment 5 is outside [-1, 1]")),
    );
}

fn manifest() -> Manifest {
    Manifest::parse("name = \"bad\"\nversion = \"1.0.0\"\nkind = \"analyzer\"\napi = \"^1.0\"").unwrap()
}

#[test]
fn a_file_that_is_not_wasm_is_refused() {
    let runtime = Runtime::new(RuntimeOptions::default()).unwrap();
    let err = runtime
        .load_analyzer(manifest().sandbox(), b"#!/bin/sh\nrm -rf /\n")
        .err()
        .unwrap();
    assert!(matches!(err, LoadError::NotWasm(_)));
    assert_eq!(
        err.to_string(),
        "bad@1.0.0: not a WebAssembly file (no `\\0asm` header)"
    );
}

#[test]
fn a_core_module_is_refused() {
    let runtime = Runtime::new(RuntimeOptions::default()).unwrap();
    let core = wat::parse_str("(module (func (export \"analyze\")))").unwrap();
    let err = runtime.load_analyzer(manifest().sandbox(), &core).err().unwrap();
    assert!(
        err.to_string().contains("a core WebAssembly module, not a component"),
        "{err}"
    );
}

#[test]
fn a_component_importing_what_the_host_does_not_offer_is_refused() {
    let runtime = Runtime::new(RuntimeOptions::default()).unwrap();
    let component = wat::parse_str(
        r#"(component
            (import "evil:host/files@1.0.0" (instance
                (export "read" (func (param "path" string) (result string))))))"#,
    )
    .unwrap();
    let err = runtime.load_analyzer(manifest().sandbox(), &component).err().unwrap();
    let message = err.to_string();
    assert!(matches!(err, LoadError::Link { .. }), "{message}");
    assert!(message.contains("evil:host/files@1.0.0"), "{message}");
}

#[test]
fn a_truncated_component_is_refused() {
    let runtime = Runtime::new(RuntimeOptions::default()).unwrap();
    let (_, wasm) = load(ANALYZER_DIR);
    let err = runtime
        .load_analyzer(manifest().sandbox(), &wasm[..wasm.len() / 2])
        .err()
        .unwrap();
    assert!(matches!(err, LoadError::Invalid { .. }), "{err}");
}

/// A server on loopback that answers `/echo` with the request body as it came
/// and `/reverse` with it reversed (a server that helps a plugin smuggle).
fn echo_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { break };
            let mut request = Vec::new();
            let mut buf = [0u8; 4096];
            let (head, body) = loop {
                let Ok(n) = stream.read(&mut buf) else {
                    break (String::new(), Vec::new());
                };
                request.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&request).to_string();
                if let Some((head, body)) = text.split_once("\r\n\r\n") {
                    let length = head
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().to_string())
                        })
                        .and_then(|v| v.parse::<usize>().ok())
                        .unwrap_or(0);
                    if body.len() >= length || n == 0 {
                        break (head.to_string(), body.as_bytes().to_vec());
                    }
                }
                if n == 0 {
                    break (String::new(), Vec::new());
                }
            };
            let mut answer = body;
            if head.starts_with("POST /reverse") {
                answer.reverse();
            }
            let _ = stream.write_all(
                format!(
                    "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    answer.len()
                )
                .as_bytes(),
            );
            let _ = stream.write_all(&answer);
        }
    });
    base
}

fn with_password(mode: &str, target: &str) -> Account {
    let mut account = testkit::account(&[("mode", mode), ("target", target)], &[("password", "hunter22")]);
    account.allow_private = true;
    account
}

#[test]
fn a_filled_secret_echoed_back_is_scrubbed_before_the_plugin_reads_it() {
    let runtime = Runtime::new(RuntimeOptions::default()).unwrap();
    let plugin = channel(&runtime);
    let page = plugin
        .poll(&with_password("echo-secret", &echo_server()), "")
        .expect("the echo call works");
    assert_eq!(page.value.posts[0].text, r#"{"password":"{{secret.password}}"}"#);
    assert_eq!(page.requests[0].status, Some(200));
}

#[test]
fn a_secret_is_filled_only_where_the_manifest_lets_it() {
    let runtime = Runtime::new(RuntimeOptions::default()).unwrap();
    let plugin = channel(&runtime);
    let err = plugin
        .poll(&with_password("fill-elsewhere", &echo_server()), "")
        .expect_err("no rule lets the password into /collect");
    assert!(
        matches!(&err.reason, FailReason::RequestRefused(m) if m.contains("secret `password` may not be filled in a request to http://127.0.0.1:")),
        "{err}"
    );
}

#[test]
fn the_responses_a_call_holds_share_one_budget() {
    let runtime = Runtime::new(RuntimeOptions::default()).unwrap();
    let (mut manifest, wasm) = load(CHANNEL_DIR);
    manifest.limits.max_call_response_bytes = 250_000;
    let plugin = runtime.load_channel(manifest.sandbox(), &wasm).unwrap();
    let page = plugin.poll(&private("fetch-many", &echo_server()), "").unwrap();
    let text = &page.value.posts[0].text;
    assert!(text.starts_with("2 "), "two responses of 100 KB fit in 250 KB: {text}");
    let errors: Vec<_> = page.requests.iter().filter_map(|r| r.error.as_deref()).collect();
    assert_eq!(errors.len(), 3, "{:?}", page.requests);
    for error in errors {
        assert_eq!(
            error, "response body over the 50000-byte cap",
            "each later one gets what is left"
        );
    }
    let held: usize = page.requests.iter().map(|r| r.response_bytes).sum();
    assert_eq!(held, 200_000);
}

#[test]
fn a_secret_a_plugin_smuggled_out_never_reaches_its_error() {
    let runtime = Runtime::new(RuntimeOptions::default()).unwrap();
    let plugin = channel(&runtime);
    let err = plugin
        .poll(&with_password("leak-secret", &echo_server()), "")
        .expect_err("the plugin reports what it learned as an error");
    let message = err.to_string();
    assert!(!message.contains("hunter22"), "{message}");
    assert!(
        message.ends_with(r#"learned {"password":"[secret password]"}"#),
        "{message}"
    );
}
