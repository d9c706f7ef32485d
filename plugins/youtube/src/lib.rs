//! First-party YouTube channel (Data API v3,
//! <https://developers.google.com/youtube/v3/docs>): comments on the brand's
//! channel and videos and, with keywords, on other channels' videos a search
//! finds, by polling; answers go out as replies. Every call spends the
//! project's daily quota, which the plugin counts ([`quota`]). The host
//! attaches and renews the OAuth 2.0 token; the plugin never sees a secret.

mod entities;
mod paging;
mod quota;
mod settings;

use std::collections::HashSet;

use socialcrm_sdk::channel::{
    Capabilities, Connector, Descriptor, Outbound, Page as PollPage, Sent, WebhookRequest, WebhookResult,
};
use socialcrm_sdk::http::{DEFAULT_RETRY_AFTER_MS, MIN_RETRY_AFTER_MS, Request, Response};
use socialcrm_sdk::{Config, PluginError, Post, RateLimit, ResultExt, log, time};

use entities::{ChannelList, Comment, ErrorBody, Page, SearchList, comment_url};
use paging::{Cursor, Listening, State, Video};
use quota::Quota;
use settings::Settings;

/// Threads per page: the most `commentThreads.list` gives.
const CHANNEL_PAGE: u32 = 100;
/// Threads per page of a found video: smaller, so a poll's posts stay well under the host's 1,000.
const VIDEO_PAGE: u32 = 50;
/// Found videos read per poll, and the posts after which a poll stops reading them.
const VIDEOS_PER_POLL: usize = 3;
const POSTS_PER_POLL: usize = 400;
/// Videos a search may return, and videos listened to at most (the newest stay).
const SEARCH_PAGE: u32 = 50;
const MAX_VIDEOS: usize = 50;
/// Searches look for videos published this far back.
const SEARCH_BACK_MS: i64 = 7 * 24 * 3_600_000;

struct YouTube;

impl Connector for YouTube {
    fn describe() -> Descriptor {
        Descriptor {
            network: "youtube".into(),
            capabilities: Capabilities::POLL | Capabilities::REPLY,
            // Declared once, in plugin.toml: the host takes them from there.
            config_fields: Vec::new(),
        }
    }

    fn check(config: Config) -> Result<(), PluginError> {
        let settings = Settings::parse(&config)?;
        let mut quota = Quota::load(settings.daily_quota);
        const WHAT: &str = "verifying the access token";
        quota.spend(quota::LIST, WHAT)?;
        let request = Request::get(format!("{}/youtube/v3/channels", settings.api))
            .query("part", "id")
            .query("mine", "true");
        let response = send(request, WHAT, Side::Read, &quota)?;
        let mine: ChannelList = response.json().context(WHAT)?;
        let Some(channel) = mine.items.first() else {
            return Err(PluginError::InvalidConfig(
                "the access token's Google account has no YouTube channel".into(),
            ));
        };
        if channel.id != settings.channel_id {
            return Err(PluginError::InvalidConfig(format!(
                "the access token is channel {}'s, but config field `channel-id` is `{}`",
                channel.id, settings.channel_id
            )));
        }
        log::info(&format!("signed in to {} as channel {}", settings.api, channel.id));
        Ok(())
    }

    fn poll(config: Config, state: String) -> Result<PollPage, PluginError> {
        let settings = Settings::parse(&config)?;
        let previous = State::parse(&state)?;
        let mut quota = Quota::load(settings.daily_quota);

        let threads = Threads::Channel(&settings.channel_id);
        let (mut posts, channel) = read(&settings, &mut quota, threads, &previous.channel, CHANNEL_PAGE)?;
        let mut has_more = channel.has_more();

        let search = match &settings.query {
            None => None,
            Some(query) => {
                let listening = previous
                    .search
                    .filter(|s| &s.query == query)
                    .unwrap_or_else(|| Listening {
                        query: query.clone(),
                        searched: None,
                        videos: Vec::new(),
                    });
                let listening = listen(&settings, &mut quota, listening, &mut posts)?;
                // More found videos wait, if the quota lets the next poll read them.
                has_more |= listening.videos.iter().any(|v| v.due) && quota.fits(quota::LIST * 2);
                Some(listening)
            }
        };
        // A comment on the brand's video that a search also found is one post.
        let mut ids = HashSet::new();
        posts.retain(|p| ids.insert(p.external_id.clone()));
        let next = State { channel, search };
        log::debug(&format!("{} posts; more waiting: {has_more}", posts.len()));
        Ok(PollPage {
            posts,
            state: next.encode(),
            has_more,
        })
    }

    fn handle_webhook(_config: Config, _request: WebhookRequest) -> Result<WebhookResult, PluginError> {
        Err(PluginError::Permanent(
            "the YouTube Data API pushes no comments: this channel polls".into(),
        ))
    }

    fn send(config: Config, message: Outbound) -> Result<Sent, PluginError> {
        let settings = Settings::parse(&config)?;
        if message.recipient.is_some() {
            return Err(PluginError::Permanent(
                "youtube answers comments; YouTube has no direct messages".into(),
            ));
        }
        let Some(target) = &message.in_reply_to else {
            return Err(PluginError::Permanent(
                "youtube sends replies to comments only: a new top-level comment needs a video".into(),
            ));
        };
        let text = message.text.trim();
        if text.is_empty() {
            return Err(PluginError::Permanent("nothing to send: the text is empty".into()));
        }
        // Replies are one level deep: a reply to a reply goes to its thread's top-level comment.
        let parent = target.thread_id.as_deref().unwrap_or(&target.external_id);
        const WHAT: &str = "publishing the reply";
        let mut quota = Quota::load(settings.daily_quota);
        quota.spend(quota::INSERT, WHAT)?;
        let body = serde_json::json!({ "snippet": { "parentId": parent, "textOriginal": text } });
        let request = Request::post(format!("{}/youtube/v3/comments", settings.api))
            .query("part", "snippet")
            .json(&body)
            .context(WHAT)?;
        let response = send(request, WHAT, Side::Write, &quota)?;
        let created: Comment = response.json().context(WHAT)?;
        Ok(Sent {
            url: created.snippet.video_id.as_deref().map(|v| comment_url(v, &created.id)),
            external_id: created.id,
        })
    }
}

socialcrm_sdk::export_channel!(YouTube);

/// Which threads a read lists.
#[derive(Clone, Copy)]
enum Threads<'a> {
    /// The brand's channel and all its videos.
    Channel(&'a str),
    Video(&'a str),
}

/// The next page of a thread list after `cursor`: its new posts and the new place.
/// A page token refused as invalid (expired) restarts from the newest page.
fn read(
    settings: &Settings,
    quota: &mut Quota,
    threads: Threads,
    cursor: &Cursor,
    page_size: u32,
) -> Result<(Vec<Post>, Cursor), Failure> {
    let what = match threads {
        Threads::Channel(_) => "listing the channel's comments",
        Threads::Video(_) => "listing a video's comments",
    };
    let mut cursor = cursor.clone();
    let response = loop {
        quota.spend(quota::LIST, what)?;
        let mut request = Request::get(format!("{}/youtube/v3/commentThreads", settings.api))
            .query("part", "snippet,replies")
            .query("order", "time")
            .query("textFormat", "plainText")
            .query("maxResults", &page_size.to_string());
        request = match threads {
            Threads::Channel(id) => request.query("allThreadsRelatedToChannelId", id),
            Threads::Video(id) => request.query("videoId", id),
        };
        if let Some(token) = cursor.token() {
            request = request.query("pageToken", token);
        }
        match send(request, what, Side::Read, quota) {
            Err(f) if f.reason == "invalidPageToken" && cursor.token().is_some() => {
                log::info(&format!(
                    "{what}: the page token expired; starting again from the newest page"
                ));
                cursor = cursor.restarted();
            }
            other => break other?,
        }
    };
    let page = Page::parse(&response.body).context(what)?;
    let (posts, newest_reply) = page.posts(&cursor, &settings.channel_id);
    let next = cursor.advance(&page.seen(), newest_reply);
    Ok((posts, next))
}

/// Keyword listening: a search when one is due, then the comments of the
/// videos found, a few a poll. Listening stops for the day when the quota
/// cannot pay for it; the brand's own comments go on.
fn listen(
    settings: &Settings,
    quota: &mut Quota,
    mut listening: Listening,
    posts: &mut Vec<Post>,
) -> Result<Listening, PluginError> {
    let now = time::now_millis();
    let due = listening
        .searched
        .is_none_or(|at| now.saturating_sub(at) >= settings.search_every_ms);
    if due {
        if !quota.fits(quota::SEARCH) {
            log::warn("keyword search skipped: not enough quota left today");
        } else if let Err(e) = search(settings, quota, &mut listening, now) {
            if about_the_account(&e) {
                return Err(e);
            }
            // Listening must not hold up the brand's own comments; the search
            // waits for the next interval rather than spending 100 units a poll.
            log::warn(&format!(
                "keyword search failed; trying again in the next interval: {}",
                message(&e)
            ));
            listening.searched = Some(now);
        }
    }
    let mut gone = Vec::new();
    for video in listening.videos.iter_mut().filter(|v| v.due).take(VIDEOS_PER_POLL) {
        if posts.len() >= POSTS_PER_POLL || !quota.fits(quota::LIST) {
            break;
        }
        match read(settings, quota, Threads::Video(&video.id), &video.cursor, VIDEO_PAGE) {
            Ok((found, cursor)) => {
                posts.extend(found);
                video.due = cursor.has_more();
                video.cursor = cursor;
            }
            // Comments turned off, the video removed or made private: nothing to listen to.
            Err(f) if ["commentsDisabled", "videoNotFound", "forbidden"].contains(&f.reason.as_str()) => {
                log::info(&format!(
                    "video {} is no longer listened to: {}",
                    video.id,
                    message(&f.error)
                ));
                gone.push(video.id.clone());
            }
            Err(f) if about_the_account(&f.error) => return Err(f.error),
            // Tried again with the next poll.
            Err(Failure {
                error: PluginError::Transient(m),
                ..
            }) => {
                log::warn(&format!("video {}: {m}", video.id));
                break;
            }
            // A page this video keeps answering wrong: skipped until the next search.
            Err(f) => {
                log::warn(&format!(
                    "video {} skipped until the next search: {}",
                    video.id,
                    message(&f.error)
                ));
                video.due = false;
            }
        }
    }
    listening.videos.retain(|v| !gone.contains(&v.id));
    Ok(listening)
}

/// An error about the token or the quota: every later call would fail alike.
fn about_the_account(e: &PluginError) -> bool {
    matches!(e, PluginError::Unauthorized(_) | PluginError::RateLimited(_))
}

fn message(e: &PluginError) -> &str {
    match e {
        PluginError::InvalidConfig(m)
        | PluginError::Unauthorized(m)
        | PluginError::Transient(m)
        | PluginError::Permanent(m) => m,
        PluginError::RateLimited(r) => &r.message,
    }
}

/// `search.list` for videos of other channels matching the keywords,
/// published in the last week; found videos join those listened to.
fn search(settings: &Settings, quota: &mut Quota, listening: &mut Listening, now: i64) -> Result<(), PluginError> {
    const WHAT: &str = "searching videos";
    quota.spend(quota::SEARCH, WHAT)?;
    let request = Request::get(format!("{}/youtube/v3/search", settings.api))
        .query("part", "snippet")
        .query("type", "video")
        .query("order", "date")
        .query("q", &listening.query)
        .query("publishedAfter", &time::format_millis(now - SEARCH_BACK_MS))
        .query("maxResults", &SEARCH_PAGE.to_string());
    let response = send(request, WHAT, Side::Read, quota)?;
    let found: SearchList = response.json().context(WHAT)?;
    let mut added = 0;
    for result in found.items {
        let Some(id) = result.id.video_id.filter(|v| !v.is_empty()) else {
            continue;
        };
        let snippet = result.snippet.as_ref();
        // The brand's own videos are read with its channel already.
        if snippet.and_then(|s| s.channel_id.as_deref()) == Some(settings.channel_id.as_str()) {
            continue;
        }
        let published = snippet
            .and_then(|s| s.published_at.as_deref())
            .and_then(time::parse_rfc3339)
            .unwrap_or(now);
        if !listening.videos.iter().any(|v| v.id == id) {
            added += 1;
            listening.videos.push(Video {
                id,
                published,
                due: true,
                cursor: Cursor::default(),
            });
        }
    }
    // Every video listened to is read again after a search, found this time or not.
    for video in &mut listening.videos {
        video.due = true;
    }
    listening
        .videos
        .sort_by(|a, b| b.published.cmp(&a.published).then(a.id.cmp(&b.id)));
    listening.videos.truncate(MAX_VIDEOS);
    listening.searched = Some(now);
    log::info(&format!(
        "search found {added} new videos; listening to {}",
        listening.videos.len()
    ));
    Ok(())
}

/// A failed request: the error the host acts on, and YouTube's `reason`
/// (`invalidPageToken`, `commentsDisabled`, ...) for the callers that handle one.
struct Failure {
    error: PluginError,
    reason: String,
}

impl From<PluginError> for Failure {
    fn from(error: PluginError) -> Failure {
        Failure {
            error,
            reason: String::new(),
        }
    }
}

impl From<Failure> for PluginError {
    fn from(failure: Failure) -> PluginError {
        failure.error
    }
}

/// Whether a request reads or writes: a 403 means another thing for each.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    Read,
    Write,
}

/// Reasons of a 403 about the token or the account, not about the one request.
const ACCESS_REASONS: &[&str] = &[
    "forbidden",
    "insufficientPermissions",
    "accountDelegationForbidden",
    "authenticatedUserAccountClosed",
    "authenticatedUserAccountSuspended",
    "authenticatedUserNotChannel",
];

/// Sends `request`; every failure becomes the error the host acts on, its
/// message saying `what` was being done.
fn send(request: Request, what: &str, side: Side, quota: &Quota) -> Result<Response, Failure> {
    let response = request.send().context(what)?;
    if (200..300).contains(&response.status) {
        return Ok(response);
    }
    let body: ErrorBody = serde_json::from_slice(&response.body).unwrap_or_default();
    let reason = body.reason().to_string();
    let detail = match (&body.error.message, reason.as_str()) {
        (Some(m), "") => m.clone(),
        (Some(m), r) => format!("{r}: {m}"),
        (None, "") => response.excerpt(),
        (None, r) => r.to_string(),
    };
    let message = format!("{what}: HTTP {}: {detail}", response.status);
    let error = match (response.status, reason.as_str()) {
        (_, "quotaExceeded" | "dailyLimitExceeded") => quota.exhausted(&message),
        (403 | 429, "rateLimitExceeded" | "userRateLimitExceeded") | (429, _) => PluginError::RateLimited(RateLimit {
            retry_after_ms: response
                .retry_after_ms()
                .unwrap_or(DEFAULT_RETRY_AFTER_MS)
                .max(MIN_RETRY_AFTER_MS),
            message,
        }),
        (401, _) => PluginError::Unauthorized(message),
        (403, r) if side == Side::Read || ACCESS_REASONS.contains(&r) => PluginError::Unauthorized(message),
        (404, "channelNotFound") => PluginError::InvalidConfig(format!("{message} (check `channel-id`)")),
        (408 | 500..=599, _) => PluginError::Transient(message),
        _ => PluginError::Permanent(message),
    };
    Err(Failure { error, reason })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describe_matches_the_manifest() {
        socialcrm_sdk::testkit::assert_describes(include_str!("../plugin.toml"), &YouTube::describe());
    }
}
