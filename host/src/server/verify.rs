//! `/verify/{token}`: the page where a customer confirms that a social account
//! is theirs, from a verification link the brand sent them
//! (`crm::identity::verification`). No sign-in, no script: the token is the
//! credential. Only a POST (the button) confirms, so a mail scanner or link
//! preview that fetches the page changes nothing. The page names the social
//! account only, never CRM data, and is served with no referrer, no caching
//! and no framing, since its URL is a secret.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::app::App;
use crate::crm::identity::IdentityError;
use crate::crm::identity::verification::{self, Pending};

const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'; \
                   frame-ancestors 'none'";

pub fn routes() -> Router<App> {
    Router::new().route("/verify/{token}", get(show).post(confirm))
}

async fn show(State(app): State<App>, Path(token): Path<String>) -> Response {
    match verification::pending(app.db(), &token).await {
        Ok(Pending { network, handle }) => {
            let (network, handle) = (html_escape::encode_safe(&network), html_escape::encode_safe(&handle));
            page(
                StatusCode::OK,
                &format!(
                    "<h1>Is this your account?</h1>\
                     <p>Confirm that the {network} account <strong>@{handle}</strong> belongs to you. \
                     We will then know your posts there come from you.</p>\
                     <form method=\"post\"><button type=\"submit\">Yes, @{handle} is mine</button></form>\
                     <p>If it is not yours, close this page: nothing changes.</p>"
                ),
            )
        }
        Err(e) => failed(e),
    }
}

async fn confirm(State(app): State<App>, Path(token): Path<String>) -> Response {
    match verification::complete(app.db(), &token).await {
        Ok(link) => {
            let handle = html_escape::encode_safe(&link.handle);
            page(
                StatusCode::OK,
                &format!("<h1>Thank you</h1><p>@{handle} is confirmed as your account. You can close this page.</p>"),
            )
        }
        Err(e) => failed(e),
    }
}

fn failed(e: IdentityError) -> Response {
    match e {
        IdentityError::Verification => page(
            StatusCode::NOT_FOUND,
            "<h1>This link does not work</h1><p>It is unknown, was used already or has expired. \
             Ask us for a new one.</p>",
        ),
        other => {
            tracing::error!(error = %other, "verification page");
            page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "<h1>Something went wrong</h1><p>Please try again later.</p>",
            )
        }
    }
}

fn page(status: StatusCode, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>Confirm your account</title>\
         <style>body{{font:16px/1.5 system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem}}\
         button{{font:inherit;padding:.5rem 1rem}}</style></head><body>{body}</body></html>"
    );
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CONTENT_SECURITY_POLICY, CSP),
            (header::REFERRER_POLICY, "no-referrer"),
            (header::CACHE_CONTROL, "no-store"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        html,
    )
        .into_response()
}
