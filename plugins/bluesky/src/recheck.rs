//! Deletions and edits of stored posts: polling never shows them, so the
//! host hands recent stored post URIs to `recheck`, which looks them up with
//! `app.bsky.feed.getPosts` (25 URIs a request,
//! <https://docs.bsky.app/docs/api/app-bsky-feed-get-posts>). A post missing
//! from the answer was deleted (or its author's account is gone); a record
//! whose text changed was edited.

use serde::Deserialize;
use serde_json::value::RawValue;
use socialcrm_sdk::upkeep::{StoredPost, Upkeep};
use socialcrm_sdk::{Config, PluginError, changes, log};

use crate::Bluesky;
use crate::entities::{PostRecord, PostView};
use crate::settings::Settings;
use crate::xrpc::Client;

/// URIs per `getPosts` request: the lexicon's maximum.
pub const PER_REQUEST: usize = 25;
/// Requests per call, within the host's 20 (a sign-in may take two).
const REQUESTS: usize = 12;

impl Upkeep for Bluesky {
    fn recheck(config: Config, posts: Vec<StoredPost>) -> Result<u32, PluginError> {
        let settings = Settings::from_config(&config)?;
        let mut client = Client::new(&settings);
        let mut done = 0u32;
        for batch in posts.chunks(PER_REQUEST).take(REQUESTS) {
            match look_up(&mut client, batch) {
                Ok(()) => done += batch.len() as u32,
                // What was checked before is kept; the rest waits for the next run.
                Err(e) if done > 0 => {
                    log::warn(&format!("rechecking stopped after {done} posts: {e}"));
                    break;
                }
                Err(e) => return Err(e),
            }
        }
        Ok(done)
    }

    /// The key-value store holds the brand's own session, nothing about users.
    fn forget(_config: Config, _external_user_id: String) -> Result<(), PluginError> {
        Ok(())
    }
}

/// Looks `batch` up and reports the posts that are gone or edited.
fn look_up(client: &mut Client, batch: &[StoredPost]) -> Result<(), PluginError> {
    const WHAT: &str = "rechecking posts";
    #[derive(Deserialize)]
    struct Posts {
        posts: Vec<Box<RawValue>>,
    }
    let query: Vec<(&str, &str)> = batch.iter().map(|p| ("uris", p.external_id.as_str())).collect();
    let found: Posts = client.query("app.bsky.feed.getPosts", &query, WHAT)?;
    let mut views = Vec::with_capacity(found.posts.len());
    for raw in &found.posts {
        let view: PostView = serde_json::from_str(raw.get())
            .map_err(|e| PluginError::Permanent(format!("{WHAT}: malformed post view: {e}")))?;
        views.push((view, raw.get()));
    }
    for post in batch {
        let Some((view, raw)) = views.iter().find(|(v, _)| v.uri == post.external_id) else {
            changes::post_deleted(&post.external_id);
            continue;
        };
        let Ok(record) = PostRecord::read(view.record.clone()) else {
            continue;
        };
        if record.text != post.text {
            changes::post_edited(&post.external_id, &record.text, &view.indexed_at, Some(raw));
        }
    }
    Ok(())
}
