//! The plugin lifecycle an admin drives: install refusals that name the
//! problem, signatures and the trust policy, upgrade that checks every account
//! first, an upgrade that widens access waiting for approval, rollback,
//! enable/disable, remove, and the audit trail. On SQLite and PostgreSQL.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use socialcrm::channels::{self, NewChannel};
use socialcrm::ingest::{Ingest, IngestOptions};
use socialcrm::plugins::registry::{self, RegistryError};
use socialcrm::plugins::signing::SigningKey;
use socialcrm::plugins::trust::{self, TrustError};
use socialcrm::plugins::{Manifest, Package};
use socialcrm::reanalysis::QueueOnUpgrade;
use socialcrm::runtime::{Runtime, RuntimeOptions, WIT_VERSION};
use socialcrm::secrets::SecretBox;
use socialcrm::store::{Db, audit_entries};
use socialcrm_fakes::FakeMastodon;
use socialcrm_fakes::mastodon::TOKEN;

const ACTOR: &str = "test:admin";

/// The 1.0 compatibility fixture: a working channel plugin (plugin.toml, wasm).
fn compat() -> (String, Vec<u8>) {
    let dir = common::plugin_dir("tests/compat/channel-1.0");
    (
        std::fs::read_to_string(dir.path().join("plugin.toml")).unwrap(),
        std::fs::read(dir.path().join("plugin.wasm")).unwrap(),
    )
}

fn package(manifest: &str, wasm: &[u8]) -> Package {
    Package {
        manifest_text: manifest.to_string(),
        manifest: Manifest::parse(manifest).unwrap(),
        wasm: wasm.to_vec(),
        signature: None,
    }
}

/// `manifest` with its version replaced.
fn versioned(manifest: &str, version: &str) -> String {
    manifest.replace("version = \"1.0.0\"", &format!("version = \"{version}\""))
}

/// Writes `package` and reads it back, as `plugin install FILE` does.
fn through_file(package: &Package, dir: &Path) -> Package {
    let path = dir.join(package.file_name());
    package.write(&path).unwrap();
    Package::read(&path).unwrap()
}

fn runtime() -> Runtime {
    Runtime::new(RuntimeOptions::default()).unwrap()
}

async fn install_err(db: &Db, package: &Package) -> String {
    registry::install(db, &runtime(), package, ACTOR)
        .await
        .unwrap_err()
        .to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn install_refuses_with_a_message_that_names_the_problem() {
    let (manifest, wasm) = compat();
    let dir = tempfile::tempdir().unwrap();
    let (manifest, wasm, dir) = (&manifest, &wasm, &dir);
    common::on_each_db(move |db| async move {
        let err = install_err(&db, &package(manifest, b"\0asm\x01\0\0\0")).await;
        assert!(err.contains("a core WebAssembly module, not a component"), "{err}");
        let err = install_err(&db, &package(manifest, b"#!/bin/sh\nrm -rf /")).await;
        assert!(err.contains("not a WebAssembly file"), "{err}");

        let rootkit =
            wat::parse_str(r#"(component (import "acme:evil/rootkit@1.0.0" (instance (export "escape" (func)))))"#)
                .unwrap();
        let err = install_err(&db, &package(manifest, &rootkit)).await;
        assert!(
            err.contains("acme:evil/rootkit@1.0.0"),
            "names the import the host lacks: {err}"
        );

        // A manifest that asks for a newer API than this host implements.
        let newer = package(manifest, wasm);
        let mut bytes = newer.to_bytes().unwrap();
        let at = bytes.windows(12).position(|w| w == b"api = \"^1.0\"").unwrap();
        bytes[at..at + 12].copy_from_slice(b"api = \"^1.7\"");
        let err = Package::from_reader("newer.scpkg", &bytes[..]).unwrap_err().to_string();
        assert!(
            err.contains("^1.7") && err.contains(WIT_VERSION),
            "names both versions: {err}"
        );

        let bad = manifest.replace("version = \"1.0.0\"", "version = \"one\"");
        let err = Manifest::parse(&bad).unwrap_err().to_string();
        assert!(err.contains("version") && err.contains("one"), "{err}");

        let err = Package::from_reader("x.scpkg", &b"not a tar archive at all"[..])
            .unwrap_err()
            .to_string();
        assert!(err.contains("x.scpkg"), "{err}");
        let mut only_manifest = tar::Builder::new(Vec::new());
        let mut header = tar::Header::new_gnu();
        header.set_size(manifest.len() as u64);
        header.set_cksum();
        only_manifest
            .append_data(&mut header, "plugin.toml", manifest.as_bytes())
            .unwrap();
        let bytes = only_manifest.into_inner().unwrap();
        let err = Package::from_reader("half.scpkg", &bytes[..]).unwrap_err().to_string();
        assert_eq!(err, "half.scpkg: the package has no `plugin.wasm`");

        let good = through_file(&package(manifest, wasm), dir.path());
        let installed = registry::install(&db, &runtime(), &good, ACTOR).await.unwrap();
        assert!(installed.active && installed.enabled && installed.signer.is_none());
        let err = install_err(&db, &good).await;
        assert_eq!(err, "compat-channel 1.0.0 is already installed");
        let err = install_err(&db, &package(&versioned(manifest, "1.2.0"), wasm)).await;
        assert!(err.contains("use `socialcrm plugin upgrade`"), "{err}");
        assert_eq!(
            registry::list(&db).await.unwrap().len(),
            1,
            "nothing refused was stored"
        );

        // Plain http, or a wildcard over a whole domain: only when the admin allows it.
        for hosts in [r#"["https://*.com"]"#, r#"["http://api.example.com"]"#] {
            let wide = manifest.replace("config = [", &format!("allowed-hosts = {hosts}\nconfig = ["));
            let wide = package(
                &wide.replace("name = \"compat-channel\"", "name = \"wide-channel\""),
                wasm,
            );
            let err = install_err(&db, &wide).await;
            assert!(err.contains("plain http, or a wildcard over a whole domain"), "{err}");
        }
        let narrow = package(
            &manifest
                .replace("name = \"compat-channel\"", "name = \"narrow-channel\"")
                .replace("config = [", "allowed-hosts = [\"https://*.example.com\"]\nconfig = ["),
            wasm,
        );
        registry::install(&db, &runtime(), &narrow, ACTOR)
            .await
            .expect("a wildcard under a domain");
        let wide = package(
            &manifest
                .replace("name = \"compat-channel\"", "name = \"wide-channel\"")
                .replace("config = [", "allowed-hosts = [\"https://*.com\"]\nconfig = ["),
            wasm,
        );
        let allow = registry::Allow {
            wide_hosts: true,
            ..Default::default()
        };
        registry::install_allowing(&db, &runtime(), &wide, allow, ACTOR)
            .await
            .expect("allowed by the admin");

        // Wasm changed in the database after install is never run.
        let mut other = wasm.clone();
        other.extend_from_slice(b"\0");
        sqlx::query("UPDATE plugins SET wasm = $1 WHERE name = 'compat-channel'")
            .bind(other)
            .execute(db.pool())
            .await
            .unwrap();
        let err = registry::find(&db, "compat-channel").await.err().unwrap().to_string();
        assert_eq!(
            err,
            "compat-channel 1.0.0: the stored wasm does not match the digest recorded at install; reinstall the package"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn signatures_are_checked_against_trusted_keys_and_the_policy() {
    let (manifest, wasm) = compat();
    let (manifest, wasm) = (&manifest, &wasm);
    common::on_each_db(move |db| async move {
        let key = SigningKey::generate("acme").unwrap();
        let stranger = SigningKey::generate("stranger").unwrap();

        trust::set_require_signatures(&db, true, ACTOR).await.unwrap();
        let unsigned = package(manifest, wasm);
        let err = install_err(&db, &unsigned).await;
        assert!(
            err.contains("is not signed, and the policy requires signatures"),
            "{err}"
        );

        let mut signed = unsigned.clone();
        stranger.sign(&mut signed);
        let err = install_err(&db, &signed).await;
        let stranger_id = stranger.public().id();
        assert!(
            err.contains(&format!("signed by key {stranger_id}, which is not trusted")),
            "{err}"
        );

        trust::add(&db, &key.public(), ACTOR).await.unwrap();
        assert!(matches!(
            trust::add(&db, &key.public(), ACTOR).await,
            Err(TrustError::AlreadyTrusted { .. })
        ));
        // A stranger's key made to carry a trusted key's id (a 64-bit digest
        // can collide): the signature verifies, but the key is not the trusted one.
        let mut collided = unsigned.clone();
        stranger.sign(&mut collided);
        if let Some(sig) = collided.signature.as_mut() {
            sig.key_id = key.public().id();
        }
        let err = install_err(&db, &collided).await;
        assert!(
            err.contains(&format!("signed by key {}, which is not trusted", key.public().id())),
            "{err}"
        );

        let mut tampered = unsigned.clone();
        key.sign(&mut tampered);
        tampered.wasm.push(0);
        let err = install_err(&db, &tampered).await;
        assert!(err.contains("the signature does not verify"), "{err}");

        let mut good = unsigned.clone();
        key.sign(&mut good);
        let dir = tempfile::tempdir().unwrap();
        let good = through_file(&good, dir.path());
        let installed = registry::install(&db, &runtime(), &good, ACTOR).await.unwrap();
        assert_eq!(installed.signer, Some(format!("{} (acme)", key.public().id())));

        let removed = trust::remove(&db, "acme", ACTOR).await.unwrap();
        assert_eq!(removed.key_id, key.public().id());
        assert!(trust::list(&db).await.unwrap().is_empty());
        let actions: Vec<String> = audit_entries(db.pool(), 20)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.action)
            .collect();
        for action in [
            "plugin.policy",
            "plugin.trust.add",
            "plugin.install",
            "plugin.trust.remove",
        ] {
            assert!(actions.contains(&action.to_string()), "{action} audited: {actions:?}");
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn upgrade_checks_every_account_first_and_rollback_restores_the_previous_version() {
    let (manifest, wasm) = compat();
    let mastodon = common::plugin_dir("plugins/mastodon");
    let mastodon_wasm = std::fs::read(mastodon.path().join("plugin.wasm")).unwrap();
    let mastodon_manifest = std::fs::read_to_string(mastodon.path().join("plugin.toml")).unwrap();
    let (manifest, wasm, mastodon_manifest, mastodon_wasm) = (&manifest, &wasm, &mastodon_manifest, &mastodon_wasm);
    let sbox = SecretBox::from_key(&[3; 32]).unwrap();
    let sbox = &sbox;
    common::on_each_db(move |db| async move {
        let runtime = runtime();
        let ingest = Ingest::new(
            db.clone(),
            sbox.clone(),
            runtime.clone(),
            vec![],
            IngestOptions::default(),
        );
        registry::install(&db, &runtime, &package(manifest, wasm), ACTOR)
            .await
            .unwrap();
        let channel = NewChannel {
            name: "old-timers".into(),
            plugin: "compat-channel".into(),
            config: BTreeMap::from([("greeting".to_string(), "hi".to_string())]),
            secrets: BTreeMap::new(),
            allow_private: false,
        };
        channels::add(&db, sbox, &ingest, channel).await.unwrap();
        let synced = ingest.sync_now("old-timers", "test", &|_| {}).await.unwrap();
        assert_eq!(synced.new_posts, 3);

        // A "2.0.0" that is really another connector: its check fails on the account.
        let breaking = mastodon_manifest
            .replace("name = \"mastodon\"", "name = \"compat-channel\"")
            .replace("version = \"0.1.0\"", "version = \"2.0.0\"");
        let err = registry::upgrade(
            &db,
            &runtime,
            sbox,
            &package(&breaking, mastodon_wasm),
            ACTOR,
            &QueueOnUpgrade,
        )
        .await
        .unwrap_err();
        assert!(matches!(err, RegistryError::Check { .. }), "{err}");
        let message = err.to_string();
        assert!(
            message.contains("fails on channel `old-timers`, so 1.0.0 stays active"),
            "{message}"
        );
        let active = |db: Db| async move {
            registry::active(&db, "compat-channel")
                .await
                .unwrap()
                .unwrap()
                .0
                .manifest
                .version
                .to_string()
        };
        assert_eq!(active(db.clone()).await, "1.0.0");

        let upgraded = registry::upgrade(
            &db,
            &runtime,
            sbox,
            &package(&versioned(manifest, "1.1.0"), wasm),
            ACTOR,
            &QueueOnUpgrade,
        )
        .await
        .unwrap();
        assert!(upgraded.active);
        assert_eq!(active(db.clone()).await, "1.1.0");
        let err = registry::upgrade(
            &db,
            &runtime,
            sbox,
            &package(&versioned(manifest, "1.0.5"), wasm),
            ACTOR,
            &QueueOnUpgrade,
        )
        .await
        .unwrap_err();
        assert!(err.to_string().contains("must be newer than the active 1.1.0"), "{err}");

        let state_before: String = sqlx::query_scalar("SELECT state FROM channel_accounts WHERE name = 'old-timers'")
            .fetch_one(db.pool())
            .await
            .unwrap();
        let back = registry::rollback(&db, "compat-channel", ACTOR).await.unwrap();
        assert_eq!(back.manifest.version.to_string(), "1.0.0");
        let state_after: String = sqlx::query_scalar("SELECT state FROM channel_accounts WHERE name = 'old-timers'")
            .fetch_one(db.pool())
            .await
            .unwrap();
        assert_eq!(state_before, state_after, "the channel keeps its state");
        assert_eq!(
            registry::versions(&db, "compat-channel").await.unwrap().len(),
            2,
            "both versions kept"
        );
        // Rolling back again goes to 1.1.0, the version before the current.
        let forth = registry::rollback(&db, "compat-channel", ACTOR).await.unwrap();
        assert_eq!(forth.manifest.version.to_string(), "1.1.0");

        registry::set_enabled(&db, "compat-channel", false, ACTOR)
            .await
            .unwrap();
        let err = ingest.sync_now("old-timers", "test", &|_| {}).await.unwrap_err();
        assert!(err.to_string().contains("plugin `compat-channel` is disabled"), "{err}");
        registry::set_enabled(&db, "compat-channel", true, ACTOR).await.unwrap();
        ingest.sync_now("old-timers", "test", &|_| {}).await.unwrap();

        let err = registry::remove(&db, "compat-channel", ACTOR).await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "compat-channel is used by channel(s) old-timers; remove them first"
        );
        channels::remove(&db, "old-timers").await.unwrap();
        assert_eq!(registry::remove(&db, "compat-channel", ACTOR).await.unwrap(), 2);
        assert!(matches!(
            registry::rollback(&db, "compat-channel", ACTOR).await,
            Err(RegistryError::NotInstalled(_))
        ));

        let actions: Vec<String> = audit_entries(db.pool(), 50)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.action)
            .collect();
        for action in [
            "plugin.install",
            "plugin.upgrade",
            "plugin.rollback",
            "plugin.disable",
            "plugin.enable",
            "plugin.remove",
        ] {
            assert!(actions.contains(&action.to_string()), "{action} audited: {actions:?}");
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_upgrade_that_widens_access_waits_for_an_admins_approval() {
    let mastodon = common::plugin_dir("plugins/mastodon");
    let wasm = std::fs::read(mastodon.path().join("plugin.wasm")).unwrap();
    let manifest = std::fs::read_to_string(mastodon.path().join("plugin.toml"))
        .unwrap()
        .replace("name = \"mastodon\"", "name = \"acme-social\"")
        .replace("version = \"0.1.0\"", "version = \"1.0.0\"");
    let (manifest, wasm) = (&manifest, &wasm);
    let sbox = SecretBox::from_key(&[5; 32]).unwrap();
    let sbox = &sbox;
    common::on_each_db(move |db| async move {
        let network = FakeMastodon::start().await.unwrap();
        let runtime = runtime();
        let ingest = Ingest::new(
            db.clone(),
            sbox.clone(),
            runtime.clone(),
            vec![],
            IngestOptions::default(),
        );
        registry::install(&db, &runtime, &package(manifest, wasm), ACTOR)
            .await
            .unwrap();
        let channel = NewChannel {
            name: "brand".into(),
            plugin: "acme-social".into(),
            config: BTreeMap::from([("instance".to_string(), network.base_url())]),
            secrets: BTreeMap::from([("access-token".to_string(), TOKEN.to_string())]),
            allow_private: true,
        };
        channels::add(&db, sbox, &ingest, channel).await.unwrap();
        let active = |db: Db| async move {
            let (installed, _) = registry::active(&db, "acme-social").await.unwrap().unwrap();
            installed.manifest.version.to_string()
        };

        // 1.1.0 asks for one more host: stored, not active; 1.0.0 keeps running.
        let wider = |version: &str| {
            versioned(manifest, version).replace(
                r#"allowed-hosts = ["{instance}"]"#,
                r#"allowed-hosts = ["{instance}", "https://collector.example"]"#,
            )
        };
        let pending = registry::upgrade(
            &db,
            &runtime,
            sbox,
            &package(&wider("1.1.0"), wasm),
            ACTOR,
            &QueueOnUpgrade,
        )
        .await
        .unwrap();
        assert!(!pending.active);
        assert_eq!(pending.awaiting_approval, ["may reach `https://collector.example`"]);
        assert_eq!(active(db.clone()).await, "1.0.0");
        ingest
            .sync_now("brand", "test", &|_| {})
            .await
            .expect("the granted version polls");
        let err = registry::rollback(&db, "acme-social", ACTOR).await.unwrap_err();
        assert!(
            matches!(err, RegistryError::NoPrevious { .. }),
            "a pending version is never rolled to"
        );

        let approved = registry::approve(&db, &runtime, sbox, "acme-social", "1.1.0", ACTOR, &QueueOnUpgrade)
            .await
            .unwrap();
        assert!(approved.active && approved.awaiting_approval.is_empty());
        assert_eq!(active(db.clone()).await, "1.1.0");
        let again = registry::approve(&db, &runtime, sbox, "acme-social", "1.1.0", ACTOR, &QueueOnUpgrade).await;
        assert!(matches!(again, Err(RegistryError::NotAwaiting { .. })));

        // The same permissions: active at once. Another signer: waits.
        let same = registry::upgrade(
            &db,
            &runtime,
            sbox,
            &package(&wider("1.2.0"), wasm),
            ACTOR,
            &QueueOnUpgrade,
        )
        .await
        .unwrap();
        assert!(same.active, "{:?}", same.awaiting_approval);
        let key = SigningKey::generate("acme").unwrap();
        trust::add(&db, &key.public(), ACTOR).await.unwrap();
        let mut signed = package(&wider("1.3.0"), wasm);
        key.sign(&mut signed);
        let resigned = registry::upgrade(&db, &runtime, sbox, &signed, ACTOR, &QueueOnUpgrade)
            .await
            .unwrap();
        assert_eq!(
            resigned.awaiting_approval,
            [format!(
                "signed by {} (acme) instead of no key (unsigned)",
                key.public().id()
            )]
        );
        assert_eq!(active(db.clone()).await, "1.2.0");

        let actions: Vec<String> = audit_entries(db.pool(), 20)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.action)
            .collect();
        for action in ["plugin.upgrade.awaiting-approval", "plugin.approve", "plugin.upgrade"] {
            assert!(actions.iter().any(|a| a == action), "{action} in {actions:?}");
        }
    })
    .await;
}
