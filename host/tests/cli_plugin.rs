//! `socialcrm plugin ...` as an admin types it: pack, keygen, sign, trust,
//! policy, install, list, inspect (imports and exports as WIT), verify; a
//! bundled plugin's name taken only on purpose.

mod common;

use std::path::Path;
use std::process::Command;

fn socialcrm(data: &Path, args: &[&str]) -> (bool, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_socialcrm"))
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .env_remove("SOCIALCRM_DATABASE_URL")
        .output()
        .expect("socialcrm runs");
    let text = String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr);
    (output.status.success(), text)
}

#[test]
fn pack_sign_trust_install_inspect() {
    let plugin = common::plugin_dir("tests/compat/channel-1.0");
    let work = tempfile::tempdir().unwrap();
    let (data, w) = (work.path().join("data"), work.path());
    let run = |args: &[&str]| socialcrm(&data, args);
    let path = |name: &str| w.join(name).display().to_string();

    let (ok, out) = run(&[
        "plugin",
        "pack",
        &plugin.path().display().to_string(),
        "--out",
        &path(""),
    ]);
    assert!(ok, "{out}");
    let package = path("compat-channel-1.0.0.scpkg");
    assert!(Path::new(&package).is_file(), "{out}");

    let (ok, out) = run(&["plugin", "keygen", "acme", "--out", &path("")]);
    assert!(ok, "{out}");
    let (ok, out) = run(&["plugin", "keygen", "acme", "--out", &path("")]);
    assert!(!ok && out.contains("not overwriting a key"), "{out}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path("acme.key")).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "the private key is readable by its owner only");
    }

    let (ok, out) = run(&["plugin", "policy", "--require-signatures", "true"]);
    assert!(ok && out.contains("require-signatures = true"), "{out}");
    let (ok, out) = run(&["plugin", "install", &package]);
    assert!(
        !ok && out.contains("is not signed, and the policy requires signatures"),
        "{out}"
    );

    let (ok, out) = run(&["plugin", "sign", &package, "--key", &path("acme.key")]);
    assert!(ok, "{out}");
    let (ok, out) = run(&["plugin", "verify", &package]);
    assert!(!ok && out.contains("which is not trusted"), "{out}");
    let (ok, out) = run(&["plugin", "trust", "add", &path("acme.pub")]);
    assert!(ok, "{out}");
    let (ok, out) = run(&["plugin", "verify", &package]);
    assert!(ok && out.contains("OK: signed by trusted key"), "{out}");

    let (ok, out) = run(&["plugin", "install", &package]);
    assert!(ok && out.contains("installed compat-channel 1.0.0 (signed by"), "{out}");
    let (ok, out) = run(&["plugin", "list"]);
    assert!(ok && out.contains("compat-channel") && out.contains("(acme)"), "{out}");

    let (ok, out) = run(&["plugin", "inspect", "compat-channel"]);
    assert!(ok, "{out}");
    for expected in [
        "plugin: compat-channel 1.0.0",
        "signer: ",
        "allowed hosts: none",
        "import socialcrm:plugin/kv@1.0.0;",
        "export socialcrm:plugin/connector@1.0.0;",
    ] {
        assert!(out.contains(expected), "`{expected}` in:\n{out}");
    }
    let (ok, out) = run(&["plugin", "disable", "compat-channel"]);
    assert!(ok, "{out}");
    let (ok, out) = run(&["plugin", "list"]);
    assert!(
        ok && out.lines().any(|l| l.contains("compat-channel") && l.contains(" no ")),
        "{out}"
    );
}

#[test]
fn a_bundled_plugins_name_is_taken_only_on_purpose() {
    let plugin = common::plugin_dir("tests/compat/channel-1.0");
    let work = tempfile::tempdir().unwrap();
    // A bundled plugin of the same name, narrower than the package: the package
    // may also reach a host the bundled plugin does not.
    let bundled = work.path().join("bundled/compat-channel");
    std::fs::create_dir_all(&bundled).unwrap();
    std::fs::copy(plugin.path().join("plugin.toml"), bundled.join("plugin.toml")).unwrap();
    let manifest = std::fs::read_to_string(plugin.path().join("plugin.toml")).unwrap();
    let wider = manifest.replace(
        "config = [",
        "allowed-hosts = [\"https://collector.example\"]\nconfig = [",
    );
    std::fs::write(plugin.path().join("plugin.toml"), wider).unwrap();
    let data = work.path().join("data");
    let run = |args: &[&str]| {
        let output = Command::new(env!("CARGO_BIN_EXE_socialcrm"))
            .arg("--data-dir")
            .arg(&data)
            .args(args)
            .env_remove("SOCIALCRM_DATABASE_URL")
            .env("SOCIALCRM_PLUGIN_DIR", work.path().join("bundled"))
            .output()
            .expect("socialcrm runs");
        let text = String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr);
        (output.status.success(), text)
    };
    let out_dir = work.path().display().to_string();
    let (ok, out) = run(&[
        "plugin",
        "pack",
        &plugin.path().display().to_string(),
        "--out",
        &out_dir,
    ]);
    assert!(ok, "{out}");
    let package = work.path().join("compat-channel-1.0.0.scpkg").display().to_string();

    let (ok, out) = run(&["plugin", "install", &package]);
    assert!(!ok, "{out}");
    assert!(out.contains("`compat-channel` is a bundled plugin's name"), "{out}");
    assert!(out.contains("may reach `https://collector.example`"), "{out}");
    let (ok, out) = run(&["plugin", "list"]);
    assert!(ok && !out.contains("compat-channel"), "nothing was installed: {out}");

    let (ok, out) = run(&["plugin", "install", &package, "--replace-bundled"]);
    assert!(ok && out.contains("installed compat-channel 1.0.0"), "{out}");
}

/// A directory served over loopback HTTP on `runtime`, as a static file server would.
fn serve_dir(runtime: &tokio::runtime::Runtime, dir: &Path) -> socialcrm_fakes::Server {
    use axum::http::{StatusCode, Uri};
    use axum::response::IntoResponse;
    let root = dir.to_path_buf();
    let (server, ()) = runtime
        .block_on(socialcrm_fakes::Server::start("index", move |_| {
            let app = axum::Router::new().fallback(move |uri: Uri| {
                let root = root.clone();
                async move {
                    match std::fs::read(root.join(uri.path().trim_start_matches('/'))) {
                        Ok(bytes) => (StatusCode::OK, bytes).into_response(),
                        Err(_) => StatusCode::NOT_FOUND.into_response(),
                    }
                }
            });
            Ok((app, ()))
        }))
        .unwrap();
    server
}

#[test]
fn publish_to_an_index_then_search_install_and_outdated() {
    let plugin = common::plugin_dir("tests/compat/channel-1.0");
    let work = tempfile::tempdir().unwrap();
    let (data, w) = (work.path().join("data"), work.path());
    let run = |args: &[&str]| socialcrm(&data, args);
    let path = |name: &str| w.join(name).display().to_string();
    let site = w.join("site");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = serve_dir(&runtime, &site);
    let index_url = format!("{}/index.json", server.base_url());

    let (ok, out) = run(&["plugin", "keygen", "acme-index", "--out", &path("")]);
    assert!(ok, "{out}");
    let (ok, out) = run(&[
        "plugin",
        "pack",
        &plugin.path().display().to_string(),
        "--out",
        &path(""),
    ]);
    assert!(ok, "{out}");
    let site_arg = site.display().to_string();
    let publish = |package: &str| {
        run(&[
            "plugin",
            "publish",
            package,
            "--index",
            &site_arg,
            "--key",
            &path("acme-index.key"),
        ])
    };
    let (ok, out) = publish(&path("compat-channel-1.0.0.scpkg"));
    assert!(ok && out.contains("published compat-channel 1.0.0"), "{out}");

    let (ok, out) = run(&["plugin", "search"]);
    assert!(!ok && out.contains("no plugin index is configured"), "{out}");
    let (ok, out) = run(&[
        "plugin",
        "index",
        "add",
        "acme",
        &index_url,
        "--key",
        &path("acme-index.pub"),
    ]);
    assert!(ok && out.contains("added index acme"), "{out}");
    let (ok, out) = run(&["plugin", "index", "list"]);
    assert!(ok && out.contains(&index_url), "{out}");

    let (ok, out) = run(&["plugin", "search", "compat"]);
    assert!(
        ok && out.contains("compat-channel") && out.contains("1.0.0") && out.contains("acme"),
        "{out}"
    );
    let (ok, out) = run(&["plugin", "install", "compat-channel@9.0.0"]);
    assert!(!ok && out.contains("published versions: 1.0.0"), "{out}");
    let (ok, out) = run(&["plugin", "install", "compat-channel@1.0.0"]);
    assert!(ok && out.contains("installed compat-channel 1.0.0 (unsigned"), "{out}");

    // A newer version, published: outdated says so, upgrade takes it.
    let manifest = std::fs::read_to_string(plugin.path().join("plugin.toml")).unwrap();
    std::fs::write(
        plugin.path().join("plugin.toml"),
        manifest.replace("version = \"1.0.0\"", "version = \"1.1.0\""),
    )
    .unwrap();
    let (ok, out) = run(&[
        "plugin",
        "pack",
        &plugin.path().display().to_string(),
        "--out",
        &path(""),
    ]);
    assert!(ok, "{out}");
    let (ok, out) = publish(&path("compat-channel-1.1.0.scpkg"));
    assert!(ok, "{out}");
    let (ok, out) = run(&["plugin", "outdated"]);
    assert!(ok && out.contains("compat-channel 1.0.0 -> 1.1.0"), "{out}");
    let (ok, out) = run(&["plugin", "upgrade", "compat-channel"]);
    assert!(ok && out.contains("upgraded to compat-channel 1.1.0"), "{out}");
    let (ok, out) = run(&["plugin", "outdated"]);
    assert!(ok && out.contains("up to date"), "{out}");

    let (ok, out) = run(&["plugin", "index", "remove", "acme"]);
    assert!(ok, "{out}");
    let (ok, out) = run(&["plugin", "index", "list"]);
    assert!(ok && !out.contains("acme"), "{out}");
    drop(server);
}
