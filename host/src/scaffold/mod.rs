//! `socialcrm plugin new`: a plugin crate on socialcrm-sdk that builds for
//! wasm32-wasip2 and passes its own tests and the conformance suite as
//! generated; and `plugin build` (`build.rs`), which builds such a crate. The
//! templates are files under `templates/`, built into the binary.
//!
//! The SDK is built into the binary too (see `host/build.rs`): unless told to
//! use another (`--sdk`), `plugin new` writes it into the new crate's
//! `socialcrm-sdk/` folder with the `Cargo.lock` this release was tested with,
//! so the crate builds anywhere, with no checkout of this repository.

use std::path::{Path, PathBuf};

use crate::plugins::PluginKind;

pub mod build;

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/sdk_files.rs"));
}

/// Where in a new crate the embedded SDK is written.
const VENDORED: &str = "socialcrm-sdk";

/// Names Cargo or Rust refuse for a package or its library.
const RESERVED: &[&str] = &[
    "test",
    "core",
    "std",
    "alloc",
    "proc-macro",
    "socialcrm",
    "socialcrm-sdk",
    "as",
    "async",
    "await",
    "break",
    "const",
    "continue",
    "crate",
    "dyn",
    "else",
    "enum",
    "extern",
    "false",
    "fn",
    "for",
    "gen",
    "if",
    "impl",
    "in",
    "let",
    "loop",
    "match",
    "mod",
    "move",
    "mut",
    "pub",
    "ref",
    "return",
    "self",
    "static",
    "struct",
    "super",
    "trait",
    "true",
    "type",
    "unsafe",
    "use",
    "where",
    "while",
    "abstract",
    "become",
    "box",
    "do",
    "final",
    "macro",
    "override",
    "priv",
    "try",
    "typeof",
    "unsized",
    "virtual",
    "yield",
];

/// One file of a new crate: where it goes, and its template.
struct Template {
    path: &'static str,
    text: &'static str,
}

macro_rules! template {
    ($path:literal, $file:literal) => {
        Template {
            path: $path,
            text: include_str!(concat!("templates/", $file)),
        }
    };
}

const COMMON: &[Template] = &[template!(".gitignore", "common/gitignore.tmpl")];

const ANALYZER: &[Template] = &[
    template!("Cargo.toml", "analyzer/Cargo.toml.tmpl"),
    template!("plugin.toml", "analyzer/plugin.toml.tmpl"),
    template!("src/lib.rs", "analyzer/lib.rs.tmpl"),
    template!("tests/plugin.rs", "analyzer/tests.rs.tmpl"),
    template!("README.md", "analyzer/README.md.tmpl"),
];

const CHANNEL: &[Template] = &[
    template!("Cargo.toml", "channel/Cargo.toml.tmpl"),
    template!("plugin.toml", "channel/plugin.toml.tmpl"),
    template!("src/lib.rs", "channel/lib.rs.tmpl"),
    template!("tests/plugin.rs", "channel/tests.rs.tmpl"),
    template!("README.md", "channel/README.md.tmpl"),
    template!("conformance/conformance.toml", "channel/conformance.toml.tmpl"),
    template!("conformance/page-1.json", "channel/page-1.json.tmpl"),
    template!("conformance/page-2.json", "channel/page-2.json.tmpl"),
];

const SOURCE: &[Template] = &[
    template!("Cargo.toml", "channel/Cargo.toml.tmpl"),
    template!("plugin.toml", "source/plugin.toml.tmpl"),
    template!("src/lib.rs", "source/lib.rs.tmpl"),
    template!("tests/plugin.rs", "source/tests.rs.tmpl"),
    template!("README.md", "source/README.md.tmpl"),
];

const SCORER: &[Template] = &[
    template!("Cargo.toml", "scorer/Cargo.toml.tmpl"),
    template!("plugin.toml", "scorer/plugin.toml.tmpl"),
    template!("src/lib.rs", "scorer/lib.rs.tmpl"),
    template!("tests/plugin.rs", "scorer/tests.rs.tmpl"),
    template!("README.md", "scorer/README.md.tmpl"),
];

/// What to create.
#[derive(Clone, Debug)]
pub struct Options {
    /// The plugin's and the crate's name.
    pub name: String,
    pub kind: PluginKind,
    /// The crate's directory: absent or empty.
    pub dir: PathBuf,
    /// The socialcrm-sdk directory the crate depends on by path; `None`:
    /// the SDK built into this binary, written into the crate.
    pub sdk: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum ScaffoldError {
    #[error(
        "invalid plugin name `{0}`: use 1 to 64 of a-z, 0-9 and `-`, starting with a letter and not ending with `-`"
    )]
    Name(String),
    #[error("`{0}` is reserved by Cargo or Rust; pick another name")]
    Reserved(String),
    #[error("{0} exists and is not empty; choose another directory with --dir")]
    NotEmpty(PathBuf),
    #[error("no socialcrm-sdk at {0} (no Cargo.toml there); point --sdk at the SDK's directory")]
    Sdk(PathBuf),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ScaffoldError + '_ {
    move |source| ScaffoldError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Writes the crate and returns the files written, relative to its directory.
pub fn create(options: &Options) -> Result<Vec<&'static str>, ScaffoldError> {
    let name = options.name.as_str();
    validate_name(name)?;
    let sdk = match &options.sdk {
        Some(given) => {
            let sdk = std::path::absolute(given).map_err(io(given))?;
            let sdk = sdk.canonicalize().unwrap_or(sdk);
            if !sdk.join("Cargo.toml").is_file() {
                return Err(ScaffoldError::Sdk(sdk));
            }
            sdk
        }
        None => PathBuf::from(VENDORED).join("sdk"),
    };
    let dir = &options.dir;
    if dir.exists() {
        let mut entries = std::fs::read_dir(dir).map_err(|_| ScaffoldError::NotEmpty(dir.clone()))?;
        if entries.next().is_some() {
            return Err(ScaffoldError::NotEmpty(dir.clone()));
        }
    }
    let host = crate::runtime::wit_version();
    let api = format!("^{}.{}", host.major, host.minor);
    // For editors that check TOML against a JSON Schema (`#:schema` is Taplo's directive).
    let schema = sdk.join("plugin.schema.json").to_string_lossy().into_owned();
    let sdk = toml::Value::String(sdk.to_string_lossy().into_owned()).to_string();
    let crate_name = name.replace('-', "_");
    let vars = [
        ("name", name),
        ("crate", &crate_name),
        ("api", &api),
        ("sdk", &sdk),
        ("schema", &schema),
    ];
    let templates = match options.kind {
        PluginKind::Analyzer => ANALYZER,
        PluginKind::Channel => CHANNEL,
        PluginKind::Source => SOURCE,
        PluginKind::Scorer => SCORER,
    };
    let mut written = Vec::new();
    for template in COMMON.iter().chain(templates) {
        let path = dir.join(template.path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io(parent))?;
        }
        std::fs::write(&path, render(template.text, &vars)).map_err(io(&path))?;
        written.push(template.path);
    }
    if options.sdk.is_none() {
        write_sdk(dir)?;
        written.push(VENDORED);
    }
    Ok(written)
}

/// Writes the contract this binary implements (`wit/v1`, with the WASI
/// packages it uses in `deps/`) into `dir`, for bindings generators of other
/// languages; returns the files written, relative to `dir`.
pub fn write_wit(dir: &Path) -> Result<Vec<&'static str>, ScaffoldError> {
    let mut written = Vec::new();
    for (name, contents) in embedded::FILES {
        let Some(relative) = name.strip_prefix("wit/v1/") else {
            continue;
        };
        let path = dir.join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io(parent))?;
        }
        std::fs::write(&path, contents).map_err(io(&path))?;
        written.push(relative);
    }
    Ok(written)
}

/// Writes the embedded SDK into `dir/socialcrm-sdk/`, and its tested
/// `Cargo.lock` beside the crate's `Cargo.toml`.
fn write_sdk(dir: &Path) -> Result<(), ScaffoldError> {
    for (name, contents) in embedded::FILES {
        let path = match *name {
            "Cargo.lock" => dir.join(name),
            _ => dir.join(VENDORED).join(name),
        };
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io(parent))?;
        }
        std::fs::write(&path, contents).map_err(io(&path))?;
    }
    Ok(())
}

fn validate_name(name: &str) -> Result<(), ScaffoldError> {
    let valid = (1..=64).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && !name.ends_with('-')
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !valid {
        return Err(ScaffoldError::Name(name.to_string()));
    }
    if RESERVED.contains(&name) {
        return Err(ScaffoldError::Reserved(name.to_string()));
    }
    Ok(())
}

/// Replaces each `{{key}}`; other braces (Rust, TOML) are left alone.
fn render(template: &str, vars: &[(&str, &str)]) -> String {
    vars.iter().fold(template.to_string(), |text, (key, value)| {
        text.replace(&format!("{{{{{key}}}}}"), value)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::Manifest;

    fn options(dir: &Path, name: &str, kind: PluginKind) -> Options {
        Options {
            name: name.into(),
            kind,
            dir: dir.to_path_buf(),
            sdk: None,
        }
    }

    #[test]
    fn writes_the_contract_for_other_languages() {
        let tmp = tempfile::tempdir().unwrap();
        let written = write_wit(tmp.path()).unwrap();
        assert!(written.contains(&"worlds.wit"), "{written:?}");
        assert!(written.contains(&"deps/http/http.wit"), "{written:?}");
        let worlds = std::fs::read_to_string(tmp.path().join("worlds.wit")).unwrap();
        assert!(
            worlds.contains(&format!("package socialcrm:plugin@{};", crate::runtime::WIT_VERSION)),
            "{worlds}"
        );
        assert!(worlds.contains("import wasi:http/outgoing-handler"), "{worlds}");
    }

    #[test]
    fn writes_a_crate_whose_manifest_parses() {
        for kind in [
            PluginKind::Analyzer,
            PluginKind::Channel,
            PluginKind::Source,
            PluginKind::Scorer,
        ] {
            let tmp = tempfile::tempdir().unwrap();
            let dir = tmp.path().join("my-plugin");
            let written = create(&options(&dir, "my-plugin", kind)).unwrap();
            assert!(written.contains(&"src/lib.rs") && written.contains(&"tests/plugin.rs"));
            let manifest = Manifest::parse(&std::fs::read_to_string(dir.join("plugin.toml")).unwrap()).unwrap();
            assert_eq!((manifest.name.as_str(), manifest.kind), ("my-plugin", kind));
            let cargo: toml::Table = std::fs::read_to_string(dir.join("Cargo.toml"))
                .unwrap()
                .parse()
                .unwrap();
            let sdk = cargo["dependencies"]["socialcrm-sdk"]["path"].as_str().unwrap();
            assert_eq!(sdk, "socialcrm-sdk/sdk", "the SDK written into the crate");
            for file in [
                "sdk/Cargo.toml",
                "sdk/src/lib.rs",
                "sandbox/src/lib.rs",
                "wit/v1/worlds.wit",
                "sdk/plugin.schema.json",
                "wit/v1/deps/http/http.wit",
                "wit/v1/deps/io/io.wit",
            ] {
                assert!(dir.join(VENDORED).join(file).is_file(), "{file}");
            }
            // The manifest names the vendored schema, for editors.
            let manifest = std::fs::read_to_string(dir.join("plugin.toml")).unwrap();
            assert!(
                manifest.starts_with("#:schema socialcrm-sdk/sdk/plugin.schema.json\n"),
                "{manifest}"
            );
            let sdk_cargo = std::fs::read_to_string(dir.join("socialcrm-sdk/sdk/Cargo.toml")).unwrap();
            assert!(!sdk_cargo.contains("workspace"), "standalone:\n{sdk_cargo}");
            assert!(dir.join("Cargo.lock").is_file());
            assert!(cargo.contains_key("workspace"), "a workspace of its own");
            for file in written.iter().filter(|f| **f != VENDORED) {
                let text = std::fs::read_to_string(dir.join(file)).unwrap();
                assert!(
                    !text.contains("{{name}}") && !text.contains("{{sdk}}"),
                    "{file} left a placeholder"
                );
            }
        }
    }

    /// The host hands a scorer only the features its manifest declares, so
    /// the ones the code reads must be those, all from the host's catalogue.
    #[test]
    fn a_scorer_declares_the_features_it_reads() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("my-model");
        create(&options(&dir, "my-model", PluginKind::Scorer)).unwrap();
        let manifest = Manifest::parse(&std::fs::read_to_string(dir.join("plugin.toml")).unwrap()).unwrap();
        let features = &manifest.scorer.features;
        assert!(!features.is_empty());
        let lib = std::fs::read_to_string(dir.join("src/lib.rs")).unwrap();
        for feature in features {
            assert!(
                lib.contains(&format!("\"{feature}\"")),
                "src/lib.rs does not read {feature}"
            );
        }
        let readme = std::fs::read_to_string(dir.join("README.md")).unwrap();
        assert!(readme.contains("socialcrm scorer bind churn-risk my-model"), "{readme}");
        let tests = std::fs::read_to_string(dir.join("tests/plugin.rs")).unwrap();
        assert!(tests.contains("use my_model::"), "{tests}");
    }

    #[test]
    fn refuses_bad_names_and_used_directories() {
        let tmp = tempfile::tempdir().unwrap();
        for bad in ["", "My-Plugin", "9lives", "trailing-", "under_score", &"x".repeat(65)] {
            let err = create(&options(&tmp.path().join("a"), bad, PluginKind::Analyzer)).unwrap_err();
            assert!(matches!(err, ScaffoldError::Name(_)), "{bad}: {err}");
        }
        let err = create(&options(&tmp.path().join("a"), "test", PluginKind::Analyzer)).unwrap_err();
        assert!(matches!(err, ScaffoldError::Reserved(_)), "{err}");

        std::fs::write(tmp.path().join("keep.txt"), "mine").unwrap();
        let err = create(&options(tmp.path(), "fine", PluginKind::Channel)).unwrap_err();
        assert!(err.to_string().contains("exists and is not empty"), "{err}");
        assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 1, "nothing written");

        let mut wrong_sdk = options(&tmp.path().join("b"), "fine", PluginKind::Channel);
        wrong_sdk.sdk = Some(tmp.path().join("nowhere"));
        assert!(matches!(create(&wrong_sdk), Err(ScaffoldError::Sdk(_))));
    }

    #[test]
    fn renders_only_known_placeholders() {
        let text = render("{{name}} {x} {{secret.token}} {{name}}", &[("name", "n")]);
        assert_eq!(text, "n {x} {{secret.token}} n");
    }
}
