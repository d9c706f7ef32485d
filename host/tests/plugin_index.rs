//! Plugin indexes over loopback HTTP: publish, search, install NAME and
//! NAME@VERSION, outdated and upgrade; and every refusal of a hostile index
//! host (a changed or replayed index, a package that is not its entry, a
//! download that does not stop) before anything is stored. On SQLite and
//! PostgreSQL.

mod common;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::http::{StatusCode, Uri};
use axum::response::IntoResponse;
use socialcrm::app::{App, FromIndexError};
use socialcrm::ingest::{Ingest, IngestOptions};
use socialcrm::plugins::index::catalog::{self, Catalog};
use socialcrm::plugins::index::{FetchLimits, Index, IndexError, Spec, publish, sources};
use socialcrm::plugins::registry::{self, Allow, RegistryError};
use socialcrm::plugins::signing::SigningKey;
use socialcrm::plugins::{Manifest, Package};
use socialcrm::runtime::{Runtime, RuntimeOptions};
use socialcrm::secrets::SecretBox;
use socialcrm::store::{Db, audit_entries};
use socialcrm_fakes::Server;

const ACTOR: &str = "test:admin";
const NAME: &str = "compat-channel";

/// The 1.0 compatibility channel as package files of versions `versions`
/// (written to a directory of their own), and the directory.
fn packages(versions: &[&str]) -> (tempfile::TempDir, Vec<PathBuf>) {
    let plugin = common::plugin_dir("tests/compat/channel-1.0");
    let manifest = std::fs::read_to_string(plugin.path().join("plugin.toml")).unwrap();
    let wasm = std::fs::read(plugin.path().join("plugin.wasm")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let paths = versions
        .iter()
        .map(|v| {
            let text = manifest.replace("version = \"1.0.0\"", &format!("version = \"{v}\""));
            let package = Package {
                manifest: Manifest::parse(&text).unwrap(),
                manifest_text: text,
                wasm: wasm.clone(),
                signature: None,
            };
            let path = dir.path().join(package.file_name());
            package.write(&path).unwrap();
            path
        })
        .collect();
    (dir, paths)
}

/// An index directory served over loopback HTTP, with the paths requested.
struct Served {
    dir: tempfile::TempDir,
    key: SigningKey,
    requests: Arc<Mutex<Vec<String>>>,
    _server: Server,
    url: String,
}

impl Served {
    async fn start() -> Served {
        let dir = tempfile::tempdir().unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (root, log) = (dir.path().to_path_buf(), requests.clone());
        let (server, ()) = Server::start("plugin index", move |_| {
            let app = Router::new().fallback(move |uri: Uri| {
                let (root, log) = (root.clone(), log.clone());
                async move {
                    log.lock().unwrap().push(uri.path().to_string());
                    match std::fs::read(root.join(uri.path().trim_start_matches('/'))) {
                        Ok(bytes) => (StatusCode::OK, bytes).into_response(),
                        Err(_) => StatusCode::NOT_FOUND.into_response(),
                    }
                }
            });
            Ok((app, ()))
        })
        .await
        .unwrap();
        let url = format!("{}/index.json", server.base_url());
        Served {
            dir,
            key: SigningKey::generate("test-index").unwrap(),
            requests,
            _server: server,
            url,
        }
    }

    fn publish(&self, package: &Path) {
        publish::publish(self.dir.path(), package, &self.key, None).unwrap();
    }

    fn path(&self, file: &str) -> PathBuf {
        self.dir.path().join(file)
    }

    /// The index document as published, changed by `edit` and signed again
    /// with the index's key (what an honest publisher could sign).
    fn resign(&self, edit: impl FnOnce(&mut Index)) {
        let path = self.path("index.json");
        let mut index = Index::open("test", &std::fs::read(&path).unwrap(), &self.key.public()).unwrap();
        edit(&mut index);
        index.generated_at += 1;
        std::fs::write(&path, index.seal(&self.key).unwrap()).unwrap();
    }

    fn requested(&self) -> Vec<String> {
        std::mem::take(&mut *self.requests.lock().unwrap())
    }

    async fn add_to(&self, db: &Db) {
        sources::add(db, "test", &self.url, &self.key.public(), ACTOR)
            .await
            .unwrap();
    }
}

fn app(db: &Db) -> App {
    let runtime = Runtime::new(RuntimeOptions::default()).unwrap();
    let sbox = SecretBox::from_key(&[7; 32]).unwrap();
    App::new(Ingest::new(
        db.clone(),
        sbox,
        runtime,
        Vec::new(),
        IngestOptions::default(),
    ))
}

async fn install(db: &Db, spec: &str) -> Result<String, FromIndexError> {
    install_with(db, spec, &FetchLimits::default()).await
}

async fn install_with(db: &Db, spec: &str, limits: &FetchLimits) -> Result<String, FromIndexError> {
    let spec = Spec::parse(spec).unwrap();
    let (_, installed) = app(db)
        .install_from_index(&spec, None, Allow::default(), limits, ACTOR)
        .await?;
    Ok(installed.manifest.version.to_string())
}

async fn nothing_installed(db: &Db) {
    assert!(registry::list(db).await.unwrap().is_empty(), "nothing was stored");
}

#[tokio::test(flavor = "multi_thread")]
async fn search_install_outdated_and_upgrade_from_an_index() {
    let (_packages, files) = packages(&["1.0.0", "1.1.0"]);
    let files = &files;
    common::on_each_db(move |db| async move {
        let served = Served::start().await;
        served.publish(&files[0]);
        served.publish(&files[1]);
        served.add_to(&db).await;
        let limits = FetchLimits::default();

        let catalog = Catalog::fetch(&db, None, &limits).await.unwrap();
        assert!(catalog.refused.is_empty());
        let found = catalog::search(&db, &catalog, Some("COUNTS polls")).await.unwrap();
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(
            (
                found[0].name.as_str(),
                found[0].release.version.to_string(),
                &found[0].installed
            ),
            (NAME, "1.1.0".to_string(), &None)
        );
        assert!(!found[0].release.permissions.sees.is_empty());
        assert!(
            catalog::search(&db, &catalog, Some("nothing like it"))
                .await
                .unwrap()
                .is_empty()
        );

        assert_eq!(install(&db, &format!("{NAME}@1.0.0")).await.unwrap(), "1.0.0");
        let catalog = Catalog::fetch(&db, None, &limits).await.unwrap();
        let found = catalog::search(&db, &catalog, None).await.unwrap();
        assert_eq!(found[0].installed.as_deref(), Some("1.0.0"));
        assert!(found[0].outdated, "1.1.0 is offered: {found:?}");

        // Installed: `install` refuses before anything is downloaded.
        served.requested();
        let err = install(&db, NAME).await.unwrap_err();
        assert!(
            matches!(err, FromIndexError::Registry(RegistryError::Installed { .. })),
            "{err}"
        );
        assert!(served.requested().is_empty());

        // An older version (an old index served again, or asked for) is refused before the download.
        let app = app(&db);
        let spec = Spec::parse(&format!("{NAME}@1.0.0")).unwrap();
        let err = app.upgrade_from_index(&spec, None, &limits, ACTOR).await.unwrap_err();
        assert!(
            matches!(err, FromIndexError::Registry(RegistryError::NotNewer { .. })),
            "{err}"
        );
        assert_eq!(served.requested(), ["/index.json"]);

        let spec = Spec::parse(NAME).unwrap();
        let (_, upgraded) = app.upgrade_from_index(&spec, None, &limits, ACTOR).await.unwrap();
        assert!(upgraded.active && upgraded.manifest.version.to_string() == "1.1.0");
        let catalog = Catalog::fetch(&db, None, &limits).await.unwrap();
        assert!(!catalog::search(&db, &catalog, None).await.unwrap()[0].outdated);

        // NAME alone takes the newest version.
        registry::remove(&db, NAME, ACTOR).await.unwrap();
        assert_eq!(install(&db, NAME).await.unwrap(), "1.1.0");

        let actions: Vec<String> = audit_entries(db.pool(), 50)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.action)
            .collect();
        assert!(actions.contains(&"plugin.index.add".to_string()), "{actions:?}");
        sources::remove(&db, "test", ACTOR).await.unwrap();
        let actions = audit_entries(db.pool(), 1).await.unwrap();
        assert_eq!(actions[0].action, "plugin.index.remove");
        let err = install(&db, "anything").await.unwrap_err();
        assert!(err.to_string().contains("no plugin index is configured"), "{err}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_changed_or_replayed_index_is_refused_before_anything_is_fetched_or_stored() {
    let (_packages, files) = packages(&["1.0.0", "1.1.0"]);
    let files = &files;
    common::on_each_db(move |db| async move {
        let served = Served::start().await;
        served.publish(&files[0]);
        let old = std::fs::read(served.path("index.json")).unwrap();
        served.add_to(&db).await;

        // The host changes where the package is, without the key.
        let text = String::from_utf8(old.clone()).unwrap();
        let changed = text.replace("compat-channel-1.0.0.scpkg", "elsewhere/evil-1.0.0.scpkg");
        assert_ne!(changed, text);
        std::fs::write(served.path("index.json"), &changed).unwrap();
        served.requested();
        let err = install(&db, NAME).await.unwrap_err();
        assert!(
            matches!(err, FromIndexError::Index(IndexError::BadSignature { .. })),
            "{err}"
        );
        assert_eq!(served.requested(), ["/index.json"], "no package was fetched");
        nothing_installed(&db).await;

        // Signed, but by another key than the one configured.
        let stranger = SigningKey::generate("test-index").unwrap();
        let index = Index::open("t", &old, &served.key.public()).unwrap();
        std::fs::write(served.path("index.json"), index.seal(&stranger).unwrap()).unwrap();
        let err = install(&db, NAME).await.unwrap_err();
        assert!(err.to_string().contains("signed by key"), "{err}");
        assert_eq!(served.requested(), ["/index.json"]);
        nothing_installed(&db).await;

        // A newer index is seen; the older one served again is refused.
        std::fs::write(served.path("index.json"), &old).unwrap();
        served.publish(&files[1]);
        let catalog = Catalog::fetch(&db, None, &FetchLimits::default()).await.unwrap();
        assert!(catalog.refused.is_empty());
        std::fs::write(served.path("index.json"), &old).unwrap();
        served.requested();
        let err = install(&db, NAME).await.unwrap_err();
        assert!(
            matches!(err, FromIndexError::Index(IndexError::Replayed { .. })),
            "{err}"
        );
        assert_eq!(served.requested(), ["/index.json"]);
        nothing_installed(&db).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_package_that_is_not_its_index_entry_is_refused_and_nothing_stored() {
    let (_packages, files) = packages(&["1.0.0", "1.1.0"]);
    let files = &files;
    common::on_each_db(move |db| async move {
        let served = Served::start().await;
        served.publish(&files[0]);
        served.add_to(&db).await;
        let published = std::fs::read(served.path("compat-channel-1.0.0.scpkg")).unwrap();

        // Other bytes under the package's URL (here: another version, a valid package).
        std::fs::write(
            served.path("compat-channel-1.0.0.scpkg"),
            std::fs::read(&files[1]).unwrap(),
        )
        .unwrap();
        let err = install(&db, NAME).await.unwrap_err();
        assert!(err.to_string().contains("its SHA-256 is"), "{err}");
        nothing_installed(&db).await;
        std::fs::write(served.path("compat-channel-1.0.0.scpkg"), &published).unwrap();

        // A download longer than the entry's size is cut off there.
        let mut longer = published.clone();
        longer.extend(std::iter::repeat_n(0u8, 1 << 20));
        std::fs::write(served.path("compat-channel-1.0.0.scpkg"), &longer).unwrap();
        let err = install(&db, NAME).await.unwrap_err();
        assert!(err.to_string().contains("response body over the"), "{err}");
        nothing_installed(&db).await;
        // ... and at the host's cap, whatever the entry says.
        served.resign(|index| index.plugins[0].versions[0].size = u64::MAX);
        let small = FetchLimits {
            package_bytes: 64 << 10,
            ..FetchLimits::default()
        };
        let err = install_with(&db, NAME, &small).await.unwrap_err();
        assert!(
            err.to_string()
                .contains(&format!("response body over the {}-byte cap", 64 << 10)),
            "{err}"
        );
        nothing_installed(&db).await;
        std::fs::write(served.path("compat-channel-1.0.0.scpkg"), &published).unwrap();
        served.resign(|index| index.plugins[0].versions[0].size = published.len() as u64);

        // An entry (signed) whose package is another plugin.
        served.resign(|index| index.plugins[0].name = "innocent".into());
        let err = install(&db, "innocent").await.unwrap_err();
        assert!(err.to_string().contains("the package is compat-channel 1.0.0"), "{err}");
        nothing_installed(&db).await;

        // An entry that claims another version of the same plugin.
        served.resign(|index| {
            index.plugins[0].name = NAME.into();
            index.plugins[0].versions[0].version = "1.0.1".parse().unwrap();
        });
        let err = install(&db, NAME).await.unwrap_err();
        assert!(err.to_string().contains("the package is compat-channel 1.0.0"), "{err}");
        nothing_installed(&db).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unknown_name_or_version_says_what_exists() {
    let (_packages, files) = packages(&["1.0.0", "1.1.0"]);
    let files = &files;
    common::on_each_db(move |db| async move {
        let served = Served::start().await;
        served.publish(&files[0]);
        served.publish(&files[1]);
        served.add_to(&db).await;
        let err = install(&db, "compat").await.unwrap_err().to_string();
        assert_eq!(
            err, "no plugin `compat` in the indexes; they offer: compat-channel",
            "{err}"
        );
        let err = install(&db, &format!("{NAME}@2.0.0")).await.unwrap_err().to_string();
        assert_eq!(
            err,
            "compat-channel has no version 2.0.0 in the indexes; published versions: 1.1.0, 1.0.0"
        );
        // A version for a newer host than this one.
        served.resign(|index| {
            for release in &mut index.plugins[0].versions {
                release.api = "^1.9".parse().unwrap();
            }
        });
        let err = install(&db, NAME).await.unwrap_err().to_string();
        assert!(
            err.contains("has no version for this host's socialcrm:plugin") && err.contains("1.1.0 (^1.9)"),
            "{err}"
        );
        nothing_installed(&db).await;
    })
    .await;
}

#[test]
fn publish_refuses_another_package_under_a_published_version() {
    let (packages_dir, files) = packages(&["1.0.0"]);
    let dir = tempfile::tempdir().unwrap();
    let key = SigningKey::generate("idx").unwrap();
    let published = publish::publish(dir.path(), &files[0], &key, Some("https://plugins.example/")).unwrap();
    assert!(!published.unchanged && published.name == NAME);
    let first = published.release;
    assert_eq!(first.url, "https://plugins.example/compat-channel-1.0.0.scpkg");
    let index = std::fs::read(dir.path().join("index.json")).unwrap();
    // The same package again changes nothing.
    let again = publish::publish(dir.path(), &files[0], &key, None).unwrap();
    assert!(again.unchanged && again.release == first);
    assert_eq!(std::fs::read(dir.path().join("index.json")).unwrap(), index);

    let mut other = Package::read(&files[0]).unwrap();
    other.manifest_text = other.manifest_text.replace("counts polls", "counts polls differently");
    other.manifest = Manifest::parse(&other.manifest_text).unwrap();
    let other_path = packages_dir.path().join("other.scpkg");
    other.write(&other_path).unwrap();
    let err = publish::publish(dir.path(), &other_path, &key, None).unwrap_err();
    assert!(
        matches!(err, IndexError::Republish { .. }) && err.to_string().contains(&first.sha256),
        "{err}"
    );
    assert_eq!(
        std::fs::read(dir.path().join("index.json")).unwrap(),
        index,
        "unchanged"
    );
    assert_eq!(
        std::fs::read(dir.path().join("compat-channel-1.0.0.scpkg")).unwrap(),
        std::fs::read(&files[0]).unwrap()
    );
    // Another key cannot add to the index.
    let stranger = SigningKey::generate("idx").unwrap();
    let err = publish::publish(dir.path(), &files[0], &stranger, None).unwrap_err();
    assert!(matches!(err, IndexError::WrongKey { .. }), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn admins_see_and_install_what_the_indexes_offer_over_the_api() {
    use socialcrm::tokens::{self, Role};
    let (_packages, files) = packages(&["1.0.0", "1.1.0"]);
    let files = &files;
    common::on_each_db(move |db| async move {
        let server = common::http::start(&db).await;
        let admin = tokens::create(&db, "root", Role::Admin, "test").await.unwrap();
        let agent = tokens::create(&db, "alice", Role::Agent, "test").await.unwrap();
        let client = reqwest::Client::new();
        let get = |token: &str| client.get(server.api("/plugin-index")).bearer_auth(token);
        let (status, body) = common::http::answer(get(&admin)).await;
        assert_eq!((status, &body["items"]), (200, &serde_json::json!([])), "{body}");

        let served = Served::start().await;
        served.publish(&files[0]);
        served.publish(&files[1]);
        served.add_to(&db).await;
        let (status, _) = common::http::answer(get(&agent)).await;
        assert_eq!(status, 403);
        let (status, body) = common::http::answer(get(&admin)).await;
        assert_eq!(status, 200, "{body}");
        let item = &body["items"][0];
        assert_eq!(
            (&item["name"], &item["version"]),
            (&NAME.into(), &"1.1.0".into()),
            "{body}"
        );
        assert!(
            item["permissions"]["sees"].is_string() && item["installed"].is_null(),
            "{body}"
        );

        let install = |body: serde_json::Value| {
            client
                .post(server.api("/plugin-index/install"))
                .bearer_auth(&admin)
                .json(&body)
        };
        let (status, body) = common::http::answer(install(serde_json::json!({"name": "nope"}))).await;
        assert_eq!(status, 404, "{body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("they offer: compat-channel")
        );
        let (status, body) = common::http::answer(install(serde_json::json!({"name": NAME, "version": "1.0.0"}))).await;
        assert_eq!((status, &body["version"]), (201, &"1.0.0".into()), "{body}");
        let (_, body) = common::http::answer(get(&admin)).await;
        assert_eq!(
            (&body["items"][0]["installed"], &body["items"][0]["outdated"]),
            (&"1.0.0".into(), &true.into())
        );

        // A changed index is listed as refused, not offered.
        let text = std::fs::read_to_string(served.path("index.json")).unwrap();
        std::fs::write(served.path("index.json"), text.replace("1.1.0", "1.1.9")).unwrap();
        let (status, body) = common::http::answer(get(&admin)).await;
        assert_eq!((status, &body["items"]), (200, &serde_json::json!([])), "{body}");
        assert!(
            body["refused"][0]["error"]
                .as_str()
                .unwrap()
                .contains("does not verify"),
            "{body}"
        );
    })
    .await;
}
