//! X's batch compliance jobs (<https://docs.x.com/x-api/compliance/batch-compliance/introduction>):
//! `POST /2/compliance/jobs` and `GET /2/compliance/jobs/:id`, which take the
//! app's bearer token only, and the job files on a storage origin of their
//! own (signed URLs: a request that carries `Authorization` is refused, as
//! the real storage refuses a second form of authentication). A job is
//! `created`, `in_progress` once its ids are uploaded, and `complete` at
//! the status read after that; its results list, one JSON object per line,
//! the uploaded ids that have an event.

use axum::Router;
use axum::extract::{Request, State as AxumState};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{Reply, Shared, State, iso8601, unix_secs};

/// The only app token the fake accepts on the compliance endpoints.
pub const APP_TOKEN: &str = "fake-x-app-token";

/// A job as the fake keeps it.
pub(super) struct Job {
    id: String,
    kind: String,
    status: &'static str,
    created: u64,
    ids: Vec<String>,
}

/// Whether `path` is one the app token (and only it) may call.
pub(super) fn is_compliance(path: &str) -> bool {
    path.starts_with("/2/compliance/")
}

/// Whether the request carries the app token.
pub(super) fn app_authorized(headers: &HeaderMap) -> bool {
    super::bearer(headers).is_some_and(|t| t == APP_TOKEN)
}

/// The compliance endpoints of the API origin.
pub(super) fn route(st: &mut State, method: &str, segments: &[&str], body: &[u8]) -> Reply {
    match (method, segments) {
        ("POST", ["2", "compliance", "jobs"]) => {
            let request: Value = serde_json::from_slice(body).unwrap_or_default();
            let Some(kind) = request["type"].as_str().filter(|k| ["tweets", "users"].contains(k)) else {
                return Reply::invalid("type", "type must be one of [tweets, users]");
            };
            if st.jobs.iter().any(|j| j.kind == kind && j.status != "complete") {
                return Reply::problem(
                    StatusCode::BAD_REQUEST,
                    "You can have one concurrent job per job type at any time.",
                );
            }
            let id = (1_372_966_999_991_541_762u64 + st.jobs.len() as u64).to_string();
            st.jobs.push(Job {
                id: id.clone(),
                kind: kind.to_string(),
                status: "created",
                created: unix_secs(std::time::SystemTime::now()),
                ids: Vec::new(),
            });
            Reply::ok(&json!({ "data": job_json(st, &id) }))
        }
        ("GET", ["2", "compliance", "jobs", id]) => {
            if !st.jobs.iter().any(|j| j.id == *id) {
                return Reply::problem(StatusCode::NOT_FOUND, "Could not find the compliance job.");
            }
            let shown = job_json(st, id);
            // The read after the one that showed it in progress finds it complete.
            if let Some(job) = st.jobs.iter_mut().find(|j| j.id == *id)
                && job.status == "in_progress"
            {
                job.status = "complete";
            }
            Reply::ok(&json!({ "data": shown }))
        }
        _ => Reply::problem(StatusCode::NOT_FOUND, "Sorry, that page does not exist."),
    }
}

fn job_json(st: &State, id: &str) -> Value {
    let Some(job) = st.jobs.iter().find(|j| j.id == id) else {
        return Value::Null;
    };
    let (created, expires) = (iso8601(job.created), iso8601(job.created + 7 * 86_400));
    json!({
        "id": job.id,
        "type": job.kind,
        "name": "socialcrm recheck",
        "status": job.status,
        "created_at": created,
        "upload_url": format!("{}/twttr-{}-compliance/{}/submission/upload?X-Goog-Signature=f00d", st.storage_url, job.kind, job.id),
        "upload_expires_at": iso8601(job.created + 900),
        "download_url": format!("{}/twttr-{}-compliance/{}/submission/download?X-Goog-Signature=beef", st.storage_url, job.kind, job.id),
        "download_expires_at": expires,
        "resumable": false,
    })
}

/// The storage origin's router: job files up and down.
pub(super) fn storage(state: Shared) -> Router {
    Router::new().fallback(file).with_state(state)
}

async fn file(AxumState(shared): AxumState<Shared>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, 1 << 24).await.unwrap_or_default();
    let mut st = super::lock(&shared);
    st.storage_requests.push(super::RecordedRequest::of(&parts, &body));
    if parts.headers.contains_key(header::AUTHORIZATION) {
        return (
            StatusCode::BAD_REQUEST,
            "Cannot specify more than one form of authentication",
        )
            .into_response();
    }
    let segments: Vec<&str> = parts.uri.path().trim_matches('/').split('/').collect();
    let [_, id, "submission", action] = segments.as_slice() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let id = (*id).to_string();
    match (parts.method.as_str(), *action) {
        ("PUT", "upload") => {
            let ids: Vec<String> = String::from_utf8_lossy(&body)
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_string)
                .collect();
            match st.jobs.iter_mut().find(|j| j.id == id && j.status == "created") {
                Some(job) => {
                    job.ids = ids;
                    job.status = "in_progress";
                    StatusCode::OK.into_response()
                }
                None => StatusCode::FORBIDDEN.into_response(),
            }
        }
        ("GET", "download") => match st.jobs.iter().find(|j| j.id == id && j.status == "complete") {
            Some(job) => {
                let lines: Vec<String> = job
                    .ids
                    .iter()
                    .filter_map(|i| st.event(&job.kind, i))
                    .map(|e| e.to_string())
                    .collect();
                let mut text = lines.join("\n");
                text.push('\n');
                ([(header::CONTENT_TYPE, "application/json")], text).into_response()
            }
            None => StatusCode::NOT_FOUND.into_response(),
        },
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

impl State {
    /// The result line for id `id` of a job of `kind`, when it has an event.
    fn event(&self, kind: &str, id: &str) -> Option<Value> {
        let now = iso8601(unix_secs(std::time::SystemTime::now()));
        let reason = match kind {
            "tweets" => self.gone_tweets.iter().find(|(t, _)| t == id).map(|(_, r)| r.clone()),
            _ => self.gone_users.iter().find(|(u, _)| u == id).map(|(_, r)| r.clone()),
        }?;
        Some(json!({ "id": id, "action": "delete", "created_at": now, "redacted_at": now, "reason": reason }))
    }
}
