//! Single sign-on's browser routes and how a request's session or provider
//! token becomes a caller (for `Auth`). `/auth/login` sends the browser to
//! the provider with PKCE (S256), `state` and `nonce` sealed in a short-lived
//! cookie; `/auth/callback` checks them, exchanges the code, validates the ID
//! token and starts a session; `POST /auth/logout` ends it; `/auth/session`
//! tells the UI whether single sign-on is on, who is signed in and the CSRF
//! token. These routes are for browsers, not part of the API document.

use std::collections::BTreeMap;

use axum::Json;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::header::{COOKIE, LOCATION, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{AppendHeaders, IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::ApiError;
use crate::app::App;
use crate::sso::{CSRF_HEADER, Sso, SsoError};
use crate::store::now_ms;
use crate::tokens::{Caller, Role, random_secret};

/// The session cookie: the session's random id.
const SESSION_COOKIE: &str = "scrm_session";
/// The sign-in in progress: state, nonce and PKCE verifier, sealed.
const LOGIN_COOKIE: &str = "scrm_login";
/// What the login cookie's seal is bound to.
const LOGIN_OWNER: &str = "sso-login";
/// A sign-in must come back from the provider within this many seconds.
const LOGIN_SECS: i64 = 600;

pub fn routes() -> Router<App> {
    Router::new()
        .route("/auth/login", get(login))
        .route("/auth/callback", get(callback))
        .route("/auth/logout", post(logout))
        .route("/auth/session", get(session))
}

/// The caller a provider's JWT access token names, when single sign-on is
/// on and `token` is not one of our opaque tokens.
pub async fn bearer(app: &App, token: &str) -> Result<Option<Caller>, ApiError> {
    let Some(sso) = app.sso() else {
        return Ok(None);
    };
    if token.starts_with(crate::tokens::PREFIX) || token.matches('.').count() != 2 {
        return Ok(None);
    }
    let (claims, role) = sso.access_token(token).await.map_err(error)?;
    let role = role.ok_or_else(|| no_role(&claims.actor()))?;
    Ok(Some(claims.caller(role)))
}

/// The caller whose session cookie this request carries, if any. A request
/// that may change state must also carry the session's CSRF token.
pub async fn session_caller(parts: &Parts, app: &App) -> Result<Option<Caller>, ApiError> {
    let (Some(sso), Some(id)) = (app.sso(), cookie(&parts.headers, SESSION_COOKIE)) else {
        return Ok(None);
    };
    let session = sso.session(app.db(), id).await.map_err(error)?.ok_or_else(|| {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "the session has ended: sign in again",
        )
    })?;
    if !parts.method.is_safe() && !crate::sso::csrf_matches(&session, header(&parts.headers, CSRF_HEADER)) {
        return Err(csrf_refused());
    }
    Ok(Some(session.caller))
}

fn csrf_refused() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "csrf",
        format!("a request with the session cookie that changes state needs the `{CSRF_HEADER}` header"),
    )
}

fn no_role(actor: &str) -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "forbidden",
        format!("`{actor}` is in no group that maps to a role here"),
    )
}

fn error(e: SsoError) -> ApiError {
    match e {
        SsoError::Db(e) => ApiError::from(e),
        e if e.is_token() => ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", e.to_string()),
        e => {
            tracing::warn!(error = %e, "single sign-on");
            ApiError::unavailable("the OpenID provider is not available")
        }
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The value of cookie `name`.
fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, value)| value)
        .filter(|value| !value.is_empty())
}

/// `HttpOnly; SameSite=Lax` always (Lax: the provider's redirect back is a
/// top-level GET, which must carry the login cookie), `Secure` over https.
fn set_cookie(sso: &Sso, name: &str, value: &str, path: &str, max_age: i64) -> (axum::http::HeaderName, HeaderValue) {
    let secure = if sso.secure_cookies() { "; Secure" } else { "" };
    let text = format!("{name}={value}; Path={path}; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}");
    (
        SET_COOKIE,
        HeaderValue::from_str(&text).unwrap_or(HeaderValue::from_static("")),
    )
}

fn configured(app: &App) -> Result<&Sso, ApiError> {
    app.sso()
        .ok_or_else(|| ApiError::not_found("single sign-on is not configured"))
}

/// Sends the browser to the provider's authorization endpoint.
async fn login(State(app): State<App>) -> Result<Response, ApiError> {
    let sso = configured(&app)?;
    let endpoint = &sso.provider().metadata().await.map_err(error)?.authorization_endpoint;
    let (state, nonce, verifier) = (random_secret(), random_secret(), random_secret());
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    let mut url = url::Url::parse(endpoint)
        .map_err(|e| ApiError::unavailable(format!("the provider's authorization endpoint: {e}")))?;
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &sso.options().client_id)
        .append_pair("redirect_uri", sso.redirect_uri())
        .append_pair("scope", &sso.options().scopes)
        .append_pair("state", &state)
        .append_pair("nonce", &nonce)
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256");
    let pending: BTreeMap<String, String> = [
        ("state", state),
        ("nonce", nonce),
        ("verifier", verifier),
        ("until", (now_ms() + LOGIN_SECS * 1000).to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let sealed = app.secret_box().seal(&pending, LOGIN_OWNER);
    // Sealed base64 may hold `=` and `/`, which cookie values can carry.
    let cookie = set_cookie(sso, LOGIN_COOKIE, &sealed, "/auth/", LOGIN_SECS);
    Ok((StatusCode::SEE_OTHER, [(LOCATION, url.to_string())], [cookie]).into_response())
}

#[derive(Deserialize)]
struct Callback {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// Back from the provider: checks state, exchanges the code, validates the
/// ID token, maps the role and starts a fresh session.
async fn callback(
    State(app): State<App>,
    headers: HeaderMap,
    Query(back): Query<Callback>,
) -> Result<Response, ApiError> {
    let sso = configured(&app)?;
    if let Some(e) = back.error {
        let detail = back.error_description.unwrap_or_default();
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!("the provider refused: {e} {detail}"),
        ));
    }
    let bad = |m: &str| ApiError::bad_request(format!("{m}: start again at /auth/login"));
    let (Some(code), Some(state)) = (back.code, back.state) else {
        return Err(bad("the provider sent no code or state"));
    };
    let pending = cookie(&headers, LOGIN_COOKIE)
        .and_then(|sealed| app.secret_box().open(sealed, LOGIN_OWNER).ok())
        .ok_or_else(|| bad("no sign-in in progress in this browser"))?;
    let field = |k: &str| pending.get(k).map(String::as_str).unwrap_or_default();
    if field("until").parse::<i64>().unwrap_or(0) < now_ms() {
        return Err(bad("the sign-in took too long"));
    }
    if !bool::from(state.as_bytes().ct_eq(field("state").as_bytes())) || state.is_empty() {
        return Err(bad("the state does not match this browser's sign-in"));
    }
    let options = sso.options();
    let id_token = sso
        .provider()
        .exchange(
            &options.client_id,
            options.client_secret.expose(),
            &code,
            sso.redirect_uri(),
            field("verifier"),
        )
        .await
        .map_err(|e| match e {
            SsoError::Refused(_) => ApiError::bad_request(e.to_string()),
            e => error(e),
        })?;
    let (claims, role) = sso.id_token(&id_token, field("nonce")).await.map_err(error)?;
    let role = role.ok_or_else(|| no_role(&claims.actor()))?;
    let (id, _) = sso.start_session(app.db(), &claims.caller(role)).await.map_err(error)?;
    let max_age = i64::try_from(options.lifetime.as_secs()).unwrap_or(i64::MAX);
    Ok((
        StatusCode::SEE_OTHER,
        [(LOCATION, "/".to_string())],
        // Two cookies: appended, as `[...]` alone would keep the last.
        AppendHeaders([
            set_cookie(sso, SESSION_COOKIE, &id, "/", max_age),
            set_cookie(sso, LOGIN_COOKIE, "", "/auth/", 0),
        ]),
    )
        .into_response())
}

/// Ends the session (with its CSRF token) and clears the cookie.
async fn logout(State(app): State<App>, headers: HeaderMap) -> Result<Response, ApiError> {
    let sso = configured(&app)?;
    if let Some(id) = cookie(&headers, SESSION_COOKIE)
        && let Some(session) = sso.session(app.db(), id).await.map_err(error)?
    {
        if !crate::sso::csrf_matches(&session, header(&headers, CSRF_HEADER)) {
            return Err(csrf_refused());
        }
        sso.end_session(app.db(), id).await.map_err(error)?;
    }
    Ok((StatusCode::NO_CONTENT, [set_cookie(sso, SESSION_COOKIE, "", "/", 0)]).into_response())
}

/// What the UI needs: whether single sign-on is on, and the session.
#[derive(Serialize)]
struct SessionInfo {
    /// The sign-in button's label, when single sign-on is configured.
    provider: Option<String>,
    name: Option<String>,
    role: Option<Role>,
    /// Send it as `X-CSRF-Token` on every request that changes state.
    csrf: Option<String>,
}

async fn session(State(app): State<App>, headers: HeaderMap) -> Result<Json<SessionInfo>, ApiError> {
    let mut info = SessionInfo {
        provider: None,
        name: None,
        role: None,
        csrf: None,
    };
    let Some(sso) = app.sso() else {
        return Ok(Json(info));
    };
    info.provider = Some(sso.options().provider_name.clone());
    if let Some(id) = cookie(&headers, SESSION_COOKIE)
        && let Some(session) = sso.session(app.db(), id).await.map_err(error)?
    {
        info.name = Some(session.caller.name);
        info.role = Some(session.caller.role);
        info.csrf = Some(session.csrf);
    }
    Ok(Json(info))
}
