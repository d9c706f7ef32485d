//! Deletions and departures of stored posts and their authors, by X's batch
//! compliance jobs (<https://docs.x.com/x-api/compliance/batch-compliance/introduction>).
//! The host hands recent stored posts to `recheck`; their ids go up in a
//! `tweets` job and their authors' ids in a `users` job
//! (`POST /2/compliance/jobs` with the app's bearer token, which the host
//! attaches to those paths only, then a plain-text `PUT` to the job's signed
//! `upload_url`, where no credential goes). X runs one job of each type at a
//! time, for minutes: the job's id waits in the key-value store, and a later
//! recheck reads its status and, once `complete`, its results (one JSON
//! object per line, only for ids with an event) from `download_url`.

use serde::Deserialize;
use socialcrm_sdk::changes::{self, GoneReason};
use socialcrm_sdk::http::Request;
use socialcrm_sdk::upkeep::{StoredPost, Upkeep};
use socialcrm_sdk::{Config, PluginError, ResultExt, kv, log};

use crate::settings::Settings;
use crate::{Side, X, send};

/// The two kinds of job, as X names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Tweets,
    Users,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Tweets => "tweets",
            Kind::Users => "users",
        }
    }

    /// Where the job in flight waits between calls.
    fn key(self) -> String {
        format!("compliance/{}", self.name())
    }
}

/// A job in flight, as kept between calls.
#[derive(Debug, Deserialize)]
struct Pending {
    id: String,
    download_url: String,
}

/// A job as `POST /2/compliance/jobs` and `GET /2/compliance/jobs/:id` answer it.
#[derive(Debug, Deserialize)]
struct Job {
    id: String,
    status: String,
    #[serde(default)]
    upload_url: String,
    #[serde(default)]
    download_url: String,
}

#[derive(Debug, Deserialize)]
struct JobBody {
    data: Job,
}

/// One line of a job's results.
#[derive(Debug, PartialEq, Eq, Deserialize)]
struct Event {
    id: String,
    action: String,
    reason: String,
}

impl Upkeep for X {
    /// Collects the results of jobs that finished, then sends `posts` in new
    /// jobs. While a job of either kind is still running nothing new goes
    /// up (0 checked): the host hands the same posts again later.
    fn recheck(config: Config, posts: Vec<StoredPost>) -> Result<u32, PluginError> {
        let settings = Settings::parse(&config)?;
        let Some(storage) = &settings.storage else {
            log::debug("no `storage-url`: compliance jobs are off for this account");
            return Ok(count(posts.len()));
        };
        let tweets_running = collect(&settings, Kind::Tweets)?;
        let users_running = collect(&settings, Kind::Users)?;
        if tweets_running || users_running {
            return Ok(0);
        }
        let tweet_ids: Vec<&str> = posts.iter().map(|p| p.external_id.as_str()).collect();
        let mut user_ids: Vec<&str> = posts.iter().map(|p| p.author_id.as_str()).collect();
        user_ids.sort_unstable();
        user_ids.dedup();
        submit(&settings, storage, Kind::Tweets, &tweet_ids)?;
        submit(&settings, storage, Kind::Users, &user_ids)?;
        Ok(count(posts.len()))
    }

    /// The plugin keeps nothing about users: its key-value store holds job ids only.
    fn forget(_config: Config, _external_user_id: String) -> Result<(), PluginError> {
        Ok(())
    }
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Reads the job of `kind` in flight, if any, and reports its results once
/// it is complete; returns whether it is still running.
fn collect(settings: &Settings, kind: Kind) -> Result<bool, PluginError> {
    let Some(pending) = kv::get(&kind.key()).and_then(|v| serde_json::from_slice::<Pending>(&v).ok()) else {
        return Ok(false);
    };
    const WHAT: &str = "reading a compliance job";
    let url = format!("{}/2/compliance/jobs/{}", settings.api, pending.id);
    let job: JobBody = send(Request::get(url), WHAT, Side::Read)?.json().context(WHAT)?;
    match job.data.status.as_str() {
        "created" | "in_progress" => return Ok(true),
        "complete" => {
            const RESULTS: &str = "downloading compliance results";
            let response = send(Request::get(pending.download_url.clone()), RESULTS, Side::Read)?;
            let events = parse_results(&response.body);
            for event in &events {
                report(kind, event);
            }
            log::info(&format!(
                "compliance job {} ({}): {} events",
                pending.id,
                kind.name(),
                events.len()
            ));
        }
        // The ids go up again in the next pass over the window.
        other => log::warn(&format!("compliance job {} ended `{other}`", pending.id)),
    }
    kv::delete(&kind.key());
    Ok(false)
}

/// Creates a job of `kind` for `ids` and uploads them; keeps the job's id.
fn submit(settings: &Settings, storage: &str, kind: Kind, ids: &[&str]) -> Result<(), PluginError> {
    if ids.is_empty() {
        return Ok(());
    }
    const WHAT: &str = "creating a compliance job";
    let body = serde_json::json!({ "type": kind.name(), "name": "socialcrm recheck" });
    let request = Request::post(format!("{}/2/compliance/jobs", settings.api))
        .json(&body)
        .context(WHAT)?;
    let job: JobBody = send(request, WHAT, Side::Read)?.json().context(WHAT)?;
    let job = job.data;
    // Both URLs go where the credential does not: the storage origin only.
    for url in [&job.upload_url, &job.download_url] {
        if !url.starts_with(&format!("{storage}/")) {
            return Err(PluginError::Permanent(format!(
                "{WHAT}: X answered a file URL outside `storage-url` ({storage})"
            )));
        }
    }
    const UPLOAD: &str = "uploading ids for a compliance job";
    let file = ids.join("\n") + "\n";
    let upload = Request::new("PUT", job.upload_url.clone())
        .header("content-type", "text/plain")
        .body(file);
    send(upload, UPLOAD, Side::Read)?;
    let pending = serde_json::json!({ "id": job.id, "download_url": job.download_url });
    kv::set(&kind.key(), pending.to_string().as_bytes()).map_err(|e| PluginError::Permanent(format!("{WHAT}: {e}")))
}

/// The events of a results file; a line that is not one is skipped.
fn parse_results(body: &[u8]) -> Vec<Event> {
    String::from_utf8_lossy(body)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .filter_map(|l| serde_json::from_str::<Event>(l).ok())
        .filter(|e| e.action == "delete")
        .collect()
}

/// Tells the host what an event means for what it stores. `scrub_geo` asks
/// to drop location data, which the plugin never asks X for.
fn report(kind: Kind, event: &Event) {
    match kind {
        Kind::Tweets if event.reason != "scrub_geo" => changes::post_deleted(&event.id),
        Kind::Tweets => {}
        Kind::Users => {
            let reason = match event.reason.as_str() {
                "suspended" => GoneReason::Suspended,
                "protected" => GoneReason::Protected,
                "deactivated" => GoneReason::Deactivated,
                "deleted" => GoneReason::Deleted,
                _ => return,
            };
            changes::user_gone(&event.id, reason);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_are_json_lines_of_delete_actions() {
        let body = br#"{"id":"1460323737035677698","action":"delete","created_at":"2021-11-15T19:08:05.000Z","redacted_at":"2021-11-17T07:34:14.000Z","reason":"deleted"}

{"id":"1460323737035677699","action":"delete","created_at":"2021-11-15T19:08:05.000Z","reason":"scrub_geo"}
not json
{"id":"7","action":"keep","reason":"deleted"}
"#;
        let events = parse_results(body);
        assert_eq!(
            events,
            [
                Event {
                    id: "1460323737035677698".into(),
                    action: "delete".into(),
                    reason: "deleted".into()
                },
                Event {
                    id: "1460323737035677699".into(),
                    action: "delete".into(),
                    reason: "scrub_geo".into()
                },
            ]
        );
    }
}
