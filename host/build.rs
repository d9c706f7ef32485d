//! Build steps cargo cannot see by itself:
//! - rebuild the host when a migration is added (`sqlx::migrate!` embeds the
//!   migrations folders at compile time);
//! - embed the plugin SDK (`sdk/`, `sandbox/`, `wit/v1/` and the tested
//!   `Cargo.lock`) so that `plugin new` can write it beside a new crate, with
//!   each `Cargo.toml` made standalone (no workspace inheritance).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use toml::{Table, Value};

fn main() {
    println!("cargo:rerun-if-changed=migrations");
    if let Err(e) = embed_sdk() {
        panic!("embedding the SDK: {e}");
    }
}

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

fn embed_sdk() -> Result<()> {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?).join("..");
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    for watched in ["sdk", "sandbox", "wit/v1", "Cargo.toml", "Cargo.lock"] {
        println!("cargo:rerun-if-changed=../{watched}");
    }
    let workspace: Table = std::fs::read_to_string(root.join("Cargo.toml"))?.parse()?;
    let mut files: Vec<(String, PathBuf)> = vec![("Cargo.lock".into(), root.join("Cargo.lock"))];
    for krate in ["sdk", "sandbox"] {
        let standalone = standalone(
            &std::fs::read_to_string(root.join(krate).join("Cargo.toml"))?,
            &workspace,
        )?;
        let written = out.join(format!("{krate}.Cargo.toml"));
        std::fs::write(&written, standalone)?;
        files.push((format!("{krate}/Cargo.toml"), written));
        walk(&root, &root.join(krate).join("src"), &mut files)?;
    }
    // The manifest's JSON Schema, named by the `#:schema` line of new manifests.
    files.push(("sdk/plugin.schema.json".into(), root.join("sdk/plugin.schema.json")));
    walk(&root, &root.join("wit/v1"), &mut files)?;
    let mut code =
        String::from("/// The plugin SDK's files: (path, contents).\npub const FILES: &[(&str, &[u8])] = &[\n");
    for (path, source) in files {
        let source = source.canonicalize()?;
        writeln!(
            code,
            "    ({path:?}, include_bytes!({:?})),",
            source.display().to_string()
        )?;
    }
    code.push_str("];\n");
    std::fs::write(out.join("sdk_files.rs"), code)?;
    Ok(())
}

/// Every file under `dir`, named relative to `root`.
fn walk(root: &Path, dir: &Path, files: &mut Vec<(String, PathBuf)>) -> Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<std::io::Result<_>>()?;
    entries.sort_by_key(|e| e.path());
    for entry in entries {
        let path = entry.path();
        if path.is_dir() {
            walk(root, &path, files)?;
        } else {
            let name = path.strip_prefix(root)?.to_string_lossy().replace('\\', "/");
            files.push((name, path));
        }
    }
    Ok(())
}

/// `manifest` with what it inherits from `workspace` written out, and no
/// dev-dependencies (its tests stay in this repository).
fn standalone(manifest: &str, workspace: &Table) -> Result<String> {
    let mut manifest: Table = manifest.parse()?;
    let ws = workspace
        .get("workspace")
        .and_then(Value::as_table)
        .ok_or("no [workspace]")?;
    let empty = Table::new();
    let ws_package = ws.get("package").and_then(Value::as_table).unwrap_or(&empty);
    let ws_deps = ws.get("dependencies").and_then(Value::as_table).unwrap_or(&empty);
    if let Some(package) = manifest.get_mut("package").and_then(Value::as_table_mut) {
        for (key, value) in package.iter_mut() {
            if inherits(value) {
                *value = ws_package.get(key).cloned().ok_or(format!("workspace.package.{key}"))?;
            }
        }
    }
    manifest.remove("dev-dependencies");
    if let Some(deps) = manifest.get_mut("dependencies").and_then(Value::as_table_mut) {
        resolve(deps, ws_deps)?;
    }
    if let Some(targets) = manifest.get_mut("target").and_then(Value::as_table_mut) {
        for (_, target) in targets.iter_mut() {
            if let Some(deps) = target.get_mut("dependencies").and_then(Value::as_table_mut) {
                resolve(deps, ws_deps)?;
            }
        }
    }
    Ok(toml::to_string(&manifest)?)
}

/// Replaces each `{ workspace = true, ... }` dependency with the workspace's,
/// keeping its own `features`, `optional` and `default-features`.
fn resolve(deps: &mut Table, ws_deps: &Table) -> Result<()> {
    for (name, dep) in deps.iter_mut() {
        if !inherits(dep) {
            continue;
        }
        let mut resolved = match ws_deps.get(name).ok_or(format!("workspace.dependencies.{name}"))? {
            Value::String(version) => Table::from_iter([("version".to_string(), Value::String(version.clone()))]),
            Value::Table(table) => table.clone(),
            _ => return Err(format!("workspace.dependencies.{name}: not a version or a table").into()),
        };
        // Workspace paths are relative to the repository root; the crates sit
        // side by side in both places, so a sibling is `../NAME`.
        if let Some(Value::String(path)) = resolved.get("path") {
            let sibling = Path::new(path).file_name().ok_or("empty path")?.to_string_lossy();
            resolved.insert("path".into(), Value::String(format!("../{sibling}")));
        }
        if let Some(own) = dep.as_table() {
            for (key, value) in own {
                match key.as_str() {
                    "workspace" => {}
                    "features" => {
                        let mut features = resolved
                            .get("features")
                            .and_then(Value::as_array)
                            .cloned()
                            .unwrap_or_default();
                        features.extend(value.as_array().cloned().unwrap_or_default());
                        resolved.insert("features".into(), Value::Array(features));
                    }
                    _ => {
                        resolved.insert(key.clone(), value.clone());
                    }
                }
            }
        }
        *dep = Value::Table(resolved);
    }
    Ok(())
}

fn inherits(value: &Value) -> bool {
    value.get("workspace").and_then(Value::as_bool) == Some(true)
}
