//! The YouTube channel end to end against the fake YouTube Data API on
//! loopback, through the host: comment threads page by page, an expired page
//! token, the daily quota, the host's token refresh, errors, a reply through
//! `comments.insert` and keyword listening. On SQLite and PostgreSQL.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use socialcrm::channels::{self, ChannelSummary, NewChannel};
use socialcrm::ingest::{Ingest, IngestOptions, SyncReport};
use socialcrm::runtime::{Runtime, RuntimeOptions};
use socialcrm::secrets::SecretBox;
use socialcrm::store::Db;
use socialcrm_fakes::youtube::{
    self, BRAND_CHANNEL, BRAND_VIDEO, CLIENT_ID, CLIENT_SECRET, FakeYouTube, Fault, INITIAL_COMMENTS, REFRESH_TOKEN,
    RecordedRequest, TOKEN, TOKEN_PATH,
};
use sqlx::Row;

const THREADS: &str = "/youtube/v3/commentThreads";
const SEARCH: &str = "/youtube/v3/search";

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// The channel `brand` on the fake, with `extra` config; `refresh` adds the
/// refresh token and client credentials.
async fn brand(db: &Db, plugin: &str, network: &FakeYouTube, extra: &[(&str, &str)], refresh: bool) -> Ingest {
    let sbox = SecretBox::from_key(&[7; 32]).unwrap();
    // A runtime per database: its egress log is the first ingest's.
    let runtime = Runtime::new(RuntimeOptions::default()).unwrap();
    let ingest = Ingest::new(db.clone(), sbox.clone(), runtime, Vec::new(), IngestOptions::default());
    let (api, oauth) = (network.base_url(), network.oauth_url());
    let mut config = vec![("api-url", api.as_str()), ("channel-id", BRAND_CHANNEL)];
    let mut secrets = vec![("access-token", TOKEN)];
    if refresh {
        config.extend([("oauth-url", oauth.as_str()), ("client-id", CLIENT_ID)]);
        secrets.extend([("refresh-token", REFRESH_TOKEN), ("client-secret", CLIENT_SECRET)]);
    }
    config.extend(extra);
    let channel = NewChannel {
        name: "brand".into(),
        plugin: plugin.to_string(),
        config: map(&config),
        secrets: map(&secrets),
        allow_private: true,
    };
    channels::add(db, &sbox, &ingest, channel).await.unwrap();
    ingest
}

async fn sync(ingest: &Ingest) -> Result<SyncReport, String> {
    ingest
        .sync_now("brand", "test", &|_| {})
        .await
        .map_err(|e| e.to_string())
}

async fn summary(db: &Db) -> ChannelSummary {
    channels::list(db).await.unwrap().remove(0)
}

fn since(network: &FakeYouTube, before: usize) -> Vec<RecordedRequest> {
    network.requests()[before..].to_vec()
}

fn header<'a>(request: &'a RecordedRequest, name: &str) -> Option<&'a str> {
    request.header(name)
}

/// (external id, kind, in_reply_to, thread_id, url, author id) of every stored post.
async fn stored(db: &Db) -> Vec<(String, String, Option<String>, Option<String>, Option<String>, String)> {
    sqlx::query(
        "SELECT p.external_id, p.kind, p.in_reply_to, p.thread_id, p.url, i.external_user_id FROM posts p \
         JOIN identities i ON i.id = p.identity_id ORDER BY p.id",
    )
    .fetch_all(db.pool())
    .await
    .unwrap()
    .into_iter()
    .map(|r| {
        (
            r.get("external_id"),
            r.get("kind"),
            r.get("in_reply_to"),
            r.get("thread_id"),
            r.get("url"),
            r.get("external_user_id"),
        )
    })
    .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn comment_threads_come_page_by_page_with_replies_and_empty_pages_keep_the_place() {
    let dir = common::plugin_dir("plugins/youtube");
    let plugin = &dir.path().display().to_string();
    common::on_each_db(move |db| async move {
        let network = FakeYouTube::start().await.unwrap();
        let ingest = brand(&db, plugin, &network, &[], false).await;

        let first = sync(&ingest).await.unwrap();
        assert_eq!((first.pages, first.new_posts), (1, INITIAL_COMMENTS));
        let asked = network.requests().into_iter().find(|r| r.path == THREADS).unwrap();
        for (name, value) in [
            ("allThreadsRelatedToChannelId", BRAND_CHANNEL),
            ("part", "snippet,replies"),
            ("order", "time"),
            ("maxResults", "100"),
        ] {
            assert_eq!(asked.param(name).as_deref(), Some(value), "{name}");
        }
        assert_eq!(
            header(&asked, "authorization"),
            Some(format!("Bearer {TOKEN}").as_str())
        );

        // 250 new threads and two replies to an older one: three pages down to the place kept.
        let old = network.push_comment(BRAND_VIDEO, "old_friend", "an older thread");
        sync(&ingest).await.unwrap();
        for i in 0..250 {
            network.push_comment(BRAND_VIDEO, &format!("viewer_{}", i % 11), &format!("comment {i}"));
        }
        let reply = network.push_reply(&old, "ann", "same problem here");
        let second = sync(&ingest).await.unwrap();
        assert_eq!((second.pages, second.new_posts, second.duplicates), (3, 251, 0));

        let posts = stored(&db).await;
        let found = posts
            .iter()
            .find(|p| p.0 == reply)
            .expect("the reply to the older thread");
        assert_eq!(found.1, "reply");
        assert_eq!(
            found.2.as_deref(),
            Some(old.as_str()),
            "in reply to the top-level comment"
        );
        assert_eq!(found.3.as_deref(), Some(old.as_str()));
        assert_eq!(found.5, youtube::channel_id("ann"), "the author is the channel id");
        let top = posts.iter().find(|p| p.0 == old).unwrap();
        assert_eq!(top.1, "comment");
        assert_eq!(
            top.4.as_deref(),
            Some(format!("https://www.youtube.com/watch?v={BRAND_VIDEO}&lc={old}").as_str())
        );

        // Nothing new: one page, nothing stored, the same place.
        let before = network.requests().len();
        let empty = sync(&ingest).await.unwrap();
        assert_eq!((empty.pages, empty.new_posts), (1, 0));
        let asked = since(&network, before);
        assert_eq!(asked.len(), 1);
        assert_eq!(asked[0].param("pageToken"), None, "a cycle starts at the newest page");
        network.push_comment(BRAND_VIDEO, "late", "one more");
        assert_eq!(sync(&ingest).await.unwrap().new_posts, 1);
        assert_eq!(summary(&db).await.posts as usize, INITIAL_COMMENTS + 1 + 251 + 1);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_expired_page_token_restarts_from_the_newest_without_losing_or_repeating() {
    let dir = common::plugin_dir("plugins/youtube");
    let plugin = &dir.path().display().to_string();
    common::on_each_db(move |db| async move {
        let network = FakeYouTube::start().await.unwrap();
        let ingest = brand(&db, plugin, &network, &[], false).await;
        sync(&ingest).await.unwrap();
        let mut pushed = Vec::new();
        for i in 0..250 {
            pushed.push(network.push_comment(BRAND_VIDEO, "viewer", &format!("comment {i}")));
        }
        let before = network.requests().len();
        // The tokens expire after the first page, and a comment arrives mid-walk.
        network.expire_page_tokens_after(1);
        let report = ingest
            .sync_now("brand", "test", &|r: &SyncReport| {
                if r.pages == 1 {
                    network.push_comment(BRAND_VIDEO, "arrival", "while walking");
                }
            })
            .await
            .unwrap();
        // The walk's token is refused once, and the next request starts from the newest page.
        let tokens: Vec<Option<String>> = since(&network, before).iter().map(|r| r.param("pageToken")).collect();
        let restart = tokens.iter().skip(1).position(Option::is_none).map(|i| i + 1);
        assert!(restart.is_some_and(|i| tokens[i - 1].is_some()), "{tokens:?}");
        assert_eq!(tokens.iter().filter(|t| t.is_none()).count(), 2, "{tokens:?}");
        assert_eq!(report.duplicates, 0, "{report:?}");
        assert_eq!(report.new_posts, 250, "each once; the arrival waits for the next cycle");
        let ids: Vec<String> = stored(&db).await.into_iter().map(|p| p.0).collect();
        assert!(pushed.iter().all(|p| ids.contains(p)), "none lost");
        let next = sync(&ingest).await.unwrap();
        assert_eq!((next.new_posts, next.duplicates), (1, 0), "the arrival, once");
    })
    .await;
}

/// Whether `at` (Unix ms) is within a few seconds of midnight in Los Angeles
/// (07:00 or 08:00 UTC) and within the next day.
fn is_next_pacific_midnight(at: i64, now: i64) -> bool {
    let hour_ms = 3_600_000;
    let of_day = at.rem_euclid(24 * hour_ms);
    let near = |h: i64| (of_day - h * hour_ms).abs() < 5_000;
    at > now && at - now <= 25 * hour_ms && (near(7) || near(8))
}

fn now_ms() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_exhausted_quota_is_rate_limited_until_midnight_pacific() {
    let dir = common::plugin_dir("plugins/youtube");
    let plugin = &dir.path().display().to_string();
    common::on_each_db(move |db| async move {
        // The plugin's own count: 3 units a day, one per list.
        let network = FakeYouTube::start().await.unwrap();
        let ingest = brand(&db, plugin, &network, &[("daily-quota", "3")], false).await;
        let mut listed = 0;
        let err = loop {
            let before = network.requests().len();
            match sync(&ingest).await {
                Ok(_) => listed += 1,
                Err(e) => {
                    assert!(since(&network, before).is_empty(), "refused before any request");
                    break e;
                }
            }
            assert!(listed <= 3, "the quota never stops the polls");
        };
        assert!(err.contains("quota units used today"), "{err}");
        // Three lists of a unit each; the check's unit is not counted (its writes are not kept).
        assert_eq!(listed, 3);
        let lists = network.requests().iter().filter(|r| r.path == THREADS).count();
        assert_eq!(lists, 3, "never over");
        let account = summary(&db).await;
        assert_eq!(account.status, "rate-limited");
        let at = account.next_poll_at.unwrap();
        assert!(is_next_pacific_midnight(at, now_ms()), "next poll at {at}");
    })
    .await;

    common::on_each_db(move |db| async move {
        // YouTube's count: another app of the project spent the quota.
        let network = FakeYouTube::start().await.unwrap();
        let ingest = brand(&db, plugin, &network, &[], false).await;
        sync(&ingest).await.unwrap();
        network.fail_next(Fault::QuotaExceeded);
        let err = sync(&ingest).await.unwrap_err();
        assert!(err.contains("quotaExceeded"), "{err}");
        let account = summary(&db).await;
        assert_eq!(account.status, "rate-limited");
        assert!(is_next_pacific_midnight(account.next_poll_at.unwrap(), now_ms()));
        // The fake's own count runs out the same way.
        network.set_quota(network.quota_used());
        let err = sync(&ingest).await.unwrap_err();
        assert!(err.contains("quotaExceeded"), "{err}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_expired_access_token_is_refreshed_by_the_host() {
    let dir = common::plugin_dir("plugins/youtube");
    let plugin = &dir.path().display().to_string();
    common::on_each_db(move |db| async move {
        let network = FakeYouTube::start().await.unwrap();
        let ingest = brand(&db, plugin, &network, &[], true).await;
        sync(&ingest).await.unwrap();
        network.push_comment(BRAND_VIDEO, "ann", "where is my order?");
        network.expire_tokens();
        network.set_token_lifetime(Duration::from_secs(60));
        let before = network.requests().len();
        let report = sync(&ingest).await.unwrap();
        assert_eq!(report.new_posts, 1);
        let asked = since(&network, before);
        let paths: Vec<&str> = asked.iter().map(|r| r.path.as_str()).collect();
        assert_eq!(paths, [THREADS, TOKEN_PATH, THREADS], "refused, refreshed, read");
        assert!(asked[1].body.contains(&format!("refresh_token={REFRESH_TOKEN}")));
        assert_eq!(
            header(&asked[0], "authorization"),
            Some(format!("Bearer {TOKEN}").as_str())
        );
        assert_eq!(header(&asked[2], "authorization"), Some("Bearer fake-google-access-1"));
        // The token goes to the API only, never to the OAuth origin's refresh (HTTP Basic there).
        assert!(header(&asked[1], "authorization").is_some_and(|a| a.starts_with("Basic ")));

        // Sixty seconds left is within the host's margin: renewed before the poll.
        let before = network.requests().len();
        sync(&ingest).await.unwrap();
        let paths: Vec<String> = since(&network, before).into_iter().map(|r| r.path).collect();
        assert_eq!(paths, [TOKEN_PATH, THREADS]);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_refresh_or_a_401_after_it_pauses_the_account() {
    let dir = common::plugin_dir("plugins/youtube");
    let plugin = &dir.path().display().to_string();
    common::on_each_db(move |db| async move {
        let network = FakeYouTube::start().await.unwrap();
        let ingest = brand(&db, plugin, &network, &[], true).await;
        // Renewed, but the API still refuses the new token.
        network.fail_next(Fault::Unauthorized);
        network.fail_next(Fault::Unauthorized);
        let err = sync(&ingest).await.unwrap_err();
        assert!(
            err.contains("unauthorized: listing the channel's comments: HTTP 401: authError"),
            "{err}"
        );
        let account = summary(&db).await;
        assert_eq!(account.status, "paused");
        let paths: Vec<String> = network.requests().into_iter().map(|r| r.path).collect();
        assert_eq!(paths.iter().filter(|p| *p == TOKEN_PATH).count(), 1, "{paths:?}");
    })
    .await;

    common::on_each_db(move |db| async move {
        let network = FakeYouTube::start().await.unwrap();
        let ingest = brand(&db, plugin, &network, &[], true).await;
        network.expire_tokens();
        network.revoke_refresh_tokens();
        let err = sync(&ingest).await.unwrap_err();
        assert_eq!(
            err,
            "the network refused to refresh the token: invalid_grant (Token has been expired or revoked.); \
             re-authorize the account"
        );
        let account = summary(&db).await;
        assert_eq!((account.status.as_str(), account.last_error), ("paused", Some(err)));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn errors_become_what_the_host_acts_on() {
    let dir = common::plugin_dir("plugins/youtube");
    let plugin = &dir.path().display().to_string();
    common::on_each_db(move |db| async move {
        let network = FakeYouTube::start().await.unwrap();
        let ingest = brand(&db, plugin, &network, &[], false).await;
        let status = || async { summary(&db).await.status };

        network.fail_next(Fault::Status(503, "backendError"));
        let err = sync(&ingest).await.unwrap_err();
        assert!(err.contains("transient") && err.contains("HTTP 503"), "{err}");
        assert_eq!(status().await, "failing");

        network.fail_next(Fault::Malformed);
        let err = sync(&ingest).await.unwrap_err();
        assert!(err.contains("malformed comment threads"), "{err}");
        assert_eq!(status().await, "failing");

        network.fail_next(Fault::Status(403, "rateLimitExceeded"));
        let err = sync(&ingest).await.unwrap_err();
        assert!(err.contains("rateLimitExceeded"), "{err}");
        assert_eq!(status().await, "rate-limited");

        sync(&ingest).await.unwrap();
        assert_eq!(status().await, "active", "a good sync clears the failure");

        network.fail_next(Fault::Status(403, "forbidden"));
        let err = sync(&ingest).await.unwrap_err();
        assert!(err.contains("unauthorized"), "{err}");
        assert_eq!(status().await, "paused");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reply_goes_out_through_comments_insert_to_the_thread() {
    let dir = common::plugin_dir("plugins/youtube");
    let plugin = &dir.path().display().to_string();
    common::on_each_db(move |db| async move {
        let network = FakeYouTube::start().await.unwrap();
        let ingest = brand(&db, plugin, &network, &[], false).await;
        let top = network.push_comment(BRAND_VIDEO, "ann", "is the export broken?");
        let answer = network.push_reply(&top, "bob", "for me too");
        sync(&ingest).await.unwrap();
        let post_id = |external: String| {
            let db = db.clone();
            async move {
                sqlx::query_scalar::<_, i64>("SELECT id FROM posts WHERE external_id = $1")
                    .bind(external)
                    .fetch_one(db.pool())
                    .await
                    .unwrap()
            }
        };

        let used = network.quota_used();
        let queued = socialcrm::replies::queue(&db, post_id(top.clone()).await, "We are on it", None, "agent")
            .await
            .unwrap();
        let sent = socialcrm::replies::send(&ingest, queued.id, "agent").await.unwrap();
        assert_eq!(
            (sent.status.as_str(), sent.error.as_deref()),
            ("sent", None),
            "{sent:?}"
        );
        // To a reply: YouTube threads are one level deep, so it goes to the top-level comment.
        let queued = socialcrm::replies::queue(&db, post_id(answer).await, "Fixed now, Bob", None, "agent")
            .await
            .unwrap();
        let second = socialcrm::replies::send(&ingest, queued.id, "agent").await.unwrap();
        assert_eq!(second.status, "sent", "{second:?}");

        let inserted = network.inserted();
        assert_eq!(inserted.len(), 2);
        for (comment, text) in inserted.iter().zip(["We are on it", "Fixed now, Bob"]) {
            assert_eq!(comment["snippet"]["parentId"].as_str(), Some(top.as_str()));
            assert_eq!(comment["snippet"]["textOriginal"].as_str(), Some(text));
            assert_eq!(
                comment["snippet"]["authorChannelId"]["value"].as_str(),
                Some(BRAND_CHANNEL)
            );
        }
        assert_eq!(sent.external_id.as_deref(), inserted[0]["id"].as_str());
        let url = format!(
            "https://www.youtube.com/watch?v={BRAND_VIDEO}&lc={}",
            sent.external_id.unwrap()
        );
        assert_eq!(sent.url.as_deref(), Some(url.as_str()));
        let insert = network.requests().into_iter().find(|r| r.method == "POST").unwrap();
        assert_eq!(
            (insert.path.as_str(), insert.param("part").as_deref()),
            ("/youtube/v3/comments", Some("snippet"))
        );
        assert_eq!(network.quota_used() - used, 100, "50 units a comment");

        // The brand's replies come back with the next poll as outbound posts.
        sync(&ingest).await.unwrap();
        let outbound: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM posts WHERE direction = 'outbound'")
            .fetch_one(db.pool())
            .await
            .unwrap();
        assert_eq!(outbound, 2);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn keywords_find_other_channels_videos_and_their_comments() {
    let dir = common::plugin_dir("plugins/youtube");
    let plugin = &dir.path().display().to_string();
    common::on_each_db(move |db| async move {
        let network = FakeYouTube::start().await.unwrap();
        let review = network.add_video("techreviewer", "Acme Cloud review: worth it?");
        let closed = network.add_video("quietchannel", "Why I left acme");
        network.add_video("cooking", "Ten minute pasta");
        network.add_video(youtube::BRAND_HANDLE, "Acme: our own launch video");
        let praise = network.push_comment(&review, "zoe", "acme support answered in minutes");
        network.push_comment(&closed, "yan", "agreed");
        network.disable_comments(&closed);
        let ingest = brand(&db, plugin, &network, &[("keywords", "acme cloud, acme")], false).await;

        let first = sync(&ingest).await.unwrap();
        let searched: Vec<RecordedRequest> = network.requests().into_iter().filter(|r| r.path == SEARCH).collect();
        assert_eq!(searched.len(), 1);
        let search = &searched[0];
        assert_eq!(search.param("q").as_deref(), Some("\"acme cloud\"|acme"));
        assert_eq!(search.param("type").as_deref(), Some("video"));
        assert!(search.param("publishedAfter").is_some_and(|t| t.ends_with('Z')));
        let read: Vec<String> = network
            .requests()
            .into_iter()
            .filter_map(|r| r.param("videoId"))
            .collect();
        assert_eq!(
            read.len(),
            2,
            "the review and the closed video; the brand's own and the pasta not: {read:?}"
        );
        assert_eq!(
            first.new_posts,
            INITIAL_COMMENTS + 1,
            "the brand's and the review's: {first:?}"
        );
        let posts = stored(&db).await;
        let found = posts
            .iter()
            .find(|p| p.0 == praise)
            .expect("the comment under the review");
        assert_eq!(found.1, "comment");
        assert_eq!(found.5, youtube::channel_id("zoe"));
        assert_eq!(
            network.quota_used(),
            1 + 1 + 100 + 2,
            "check, channel page, search, two videos"
        );

        // Within the search interval: no new search, the video is read again later.
        let later = network.push_comment(&review, "kim", "their API is great");
        let before = network.requests().len();
        sync(&ingest).await.unwrap();
        let asked = since(&network, before);
        assert!(asked.iter().all(|r| r.path != SEARCH), "one search an hour");
        assert!(
            !stored(&db).await.iter().any(|p| p.0 == later),
            "read with the next search"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_search_leaves_the_brand_s_comments_and_waits_for_the_next_interval() {
    let dir = common::plugin_dir("plugins/youtube");
    let plugin = &dir.path().display().to_string();
    common::on_each_db(move |db| async move {
        let network = FakeYouTube::start().await.unwrap();
        let review = network.add_video("techreviewer", "Acme Cloud review");
        network.push_comment(&review, "zoe", "great support");
        network.fail_next_at(SEARCH, Fault::Status(500, "backendError"));
        let ingest = brand(&db, plugin, &network, &[("keywords", "acme")], false).await;

        let first = sync(&ingest).await.unwrap();
        assert_eq!(
            first.new_posts, INITIAL_COMMENTS,
            "the brand's comments come all the same"
        );
        let count = |path: &str| network.requests().iter().filter(|r| r.path == path).count();
        assert_eq!(count(SEARCH), 1);
        assert!(network.requests().iter().all(|r| r.param("videoId").is_none()));

        // Not again at every poll: a search costs 100 units.
        sync(&ingest).await.unwrap();
        assert_eq!(count(SEARCH), 1);
        assert_eq!(summary(&db).await.status, "active");
    })
    .await;
}
