//! `socialcrm plugin test --record`: a channel checked and polled against a
//! live account through a transport that keeps every answer, written out as
//! fixtures the conformance runner and the testkit replay. What the network
//! sent is kept except credentials: the account's secret values wherever they
//! appear, the values of token-like JSON fields and of credential headers
//! (`set-cookie`, `authorization`) are replaced before anything is written.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::HeaderMap;
use serde_json::Value;

use crate::runtime::fixtures::{RecordedPage, Recording};
use crate::runtime::http::{HttpRequest, HttpResponse, SendOptions, TransportFuture};
use crate::runtime::replay::Recorded;
use crate::runtime::{Account, CallError, ChannelPlugin, Transport};

/// What the account's secrets and token fields are written as (secret values
/// found elsewhere become `[secret NAME]`, as in logs).
const PLACEHOLDER: &str = "recorded-secret";
/// Response headers never written: they carry sessions or credentials.
const DROPPED_HEADERS: [&str; 3] = ["set-cookie", "authorization", "proxy-authorization"];
/// JSON fields whose string values are tokens (compared without case, `-` and `_`).
const TOKEN_FIELDS: [&str; 10] = [
    "accesstoken",
    "refreshtoken",
    "idtoken",
    "token",
    "accessjwt",
    "refreshjwt",
    "password",
    "secret",
    "clientsecret",
    "apikey",
];

/// A transport that forwards to another and keeps each request's answer.
pub struct Recorder {
    inner: Arc<dyn Transport>,
    kept: Arc<Mutex<Vec<Recorded>>>,
}

impl Recorder {
    pub fn new(inner: Arc<dyn Transport>) -> Recorder {
        Recorder {
            inner,
            kept: Arc::default(),
        }
    }

    /// The answers kept since the last call.
    fn take(&self) -> Vec<Recorded> {
        std::mem::take(&mut *self.kept.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

impl Transport for Recorder {
    fn send(&self, request: HttpRequest, options: SendOptions) -> TransportFuture {
        let method = request.method.to_string();
        let path = request.uri.path().to_string();
        let query = request.uri.query().filter(|q| !q.is_empty()).map(str::to_string);
        let kept = self.kept.clone();
        let sent = self.inner.send(request, options);
        Box::pin(async move {
            let response = sent.await?;
            kept.lock().unwrap_or_else(|e| e.into_inner()).push(Recorded {
                method,
                path,
                query,
                response: response.clone(),
            });
            Ok(response)
        })
    }
}

/// Checks the account, then polls `pages` times (state and key-value writes
/// carried over, as the host commits them; a poll after a page without
/// has-more is what the next scheduled poll does, and records what a quiet
/// network answers) and keeps each page's answers with its post count,
/// redacted.
pub fn record(
    plugin: &ChannelPlugin,
    recorder: &Recorder,
    account: &Account,
    pages: usize,
) -> Result<Recording, CallError> {
    plugin.check(account)?;
    recorder.take();
    let mut account = account.clone();
    let mut state = String::new();
    let mut recorded = Vec::new();
    for _ in 0..pages {
        let out = plugin.poll(&account, &state)?;
        let responses = recorder
            .take()
            .into_iter()
            .map(|r| redacted(r, &account.secrets))
            .collect();
        recorded.push(RecordedPage {
            posts: Some(out.value.posts.len()),
            responses,
        });
        account.apply_kv(out.kv_changes);
        state = out.value.state;
    }
    Ok(Recording {
        config: account.config.clone(),
        secrets: account
            .secrets
            .keys()
            .map(|name| (name.clone(), PLACEHOLDER.to_string()))
            .collect(),
        pages: recorded,
    })
}

/// `recorded` with the account's secrets, token fields and credential
/// headers taken out.
fn redacted(mut recorded: Recorded, secrets: &BTreeMap<String, String>) -> Recorded {
    recorded.query = recorded.query.map(|q| without_secrets(&q, secrets));
    let response = &recorded.response;
    let mut headers = HeaderMap::new();
    for (name, value) in &response.headers {
        if DROPPED_HEADERS.contains(&name.as_str()) {
            continue;
        }
        let Ok(text) = value.to_str() else { continue };
        if let Ok(value) = without_secrets(text, secrets).parse() {
            headers.append(name.clone(), value);
        }
    }
    let body = match serde_json::from_slice::<Value>(&response.body) {
        Ok(mut json) => {
            scrub_tokens(&mut json);
            Bytes::from(without_secrets(&json.to_string(), secrets))
        }
        Err(_) => Bytes::from(without_secrets(&String::from_utf8_lossy(&response.body), secrets)),
    };
    recorded.response = HttpResponse {
        status: response.status,
        headers,
        body,
    };
    recorded
}

fn without_secrets(text: &str, secrets: &BTreeMap<String, String>) -> String {
    crate::runtime::redact(text, secrets).into_owned()
}

/// Replaces the string values of token-like fields, at any depth.
fn scrub_tokens(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, field) in map.iter_mut() {
                let plain: String = key
                    .chars()
                    .filter(|c| *c != '_' && *c != '-')
                    .collect::<String>()
                    .to_lowercase();
                if TOKEN_FIELDS.contains(&plain.as_str()) && field.is_string() {
                    *field = Value::String(PLACEHOLDER.into());
                } else {
                    scrub_tokens(field);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(scrub_tokens),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::replay::response;

    #[test]
    fn secrets_tokens_and_cookies_are_taken_out_of_a_recording() {
        let secrets = BTreeMap::from([("api-key".to_string(), "k3y-value-1".to_string())]);
        let mut headers = HeaderMap::new();
        headers.insert("set-cookie", "_session=abc".parse().unwrap());
        headers.insert("x-echo", "key k3y-value-1".parse().unwrap());
        headers.insert("retry-after", "3".parse().unwrap());
        let body = r#"{"user":{"name":"ann","auth":{"access_token":"at-9","Refresh-Token":"rt-9"}},"note":"k3y-value-1","tokens":[1]}"#;
        let recorded = Recorded {
            method: "GET".into(),
            path: "/me".into(),
            query: Some("key=k3y-value-1&page=2".into()),
            response: response(200, headers, body),
        };
        let out = redacted(recorded, &secrets);
        let written = format!(
            "{:?} {:?} {}",
            out.query,
            out.response.headers,
            String::from_utf8_lossy(&out.response.body)
        );
        for gone in ["k3y-value-1", "at-9", "rt-9", "_session"] {
            assert!(!written.contains(gone), "{gone} in {written}");
        }
        assert_eq!(out.query.as_deref(), Some("key=[secret api-key]&page=2"));
        assert_eq!(out.response.headers["retry-after"], "3");
        let json: Value = serde_json::from_slice(&out.response.body).unwrap();
        assert_eq!(json["user"]["name"], "ann");
        assert_eq!(json["tokens"], serde_json::json!([1]));
    }
}
