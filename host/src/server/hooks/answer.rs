//! The plugin's answer to a webhook call, as the host serves it. It is served
//! on the web UI's origin and its content is the plugin's (or, echoed, the
//! caller's): only allow-listed headers and content types pass, and it can
//! never be rendered as a page or script.

use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::runtime::types::WebhookResponse;
use crate::server::ApiError;

/// Headers a plugin may set on its answer.
const ALLOWED_HEADERS: [HeaderName; 2] = [header::CONTENT_TYPE, header::CACHE_CONTROL];
/// Media types a plugin may answer with; anything else is served as text.
const ALLOWED_TYPES: [&str; 2] = ["text/plain", "application/json"];
const TEXT: &str = "text/plain; charset=utf-8";
/// No scripts, styles, frames or plugins; a unique origin if opened anyway.
const CSP: &str = "default-src 'none'; sandbox";

pub fn response(answer: WebhookResponse) -> Response {
    let status = match StatusCode::from_u16(answer.status) {
        // No informational answers and no redirects (to anywhere).
        Ok(status) if matches!(status.as_u16(), 200..=299 | 400..=599) => status,
        _ => {
            tracing::warn!(
                status = answer.status,
                "webhook answer with a status other than 2xx, 4xx or 5xx refused"
            );
            return ApiError::new(
                StatusCode::BAD_GATEWAY,
                "bad-plugin-answer",
                "the channel's plugin gave an invalid answer",
            )
            .into_response();
        }
    };
    let mut response = (status, answer.body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(TEXT));
    for h in answer.headers {
        let Ok(name) = HeaderName::from_bytes(h.name.as_bytes()) else {
            continue;
        };
        let Ok(value) = HeaderValue::from_bytes(&h.value) else {
            continue;
        };
        if !ALLOWED_HEADERS.contains(&name) {
            tracing::debug!(header = %name, "webhook answer header dropped");
            continue;
        }
        if name == header::CONTENT_TYPE && !allowed_type(&value) {
            tracing::debug!(content_type = ?value, "webhook answer content type replaced with text");
            continue;
        }
        headers.insert(name, value);
    }
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}

fn allowed_type(value: &HeaderValue) -> bool {
    let Ok(value) = value.to_str() else { return false };
    let media = value.split(';').next().unwrap_or_default().trim();
    ALLOWED_TYPES.iter().any(|t| t.eq_ignore_ascii_case(media))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::types::Header;

    fn answer(status: u16, headers: &[(&str, &str)]) -> Response {
        response(WebhookResponse {
            status,
            headers: headers
                .iter()
                .map(|(n, v)| Header {
                    name: n.to_string(),
                    value: v.as_bytes().to_vec(),
                })
                .collect(),
            body: b"<script>alert(1)</script>".to_vec(),
        })
    }

    #[test]
    fn only_allowed_headers_and_types_pass_and_security_headers_are_set() {
        let r = answer(
            200,
            &[
                ("content-type", "text/html"),
                ("set-cookie", "session=stolen"),
                ("location", "https://evil.example"),
                ("access-control-allow-origin", "*"),
                ("cache-control", "no-store"),
            ],
        );
        let h = r.headers();
        assert_eq!(h[header::CONTENT_TYPE], TEXT);
        assert!(h.get(header::SET_COOKIE).is_none());
        assert!(h.get(header::LOCATION).is_none());
        assert!(h.get(header::ACCESS_CONTROL_ALLOW_ORIGIN).is_none());
        assert_eq!(h[header::CACHE_CONTROL], "no-store");
        assert_eq!(h[header::CONTENT_SECURITY_POLICY], CSP);
        assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff");

        let json = answer(200, &[("Content-Type", "application/json; charset=utf-8")]);
        assert_eq!(json.headers()[header::CONTENT_TYPE], "application/json; charset=utf-8");
    }

    #[test]
    fn informational_and_redirect_statuses_are_refused() {
        assert_eq!(
            answer(302, &[("location", "https://evil.example")]).status(),
            StatusCode::BAD_GATEWAY
        );
        assert_eq!(answer(101, &[]).status(), StatusCode::BAD_GATEWAY);
        assert_eq!(answer(403, &[]).status(), StatusCode::FORBIDDEN);
    }
}
