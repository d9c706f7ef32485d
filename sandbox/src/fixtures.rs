//! A plugin's recorded network: `conformance/conformance.toml` beside
//! `plugin.toml`, read by the conformance runner (`socialcrm plugin test`) and
//! the SDK's testkit, and written by `socialcrm plugin test --record`. Format:
//! docs/plugin-authors.md, "Conformance".

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use http::{HeaderMap, HeaderName, HeaderValue};
use serde::{Deserialize, Serialize};

use crate::Account;
use crate::manifest::Manifest;
use crate::replay::{Recorded, response};
use crate::types::{Header, Outbound, ReplyTarget, WebhookRequest};

/// The file a fixtures directory holds.
pub const FILE: &str = "conformance.toml";

/// Recorded responses, the test account, webhook calls, messages to send and
/// extra analyzer samples.
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
    /// Calls the network makes to the plugin's webhook, in order.
    pub webhooks: Vec<WebhookCall>,
    /// Messages sent through the plugin, each against its recorded responses.
    pub sends: Vec<SendCall>,
}

/// The network's responses during one poll, and what the poll must return.
#[derive(Clone, Debug)]
pub struct RecordedPage {
    /// How many posts the poll must return; `None`: not checked.
    pub posts: Option<usize>,
    pub responses: Vec<Recorded>,
}

/// A call to the plugin's webhook and what the plugin must answer.
#[derive(Clone, Debug)]
pub struct WebhookCall {
    /// The request as recorded, before [`Signature`] is applied.
    pub request: WebhookRequest,
    /// The status the plugin must answer; `None`: any 2xx.
    pub status: Option<u16>,
    /// How many posts the call must give; `None`: not checked.
    pub posts: Option<usize>,
    /// Text the response body must contain (a verification challenge's echo).
    pub contains: Option<String>,
    pub sign: Option<Signature>,
}

/// How the network signs a webhook call: an HMAC-SHA256 of the body with one
/// of the account's secrets, in a header. The runner signs each call, then
/// checks that the same call with its body altered, or without the header,
/// is refused.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Signature {
    pub header: String,
    /// The account secret (by name) the network signs with.
    pub secret: String,
    /// Written before the digest, e.g. `sha256=`.
    #[serde(default)]
    pub prefix: String,
    #[serde(default)]
    pub encoding: Encoding,
}

#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Encoding {
    #[default]
    Hex,
    Base64,
}

impl WebhookCall {
    /// The request signed for `account` (unchanged when the call is unsigned).
    pub fn signed(&self, account: &Account) -> Result<WebhookRequest, String> {
        let mut request = self.request.clone();
        if let Some(sign) = &self.sign {
            let value = sign.value(account, &request.body)?;
            request.headers.retain(|h| !h.name.eq_ignore_ascii_case(&sign.header));
            request.headers.push(Header {
                name: sign.header.clone(),
                value: value.into_bytes(),
            });
        }
        Ok(request)
    }
}

impl Signature {
    fn value(&self, account: &Account, body: &[u8]) -> Result<String, String> {
        let secret = account
            .secrets
            .get(&self.secret)
            .ok_or_else(|| format!("the test account has no secret `{}` to sign with", self.secret))?;
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
        let tag = ring::hmac::sign(&key, body);
        let digest = match self.encoding {
            Encoding::Hex => hex::encode(tag.as_ref()),
            Encoding::Base64 => base64::engine::general_purpose::STANDARD.encode(tag.as_ref()),
        };
        Ok(format!("{}{digest}", self.prefix))
    }
}

/// A message sent through the plugin's `send`, with the network's recorded
/// answers.
#[derive(Clone, Debug)]
pub struct SendCall {
    pub message: Outbound,
    /// The id `send` must report; `None`: any non-empty id.
    pub external_id: Option<String>,
    pub responses: Vec<Recorded>,
}

#[derive(Debug, thiserror::Error)]
pub enum FixtureError {
    #[error("cannot read {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

/// The file as written; [`Fixtures`] is what it means.
#[derive(Default, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct File {
    #[serde(skip_serializing_if = "Option::is_none")]
    account: Option<AccountFile>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    samples: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    empty_body: Option<String>,
    #[serde(default, rename = "page", skip_serializing_if = "Vec::is_empty")]
    pages: Vec<PageFile>,
    #[serde(default, rename = "webhook", skip_serializing_if = "Vec::is_empty")]
    webhooks: Vec<WebhookFile>,
    #[serde(default, rename = "send", skip_serializing_if = "Vec::is_empty")]
    sends: Vec<SendFile>,
}

#[derive(Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct AccountFile {
    #[serde(default)]
    config: BTreeMap<String, String>,
    #[serde(default)]
    secrets: BTreeMap<String, String>,
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct PageFile {
    posts: Option<usize>,
    #[serde(default)]
    respond: Vec<RespondFile>,
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RespondFile {
    #[serde(default = "get")]
    method: String,
    path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    query: Option<String>,
    #[serde(default = "ok")]
    status: u16,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    headers: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    body: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    file: Option<PathBuf>,
}

#[derive(Deserialize, Serialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct WebhookFile {
    #[serde(default = "post")]
    method: String,
    #[serde(default = "root")]
    path: String,
    #[serde(default)]
    query: String,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    body: Option<String>,
    file: Option<PathBuf>,
    status: Option<u16>,
    posts: Option<usize>,
    contains: Option<String>,
    sign: Option<Signature>,
}

#[derive(Deserialize, Serialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct SendFile {
    text: String,
    reply_to: Option<ReplyFile>,
    recipient: Option<String>,
    external_id: Option<String>,
    #[serde(default)]
    respond: Vec<RespondFile>,
}

#[derive(Deserialize, Serialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct ReplyFile {
    external_id: String,
    author_handle: String,
    thread_id: Option<String>,
}

fn get() -> String {
    "GET".into()
}

fn post() -> String {
    "POST".into()
}

fn root() -> String {
    "/".into()
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
        let responses = |respond: Vec<RespondFile>, at: &dyn Fn(usize) -> String| {
            respond
                .into_iter()
                .enumerate()
                .map(|(r, one)| recorded(dir, one).map_err(|why| invalid(format!("{}: {why}", at(r + 1)))))
                .collect::<Result<Vec<_>, _>>()
        };
        let mut pages = Vec::with_capacity(file.pages.len());
        for (p, page) in (1..).zip(file.pages) {
            pages.push(RecordedPage {
                posts: page.posts,
                responses: responses(page.respond, &|r| format!("page {p}, response {r}"))?,
            });
        }
        let mut webhooks = Vec::with_capacity(file.webhooks.len());
        for (w, call) in (1..).zip(file.webhooks) {
            webhooks.push(webhook(dir, call).map_err(|why| invalid(format!("webhook {w}: {why}")))?);
        }
        let mut sends = Vec::with_capacity(file.sends.len());
        for (s, send) in (1..).zip(file.sends) {
            let at = |r| format!("send {s}, response {r}");
            sends.push(SendCall {
                message: Outbound {
                    text: send.text,
                    in_reply_to: send.reply_to.map(|r| ReplyTarget {
                        external_id: r.external_id,
                        author_handle: r.author_handle,
                        thread_id: r.thread_id,
                    }),
                    recipient: send.recipient,
                },
                external_id: send.external_id,
                responses: responses(send.respond, &at)?,
            });
        }
        let (config, secrets) = file.account.map(|a| (a.config, a.secrets)).unzip();
        Ok(Fixtures {
            config,
            secrets,
            samples: file.samples,
            empty_body: file.empty_body,
            pages,
            webhooks,
            sends,
        })
    }

    /// The test account: the recorded one, or every required field (and every
    /// field the allowed hosts name) filled with a made-up value of its type.
    /// It may name loopback and private addresses (a recording of a local
    /// network): replayed, no request leaves the process.
    pub fn account(&self, manifest: &Manifest) -> Account {
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
            allow_private: true,
            ..Account::default()
        }
    }
}

/// What `plugin test --record` keeps of a live run: the account (secrets
/// already replaced by placeholders) and each poll's answers.
#[derive(Clone, Debug, Default)]
pub struct Recording {
    pub config: BTreeMap<String, String>,
    pub secrets: BTreeMap<String, String>,
    pub pages: Vec<RecordedPage>,
}

impl Recording {
    /// Writes `dir/conformance.toml` and one body file per response
    /// (`page-P-R.json`, or `.txt` when the body is not JSON); returns the
    /// files written.
    pub fn write(&self, dir: &Path) -> Result<Vec<PathBuf>, FixtureError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| FixtureError::Io { path, source }
        };
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let mut written = Vec::new();
        let mut pages = Vec::with_capacity(self.pages.len());
        for (p, page) in (1..).zip(&self.pages) {
            let mut respond = Vec::with_capacity(page.responses.len());
            for (r, recorded) in (1..).zip(&page.responses) {
                let body = &recorded.response.body;
                let json = serde_json::from_slice::<serde_json::Value>(body).is_ok();
                let name = format!("page-{p}-{r}.{}", if json { "json" } else { "txt" });
                let path = dir.join(&name);
                std::fs::write(&path, body).map_err(io(&path))?;
                written.push(path);
                respond.push(RespondFile {
                    method: recorded.method.clone(),
                    path: recorded.path.clone(),
                    query: recorded.query.clone(),
                    status: recorded.response.status,
                    headers: recorded
                        .response
                        .headers
                        .iter()
                        .filter_map(|(n, v)| Some((n.to_string(), v.to_str().ok()?.to_string())))
                        .collect(),
                    body: None,
                    file: Some(PathBuf::from(name)),
                });
            }
            pages.push(PageFile {
                posts: page.posts,
                respond,
            });
        }
        let file = File {
            account: Some(AccountFile {
                config: self.config.clone(),
                secrets: self.secrets.clone(),
            }),
            pages,
            ..File::default()
        };
        let text = toml::to_string(&file).map_err(|e| FixtureError::Invalid {
            path: dir.join(FILE),
            message: e.to_string(),
        })?;
        let header = "# Recorded by `socialcrm plugin test --record` (format: docs/plugin-authors.md,\n\
                      # \"Conformance\"); secrets and tokens are replaced by placeholders.\n\n";
        let path = dir.join(FILE);
        std::fs::write(&path, format!("{header}{text}")).map_err(io(&path))?;
        written.push(path);
        Ok(written)
    }
}

fn body(dir: &Path, body: Option<String>, file: Option<PathBuf>) -> Result<Vec<u8>, String> {
    match (body, file) {
        (Some(_), Some(_)) => Err("give `body` or `file`, not both".into()),
        (Some(body), None) => Ok(body.into_bytes()),
        (None, Some(file)) => {
            let path = dir.join(&file);
            std::fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))
        }
        (None, None) => Ok(Vec::new()),
    }
}

fn recorded(dir: &Path, respond: RespondFile) -> Result<Recorded, String> {
    let body = body(dir, respond.body, respond.file)?;
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

fn webhook(dir: &Path, call: WebhookFile) -> Result<WebhookCall, String> {
    if !call.path.starts_with('/') {
        return Err(format!("path `{}` must start with `/`", call.path));
    }
    Ok(WebhookCall {
        request: WebhookRequest {
            method: call.method.to_ascii_uppercase(),
            path: call.path,
            query: call.query,
            headers: call
                .headers
                .into_iter()
                .map(|(name, value)| Header {
                    name,
                    value: value.into_bytes(),
                })
                .collect(),
            body: body(dir, call.body, call.file)?,
        },
        status: call.status,
        posts: call.posts,
        contains: call.contains,
        sign: call.sign,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_with_every_section_reads_back() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        std::fs::write(dir.join("hook.json"), br#"{"entry":[]}"#).unwrap();
        std::fs::write(
            dir.join(FILE),
            r#"
[account]
config = { site = "https://n.example" }
secrets = { app-secret = "s3cret" }

[[page]]
posts = 1
[[page.respond]]
path = "/latest.json"
query = "page=2"
headers = { retry-after = "3" }
body = "[]"

[[webhook]]
file = "hook.json"
posts = 0
sign = { header = "x-hub-signature-256", secret = "app-secret", prefix = "sha256=" }

[[webhook]]
method = "get"
query = "hub.challenge=42"
contains = "42"

[[send]]
text = "On it"
reply-to = { external-id = "7", author-handle = "ann" }
external-id = "8"
[[send.respond]]
method = "post"
path = "/posts.json"
body = '{"id":8}'
"#,
        )
        .unwrap();
        let fixtures = Fixtures::load(dir).unwrap();
        assert_eq!(fixtures.pages[0].responses[0].query.as_deref(), Some("page=2"));
        assert_eq!(fixtures.pages[0].responses[0].response.headers["retry-after"], "3");
        assert_eq!(fixtures.webhooks.len(), 2);
        assert_eq!(fixtures.webhooks[1].request.method, "GET");
        assert_eq!(fixtures.sends[0].responses[0].method, "POST");
        let target = fixtures.sends[0].message.in_reply_to.as_ref().unwrap();
        assert_eq!(target.external_id, "7");

        // The signature is the HMAC of the body with the named secret.
        let account = Account {
            secrets: [("app-secret".to_string(), "s3cret".to_string())].into(),
            ..Account::default()
        };
        let signed = fixtures.webhooks[0].signed(&account).unwrap();
        let header = signed.headers.iter().find(|h| h.name == "x-hub-signature-256").unwrap();
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, b"s3cret");
        let want = format!("sha256={}", hex::encode(ring::hmac::sign(&key, br#"{"entry":[]}"#)));
        assert_eq!(String::from_utf8_lossy(&header.value), want);
        let missing = fixtures.webhooks[0].signed(&Account::default()).unwrap_err();
        assert!(missing.contains("`app-secret`"), "{missing}");
    }

    #[test]
    fn mistakes_name_where_they_are() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let wrong = |text: &str| {
            std::fs::write(dir.join(FILE), text).unwrap();
            Fixtures::load(dir).unwrap_err().to_string()
        };
        let e = wrong("[[page]]\n[[page.respond]]\npath = \"latest\"\n");
        assert!(
            e.contains("page 1, response 1: path `latest` must start with `/`"),
            "{e}"
        );
        let e = wrong("[[send]]\ntext = \"x\"\n[[send.respond]]\npath = \"/p\"\nbody = \"{}\"\nfile = \"f\"\n");
        assert!(e.contains("send 1, response 1: give `body` or `file`, not both"), "{e}");
        let e = wrong("[[webhook]]\nfile = \"absent.json\"\n");
        assert!(e.contains("webhook 1: cannot read"), "{e}");
        let e = wrong("[[webhook]]\nsigned = true\n");
        assert!(e.contains("unknown field `signed`"), "{e}");
    }
}
