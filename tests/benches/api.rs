//! HTTP API benchmark: `cargo xtask bench`.
//!
//! The insights benchmark's world (N posts, default 1,000,000;
//! `SOCIALCRM_BENCH_POSTS` sets it), scored by `recompute`, behind the server's
//! router on loopback. The load comes from a separate process (this binary
//! again, with `--load`): keep-alive connections sending requests back to back
//! for a fixed time. Measured: the inbox's first page, a page deep in it (by
//! cursor), and the customer 360 over a spread of contacts, each against
//! `/healthz` (one trivial query) in the same run, as requests per second and
//! latency, with the share of a core the load process itself used (near 100%
//! on `/healthz` means the client, not the server, caps that figure and the
//! ratios to it). On SQLite, and on PostgreSQL when
//! `SOCIALCRM_TEST_POSTGRES_URL` is set.

#[path = "common/postgres.rs"]
mod postgres;
#[path = "common/world.rs"]
mod world;

use std::time::{Duration, Instant};

// The allocator of the `socialcrm` binary, whose serving this measures.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use serde_json::{Value, json};
use socialcrm::app::App;
use socialcrm::ingest::{Ingest, IngestOptions};
use socialcrm::insights;
use socialcrm::runtime::{Runtime, RuntimeOptions};
use socialcrm::secrets::SecretBox;
use socialcrm::store::Db;
use socialcrm::tokens::{self, Role};

/// Concurrent keep-alive connections of the load process.
const CONNECTIONS: usize = 16;
/// Each route is measured this long, after a warm-up of `WARM_UP`.
const SECONDS: u64 = 10;
const WARM_UP: Duration = Duration::from_secs(1);
/// Contacts the 360 cycles through, evenly spread over all of them.
const SPREAD: usize = 256;

/// Load mode: `--load BASE TOKEN CONNECTIONS SECONDS PATH...`. Each connection
/// cycles through the paths from its own offset; prints one JSON object.
async fn load(args: &[String]) -> Value {
    let [base, token, connections, seconds, paths @ ..] = args else {
        panic!("usage: --load BASE TOKEN CONNECTIONS SECONDS PATH...");
    };
    let connections: usize = connections.parse().unwrap();
    let seconds: u64 = seconds.parse().unwrap();
    let start = Instant::now() + WARM_UP;
    let end = start + Duration::from_secs(seconds);
    let workers: Vec<_> = (0..connections)
        .map(|worker| {
            // A client each, so each worker keeps exactly one connection.
            let http = reqwest::Client::builder().pool_max_idle_per_host(1).build().unwrap();
            let urls: Vec<String> = paths.iter().map(|p| format!("{base}{p}")).collect();
            let auth = format!("Bearer {token}");
            tokio::spawn(async move {
                let (mut latencies, mut errors) = (Vec::new(), 0u64);
                let mut i = worker;
                loop {
                    let sent = Instant::now();
                    if sent >= end {
                        break;
                    }
                    let response = http
                        .get(&urls[i % urls.len()])
                        .header(reqwest::header::AUTHORIZATION, &auth)
                        .send()
                        .await;
                    let ok = match response {
                        Ok(r) => r.status().is_success() && r.bytes().await.is_ok(),
                        Err(_) => false,
                    };
                    if sent >= start {
                        latencies.push(sent.elapsed());
                        errors += u64::from(!ok);
                    }
                    i += connections;
                }
                (latencies, errors)
            })
        })
        .collect();
    // The client's CPU is counted from the end of the warm-up, like the requests.
    tokio::time::sleep_until(start.into()).await;
    let cpu_at_start = cpu_seconds();
    let (mut latencies, mut errors) = (Vec::new(), 0);
    for worker in workers {
        let (l, e) = worker.await.unwrap();
        latencies.extend(l);
        errors += e;
    }
    // Requests still in flight at `end` finish after it: count the time they took.
    let elapsed = start.elapsed().as_secs_f64();
    let client_cpu = (cpu_seconds() - cpu_at_start) / elapsed;
    latencies.sort();
    let ms = |q: f64| latencies[((latencies.len() - 1) as f64 * q) as usize].as_secs_f64() * 1e3;
    json!({
        "requests": latencies.len(),
        "errors": errors,
        "rps": latencies.len() as f64 / elapsed,
        "p50_ms": ms(0.50),
        "p99_ms": ms(0.99),
        "max_ms": ms(1.0),
        "client_cpu": client_cpu,
    })
}

/// CPU seconds this process has used (Linux `/proc/self/stat`, in the
/// kernel's 100 ticks a second); 0 where that cannot be read.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may hold spaces), from field 3 on.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or_default();
    (ticks(11) + ticks(12)) / 100.0
}

/// Runs the load process against `paths` and returns its report.
async fn measure(base: &str, token: &str, paths: &[String]) -> Value {
    let output = tokio::process::Command::new(std::env::current_exe().unwrap())
        .arg("--load")
        .args([base, token, &CONNECTIONS.to_string(), &SECONDS.to_string()])
        .args(paths)
        .output()
        .await
        .unwrap();
    assert!(
        output.status.success(),
        "load process: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// The cursor of the inbox page after its first `depth` posts.
async fn deep_cursor(http: &reqwest::Client, base: &str, depth: usize) -> String {
    let mut cursor = String::new();
    for _ in 0..depth.div_ceil(200) {
        let page: Value = http
            .get(format!("{base}/api/v1/posts?limit=200{cursor}"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let next = page["next_cursor"].as_str().expect("the inbox is deeper than that");
        cursor = format!("&cursor={next}");
    }
    cursor
}

async fn run(backend: &str, url: &str, n: usize) {
    let db = Db::connect(url).await.unwrap();
    let start = Instant::now();
    let contacts = world::generate(&db, n).await;
    insights::recompute(&db, world::NOW).await.unwrap();
    if backend == "postgresql" {
        sqlx::query("ANALYZE").execute(db.pool()).await.unwrap();
    }
    let prepared = start.elapsed().as_secs_f64();

    let ingest = Ingest::new(
        db.clone(),
        SecretBox::from_key(&[1; 32]).unwrap(),
        Runtime::new(RuntimeOptions::default()).unwrap(),
        vec![],
        IngestOptions::default(),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(axum::serve(listener, socialcrm::server::router(App::new(ingest))).into_future());
    let token = tokens::create(&db, "bench", Role::Viewer, "bench").await.unwrap();
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::AUTHORIZATION,
        format!("Bearer {token}").parse().unwrap(),
    );
    let http = reqwest::Client::builder().default_headers(headers).build().unwrap();

    let deep = n / 2;
    let cursor = deep_cursor(&http, &base, deep).await;
    let routes: Vec<(String, Vec<String>)> = vec![
        ("/healthz".into(), vec!["/healthz".into()]),
        ("inbox first page".into(), vec!["/api/v1/posts?limit=50".into()]),
        (
            format!("inbox page after {deep}"),
            vec![format!("/api/v1/posts?limit=50{cursor}")],
        ),
        (
            format!("contact 360 ({SPREAD} contacts)"),
            (0..SPREAD)
                .map(|k| format!("/api/v1/contacts/{}", 1 + k * contacts / SPREAD))
                .collect(),
        ),
    ];
    // Every path answers in full before it is timed.
    for (_, paths) in &routes {
        for path in paths {
            let response = http.get(format!("{base}{path}")).send().await.unwrap();
            assert!(response.status().is_success(), "{path}: {}", response.status());
        }
    }

    println!(
        "api {backend:<10} {n} posts, {contacts} contacts (generated and scored in {prepared:.0} s); \
         {CONNECTIONS} connections from another process, {SECONDS} s a route"
    );
    println!(
        "api {backend:<10} {:<28} {:>8} {:>8} {:>8} {:>8} {:>7} {:>12} {:>11}",
        "route", "req/s", "p50 ms", "p99 ms", "max ms", "errors", "vs /healthz", "client CPU"
    );
    let mut reference = None;
    for (name, paths) in &routes {
        let report = measure(&base, &token, paths).await;
        let rps = report["rps"].as_f64().unwrap();
        let reference = *reference.get_or_insert(rps);
        println!(
            "api {backend:<10} {name:<28} {rps:>8.0} {:>8.2} {:>8.2} {:>8.2} {:>7} {:>12.3} {:>10.0}%",
            report["p50_ms"].as_f64().unwrap(),
            report["p99_ms"].as_f64().unwrap(),
            report["max_ms"].as_f64().unwrap(),
            report["errors"].as_u64().unwrap(),
            rps / reference,
            report["client_cpu"].as_f64().unwrap_or_default() * 100.0,
        );
    }
    server.abort();
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--load") {
        // The load process: one thread, so it takes one core at most.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        println!("{}", runtime.block_on(load(&args[1..])));
        return;
    }
    let n: usize = std::env::var("SOCIALCRM_BENCH_POSTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let sqlite = format!("sqlite://{}?mode=rwc", dir.path().join("api.db").display());
        run("sqlite", &sqlite, n).await;
        postgres::in_schema("bench_api", |url| async move { run("postgresql", &url, n).await }).await;
    });
}
