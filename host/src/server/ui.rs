//! The web UI: `/` and `/ui/*`, files embedded in the binary (no CDN, no build
//! step), served under a Content-Security-Policy that allows this origin only.
//! Module imports carry no version in their URLs, so every file is revalidated
//! by its ETag: an upgraded binary never runs against a stale script.

use std::sync::LazyLock;

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use sha2::{Digest, Sha256};

use super::ApiError;
use crate::app::App;

/// Scripts, styles, images and API calls from this origin only; no inline
/// code, no plugins, no framing.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
                   connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

struct Asset {
    path: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

macro_rules! asset {
    ($path:literal, $type:expr) => {
        Asset {
            path: $path,
            content_type: $type,
            body: include_bytes!(concat!("../../ui/", $path)),
        }
    };
}

const JS: &str = "text/javascript; charset=utf-8";

const ASSETS: &[Asset] = &[
    asset!("index.html", "text/html; charset=utf-8"),
    asset!("app.css", "text/css; charset=utf-8"),
    asset!("icon.svg", "image/svg+xml"),
    asset!("app.js", JS),
    asset!("api.js", JS),
    asset!("dom.js", JS),
    asset!("messages.js", JS),
    asset!("charts.js", JS),
    asset!("views/login.js", JS),
    asset!("views/inbox.js", JS),
    asset!("views/contacts.js", JS),
    asset!("views/identity.js", JS),
    asset!("views/insights.js", JS),
    asset!("views/plugins.js", JS),
    asset!("views/channels.js", JS),
    asset!("views/imports.js", JS),
    asset!("views/events.js", JS),
    asset!("views/tokens.js", JS),
    asset!("views/audit.js", JS),
    asset!("views/retention.js", JS),
];

/// One strong ETag per asset, in `ASSETS` order.
static ETAGS: LazyLock<Vec<String>> = LazyLock::new(|| {
    ASSETS
        .iter()
        .map(|a| format!("\"{}\"", hex::encode(&Sha256::digest(a.body)[..12])))
        .collect()
});

pub fn routes() -> Router<App> {
    Router::new()
        .route(
            "/",
            get(|headers: HeaderMap| async move { serve("index.html", &headers) }),
        )
        .route(
            "/ui/{*path}",
            get(|Path(path): Path<String>, headers: HeaderMap| async move { serve(&path, &headers) }),
        )
}

fn serve(path: &str, request: &HeaderMap) -> Response {
    let Some(i) = ASSETS.iter().position(|a| a.path == path) else {
        return ApiError::not_found(format!("no UI file {path}")).into_response();
    };
    let (asset, etag) = (&ASSETS[i], ETAGS[i].as_str());
    let fresh = request
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|tag| tag.trim() == etag));
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        asset.body.into_response()
    };
    let headers = response.headers_mut();
    let mut set = |name, value: &str| {
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(name, value);
        }
    };
    set(header::CONTENT_TYPE, asset.content_type);
    set(header::ETAG, etag);
    set(header::CACHE_CONTROL, "no-cache");
    set(header::CONTENT_SECURITY_POLICY, CSP);
    set(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(header::REFERRER_POLICY, "no-referrer");
    set(header::X_FRAME_OPTIONS, "DENY");
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(dir: &std::path::Path, prefix: &str, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let name = format!("{prefix}{}", entry.file_name().to_string_lossy());
            if entry.path().is_dir() {
                files(&entry.path(), &format!("{name}/"), out);
            } else {
                out.push(name);
            }
        }
    }

    #[test]
    fn every_ui_file_is_served_with_its_type_and_policy() {
        let mut on_disk = Vec::new();
        files(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("ui"),
            "",
            &mut on_disk,
        );
        assert!(!on_disk.is_empty());
        for path in on_disk {
            let response = serve(&path, &HeaderMap::new());
            assert_eq!(response.status(), StatusCode::OK, "{path} is not in ASSETS");
            let headers = response.headers();
            assert!(
                headers[header::CONTENT_SECURITY_POLICY]
                    .to_str()
                    .is_ok_and(|v| v.contains("default-src 'none'"))
            );
            let ty = headers[header::CONTENT_TYPE].to_str().unwrap_or_default();
            let expected = match path.rsplit('.').next() {
                Some("js") => "text/javascript",
                Some("css") => "text/css",
                Some("html") => "text/html",
                Some("svg") => "image/svg+xml",
                other => panic!("{path}: no content type for {other:?}"),
            };
            assert!(ty.starts_with(expected), "{path}: {ty}");
        }
        assert_eq!(
            serve("../Cargo.toml", &HeaderMap::new()).status(),
            StatusCode::NOT_FOUND
        );
    }

    #[test]
    fn a_known_etag_is_not_modified() {
        let first = serve("app.js", &HeaderMap::new());
        let etag = first.headers()[header::ETAG].clone();
        let mut request = HeaderMap::new();
        request.insert(header::IF_NONE_MATCH, etag.clone());
        let again = serve("app.js", &request);
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
        assert_eq!(again.headers()[header::ETAG], etag);
    }
}
