//! Fuzz targets for what hostile input reaches: the manifest parser, the
//! package reader, the webhook handlers of the bundled channels through the
//! host, the CSV import and the API cursor decoder. Each takes seeds from
//! `tests/fuzz/` (and the bundled manifests), mutates them with proptest, and
//! fails on a panic or on a verdict that is neither a value nor a clean error.
//! They are ignored by `cargo test`: `cargo xtask fuzz [CASES]` runs them,
//! bounded, on the stable toolchain.

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

/// Cases per target unless `SOCIALCRM_FUZZ_CASES` says otherwise.
const DEFAULT_CASES: u32 = 2_000;

fn runner() -> TestRunner {
    let cases = std::env::var("SOCIALCRM_FUZZ_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(DEFAULT_CASES);
    TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    })
}

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

/// The files of `tests/fuzz/NAME/`, the seed corpus of one target.
fn seeds(name: &str) -> Vec<Vec<u8>> {
    let dir = format!("{ROOT}/tests/fuzz/{name}");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{dir}: {e}"))
        .filter_map(Result::ok)
        .map(|f| f.path())
        .collect();
    files.sort();
    files.iter().filter_map(|f| std::fs::read(f).ok()).collect()
}

/// One edit of a seed: overwrite, insert or delete bytes at a position.
#[derive(Clone, Debug)]
enum Edit {
    Set(usize, u8),
    Insert(usize, Vec<u8>),
    Delete(usize, usize),
}

fn edits() -> impl Strategy<Value = Vec<Edit>> {
    let edit = prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(at, b)| Edit::Set(at, b)),
        (any::<usize>(), prop::collection::vec(any::<u8>(), 1..16)).prop_map(|(at, b)| Edit::Insert(at, b)),
        (any::<usize>(), 1usize..64).prop_map(|(at, n)| Edit::Delete(at, n)),
        // Bytes that matter to the formats: quotes, brackets, separators.
        (
            any::<usize>(),
            prop::sample::select(b"\"'{}[]=,;\n\r\\#%:/<>\0".to_vec())
        )
            .prop_map(|(at, b)| Edit::Set(at, b)),
    ];
    prop::collection::vec(edit, 0..8)
}

fn mutate(seed: &[u8], edits: &[Edit]) -> Vec<u8> {
    let mut out = seed.to_vec();
    for edit in edits {
        let len = out.len().max(1);
        match edit {
            Edit::Set(at, b) if !out.is_empty() => out[at % len] = *b,
            Edit::Insert(at, bytes) => {
                let at = at % (out.len() + 1);
                out.splice(at..at, bytes.iter().copied());
            }
            Edit::Delete(at, n) if !out.is_empty() => {
                let at = at % len;
                let end = (at + n).min(out.len());
                out.drain(at..end);
            }
            _ => {}
        }
    }
    out
}

/// A seed (by index) with edits, or bytes of its own.
fn input(seeds: usize) -> impl Strategy<Value = Either> {
    prop_oneof![
        4 => (0..seeds.max(1), edits()).prop_map(|(i, e)| Either::Seed(i, e)),
        1 => prop::collection::vec(any::<u8>(), 0..512).prop_map(Either::Raw),
    ]
}

#[derive(Clone, Debug)]
enum Either {
    Seed(usize, Vec<Edit>),
    Raw(Vec<u8>),
}

impl Either {
    fn bytes(&self, seeds: &[Vec<u8>]) -> Vec<u8> {
        match self {
            Either::Seed(i, edits) => mutate(seeds.get(*i).map_or(&[][..], Vec::as_slice), edits),
            Either::Raw(bytes) => bytes.clone(),
        }
    }
}

/// Runs `target` over mutated seeds; prints the executions.
fn fuzz(name: &str, seeds: Vec<Vec<u8>>, target: impl Fn(&[u8])) {
    let mut runner = runner();
    let executions = std::cell::Cell::new(0u64);
    let result = runner.run(&input(seeds.len()), |case| {
        target(&case.bytes(&seeds));
        executions.set(executions.get() + 1);
        Ok(())
    });
    println!("fuzz {name}: {} executions", executions.get());
    if let Err(e) = result {
        panic!("fuzz {name}: {e}");
    }
}

#[test]
#[ignore = "a bounded fuzz run: cargo xtask fuzz"]
fn manifest_parser() {
    let mut corpus = seeds("manifest");
    for dir in ["sentiment", "intent", "mastodon", "bluesky", "reddit", "x", "meta"] {
        if let Ok(text) = std::fs::read(format!("{ROOT}/plugins/{dir}/plugin.toml")) {
            corpus.push(text);
        }
    }
    fuzz("manifest", corpus, |bytes| {
        let _ = crate::plugins::Manifest::parse(&String::from_utf8_lossy(bytes));
    });
}

#[test]
#[ignore = "a bounded fuzz run: cargo xtask fuzz"]
fn package_reader() {
    let manifest = std::fs::read_to_string(format!("{ROOT}/plugins/sentiment/plugin.toml")).unwrap_or_default();
    let package = crate::plugins::Package {
        manifest: crate::plugins::Manifest::parse(&manifest).expect("the sentiment manifest"),
        manifest_text: manifest,
        wasm: b"\0asm\x0d\0\x01\0 not really a component".to_vec(),
        signature: None,
    };
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join(package.file_name());
    package.write(&path).expect("a package");
    let mut corpus = seeds("package");
    corpus.push(std::fs::read(&path).expect("the package"));
    fuzz("package", corpus, |bytes| {
        let _ = crate::plugins::Package::from_reader("fuzz.scpkg", bytes);
    });
}

#[test]
#[ignore = "a bounded fuzz run: cargo xtask fuzz"]
fn api_cursor_decoder() {
    fuzz("cursor", seeds("cursor"), |bytes| {
        let text = String::from_utf8_lossy(bytes);
        let _ = crate::server::page::decode::<(String, i64)>(Some(&text));
        let _ = crate::server::page::decode::<i64>(Some(&text));
    });
}

#[test]
#[ignore = "a bounded fuzz run: cargo xtask fuzz"]
fn csv_import() {
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let dir = tempfile::tempdir().expect("a temporary directory");
    let db = runtime
        .block_on(crate::store::Db::open_default(dir.path()))
        .expect("a database");
    fuzz("csv", seeds("csv"), |bytes| {
        runtime.block_on(async {
            let quiet = &|_| {};
            let _ = crate::crm::import::contacts_as(&db, bytes, quiet, "fuzz").await;
            let _ = crate::crm::import::transactions_as(&db, bytes, quiet, "fuzz").await;
        });
    });
}

#[test]
#[ignore = "a bounded fuzz run: cargo xtask fuzz"]
fn webhook_handlers() {
    let runtime = crate::runtime::Runtime::new(crate::runtime::RuntimeOptions::default()).expect("a runtime");
    use base64::Engine as _;
    let hmac = |key: &str, body: &[u8]| {
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key.as_bytes());
        ring::hmac::sign(&key, body).as_ref().to_vec()
    };
    // Each network's signature of a delivery, so the plugin gets past it and parses.
    let x_signature = move |body: &[u8]| {
        let mac = hmac("s3cret-c0nsumer", body);
        (
            "x-twitter-webhooks-signature",
            format!("sha256={}", base64::engine::general_purpose::STANDARD.encode(mac)),
        )
    };
    let meta_signature = move |body: &[u8]| {
        (
            "x-hub-signature-256",
            format!("sha256={}", hex::encode(hmac("s3cret-app", body))),
        )
    };
    let x = (
        "x",
        &[("api-url", "https://api.x.com"), ("user-id", "1")][..],
        &[("access-token", "t0ken"), ("consumer-secret", "s3cret-c0nsumer")][..],
        &x_signature as &dyn Fn(&[u8]) -> (&'static str, String),
    );
    let meta = (
        "meta",
        &[
            ("graph-url", "https://graph.facebook.com"),
            ("verify-token", "a-verify-token-of-16"),
        ][..],
        &[("page-access-token", "t0ken"), ("app-secret", "s3cret-app")][..],
        &meta_signature as &dyn Fn(&[u8]) -> (&'static str, String),
    );
    for (dir, config, secrets, sign) in [x, meta] {
        let plugin_dir = crate::plugins::bundled_dir(dir)
            .unwrap_or_else(|| std::path::PathBuf::from(format!("{ROOT}/target/plugins/{dir}")));
        let Ok((manifest, wasm)) = crate::plugins::resolve(&plugin_dir.display().to_string()) else {
            println!("fuzz webhook {dir}: skipped (run `cargo xtask build-plugins`)");
            continue;
        };
        let plugin = runtime
            .load_channel(manifest.sandbox(), &wasm)
            .expect("a bundled channel");
        let account = crate::runtime::Account {
            name: "fuzz".into(),
            config: config.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            secrets: secrets.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            ..Default::default()
        };
        let name = format!("webhook {dir}");
        let call = |bytes: &[u8]| plugin.handle_webhook(&account, &request(bytes, sign));
        let corpus = seeds(&format!("webhook-{dir}"));
        // The seeds get past the signature check, so mutations reach the parser.
        let accepted = corpus
            .iter()
            .filter(|seed| call(seed).is_ok_and(|out| out.value.response.status == 200))
            .count();
        assert_eq!(accepted, corpus.len(), "{name}: every seed is accepted as it is");
        fuzz(&name, corpus, |bytes| {
            if let Err(e) = call(bytes) {
                // A plugin's own error is an answer; a trap or a timeout is a finding.
                assert!(
                    e.plugin_error().is_some(),
                    "{name}: {e} on {:?}",
                    String::from_utf8_lossy(bytes)
                );
            }
        });
    }
}

/// A webhook call from a seed: the first line is the query, the rest the
/// body, signed as the network signs it.
fn request(bytes: &[u8], sign: &dyn Fn(&[u8]) -> (&'static str, String)) -> crate::runtime::types::WebhookRequest {
    use crate::runtime::types::{Header, WebhookRequest};
    let (query, body) = match bytes.iter().position(|b| *b == b'\n') {
        Some(at) => (&bytes[..at], &bytes[at + 1..]),
        None => (&bytes[..0], bytes),
    };
    let (name, value) = sign(body);
    let header = |name: &str, value: Vec<u8>| Header {
        name: name.into(),
        value,
    };
    WebhookRequest {
        method: if body.is_empty() { "GET" } else { "POST" }.into(),
        path: String::new(),
        query: String::from_utf8_lossy(query).into_owned(),
        headers: vec![
            header("content-type", b"application/json".to_vec()),
            header(name, value.into_bytes()),
        ],
        body: body.to_vec(),
    }
}
