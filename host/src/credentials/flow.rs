//! The refresh request of each flow and the grant in its answer: what goes
//! on the wire, apart from how it is sent.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Uri, header};
use serde::Deserialize;

use crate::runtime::Refresh;
use crate::runtime::http::HttpRequest;

/// A new access token, and the refresh token that replaces the one used
/// when the server rotates it.
#[derive(Debug, Deserialize)]
pub struct Grant {
    pub access_token: String,
    #[serde(default)]
    pub refresh_token: Option<String>,
    /// Seconds from now.
    #[serde(default)]
    pub expires_in: Option<u64>,
}

/// Why a refresh did not give a token.
#[derive(Debug, PartialEq, Eq)]
pub enum Failure {
    /// The server refused the grant (a 4xx): only a new authorization helps.
    Refused(String),
    /// Anything else (a 5xx, a malformed answer): worth trying again later.
    Failed(String),
}

/// `Basic base64(id:secret)`, each form-encoded first (RFC 6749 §2.3.1).
pub fn client_secret_basic(client_id: &str, client_secret: &str) -> String {
    let encode = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    format!(
        "Basic {}",
        STANDARD.encode(format!("{}:{}", encode(client_id), encode(client_secret)))
    )
}

/// Whether the account holds what `refresh` needs: without a refresh
/// token (an account set up with an access token alone) nothing is refreshed.
pub fn ready(refresh: &Refresh, values: &BTreeMap<String, String>) -> bool {
    let has = |name: &String| values.get(name).is_some_and(|v| !v.is_empty());
    match refresh {
        Refresh::Oauth2 {
            refresh_token,
            client_id,
            ..
        } => has(refresh_token) && has(client_id),
        Refresh::ThreadsLongLived { .. } => true,
    }
}

/// The refresh request of `refresh` to `url` (the token URL, expanded), with
/// the account's `values` (secrets and config) and its access token.
pub fn request(
    refresh: &Refresh,
    url: &str,
    access_token: &str,
    values: &BTreeMap<String, String>,
) -> Result<HttpRequest, String> {
    let get = |name: &str| {
        values
            .get(name)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| format!("the account has no `{name}`"))
    };
    let mut headers = HeaderMap::new();
    headers.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
    let (method, url, body) = match refresh {
        Refresh::Oauth2 {
            refresh_token,
            client_id,
            client_secret,
            ..
        } => {
            let mut form = url::form_urlencoded::Serializer::new(String::new());
            form.append_pair("grant_type", "refresh_token")
                .append_pair("refresh_token", get(refresh_token)?);
            // A confidential client authenticates; an account without the
            // secret is a public client, named in the form.
            match client_secret.as_deref().and_then(|s| get(s).ok()) {
                Some(secret) => {
                    let basic = client_secret_basic(get(client_id)?, secret);
                    let basic =
                        HeaderValue::try_from(basic).map_err(|_| "the client id is not a valid header value")?;
                    headers.insert(header::AUTHORIZATION, basic);
                }
                // A public client names itself in the form.
                None => {
                    form.append_pair("client_id", get(client_id)?);
                }
            }
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/x-www-form-urlencoded"),
            );
            (Method::POST, url.to_string(), form.finish())
        }
        Refresh::ThreadsLongLived { .. } => {
            let query = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("grant_type", "th_refresh_token")
                .append_pair("access_token", access_token)
                .finish();
            (Method::GET, format!("{url}?{query}"), String::new())
        }
    };
    let uri: Uri = url
        .parse()
        .map_err(|_| "the token URL is not a valid URL".to_string())?;
    if let Some(authority) = uri.authority()
        && let Ok(host) = HeaderValue::from_str(authority.as_str())
    {
        headers.insert(header::HOST, host);
    }
    if !body.is_empty() {
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
    }
    Ok(HttpRequest {
        method,
        uri,
        headers,
        body: Bytes::from(body),
    })
}

/// The grant in a token endpoint's answer. An error names only the
/// server's error code and description: the body may echo a token.
pub fn grant(status: u16, body: &[u8]) -> Result<Grant, Failure> {
    #[derive(Deserialize)]
    struct OauthError {
        error: Option<String>,
        error_description: Option<String>,
    }
    if (200..300).contains(&status) {
        return serde_json::from_slice::<Grant>(body)
            .ok()
            .filter(|g| !g.access_token.is_empty())
            .ok_or_else(|| Failure::Failed(format!("the token endpoint answered {status} without an access token")));
    }
    let described = serde_json::from_slice::<OauthError>(body).ok().and_then(|e| {
        let error = e.error?;
        Some(match e.error_description {
            Some(d) => format!("{error} ({d})"),
            None => error,
        })
    });
    let why = described.unwrap_or_else(|| format!("HTTP {status}"));
    if (400..500).contains(&status) && status != 408 && status != 429 {
        Err(Failure::Refused(why))
    } else {
        Err(Failure::Failed(format!("the token endpoint answered {status}: {why}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values() -> BTreeMap<String, String> {
        [
            ("refresh-token", "r 1&"),
            ("client-id", "app"),
            ("client-secret", "s3cr:t"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    #[test]
    fn an_oauth2_refresh_is_a_form_post_with_the_client_in_basic_or_the_form() {
        let mut refresh = Refresh::Oauth2 {
            token_url: "{api}/2/oauth2/token".into(),
            refresh_token: "refresh-token".into(),
            client_id: "client-id".into(),
            client_secret: Some("client-secret".into()),
        };
        let url = "https://api.x.com:443/2/oauth2/token";
        let sent = request(&refresh, url, "old", &values()).unwrap();
        assert_eq!(sent.method, Method::POST);
        assert_eq!(&sent.body[..], b"grant_type=refresh_token&refresh_token=r+1%26");
        assert_eq!(sent.headers[header::AUTHORIZATION], "Basic YXBwOnMzY3IlM0F0");
        assert_eq!(sent.headers[header::CONTENT_TYPE], "application/x-www-form-urlencoded");
        if let Refresh::Oauth2 { client_secret, .. } = &mut refresh {
            *client_secret = None;
        }
        let public = request(&refresh, url, "old", &values()).unwrap();
        assert_eq!(
            &public.body[..],
            b"grant_type=refresh_token&refresh_token=r+1%26&client_id=app"
        );
        assert!(!public.headers.contains_key(header::AUTHORIZATION));
        let err = request(&refresh, url, "old", &BTreeMap::new()).unwrap_err();
        assert_eq!(err, "the account has no `refresh-token`");
    }

    #[test]
    fn a_threads_refresh_is_a_get_with_the_token_in_the_query() {
        let refresh = Refresh::ThreadsLongLived {
            token_url: "{api}/refresh_access_token".into(),
        };
        let sent = request(
            &refresh,
            "https://graph.threads.net:443/refresh_access_token",
            "THQ+long/lived",
            &BTreeMap::new(),
        )
        .unwrap();
        assert_eq!(sent.method, Method::GET);
        assert_eq!(
            sent.uri.to_string(),
            "https://graph.threads.net:443/refresh_access_token?grant_type=th_refresh_token&access_token=THQ%2Blong%2Flived"
        );
        assert!(sent.body.is_empty());
        let g = grant(
            200,
            br#"{"access_token":"THQnew","token_type":"bearer","expires_in":5183944}"#,
        )
        .unwrap();
        assert_eq!(
            (g.access_token.as_str(), g.expires_in, g.refresh_token),
            ("THQnew", Some(5_183_944), None)
        );
    }

    #[test]
    fn a_refusal_names_the_error_never_the_body() {
        let refused = grant(
            400,
            br#"{"error":"invalid_request","error_description":"Value passed for the token was invalid.","token":"leak"}"#,
        );
        assert_eq!(
            refused.unwrap_err(),
            Failure::Refused("invalid_request (Value passed for the token was invalid.)".into())
        );
        assert_eq!(
            grant(401, b"secret-echo").unwrap_err(),
            Failure::Refused("HTTP 401".into())
        );
        assert!(matches!(grant(503, b"").unwrap_err(), Failure::Failed(_)));
        assert!(matches!(grant(200, b"{}").unwrap_err(), Failure::Failed(_)));
    }
}
