//! Where the host may fill an account secret into a plugin's request: the
//! manifest's `secret-fill` rules, each naming an origin, a path and one
//! place (a header, a top-level JSON field or a form field). A request that
//! asks for a secret anywhere else is refused; a placeholder outside the
//! place is sent as it is.

use std::collections::BTreeMap;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue};
use serde::{Deserialize, Serialize};

use super::origin::{AllowedOrigin, OriginError};

/// One `secret-fill` entry of a manifest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct SecretFill {
    /// A secret config field (never the credential's).
    pub secret: String,
    /// One of the manifest's `allowed-hosts` patterns.
    pub origin: String,
    /// The request path: exact, or a prefix when it ends with `*`.
    pub path: String,
    /// The header whose value may carry the placeholder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<String>,
    /// The top-level field of a JSON object body whose value is the placeholder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json: Option<String>,
    /// The field of a form body whose value is the placeholder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub form: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Place {
    Header(HeaderName),
    Json(String),
    Form(String),
}

impl SecretFill {
    fn place(&self) -> Result<Place, String> {
        match (&self.header, &self.json, &self.form) {
            (Some(h), None, None) => HeaderName::try_from(h.as_str())
                .map(Place::Header)
                .map_err(|_| format!("`{h}` is not a header name")),
            (None, Some(j), None) => Ok(Place::Json(j.clone())),
            (None, None, Some(f)) => Ok(Place::Form(f.clone())),
            _ => Err(format!(
                "the fill of `{}` must name exactly one of `header`, `json` and `form`",
                self.secret
            )),
        }
    }

    /// Why this entry is not valid, if it is not (the manifest checks the rest).
    pub fn check(&self) -> Result<(), String> {
        self.place().map(|_| ())
    }

    /// One line for an admin: which secret goes where.
    pub fn describe(&self) -> String {
        let place = match (&self.header, &self.json, &self.form) {
            (Some(h), _, _) => format!("header `{h}`"),
            (_, Some(j), _) => format!("JSON field `{j}`"),
            (_, _, Some(f)) => format!("form field `{f}`"),
            _ => "nowhere".into(),
        };
        format!("`{}` into the {place} of {}{}", self.secret, self.origin, self.path)
    }
}

/// Whether `path` is `pattern`, or starts with it when it ends with `*`.
pub(super) fn path_matches(pattern: &str, path: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => path.starts_with(prefix),
        None => path == pattern,
    }
}

/// A fill rule with its origin expanded for one account.
#[derive(Clone, Debug)]
pub struct FillRule {
    secret: String,
    origin: AllowedOrigin,
    path: String,
    place: Place,
}

impl FillRule {
    pub fn expand(fill: &SecretFill, config: &BTreeMap<String, String>) -> Result<FillRule, OriginError> {
        let place = fill.place().map_err(|why| OriginError::Invalid {
            pattern: fill.origin.clone(),
            why,
        })?;
        Ok(FillRule {
            secret: fill.secret.clone(),
            origin: AllowedOrigin::expand(&fill.origin, config)?,
            path: fill.path.clone(),
            place,
        })
    }

    /// Whether this rule lets `secret` into a request to `scheme://host:port/path`.
    pub fn applies(&self, secret: &str, scheme: &str, host: &str, port: u16, path: &str) -> bool {
        self.secret == secret && path_matches(&self.path, path) && self.origin.matches(scheme, host, port)
    }

    /// Fills `value` into this rule's place in `headers` or `body`.
    pub fn fill(&self, value: &str, headers: &mut HeaderMap, body: Bytes) -> Result<Bytes, String> {
        let placeholder = format!("{{{{secret.{}}}}}", self.secret);
        match &self.place {
            Place::Header(name) => {
                if let Some(current) = headers.get(name).and_then(|v| v.to_str().ok()) {
                    let filled = current.replace(&placeholder, value);
                    let filled = HeaderValue::try_from(filled)
                        .map_err(|_| "a secret is not a valid header value".to_string())?;
                    headers.insert(name.clone(), filled);
                }
                Ok(body)
            }
            Place::Json(field) => {
                let Ok(serde_json::Value::Object(mut object)) = serde_json::from_slice(&body) else {
                    return Ok(body);
                };
                match object.get_mut(field) {
                    Some(v) if v.as_str() == Some(placeholder.as_str()) => {
                        *v = serde_json::Value::String(value.to_string());
                        serde_json::to_vec(&object).map(Bytes::from).map_err(|e| e.to_string())
                    }
                    _ => Ok(body),
                }
            }
            Place::Form(field) => {
                let pairs: Vec<(String, String)> = url::form_urlencoded::parse(&body).into_owned().collect();
                if !pairs.iter().any(|(k, v)| k == field && *v == placeholder) {
                    return Ok(body);
                }
                let mut out = url::form_urlencoded::Serializer::new(String::new());
                for (k, v) in &pairs {
                    let v = if k == field && *v == placeholder { value } else { v };
                    out.append_pair(k, v);
                }
                Ok(Bytes::from(out.finish()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(place: &str, name: &str) -> FillRule {
        let mut fill = SecretFill {
            secret: "password".into(),
            origin: "{service}".into(),
            path: "/login".into(),
            header: None,
            json: None,
            form: None,
        };
        match place {
            "header" => fill.header = Some(name.into()),
            "json" => fill.json = Some(name.into()),
            _ => fill.form = Some(name.into()),
        }
        let config = BTreeMap::from([("service".to_string(), "https://api.example".to_string())]);
        FillRule::expand(&fill, &config).unwrap()
    }

    #[test]
    fn applies_to_its_origin_path_and_secret_only() {
        let r = rule("json", "password");
        assert!(r.applies("password", "https", "api.example", 443, "/login"));
        assert!(!r.applies("password", "https", "evil.example", 443, "/login"));
        assert!(!r.applies("password", "https", "api.example", 443, "/status"));
        assert!(!r.applies("token", "https", "api.example", 443, "/login"));
        let mut prefix = SecretFill {
            secret: "password".into(),
            origin: "https://api.example".into(),
            path: "/v2/*".into(),
            header: Some("x-key".into()),
            json: None,
            form: None,
        };
        let r = FillRule::expand(&prefix, &BTreeMap::new()).unwrap();
        assert!(r.applies("password", "https", "api.example", 443, "/v2/anything"));
        prefix.json = Some("also".into());
        assert!(prefix.check().is_err(), "one place only");
    }

    #[test]
    fn fills_only_its_place() {
        let mut headers = HeaderMap::new();
        headers.insert("x-key", HeaderValue::from_static("Key {{secret.password}}"));
        headers.insert("x-other", HeaderValue::from_static("{{secret.password}}"));
        let body = Bytes::from_static(b"{{secret.password}}");
        let body = rule("header", "x-key").fill("hunter2", &mut headers, body).unwrap();
        assert_eq!(headers["x-key"], "Key hunter2");
        assert_eq!(headers["x-other"], "{{secret.password}}");
        assert_eq!(&body[..], b"{{secret.password}}");

        let body = Bytes::from_static(br#"{"user":"{{secret.password}}","password":"{{secret.password}}"}"#);
        let filled = rule("json", "password")
            .fill("hun\"ter2", &mut HeaderMap::new(), body)
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&filled).unwrap();
        assert_eq!(v["password"], "hun\"ter2", "escaped as JSON");
        assert_eq!(v["user"], "{{secret.password}}");

        let body = Bytes::from_static(b"user=%7B%7Bsecret.password%7D%7D&password=%7B%7Bsecret.password%7D%7D");
        let filled = rule("form", "password")
            .fill("a&b", &mut HeaderMap::new(), body)
            .unwrap();
        assert_eq!(&filled[..], b"user=%7B%7Bsecret.password%7D%7D&password=a%26b");
    }
}
