//! What a plugin's author records for its conformance run:
//! `conformance/conformance.toml` beside `plugin.toml` (format in
//! docs/plugin-authors.md, "Conformance").

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use http::{HeaderMap, HeaderName, HeaderValue};
use serde::Deserialize;

use super::network::{Recorded, response};
use crate::plugins::Manifest;
use crate::runtime::Account;

/// The file a fixtures directory holds.
pub const FILE: &str = "conformance.toml";

/// Recorded responses, the test account and extra analyzer samples.
#[derive(Clone, Debug, Default)]
pub struct Fixtures {
    /// Non-secret config of the test account; `None`: made up from the manifest.
    pub config: Option<BTreeMap<String, String>>,
    pub secrets: Option<BTreeMap<String, String>>,
    /// Texts every analyzer check analyzes first, before the built-in ones.
    pub samples: Vec<String>,
    /// What this network answers when it has nothing new; `None`: `[]`, then `{}`.
    pub empty_body: Option<String>,
    /// Pages polled in order, each with the state the previous poll returned.
    pub pages: Vec<RecordedPage>,
}

/// The network's responses during one poll, and what the poll must return.
#[derive(Clone, Debug)]
pub struct RecordedPage {
    /// How many posts the poll must return; `None`: not checked.
    pub posts: Option<usize>,
    pub responses: Vec<Recorded>,
}

#[derive(Debug, thiserror::Error)]
pub enum FixtureError {
    #[error("cannot read {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct File {
    account: Option<AccountFile>,
    #[serde(default)]
    samples: Vec<String>,
    empty_body: Option<String>,
    #[serde(default, rename = "page")]
    pages: Vec<PageFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AccountFile {
    #[serde(default)]
    config: BTreeMap<String, String>,
    #[serde(default)]
    secrets: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PageFile {
    posts: Option<usize>,
    #[serde(default)]
    respond: Vec<RespondFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RespondFile {
    #[serde(default = "get")]
    method: String,
    path: String,
    query: Option<String>,
    #[serde(default = "ok")]
    status: u16,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    body: Option<String>,
    file: Option<PathBuf>,
}

fn get() -> String {
    "GET".into()
}

fn ok() -> u16 {
    200
}

impl Fixtures {
    /// Reads `dir/conformance.toml` and the body files it names.
    pub fn load(dir: &Path) -> Result<Fixtures, FixtureError> {
        let path = dir.join(FILE);
        let text = std::fs::read_to_string(&path).map_err(|source| FixtureError::Io {
            path: path.clone(),
            source,
        })?;
        let invalid = |message: String| FixtureError::Invalid {
            path: path.clone(),
            message,
        };
        let file: File = toml::from_str(&text).map_err(|e| invalid(e.to_string()))?;
        let mut pages = Vec::with_capacity(file.pages.len());
        for (p, page) in file.pages.into_iter().enumerate() {
            let mut responses = Vec::with_capacity(page.respond.len());
            for (r, respond) in page.respond.into_iter().enumerate() {
                let at = |why: String| invalid(format!("page {}, response {}: {why}", p + 1, r + 1));
                responses.push(recorded(dir, respond).map_err(at)?);
            }
            pages.push(RecordedPage {
                posts: page.posts,
                responses,
            });
        }
        let (config, secrets) = file.account.map(|a| (a.config, a.secrets)).unzip();
        Ok(Fixtures {
            config,
            secrets,
            samples: file.samples,
            empty_body: file.empty_body,
            pages,
        })
    }

    /// The test account: the recorded one, or every required field (and every
    /// field the allowed hosts name) filled with a made-up value of its type.
    pub(crate) fn account(&self, manifest: &Manifest) -> Account {
        let needed = |name: &str| {
            manifest
                .allowed_hosts
                .iter()
                .any(|h| h.contains(&format!("{{{name}}}")))
        };
        let made_up = |secret: bool| {
            manifest
                .config
                .iter()
                .filter(|f| f.secret == secret && (f.required || needed(&f.name)))
                .map(|f| {
                    let value = match f.kind.as_str() {
                        _ if f.secret => "conformance-secret",
                        "url" => "https://network.example",
                        "number" => "1",
                        "boolean" => "true",
                        _ => "conformance",
                    };
                    (f.name.clone(), value.to_string())
                })
                .collect()
        };
        Account {
            name: "conformance".into(),
            config: self.config.clone().unwrap_or_else(|| made_up(false)),
            secrets: self.secrets.clone().unwrap_or_else(|| made_up(true)),
            ..Account::default()
        }
    }
}

fn recorded(dir: &Path, respond: RespondFile) -> Result<Recorded, String> {
    let body = match (respond.body, respond.file) {
        (Some(_), Some(_)) => return Err("give `body` or `file`, not both".into()),
        (Some(body), None) => body.into_bytes(),
        (None, Some(file)) => {
            let path = dir.join(&file);
            std::fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?
        }
        (None, None) => Vec::new(),
    };
    let mut headers = HeaderMap::new();
    for (name, value) in &respond.headers {
        let name = HeaderName::try_from(name.as_str()).map_err(|e| format!("header `{name}`: {e}"))?;
        let value = HeaderValue::try_from(value.as_str()).map_err(|e| format!("header `{name}`: {e}"))?;
        headers.append(name, value);
    }
    if !respond.path.starts_with('/') {
        return Err(format!("path `{}` must start with `/`", respond.path));
    }
    Ok(Recorded {
        method: respond.method.to_ascii_uppercase(),
        path: respond.path,
        query: respond.query,
        response: response(respond.status, headers, body),
    })
}
