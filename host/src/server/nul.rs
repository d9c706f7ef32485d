//! No U+0000 in a request to the API: PostgreSQL's text cannot hold it, so a
//! NUL in a name, a filter or a reply would otherwise fail deep in a query.
//! Refused up front with a 400, on every database alike; the OpenAPI
//! document says so once for every string.

use axum::body::{Body, to_bytes};
use axum::extract::Request;
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::{ApiError, MAX_BODY};

/// What the API says of every string it takes.
pub const RULE: &str = "Strings never contain U+0000 (NUL): a request with one is refused with 400.";

/// Refuses a request whose path, query or JSON body holds a NUL.
pub async fn refuse(request: Request, next: Next) -> Response {
    let uri = request.uri();
    let encoded = |s: &str| s.contains("%00");
    if encoded(uri.path()) || uri.query().is_some_and(encoded) {
        return refused();
    }
    let json = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().contains("json"));
    if !json {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let bytes = match to_bytes(body, MAX_BODY).await {
        Ok(bytes) => bytes,
        Err(_) => {
            let message = "the body is too large (or was cut off)";
            return ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "too-large", message).into_response();
        }
    };
    if escapes_nul(&bytes) {
        return refused();
    }
    next.run(Request::from_parts(parts, Body::from(bytes))).await
}

fn refused() -> Response {
    ApiError::bad_request(RULE).into_response()
}

/// Whether JSON text holds the escape `\u0000` (JSON writes NUL no other
/// way): a backslash that is not itself escaped, then `u0000`.
fn escapes_nul(json: &[u8]) -> bool {
    let mut backslashes = 0;
    for (i, &b) in json.iter().enumerate() {
        if b == b'\\' {
            backslashes += 1;
            continue;
        }
        if backslashes % 2 == 1 && json[i..].starts_with(b"u0000") {
            return true;
        }
        backslashes = 0;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::escapes_nul;

    #[test]
    fn only_an_unescaped_backslash_u0000_is_a_nul() {
        assert!(escapes_nul(br#"{"a": "x\u0000"}"#));
        assert!(escapes_nul(br#"{"a\u0000": 1}"#));
        assert!(escapes_nul(br#"{"a": "\\\u0000"}"#));
        assert!(!escapes_nul(br#"{"a": "\\u0000"}"#));
        assert!(!escapes_nul(br#"{"a": "\u0001 u0000"}"#));
        assert!(!escapes_nul(br#"{"a": "\\\\u0000"}"#));
    }
}
