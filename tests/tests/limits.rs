//! Every sandbox limit at its default (docs/architecture.md, "Limits"). The
//! hostile fixtures run with their manifests' own limits taken out, so the
//! host's defaults apply: just under a limit works, just over it fails with
//! the reason that names it. Each test also pins the documented number, so a
//! default that moves, or stops applying, fails a test here.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use socialcrm::plugins::Manifest;
use socialcrm::runtime::types::Page;
use socialcrm::runtime::types::PluginError;
use socialcrm::runtime::{
    Account, AnalyzerPlugin, CallError, CallOutput, ChannelPlugin, FailReason, Limits, Runtime, RuntimeOptions,
};

#[path = "common/fixtures.rs"]
mod fixtures;
use fixtures::{ANALYZER_DIR, CHANNEL_DIR, Egress, input, load, mode, private, silent_server};

/// A runtime with the host's default maximums, compiled plugins cached.
fn new_runtime() -> Runtime {
    let max_limits = RuntimeOptions::default().max_limits;
    assert_eq!(max_limits, Limits::default(), "the host's maximums are the defaults");
    runtime_with(max_limits)
}

/// A runtime with these maximums (an admin's), compiled plugins cached.
fn runtime_with(max_limits: Limits) -> Runtime {
    Runtime::new(RuntimeOptions {
        cache_dir: Some(std::env::temp_dir().join("socialcrm-testkit-cache")),
        max_limits,
        ..RuntimeOptions::default()
    })
    .unwrap()
}

/// `manifest` with its `[limits]` taken out: the host's defaults apply, as to
/// a manifest without any (`a_manifest_without_limits_gets_the_defaults`).
fn at_defaults(mut manifest: Manifest) -> Manifest {
    manifest.limits = Limits::default();
    manifest
}

/// The hostile channel at the default limits, on `runtime`.
fn channel_on(runtime: &Runtime) -> ChannelPlugin {
    let (manifest, wasm) = load(CHANNEL_DIR);
    let plugin = runtime.load_channel(at_defaults(manifest).sandbox(), &wasm).unwrap();
    assert_eq!(plugin.meta().limits, Limits::default());
    plugin
}

/// The hostile channel at the default limits, shared by the tests.
fn channel() -> &'static ChannelPlugin {
    static CHANNEL: OnceLock<ChannelPlugin> = OnceLock::new();
    CHANNEL.get_or_init(|| channel_on(&new_runtime()))
}

/// The hostile analyzer at the default limits, shared by the tests.
fn analyzer() -> &'static AnalyzerPlugin {
    static ANALYZER: OnceLock<AnalyzerPlugin> = OnceLock::new();
    ANALYZER.get_or_init(|| {
        let (manifest, wasm) = load(ANALYZER_DIR);
        let plugin = new_runtime()
            .load_analyzer(at_defaults(manifest).sandbox(), &wasm)
            .unwrap();
        assert_eq!(plugin.meta().limits, Limits::default());
        plugin
    })
}

fn poll(account: &Account) -> Result<CallOutput<Page>, CallError> {
    channel().poll(account, "")
}

/// The text of the one post a successful call returned.
fn text(page: &CallOutput<Page>) -> &str {
    &page.value.posts[0].text
}

/// The reason of a call that must fail, its message checked to name the plugin.
fn reason(result: Result<CallOutput<Page>, CallError>) -> FailReason {
    let err = result.expect_err("the call must fail");
    assert!(err.to_string().starts_with("plugin hostile-channel: poll: "), "{err}");
    err.reason
}

/// Runs `call` on a thread of its own: its result and how long it took, or a
/// failed test if it does not end within `at_most`.
fn timed<T: Send + 'static>(at_most: Duration, call: impl FnOnce() -> T + Send + 'static) -> (T, Duration) {
    let (sent, received) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let start = Instant::now();
        let result = call();
        let _ = sent.send((result, start.elapsed()));
    });
    received
        .recv_timeout(at_most)
        .unwrap_or_else(|_| panic!("the call did not end within {at_most:?}"))
}

/// A loopback server: `GET /ping` answers `pong`, `GET /bytes/N` N bytes,
/// `GET /slow/MS` `pong` after MS milliseconds, `POST /upload` the length of
/// the body it received. One per test binary.
fn server() -> &'static str {
    use axum::Router;
    use axum::extract::{DefaultBodyLimit, Path};
    use axum::routing::{get, post};

    static BASE: OnceLock<String> = OnceLock::new();
    BASE.get_or_init(|| {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let app = Router::new()
            .route("/ping", get(async || "pong"))
            .route("/bytes/{n}", get(async |Path(n): Path<usize>| vec![b'x'; n]))
            .route(
                "/slow/{ms}",
                get(async |Path(ms): Path<u64>| {
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                    "pong"
                }),
            )
            .route("/upload", post(async |body: axum::body::Bytes| body.len().to_string()))
            .layer(DefaultBodyLimit::disable());
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                axum::serve(listener, app).await.unwrap();
            });
        });
        base
    })
}

// --- Memory ---------------------------------------------------------------

#[test]
fn memory_is_64_mib_per_instance() {
    let limit = Limits::default().memory_bytes;
    assert_eq!(limit, 64 << 20);
    // The plugin's own memory (stack, data, heap) takes 1 to 2 MiB: 62 MiB
    // more fits in 64 MiB, 63 MiB more does not.
    let (under, over) = (limit - (2 << 20), limit - (1 << 20));
    let refused = |r: &FailReason| matches!(r, FailReason::MemoryLimit(m) if m.starts_with("memory limit of 67108864 bytes exceeded"));

    let page = poll(&mode(&format!("alloc:{under}"))).expect("62 MiB fits");
    assert_eq!(text(&page), "65011712");
    let r = reason(poll(&mode(&format!("alloc:{over}"))));
    assert!(refused(&r), "{r}");

    // An analyzer has the same limit.
    let ok = analyzer()
        .analyze(&[input(&format!("alloc:{under}"))])
        .expect("62 MiB fits");
    assert_eq!(ok.value.len(), 1);
    let err = analyzer()
        .analyze(&[input(&format!("alloc:{over}"))])
        .expect_err("63 MiB does not fit");
    assert!(refused(&err.reason), "{err}");
}

// --- Time -----------------------------------------------------------------

#[test]
fn an_analyzer_batch_has_1_s() {
    let deadline = Limits::default().analyzer_timeout;
    assert_eq!(deadline, Duration::from_secs(1));
    analyzer(); // loaded before the clocks start

    // Waiting in a host call (a clock) burns no fuel: only the deadline stops it.
    let (ok, took) = timed(Duration::from_secs(10), || {
        analyzer().analyze(&[input("sleep:700")]).map(|o| o.value.len())
    });
    assert_eq!(ok.expect("700 ms is within the deadline"), 1);
    assert!(took >= Duration::from_millis(700), "{took:?}");

    let (err, took) = timed(Duration::from_secs(10), || {
        analyzer().analyze(&[input("sleep:1500")]).map(|o| o.value.len())
    });
    let err = err.expect_err("1.5 s is past the deadline");
    assert!(
        matches!(err.reason, FailReason::Timeout(d) if d == Duration::from_secs(1)),
        "{err}"
    );
    assert_eq!(err.to_string(), "plugin hostile-analyzer: analyze: timed out after 1s");
    assert!(
        took >= deadline && took < Duration::from_millis(1_500),
        "cut off at the deadline: {took:?}"
    );
}

#[test]
fn an_analyzer_batch_has_3_billion_units_of_fuel() {
    let fuel = Limits::default().analyzer_fuel;
    assert_eq!(fuel, 3_000_000_000);
    // An admin's longer deadline, so that only fuel stops the loop (here, 3
    // billion units take about half a second, close enough to the default
    // 1 s that a loaded machine would time out first).
    let runtime = runtime_with(Limits {
        analyzer_timeout: Duration::from_secs(60),
        ..Limits::default()
    });
    let (manifest, wasm) = load(ANALYZER_DIR);
    let plugin = runtime.load_analyzer(at_defaults(manifest).sandbox(), &wasm).unwrap();
    assert_eq!(plugin.meta().limits.analyzer_fuel, fuel);
    // `spin:N` burns a fixed amount plus a fixed amount per turn: measured,
    // then asked for 1% under and 1% over the limit.
    let used = |turns: u64| {
        plugin
            .analyze(&[input(&format!("spin:{turns}"))])
            .expect("a short loop")
            .fuel_used
    };
    let (one, two) = (used(1_000_000), used(2_000_000));
    let (fixed, per_million_turns) = (2 * one - two, two - one);
    let turns = |target: u64| (target - fixed) * 1_000_000 / per_million_turns;

    let under = plugin
        .analyze(&[input(&format!("spin:{}", turns(fuel / 100 * 99)))])
        .expect("99% of the fuel");
    assert!(
        under.fuel_used > fuel / 100 * 98 && under.fuel_used < fuel,
        "{}",
        under.fuel_used
    );
    let err = plugin
        .analyze(&[input(&format!("spin:{}", turns(fuel / 100 * 101)))])
        .expect_err("101% of the fuel");
    assert!(matches!(err.reason, FailReason::OutOfFuel(3_000_000_000)), "{err}");
    assert_eq!(
        err.to_string(),
        "plugin hostile-analyzer: analyze: ran out of fuel (3000000000 units)"
    );
}

/// Both clocks of the network, at once so the test takes 10 s, not 35.
#[test]
fn a_call_has_10_s_and_a_request_8_s() {
    let call = Limits::default().channel_timeout;
    let request = Limits::default().request_timeout;
    assert_eq!(call, Duration::from_secs(10));
    assert_eq!(request, Duration::from_secs(8));
    let at_most = Duration::from_secs(30);
    channel(); // loaded before the clocks start

    // A call of 9.5 s is within its 10 s.
    let long_call = std::thread::spawn(move || timed(at_most, || poll(&mode("sleep:9500"))));
    // A request answered after 7.5 s is within its 8 s.
    let slow = std::thread::spawn(move || timed(at_most, || poll(&private("get:1:/slow/7500", server()))));
    // A server that never answers: the request gives up after 8 s, and the
    // plugin reports that in a call that goes on.
    let never = private("get:1:/ping", &silent_server());
    let never = std::thread::spawn(move || timed(at_most, move || poll(&never)));
    // Two requests to it: the first gives up after 8 s, the second is cut off
    // when the call's 10 s are up (20 requests of 8 s cannot outlast a call).
    let runtime = new_runtime();
    let egress = Arc::new(Egress::default());
    runtime.record_egress_to(egress.clone());
    let plugin = channel_on(&runtime);
    let twice = private("get:2:/ping", &silent_server());
    let (result, took) = timed(at_most, move || plugin.poll(&twice, "").map(|_| ()));
    let err = result.expect_err("the call must be cut off");
    assert!(matches!(err.reason, FailReason::Timeout(d) if d == call), "{err}");
    assert_eq!(err.to_string(), "plugin hostile-channel: poll: timed out after 10s");
    assert!(took >= call && took < call + Duration::from_secs(1), "{took:?}");
    let calls = egress.0.lock().unwrap();
    let errors: Vec<_> = calls
        .iter()
        .flat_map(|c| &c.requests)
        .map(|r| r.error.as_deref())
        .collect();
    assert_eq!(
        errors,
        [Some("timed out after 8s"), Some("no answer before the call ended")]
    );

    let (result, took) = never.join().unwrap();
    let page = result.expect("the plugin reports what its request got");
    assert_eq!(text(&page), "0 0 network error: ErrorCode::ConnectionTimeout");
    assert_eq!(page.requests[0].error.as_deref(), Some("timed out after 8s"));
    assert!(took >= request && took < request + Duration::from_secs(1), "{took:?}");

    let (result, took) = slow.join().unwrap();
    let page = result.expect("7.5 s is within the request's deadline");
    assert_eq!(text(&page), "1 4");
    assert_eq!(page.requests[0].status, Some(200));
    assert!(took >= Duration::from_millis(7_500), "{took:?}");

    let (result, took) = long_call.join().unwrap();
    assert_eq!(text(&result.expect("9.5 s is within the call's deadline")), "woke up");
    assert!(took >= Duration::from_millis(9_500), "{took:?}");
}

// --- Output ---------------------------------------------------------------

#[test]
fn a_page_has_1000_posts() {
    let max = Limits::default().max_posts;
    assert_eq!(max, 1_000);
    let page = poll(&mode(&format!("posts:{max}"))).expect("1000 posts");
    assert_eq!(page.value.posts.len(), 1_000);
    let r = reason(poll(&mode(&format!("posts:{}", max + 1))));
    assert!(
        matches!(&r, FailReason::OutputLimit(m) if m == "1001 posts, more than the 1000 allowed per call"),
        "{r}"
    );
}

#[test]
fn a_field_has_256_kib() {
    let max = Limits::default().max_field_bytes;
    assert_eq!(max, 256 << 10);
    let page = poll(&mode(&format!("field:{max}"))).expect("256 KiB");
    assert_eq!(text(&page).len(), 262_144);
    let r = reason(poll(&mode(&format!("field:{}", max + 1))));
    assert!(
        matches!(&r, FailReason::OutputLimit(m) if m == "field `text` has 262145 bytes, more than 262144"),
        "{r}"
    );
}

#[test]
fn a_call_outputs_16_mib_of_strings() {
    let max = Limits::default().max_output_bytes;
    assert_eq!(max, 16 << 20);
    let page = poll(&mode(&format!("output:{max}"))).expect("16 MiB");
    // The strings the host counts (the fixture's posts leave the others out).
    let counted: usize = page
        .value
        .posts
        .iter()
        .map(|p| {
            p.external_id.len()
                + p.text.len()
                + p.created_at.len()
                + p.raw.len()
                + p.author.external_id.len()
                + p.author.handle.len()
        })
        .sum();
    assert_eq!(counted, 16_777_216);
    let r = reason(poll(&mode(&format!("output:{}", max + 1))));
    assert!(
        matches!(&r, FailReason::OutputLimit(m) if m == "more than 16777216 bytes in one call"),
        "{r}"
    );
}

// --- Network --------------------------------------------------------------

#[test]
fn a_call_makes_20_requests() {
    let max = Limits::default().max_requests;
    assert_eq!(max, 20);
    let page = poll(&private(&format!("get:{max}:/ping"), server())).expect("20 requests");
    assert_eq!(text(&page), "20 80");
    assert_eq!(page.requests.len(), 20);
    assert!(
        page.requests.iter().all(|r| r.status == Some(200)),
        "{:?}",
        page.requests
    );
    let r = reason(poll(&private(&format!("get:{}:/ping", max + 1), server())));
    assert!(
        matches!(&r, FailReason::RequestRefused(m) if m == "more than 20 requests in one call"),
        "{r}"
    );
}

#[test]
fn a_request_body_has_1_mib() {
    let max = Limits::default().max_request_bytes;
    assert_eq!(max, 1 << 20);
    let page = poll(&private(&format!("upload:{max}"), server())).expect("1 MiB");
    assert_eq!(text(&page), "1 7", "the server answers the length it got");
    assert_eq!(page.requests[0].request_bytes, 1_048_576);
    assert_eq!(page.requests[0].status, Some(200));

    let page = poll(&private(&format!("upload:{}", max + 1), server())).expect("the plugin reports the error");
    let request = &page.requests[0];
    assert_eq!(request.error.as_deref(), Some("request body over 1048576 bytes"));
    assert_eq!(request.status, None);
    assert_eq!(text(&page), "0 0 network error: ErrorCode::HttpRequestBodySize(None)");
}

#[test]
fn a_response_body_has_8_mib() {
    let max = Limits::default().max_response_bytes;
    assert_eq!(max, 8 << 20);
    let page = poll(&private(&format!("get:1:/bytes/{max}"), server())).expect("8 MiB");
    assert_eq!(text(&page), "1 8388608");
    assert_eq!(page.requests[0].response_bytes, 8_388_608);

    let page = poll(&private(&format!("get:1:/bytes/{}", max + 1), server())).expect("the plugin reports the error");
    assert_eq!(
        page.requests[0].error.as_deref(),
        Some("response body over the 8388608-byte cap")
    );
    assert_eq!(
        text(&page),
        "0 0 network error: ErrorCode::HttpResponseBodySize(Some(8388608))"
    );
}

#[test]
fn a_call_holds_32_mib_of_responses() {
    let max = Limits::default().max_call_response_bytes;
    assert_eq!(max, 32 << 20);
    let each = Limits::default().max_response_bytes;
    // Four responses of 8 MiB fill the budget exactly; a fifth gets nothing.
    let page = poll(&private(&format!("get:5:/bytes/{each}"), server())).expect("the plugin reports the error");
    assert!(text(&page).starts_with("4 33554432 network error: "), "{}", text(&page));
    let held: usize = page.requests.iter().map(|r| r.response_bytes).sum();
    assert_eq!(held, 33_554_432);
    assert_eq!(
        page.requests[4].error.as_deref(),
        Some("the responses of this call are over 33554432 bytes")
    );
}

// --- State and diagnostics ------------------------------------------------

#[test]
fn an_account_keeps_64_kib_of_key_value_data() {
    let max = Limits::default().max_kv_bytes;
    assert_eq!(max, 64 << 10);
    // `kv-fill:N` writes N bytes: the key `fill` and N - 4 bytes of value.
    let page = poll(&mode(&format!("kv-fill:{max}"))).expect("64 KiB");
    assert_eq!(text(&page), "65532");
    assert_eq!(page.kv_changes["fill"].as_ref().map(Vec::len), Some(65_532));

    let quota = |r: &FailReason| matches!(r, FailReason::Plugin(PluginError::Transient(m)) if m == "key-value quota of 65536 bytes exceeded");
    let r = reason(poll(&mode(&format!("kv-fill:{}", max + 1))));
    assert!(quota(&r), "{r}");

    // What the account keeps already counts.
    let mut account = mode(&format!("kv-fill:{}", max - 8));
    account.kv.insert("old".into(), vec![b'x'; 5]);
    assert!(poll(&account).is_ok(), "65528 + 8 bytes fit");
    account.kv.insert("old".into(), vec![b'x'; 6]);
    let r = reason(poll(&account));
    assert!(quota(&r), "{r}");
}

/// Events the host logged while `call` ran on this thread: (target,
/// message, the `account` field).
fn logged<T>(call: impl FnOnce() -> T) -> (T, Vec<(String, String, String)>) {
    use tracing_subscriber::layer::{Context, SubscriberExt};

    #[derive(Clone, Default)]
    struct Events(Arc<Mutex<Vec<(String, String, String)>>>);

    impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Events {
        fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
            #[derive(Default)]
            struct Message(String, String);
            impl tracing::field::Visit for Message {
                fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                    if field.name() == "message" {
                        self.0 = format!("{value:?}");
                    }
                }
                fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
                    match field.name() {
                        "message" => self.0 = value.to_string(),
                        "account" => self.1 = value.to_string(),
                        _ => {}
                    }
                }
            }
            let mut message = Message::default();
            event.record(&mut message);
            let target = event.metadata().target().to_string();
            self.0.lock().unwrap().push((target, message.0, message.1));
        }
    }

    let events = Events::default();
    let subscriber = tracing_subscriber::registry().with(events.clone());
    let result = tracing::subscriber::with_default(subscriber, call);
    let events = events.0.lock().unwrap().clone();
    (result, events)
}

#[test]
fn a_call_logs_200_lines() {
    let max = Limits::default().max_log_lines;
    assert_eq!(max, 200);
    const CAP: &str = "log line cap reached; dropping the rest of this call's lines";
    let lines = |events: &[(String, String, String)]| -> Vec<String> {
        events
            .iter()
            .filter(|(target, _, account)| target == "plugin" && account == "test")
            .map(|(_, m, _)| m.clone())
            .collect()
    };

    let (result, events) = logged(|| poll(&mode(&format!("log:{max}"))));
    let out = result.expect("200 lines");
    let kept = lines(&events);
    assert_eq!(kept.len(), 200);
    assert_eq!(kept.last().map(String::as_str), Some("line 200"));
    // The same lines come back with the call's output.
    let returned: Vec<&str> = out.logs.iter().map(|l| l.message.as_str()).collect();
    assert_eq!(returned, kept);
    assert!(!events.iter().any(|(_, m, _)| m == CAP), "{events:?}");

    let (result, events) = logged(|| poll(&mode(&format!("log:{}", max + 1))));
    let out = result.expect("lines over the cap are dropped, the call goes on");
    let kept = lines(&events);
    assert_eq!(kept.len(), 200);
    assert_eq!(out.logs.len(), 200);
    assert_eq!(kept.last().map(String::as_str), Some("line 200"));
    assert_eq!(events.iter().filter(|(_, m, _)| m == CAP).count(), 1, "{events:?}");
}

#[test]
fn a_call_keeps_8_kib_of_stderr() {
    // No public constant: `STDERR_CAPACITY` in sandbox/src/state.rs; the
    // last 8 KiB are kept (`runtime/stderr.rs`).
    const KEPT: usize = 8 << 10;
    assert_eq!(KEPT, 8_192);
    // `stderr:N` writes N bytes in lines `0000000\n` of their offset, then
    // traps; the trap shows the tail of what the host kept.
    let r = reason(poll(&mode(&format!("stderr:{KEPT}"))));
    assert!(
        matches!(&r, FailReason::Trap(m) if m.contains("unreachable") && m.ends_with("0008176\n0008184")),
        "{r}"
    );
    // Past 8 KiB the last bytes are kept, so what a plugin says last (its
    // panic message) survives a flood before it.
    let r = reason(poll(&mode(&format!("stderr:{}", 4 * KEPT))));
    assert!(
        matches!(&r, FailReason::Trap(m) if m.ends_with("0032760")),
        "the last line is kept: {r}"
    );
}

// --- Manifests ------------------------------------------------------------

/// The hostile channel's manifest with `limits` as its `[limits]` (none when empty).
fn manifest_with(limits: &str) -> Manifest {
    let text = std::fs::read_to_string(format!("{CHANNEL_DIR}/plugin.toml")).unwrap();
    let old = "limits = { channel-timeout-ms = 500 }";
    assert!(text.contains(old), "the fixture's manifest changed");
    let new = if limits.is_empty() {
        String::new()
    } else {
        format!("limits = {{ {limits} }}")
    };
    Manifest::parse(&text.replace(old, &new)).unwrap()
}

#[test]
fn a_manifest_without_limits_gets_the_defaults() {
    let manifest = manifest_with("");
    assert_eq!(manifest.limits, Limits::default());
    let (_, wasm) = load(CHANNEL_DIR);
    let plugin = new_runtime().load_channel(manifest.sandbox(), &wasm).unwrap();
    assert_eq!(plugin.meta().limits, Limits::default());
}

#[test]
fn a_manifest_asking_for_more_gets_the_hosts_maximum() {
    // Parsed without complaint, then held to the host's maximums at load.
    let manifest = manifest_with(
        "memory-bytes = 1073741824, channel-timeout-ms = 600000, analyzer-timeout-ms = 600000, \
         analyzer-fuel = 30000000000, max-posts = 100000, max-field-bytes = 16777216, \
         max-output-bytes = 1073741824, max-requests = 1000, request-timeout-ms = 600000, \
         max-request-bytes = 1073741824, max-response-bytes = 1073741824, \
         max-call-response-bytes = 1073741824, max-log-lines = 100000, max-kv-bytes = 1073741824",
    );
    assert_eq!(manifest.limits.max_requests, 1_000);
    let (_, wasm) = load(CHANNEL_DIR);
    let plugin = new_runtime().load_channel(manifest.sandbox(), &wasm).unwrap();
    assert_eq!(plugin.meta().limits, Limits::default());
    let r = reason(plugin.poll(&private("get:21:/ping", server()), ""));
    assert!(
        matches!(&r, FailReason::RequestRefused(m) if m == "more than 20 requests in one call"),
        "{r}"
    );
    let r = reason(plugin.poll(&mode(&format!("alloc:{}", 63 << 20)), ""));
    assert!(
        matches!(&r, FailReason::MemoryLimit(m) if m.starts_with("memory limit of 67108864 bytes exceeded")),
        "{r}"
    );
}

#[test]
fn a_manifest_may_lower_a_limit() {
    let manifest = manifest_with("max-requests = 5, max-kv-bytes = 1000");
    let (_, wasm) = load(CHANNEL_DIR);
    let plugin = new_runtime().load_channel(manifest.sandbox(), &wasm).unwrap();
    assert_eq!(
        plugin.meta().limits,
        Limits {
            max_requests: 5,
            max_kv_bytes: 1_000,
            ..Limits::default()
        }
    );
    assert_eq!(
        text(&plugin.poll(&private("get:5:/ping", server()), "").unwrap()),
        "5 20"
    );
    let r = reason(plugin.poll(&private("get:6:/ping", server()), ""));
    assert!(
        matches!(&r, FailReason::RequestRefused(m) if m == "more than 5 requests in one call"),
        "{r}"
    );
    let r = reason(plugin.poll(&mode("kv-fill:1001"), ""));
    assert!(
        matches!(&r, FailReason::Plugin(PluginError::Transient(m)) if m == "key-value quota of 1000 bytes exceeded"),
        "{r}"
    );
}
