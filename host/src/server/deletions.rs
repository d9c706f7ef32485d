//! `/deletions/{code}`: the status of a deletion request a network forwarded
//! (Meta's data-deletion callback, `privacy::deletions`), for the person who
//! asked: they hold the confirmation code and nothing else, so the page is
//! public and the unguessable code (128 random bits) is the credential. It
//! tells the status and its dates only, never who or what; an unknown code
//! is a plain 404. HTML for people, JSON for `Accept: application/json`.
//! Served with no referrer, no caching and no framing, since its URL is a
//! secret.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::app::App;
use crate::store::deletion_requests::{self, Progress, Status};

const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; frame-ancestors 'none'";

pub fn routes() -> Router<App> {
    Router::new().route("/deletions/{code}", get(show))
}

async fn show(State(app): State<App>, Path(code): Path<String>, headers: HeaderMap) -> Response {
    let json = wants_json(&headers);
    let found = if well_formed(&code) {
        deletion_requests::status(app.db(), &code).await
    } else {
        Ok(None)
    };
    match found {
        Ok(Some(status)) if json => secret_page(
            StatusCode::OK,
            "application/json",
            serde_json::json!(status).to_string(),
        ),
        Ok(Some(status)) => html(StatusCode::OK, &describe(&status)),
        Ok(None) if json => json_error(StatusCode::NOT_FOUND, "not-found", "no deletion request has this code"),
        Ok(None) => html(
            StatusCode::NOT_FOUND,
            "<h1>Unknown code</h1><p>No deletion request has this confirmation code. Check the link you were given.</p>",
        ),
        Err(e) => {
            tracing::error!(error = %e, "deletion request status page");
            if json {
                json_error(StatusCode::INTERNAL_SERVER_ERROR, "internal", "please try again later")
            } else {
                html(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "<h1>Something went wrong</h1><p>Please try again later.</p>",
                )
            }
        }
    }
}

/// Codes are 32 lowercase hex digits; anything else is unknown without a lookup.
fn well_formed(code: &str) -> bool {
    code.len() == 32 && code.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn wants_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("application/json"))
}

fn describe(status: &Status) -> String {
    let received = date(status.received_at);
    match (status.status, status.completed_at) {
        (Progress::Complete, Some(done)) => format!(
            "<h1>Your data is deleted</h1><p>We received your request on {received} and completed it on {}. \
             We hold no data about you from this request any more.</p>",
            date(done)
        ),
        (progress, _) => format!(
            "<h1>Your request is being handled</h1><p>We received your request to delete your data on \
             {received}; the deletion is {}. Come back to this page later.</p>",
            if progress == Progress::Received {
                "about to start"
            } else {
                "in progress"
            }
        ),
    }
}

/// A Unix-ms time as a date and time in UTC.
fn date(ms: i64) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(format).ok())
        .unwrap_or_default()
}

fn json_error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = serde_json::json!({"error": {"code": code, "message": message}});
    secret_page(status, "application/json", body.to_string())
}

fn html(status: StatusCode, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>Your deletion request</title>\
         <style>body{{font:16px/1.5 system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem}}</style>\
         </head><body>{body}</body></html>"
    );
    secret_page(status, "text/html; charset=utf-8", html)
}

/// `body` with the headers of a page whose URL is a secret.
fn secret_page(status: StatusCode, content_type: &'static str, body: String) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, content_type),
            (header::CONTENT_SECURITY_POLICY, CSP),
            (header::REFERRER_POLICY, "no-referrer"),
            (header::CACHE_CONTROL, "no-store"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_codes_as_minted_are_looked_up() {
        assert!(well_formed("0123456789abcdef0123456789abcdef"));
        for bad in [
            "",
            "0123456789ABCDEF0123456789ABCDEF",
            "0123456789abcdef",
            "' OR 1=1 --",
        ] {
            assert!(!well_formed(bad), "{bad}");
        }
    }

    #[test]
    fn the_page_tells_the_status_and_dates_only() {
        let complete = Status {
            status: Progress::Complete,
            received_at: 1_796_000_000_000,
            completed_at: Some(1_796_000_060_000),
        };
        let page = describe(&complete);
        assert!(
            page.contains("deleted") && page.contains("2026-11-30 00:54 UTC"),
            "{page}"
        );
        let waiting = describe(&Status {
            status: Progress::Received,
            completed_at: None,
            ..complete
        });
        assert!(waiting.contains("about to start"), "{waiting}");
    }
}
