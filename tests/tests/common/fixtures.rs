//! The hostile fixture plugins (`tests/hostile/*`) and what their calls need:
//! accounts, analyzer inputs, a server that never answers, an egress sink.

use std::io::Read;
use std::net::TcpListener;
use std::sync::{Mutex, OnceLock};

use socialcrm::plugins::Manifest;
use socialcrm::runtime::types::AnalysisInput;
use socialcrm::runtime::types::PostKind;
use socialcrm::runtime::{Account, EgressCall, EgressSink};
use socialcrm_sdk::testkit;

pub const CHANNEL_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/hostile/channel");
pub const ANALYZER_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/hostile/analyzer");

/// The fixture at `dir`, built if needed: its manifest and wasm.
pub fn load(dir: &str) -> (Manifest, Vec<u8>) {
    static BUILT: OnceLock<Mutex<()>> = OnceLock::new();
    let _one_build_at_a_time = BUILT.get_or_init(Default::default).lock();
    let wasm = std::fs::read(testkit::build(dir).expect("build hostile plugin")).expect("read wasm");
    let manifest = Manifest::parse(&std::fs::read_to_string(format!("{dir}/plugin.toml")).unwrap()).unwrap();
    (manifest, wasm)
}

/// An account of the hostile channel in `mode`, its target a public host.
pub fn mode(mode: &str) -> Account {
    testkit::account(&[("mode", mode), ("target", "https://api.example.net")], &[])
}

/// An account of the hostile channel in `mode`, allowed to reach `target` on loopback.
pub fn private(mode: &str, target: &str) -> Account {
    let mut account = testkit::account(&[("mode", mode), ("target", target)], &[]);
    account.allow_private = true;
    account
}

pub fn input(text: &str) -> AnalysisInput {
    AnalysisInput {
        text: text.into(),
        kind: PostKind::Post,
        language: None,
    }
}

/// A server on loopback that accepts connections, reads, and never answers.
pub fn silent_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { break };
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            held.push(stream);
        }
    });
    base
}

/// Keeps the calls the runtime reports to its egress sink.
#[derive(Default)]
pub struct Egress(pub Mutex<Vec<EgressCall>>);

impl EgressSink for Egress {
    fn record(&self, call: EgressCall) {
        self.0.lock().unwrap().push(call);
    }
}
