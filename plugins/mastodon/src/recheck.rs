//! Deletions and edits of stored mentions. Polling notifications never shows
//! them, so the host hands recent stored statuses to `recheck`, which reads
//! each one again (`GET /api/v1/statuses/:id`): 404 means it was deleted (or
//! its author's account is gone), a newer text with `edited_at` set means it
//! was edited (<https://docs.joinmastodon.org/methods/statuses/#get>).

use serde_json::value::RawValue;
use socialcrm_sdk::http::{Request, encode};
use socialcrm_sdk::upkeep::{StoredPost, Upkeep};
use socialcrm_sdk::{Config, PluginError, ResultExt, changes, log};

use crate::entities::{Status, non_empty};
use crate::{Mastodon, checked, instance};

/// Statuses read per call: one request each, within the host's 20 requests
/// a call.
pub const PER_CALL: usize = 15;
/// Requests of the account's rate-limit window (300 per 5 minutes) left to
/// polling and replies: a recheck stops once fewer remain.
pub const RESERVE: u64 = 60;

impl Upkeep for Mastodon {
    fn recheck(config: Config, posts: Vec<StoredPost>) -> Result<u32, PluginError> {
        let base = instance(&config)?;
        let mut done = 0u32;
        for post in posts.iter().take(PER_CALL) {
            match look_up(&base, post) {
                Ok(remaining) => {
                    done += 1;
                    if remaining.is_some_and(|r| r < RESERVE) {
                        log::debug(&format!(
                            "{remaining:?} requests left in the rate-limit window; the rest waits"
                        ));
                        break;
                    }
                }
                // What was checked before is kept; the rest waits for the next run.
                Err(e) if done > 0 => {
                    log::warn(&format!("rechecking stopped after {done} statuses: {e}"));
                    break;
                }
                Err(e) => return Err(e),
            }
        }
        Ok(done)
    }

    /// The plugin keeps nothing about users (its key-value store is empty).
    fn forget(_config: Config, _external_user_id: String) -> Result<(), PluginError> {
        Ok(())
    }
}

/// Reads `post` again and reports what changed; returns the requests left in
/// the rate-limit window (`X-RateLimit-Remaining`), when the server says.
fn look_up(base: &str, post: &StoredPost) -> Result<Option<u64>, PluginError> {
    const WHAT: &str = "rechecking a status";
    let id = &post.external_id;
    let response = Request::get(format!("{base}/api/v1/statuses/{}", encode(id)))
        .send()
        .context(WHAT)?;
    let remaining = response
        .header("x-ratelimit-remaining")
        .and_then(|r| r.trim().parse().ok());
    // Deleted, or no longer visible to the account: gone either way.
    if response.status == 404 || response.status == 410 {
        changes::post_deleted(id);
        return Ok(remaining);
    }
    let response = checked(response, WHAT)?;
    let raw: Box<RawValue> = response.json().context(WHAT)?;
    let status: Status = serde_json::from_str(raw.get())
        .map_err(|e| PluginError::Permanent(format!("{WHAT}: malformed status {id}: {e}")))?;
    if let Some(edited_at) = non_empty(status.edited_at.clone()) {
        let text = status.text();
        if text != post.text {
            changes::post_edited(id, &text, &edited_at, Some(raw.get()));
        }
    }
    Ok(remaining)
}
