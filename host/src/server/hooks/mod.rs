//! `/hooks/{channel}`: webhook calls of the networks, handed raw to the
//! channel's plugin (which answers verification challenges and checks
//! signatures); the posts they carry are stored like a polled page. Callers
//! are unauthenticated: each channel's calls are admitted within limits
//! (`gate`), bodies are read only up to the plugin's limit, and the plugin's
//! answer is served with a short allow-list of headers (`answer`).

mod answer;
mod gate;

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::{Extension, Router};
use http_body_util::{BodyExt, LengthLimitError, Limited};

use gate::{Busy, HookGate, HookLimits};

use super::ApiError;
use crate::app::App;
use crate::ingest::{AccountError, Ingest, IngestError};
use crate::runtime::types::PluginError;
use crate::runtime::types::{Header, WebhookRequest};

pub fn routes() -> Router<App> {
    Router::new()
        .route("/hooks/{channel}", any(hook))
        .route("/hooks/{channel}/{*rest}", any(hook))
        .layer(Extension(Arc::new(HookGate::new(HookLimits::default()))))
}

/// One webhook call as it arrived.
struct Call {
    channel: String,
    /// Where people reach this server (status links the plugin hands out).
    public_url: Option<String>,
    path: String,
    method: Method,
    query: Option<String>,
    headers: HeaderMap,
    body: Body,
}

/// Both routes: `channel`, and `rest` (the path below the channel) when there is one.
async fn hook(
    State(app): State<App>,
    Extension(gate): Extension<Arc<HookGate>>,
    Path(params): Path<HashMap<String, String>>,
    method: Method,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let channel = params.get("channel").cloned().unwrap_or_default();
    let path = params.get("rest").map(|rest| format!("/{rest}")).unwrap_or_default();
    let call = Call {
        channel,
        public_url: public_url(&app, &headers),
        path,
        method,
        query,
        headers,
        body,
    };
    handle(app.ingest().clone(), &gate, call).await
}

async fn handle(ingest: Ingest, gate: &HookGate, call: Call) -> Response {
    if call.method != Method::GET && call.method != Method::POST {
        return ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method", "webhooks take GET or POST").into_response();
    }
    let endpoint = match ingest.webhook_endpoint(&call.channel).await {
        Ok(endpoint) => endpoint.at(call.public_url),
        Err(e) => return error_response(&call.channel, e).into_response(),
    };
    let _permit = match gate.admit(&call.channel) {
        Ok(permit) => permit,
        Err(busy) => return too_many(&call.channel, busy),
    };
    let limit = endpoint.max_body_bytes();
    let body = match Limited::new(call.body, limit).collect().await {
        Ok(body) => body.to_bytes(),
        Err(e) if e.is::<LengthLimitError>() => {
            let message = format!("webhook bodies of this channel are limited to {limit} bytes");
            return ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "too-large", message).into_response();
        }
        Err(_) => return ApiError::bad_request("the request body could not be read").into_response(),
    };
    let request = WebhookRequest {
        method: call.method.to_string(),
        path: call.path,
        query: call.query.unwrap_or_default(),
        headers: call
            .headers
            .iter()
            .map(|(name, value)| Header {
                name: name.as_str().to_string(),
                value: value.as_bytes().to_vec(),
            })
            .collect(),
        body: body.to_vec(),
    };
    match ingest.webhook(endpoint, request).await {
        Ok(reply) => answer::response(reply),
        Err(e) => error_response(&call.channel, e).into_response(),
    }
}

/// Where people reach this server: the configured public URL, else the
/// origin the network called (its `Host`; https when the proxy in front says
/// so). A link built from a forged `Host` goes back only to whoever forged it.
fn public_url(app: &App, headers: &HeaderMap) -> Option<String> {
    if let Some(url) = app.public_url() {
        return Some(url.as_str().to_string());
    }
    let host = headers.get(header::HOST)?.to_str().ok()?;
    let authority: axum::http::uri::Authority = host.parse().ok()?;
    let https = headers
        .get("x-forwarded-proto")
        .is_some_and(|proto| proto.as_bytes().eq_ignore_ascii_case(b"https"));
    Some(format!("{}://{authority}", if https { "https" } else { "http" }))
}

fn too_many(channel: &str, busy: Busy) -> Response {
    tracing::warn!(channel, why = busy.why, "webhook call refused");
    metrics::counter!(crate::metrics::WEBHOOKS_REFUSED, "channel" => channel.to_string()).increment(1);
    let seconds = busy.retry_after.as_secs() + u64::from(busy.retry_after.subsec_nanos() > 0);
    let mut response = ApiError::new(StatusCode::TOO_MANY_REQUESTS, "rate-limited", busy.why).into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(seconds.max(1)));
    response
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
