//! `/hooks/{channel}`: webhook calls of the networks, handed raw to the
//! channel's plugin (which answers verification challenges and checks
//! signatures); the posts they carry are stored like a polled page.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;

use super::ApiError;
use crate::ingest::{AccountError, Ingest, IngestError};
use crate::runtime::bindings::types::PluginError;
use crate::runtime::bindings::{Header, WebhookRequest};

pub fn routes() -> Router<Ingest> {
    Router::new()
        .route("/hooks/{channel}", any(hook))
        .route("/hooks/{channel}/{*rest}", any(hook_path))
}

async fn hook(
    state: State<Ingest>,
    Path(channel): Path<String>,
    method: Method,
    query: RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    handle(state, channel, String::new(), method, query, headers, body).await
}

async fn hook_path(
    state: State<Ingest>,
    Path((channel, rest)): Path<(String, String)>,
    method: Method,
    query: RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    handle(state, channel, format!("/{rest}"), method, query, headers, body).await
}

async fn handle(
    State(ingest): State<Ingest>,
    channel: String,
    path: String,
    method: Method,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if method != Method::GET && method != Method::POST {
        return ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method", "webhooks take GET or POST").into_response();
    }
    let request = WebhookRequest {
        method: method.to_string(),
        path,
        query: query.unwrap_or_default(),
        headers: headers
            .iter()
            .map(|(name, value)| Header {
                name: name.as_str().to_string(),
                value: value.as_bytes().to_vec(),
            })
            .collect(),
        body: body.to_vec(),
    };
    match ingest.webhook(&channel, request).await {
        Ok(answer) => {
            let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::OK);
            let mut response = (status, answer.body).into_response();
            for h in answer.headers {
                // The plugin chooses its answer's headers, within HTTP's rules.
                if let (Ok(name), Ok(value)) = (
                    HeaderName::from_bytes(h.name.as_bytes()),
                    HeaderValue::from_bytes(&h.value),
                ) {
                    response.headers_mut().append(name, value);
                }
            }
            response
        }
        Err(e) => error_response(&channel, e).into_response(),
    }
}

/// What the network hears when the hook fails. Details stay in the log: the
/// caller is the network (or anyone), not an admin.
fn error_response(channel: &str, error: IngestError) -> ApiError {
    tracing::warn!(channel, error = %error, "webhook failed");
    match &error {
        IngestError::Account(AccountError::Unknown(_)) => ApiError::not_found(format!("no channel `{channel}`")),
        IngestError::Call(call) => match call.plugin_error() {
            Some(PluginError::Unauthorized(_)) => {
                ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", "the request was not accepted")
            }
            Some(PluginError::Permanent(_)) => ApiError::bad_request("the payload was not accepted"),
            Some(PluginError::RateLimited(_)) => {
                ApiError::new(StatusCode::TOO_MANY_REQUESTS, "rate-limited", "try again later")
            }
            _ => ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "try again later"),
        },
        _ => ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "try again later"),
    }
}
