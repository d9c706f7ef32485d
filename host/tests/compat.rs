//! API compatibility: plugins built against the frozen `socialcrm:plugin@1.0.0`
//! and `@1.1.0` (tests/compat) install and work in this host, which implements
//! a newer 1.x; a plugin that needs a newer API than the host's is refused,
//! naming both.

mod common;

use std::collections::BTreeMap;

use socialcrm::channels::{self, NewChannel};
use socialcrm::ingest::{Ingest, IngestOptions};
use socialcrm::plugins::{Manifest, ManifestError};
use socialcrm::runtime::types::{AnalysisInput, Header, Outbound, StoredPost, WebhookRequest, WebhookResult};
use socialcrm::runtime::types::{PluginError, PostKind};
use socialcrm::runtime::{Account, ChannelPlugin, Runtime, RuntimeOptions, WIT_VERSION};
use socialcrm_sdk::testkit;

/// A fixture plugin: its crate under tests/compat and the frozen WIT it was built against.
struct Fixture {
    dir: &'static str,
    wit: &'static str,
}

const CHANNEL_1_0: Fixture = Fixture {
    dir: "channel-1.0",
    wit: "1.0.0",
};
const CHANNEL_1_1: Fixture = Fixture {
    dir: "channel-1.1",
    wit: "1.1.0",
};
const ANALYZER_1_1: Fixture = Fixture {
    dir: "analyzer-1.1",
    wit: "1.1.0",
};
const FIXTURES: [&Fixture; 3] = [&CHANNEL_1_0, &CHANNEL_1_1, &ANALYZER_1_1];

impl Fixture {
    fn path(&self) -> String {
        format!("{}/../tests/compat/{}", env!("CARGO_MANIFEST_DIR"), self.dir)
    }

    fn version(&self) -> semver::Version {
        semver::Version::parse(self.wit).unwrap()
    }

    fn manifest_text(&self) -> String {
        std::fs::read_to_string(format!("{}/plugin.toml", self.path())).expect("plugin.toml")
    }

    /// Builds the fixture for wasm32-wasip2: its manifest and its component.
    fn load(&self) -> (Manifest, Vec<u8>) {
        let wasm = testkit::build(&self.path()).unwrap_or_else(|e| panic!("{} builds: {e:#}", self.dir));
        let manifest = Manifest::parse(&self.manifest_text())
            .unwrap_or_else(|e| panic!("the manifest of {} is valid on this host: {e}", self.dir));
        // The range it declares is the one it was built for, not a newer one.
        assert!(
            manifest.api.matches(&self.version()),
            "{}: api {}",
            self.dir,
            manifest.api
        );
        (manifest, std::fs::read(wasm).expect("the built wasm"))
    }

    /// The `socialcrm:` interfaces the fixture's component imports and exports.
    fn socialcrm_names(&self) -> Vec<String> {
        let (_, wasm) = self.load();
        let runtime = Runtime::new(RuntimeOptions::default()).unwrap();
        let component = wasmtime::component::Component::new(runtime.engine(), &wasm).unwrap();
        let ty = component.component_type();
        ty.imports(runtime.engine())
            .chain(ty.exports(runtime.engine()))
            .map(|(name, _)| name.to_string())
            .filter(|name| name.starts_with("socialcrm:"))
            .collect()
    }

    /// It uses each of `interfaces`, all of its own version and none newer.
    fn assert_uses_only_its_own_version(&self, interfaces: &[&str]) {
        let ours = self.socialcrm_names();
        for interface in interfaces {
            let name = format!("socialcrm:plugin/{interface}@{}", self.wit);
            assert!(ours.contains(&name), "{}: no {name} in {ours:?}", self.dir);
        }
        let suffix = format!("@{}", self.wit);
        assert!(
            ours.iter().all(|name| name.ends_with(&suffix)),
            "{}: {ours:?}",
            self.dir
        );
    }
}

fn load_channel(fixture: &Fixture) -> ChannelPlugin {
    let (manifest, wasm) = fixture.load();
    let runtime = Runtime::new(RuntimeOptions::default()).unwrap();
    runtime
        .load_channel(manifest.sandbox(), &wasm)
        .unwrap_or_else(|e| panic!("{} loads: {e}", fixture.dir))
}

/// What both channel fixtures do alike: three pages, each resuming from the
/// state and the key-value store the last one committed, and a reply. They
/// export no `upkeep` (new in 1.2.0): the host never asks them to re-check
/// or forget.
fn polls_and_sends(plugin: &ChannelPlugin, mut account: Account) {
    assert!(!plugin.has_upkeep());
    let stored = StoredPost {
        external_id: "c0".into(),
        author_id: "u1".into(),
        created_at: "2026-01-01T00:00:00Z".into(),
        text: "hello 0".into(),
    };
    assert!(plugin.recheck(&account, &[stored]).is_none(), "nothing is called");
    assert!(plugin.forget(&account, "u1").is_none(), "nothing is called");

    let mut state = String::new();
    let mut texts = Vec::new();
    loop {
        let out = plugin.poll(&account, &state).unwrap();
        account.apply_kv(out.kv_changes);
        let page = out.value;
        texts.extend(page.posts.into_iter().map(|p| p.text));
        state = page.state;
        if !page.has_more {
            break;
        }
    }
    assert_eq!(texts, ["hello 0", "hello 1", "hello 2"]);
    assert_eq!(account.kv.get("polls").map(Vec::as_slice), Some(&b"3"[..]));

    let outbound = Outbound {
        text: "thanks".into(),
        in_reply_to: None,
        recipient: None,
    };
    assert_eq!(plugin.send(&account, &outbound).unwrap().value.external_id, "sent-6");
}

fn webhook(plugin: &ChannelPlugin, account: &Account, headers: Vec<Header>, body: &[u8]) -> WebhookResult {
    let request = WebhookRequest {
        method: "POST".into(),
        path: String::new(),
        query: String::new(),
        headers,
        body: body.to_vec(),
    };
    plugin.handle_webhook(account, &request).unwrap().value
}

#[test]
fn the_host_is_newer_than_every_fixture() {
    let host = semver::Version::parse(WIT_VERSION).unwrap();
    for fixture in FIXTURES {
        let built = fixture.version();
        assert_eq!(host.major, built.major, "{}", fixture.dir);
        assert!(host > built, "{} proves nothing on a {host} host", fixture.dir);
    }
}

#[test]
fn a_1_0_channel_imports_only_1_0_interfaces() {
    CHANNEL_1_0.assert_uses_only_its_own_version(&["connector", "kv", "log"]);
}

#[test]
fn a_1_1_channel_imports_only_1_1_interfaces() {
    CHANNEL_1_1.assert_uses_only_its_own_version(&["connector", "kv", "log", "signing"]);
}

#[test]
fn a_1_1_analyzer_imports_only_1_1_interfaces() {
    ANALYZER_1_1.assert_uses_only_its_own_version(&["analysis", "log"]);
}

#[test]
fn a_1_0_channel_works_on_this_host() {
    let plugin = load_channel(&CHANNEL_1_0);
    let described = plugin.describe().unwrap().value;
    assert_eq!(described.network, "compat");
    assert_eq!(described.config_fields[0].name, "greeting");

    let err = plugin.check(&testkit::account(&[], &[])).unwrap_err();
    assert!(
        matches!(err.plugin_error(), Some(PluginError::InvalidConfig(m)) if m.contains("greeting")),
        "{err}"
    );
    let account = testkit::account(&[("greeting", "hello")], &[]);
    plugin.check(&account).unwrap();

    let hook = webhook(&plugin, &account, Vec::new(), b"ping");
    assert_eq!(
        (hook.response.status, hook.response.body.as_slice()),
        (200, &b"ping"[..])
    );
    assert_eq!(hook.posts[0].text, "ping");

    polls_and_sends(&plugin, account);
}

#[test]
fn a_1_1_channel_works_on_this_host() {
    let plugin = load_channel(&CHANNEL_1_1);
    let described = plugin.describe().unwrap().value;
    assert_eq!(described.network, "compat");
    let secret = &described.config_fields[1];
    assert_eq!((secret.name.as_str(), secret.secret), ("webhook-secret", true));

    // `signing` answers invalid-config for a secret the account lacks.
    let err = plugin
        .check(&testkit::account(&[("greeting", "hello")], &[]))
        .unwrap_err();
    assert!(
        matches!(err.plugin_error(), Some(PluginError::InvalidConfig(m)) if m.contains("webhook-secret")),
        "{err}"
    );
    let account = testkit::account(&[("greeting", "hello")], &[("webhook-secret", "s3cret")]);
    plugin.check(&account).unwrap();

    let signature = |key: &[u8]| {
        let mac = ring::hmac::sign(&ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key), b"ping");
        vec![Header {
            name: "X-Signature".into(),
            value: hex::encode(mac.as_ref()).into_bytes(),
        }]
    };
    let hook = webhook(&plugin, &account, signature(b"s3cret"), b"ping");
    assert_eq!(
        (hook.response.status, hook.response.body.as_slice()),
        (200, &b"ping"[..])
    );
    assert_eq!(hook.posts[0].text, "ping");
    for headers in [signature(b"wrong"), Vec::new()] {
        let hook = webhook(&plugin, &account, headers, b"ping");
        assert_eq!(hook.response.status, 401);
        assert!(hook.posts.is_empty());
    }

    polls_and_sends(&plugin, account);
}

#[test]
fn a_1_1_analyzer_works_on_this_host() {
    let (manifest, wasm) = ANALYZER_1_1.load();
    let runtime = Runtime::new(RuntimeOptions::default()).unwrap();
    let plugin = runtime
        .load_analyzer(manifest.sandbox(), &wasm)
        .expect("a 1.1 analyzer loads");
    assert_eq!(plugin.describe().unwrap().value.produces, ["sentiment"]);

    let input = |text: &str| AnalysisInput {
        text: text.into(),
        kind: PostKind::Mention,
        language: Some("en".into()),
    };
    let out = plugin
        .analyze(&[input("a good day"), input("a day"), input("Good!")])
        .unwrap()
        .value;
    let scored: Vec<_> = out.iter().map(|a| (a.sentiment, a.label.as_deref())).collect();
    assert_eq!(
        scored,
        [
            (Some(1.0), Some("positive")),
            (Some(0.0), Some("neutral")),
            (Some(1.0), Some("positive"))
        ]
    );
}

#[test]
fn a_plugin_for_a_newer_api_is_refused_naming_both_versions() {
    let manifest = CHANNEL_1_0.manifest_text().replace("api = \"^1.0\"", "api = \"^1.7\"");
    let err = Manifest::parse(&manifest).unwrap_err();
    assert!(matches!(err, ManifestError::Api { .. }), "{err}");
    let message = err.to_string();
    assert!(message.contains("^1.7") && message.contains(WIT_VERSION), "{message}");
}

/// A channel account of `fixture` in a 1.2 host, synced with its re-check
/// due: the posts are stored, no re-check runs and nothing fails.
async fn syncs_with_a_recheck_due(fixture: &Fixture, secrets: &[(&str, &str)]) {
    let dir = common::plugin_dir(&format!("tests/compat/{}", fixture.dir));
    let runtime = Runtime::new(RuntimeOptions::default()).unwrap();
    let sbox = socialcrm::secrets::SecretBox::from_key(&[7; 32]).unwrap();
    let (runtime, sbox, dir) = (&runtime, &sbox, &dir);
    common::on_each_db(move |db| async move {
        let ingest = Ingest::new(
            db.clone(),
            sbox.clone(),
            runtime.clone(),
            vec![],
            IngestOptions::default(),
        );
        let map = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
        };
        let channel = NewChannel {
            name: "compat".into(),
            plugin: dir.path().display().to_string(),
            config: map(&[("greeting", "hello")]),
            secrets: map(secrets),
            allow_private: false,
        };
        channels::add(&db, sbox, &ingest, channel).await.unwrap();
        let first = ingest.sync_now("compat", "test", &|_| {}).await.unwrap();
        assert_eq!((first.new_posts, first.rechecked), (3, None), "{}", fixture.dir);
        ingest.recheck_due("compat").await.unwrap();
        let again = ingest.sync_now("compat", "test", &|_| {}).await.unwrap();
        assert_eq!(again.rechecked, None, "{}", fixture.dir);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_1_0_channel_syncs_on_this_host_with_a_recheck_due() {
    syncs_with_a_recheck_due(&CHANNEL_1_0, &[]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_1_1_channel_syncs_on_this_host_with_a_recheck_due() {
    syncs_with_a_recheck_due(&CHANNEL_1_1, &[("webhook-secret", "s3cret")]).await;
}
