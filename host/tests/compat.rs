//! API compatibility: a plugin built against the frozen `socialcrm:plugin@1.0.0`
//! (tests/compat) installs and works in this host, which implements a newer
//! 1.x; a plugin that needs a newer API than the host's is refused, naming both.

use socialcrm::plugins::{Manifest, ManifestError};
use socialcrm::runtime::bindings::types::PluginError;
use socialcrm::runtime::bindings::{Outbound, WebhookRequest};
use socialcrm::runtime::{Runtime, RuntimeOptions, WIT_VERSION};
use socialcrm_sdk::testkit;

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/compat/channel-1.0");

fn fixture() -> (Manifest, Vec<u8>) {
    let wasm = testkit::build(FIXTURE).expect("the 1.0 fixture builds for wasm32-wasip2");
    let manifest = std::fs::read_to_string(format!("{FIXTURE}/plugin.toml")).expect("plugin.toml");
    (
        Manifest::parse(&manifest).expect("a 1.0 manifest is valid on this host"),
        std::fs::read(wasm).expect("the built wasm"),
    )
}

#[test]
fn the_host_is_newer_than_the_fixture() {
    let host = semver::Version::parse(WIT_VERSION).unwrap();
    assert_eq!(host.major, 1);
    assert!(
        host > semver::Version::new(1, 0, 0),
        "the test proves nothing on a 1.0.0 host"
    );
}

#[test]
fn a_1_0_plugin_imports_only_1_0_interfaces() {
    let (_, wasm) = fixture();
    let runtime = Runtime::new(RuntimeOptions::default()).unwrap();
    let component = wasmtime::component::Component::new(runtime.engine(), &wasm).unwrap();
    let ty = component.component_type();
    let ours: Vec<String> = ty
        .imports(runtime.engine())
        .chain(ty.exports(runtime.engine()))
        .map(|(name, _)| name.to_string())
        .filter(|name| name.starts_with("socialcrm:"))
        .collect();
    assert!(
        ours.contains(&"socialcrm:plugin/connector@1.0.0".to_string()),
        "{ours:?}"
    );
    assert!(ours.contains(&"socialcrm:plugin/kv@1.0.0".to_string()), "{ours:?}");
    assert!(ours.iter().all(|name| name.ends_with("@1.0.0")), "{ours:?}");
}

#[test]
fn a_1_0_plugin_works_on_this_host() {
    let (manifest, wasm) = fixture();
    let runtime = Runtime::new(RuntimeOptions::default()).unwrap();
    let plugin = runtime.load_channel(manifest, &wasm).expect("a 1.0 plugin loads");

    let described = plugin.describe().unwrap().value;
    assert_eq!(described.network, "compat");
    assert_eq!(described.config_fields[0].name, "greeting");

    let empty = testkit::account(&[], &[]);
    let err = plugin.check(&empty).unwrap_err();
    assert!(
        matches!(err.plugin_error(), Some(PluginError::InvalidConfig(m)) if m.contains("greeting")),
        "{err}"
    );
    let mut account = testkit::account(&[("greeting", "hello")], &[]);
    plugin.check(&account).unwrap();

    // Three pages, each resuming from the state and the key-value store the last one committed.
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

    let hook = plugin
        .handle_webhook(
            &account,
            &WebhookRequest {
                method: "POST".into(),
                path: String::new(),
                query: String::new(),
                headers: Vec::new(),
                body: b"ping".to_vec(),
            },
        )
        .unwrap()
        .value;
    assert_eq!(
        (hook.response.status, hook.response.body.as_slice()),
        (200, &b"ping"[..])
    );
    assert_eq!(hook.posts[0].text, "ping");

    let sent = plugin
        .send(
            &account,
            &Outbound {
                text: "thanks".into(),
                in_reply_to: None,
                recipient: None,
            },
        )
        .unwrap()
        .value;
    assert_eq!(sent.external_id, "sent-6");
}

#[test]
fn a_plugin_for_a_newer_api_is_refused_naming_both_versions() {
    let manifest = std::fs::read_to_string(format!("{FIXTURE}/plugin.toml"))
        .unwrap()
        .replace("api = \"^1.0\"", "api = \"^1.7\"");
    let err = Manifest::parse(&manifest).unwrap_err();
    assert!(matches!(err, ManifestError::Api { .. }), "{err}");
    let message = err.to_string();
    assert!(message.contains("^1.7") && message.contains(WIT_VERSION), "{message}");
}
