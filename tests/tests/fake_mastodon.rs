//! Tests of the fake Mastodon server itself, over real HTTP, so the channel
//! plugin's tests can trust what it serves.

use std::collections::HashSet;

use reqwest::{Client, Response, StatusCode};
use serde_json::{Value, json};
use socialcrm_tests::fake::mastodon::{FakeMastodon, Fault, RATE_LIMIT, TOKEN};

async fn start() -> FakeMastodon {
    FakeMastodon::start().await.expect("fake Mastodon starts")
}

fn client() -> Client {
    Client::new()
}

async fn get(fake: &FakeMastodon, path_and_query: &str) -> Response {
    client()
        .get(format!("{}{path_and_query}", fake.base_url()))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("request reaches the fake")
}

async fn get_url(url: &str) -> Response {
    client()
        .get(url)
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("request reaches the fake")
}

async fn json_of(response: Response) -> Value {
    response.json().await.expect("JSON body")
}

fn header<'a>(response: &'a Response, name: &str) -> Option<&'a str> {
    response.headers().get(name).and_then(|v| v.to_str().ok())
}

/// The URL of one `rel` in a Link header: `<URL>; rel="next", <URL>; rel="prev"`.
fn link(response: &Response, rel: &str) -> Option<String> {
    let header = header(response, "link")?;
    header.split(',').find_map(|part| {
        let (url, params) = part.trim().split_once(';')?;
        (params.trim() == format!("rel=\"{rel}\""))
            .then(|| url.trim().trim_start_matches('<').trim_end_matches('>').to_owned())
    })
}

fn ids(page: &Value) -> Vec<u64> {
    page.as_array()
        .expect("an array of notifications")
        .iter()
        .map(|n| n["id"].as_str().expect("string id").parse().expect("numeric id"))
        .collect()
}

fn assert_descending(ids: &[u64]) {
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "not strictly descending: {ids:?}");
}

#[tokio::test]
async fn following_next_links_walks_every_mention_once_newest_first() {
    let fake = start().await;
    let mut url = format!("{}/api/v1/notifications?types[]=mention&limit=30", fake.base_url());
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let response = get_url(&url).await;
        assert_eq!(response.status(), StatusCode::OK);
        let next = link(&response, "next");
        let prev = link(&response, "prev");
        let page = ids(&json_of(response).await);
        if page.is_empty() {
            assert!(next.is_none() && prev.is_none(), "no Link on an empty page");
            break;
        }
        assert!(page.len() <= 30);
        let next = next.expect("rel=next on a non-empty page");
        let prev = prev.expect("rel=prev on a non-empty page");
        // Mastodon's shape: filter kept, Rails-encoded, ids of the page's ends.
        let base = format!("{}/api/v1/notifications?", fake.base_url());
        assert_eq!(
            next,
            format!("{base}limit=30&max_id={}&types%5B%5D=mention", page[page.len() - 1])
        );
        assert_eq!(prev, format!("{base}limit=30&min_id={}&types%5B%5D=mention", page[0]));
        seen.extend(page);
        url = next;
        pages += 1;
        assert!(pages < 100, "pagination does not terminate");
    }

    assert_eq!(seen.len(), fake.mention_count());
    assert_descending(&seen);
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), seen.len());
    let expected: Vec<u64> = fake.mention_ids().iter().map(|id| id.parse().unwrap()).collect();
    assert_eq!(seen, expected);
    // 45 recorded mentions plus one per recorded original status not
    // already notified; ids cross from 9 to 10 digits, so a lexical sort fails.
    assert!(fake.mention_count() > 300, "{}", fake.mention_count());
    assert!(seen.iter().any(|id| *id >= 1_000_000_000) && seen.iter().any(|id| *id < 100));
}

#[tokio::test]
async fn default_and_maximum_page_sizes() {
    let fake = start().await;
    let page = ids(&json_of(get(&fake, "/api/v1/notifications").await).await);
    assert_eq!(page.len(), 40);
    let page = ids(&json_of(get(&fake, "/api/v1/notifications?limit=500").await).await);
    assert_eq!(page.len(), 80);
    assert_descending(&page);
}

#[tokio::test]
async fn since_id_and_min_id_return_only_newer_notifications() {
    let fake = start().await;
    let all: Vec<u64> = fake.mention_ids().iter().map(|id| id.parse().unwrap()).collect();
    let pivot = all[100];

    // since_id: the newest page above the pivot.
    let response = get(
        &fake,
        &format!("/api/v1/notifications?types[]=mention&since_id={pivot}&limit=5"),
    )
    .await;
    let page = ids(&json_of(response).await);
    assert_eq!(page, all[..5].to_vec());

    // min_id: the page immediately above the pivot, still newest first.
    let response = get(
        &fake,
        &format!("/api/v1/notifications?types[]=mention&min_id={pivot}&limit=5"),
    )
    .await;
    let page = ids(&json_of(response).await);
    assert_eq!(page, all[95..100].to_vec());

    // Nothing newer than the top, until a mention arrives.
    let top = all[0];
    let path = format!("/api/v1/notifications?types[]=mention&min_id={top}");
    let response = get(&fake, &path).await;
    assert!(link(&response, "prev").is_none());
    assert!(ids(&json_of(response).await).is_empty());

    let status = json!({"content": "<p>@mastodonpy_test hello from a test</p>", "visibility": "public"});
    let new_id = fake.push_mention(status);
    assert_eq!(new_id.parse::<u64>().unwrap(), top + 1);
    let page = json_of(get(&fake, &path).await).await;
    assert_eq!(ids(&page), vec![top + 1]);
    let pushed = &page[0];
    assert_eq!(pushed["type"], "mention");
    assert!(pushed["status"]["id"].is_string(), "status id filled in");
    assert!(pushed["account"]["acct"].is_string(), "sender filled in");
    assert_eq!(fake.mention_count(), all.len() + 1);

    // max_id and since_id bound a range.
    let response = get(
        &fake,
        &format!(
            "/api/v1/notifications?types[]=mention&max_id={}&since_id={}",
            all[10], all[15]
        ),
    )
    .await;
    assert_eq!(ids(&json_of(response).await), all[11..15].to_vec());
}

#[tokio::test]
async fn type_filters_select_notifications() {
    let fake = start().await;
    let page = json_of(get(&fake, "/api/v1/notifications?types[]=status").await).await;
    assert_eq!(ids(&page), vec![9]);
    assert_eq!(page[0]["type"], "status");

    let page = json_of(get(&fake, "/api/v1/notifications?exclude_types%5B%5D=mention&limit=80").await).await;
    assert_eq!(ids(&page), vec![9]);

    let page = json_of(get(&fake, "/api/v1/notifications?types[]=mention&types[]=status&limit=80").await).await;
    assert_eq!(page.as_array().unwrap().len(), 80);

    // Unfiltered, the non-mention notification is part of the timeline.
    let mut total = 0;
    let mut url = format!("{}/api/v1/notifications?limit=80", fake.base_url());
    loop {
        let response = get_url(&url).await;
        let next = link(&response, "next");
        let n = json_of(response).await.as_array().unwrap().len();
        if n == 0 {
            break;
        }
        total += n;
        url = next.unwrap();
    }
    assert_eq!(total, fake.mention_count() + 1);

    // Rails only permits `types[]`: a scalar `types` is ignored, as on Mastodon.
    let page = json_of(get(&fake, "/api/v1/notifications?types=status").await).await;
    assert_eq!(page.as_array().unwrap().len(), 40);
}

#[tokio::test]
async fn missing_or_wrong_token_is_401() {
    let fake = start().await;
    let url = format!("{}/api/v1/notifications", fake.base_url());
    for request in [
        client().get(&url),
        client().get(&url).bearer_auth("wrong"),
        client().get(&url).basic_auth("user", Some(TOKEN)),
        client().get(format!("{url}?access_token={TOKEN}")),
    ] {
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert!(header(&response, "x-ratelimit-remaining").is_some());
        assert!(header(&response, "www-authenticate").unwrap().starts_with("Bearer"));
        assert_eq!(json_of(response).await, json!({"error": "The access token is invalid"}));
    }
    let response = get(&fake, "/api/v1/accounts/verify_credentials").await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn rate_limit_headers_and_429_when_spent() {
    let fake = start().await;
    let response = get(&fake, "/api/v1/notifications?limit=1").await;
    assert_eq!(header(&response, "x-ratelimit-limit"), Some("300"));
    assert_eq!(
        header(&response, "x-ratelimit-remaining"),
        Some(&*(RATE_LIMIT - 1).to_string())
    );
    assert_iso8601(header(&response, "x-ratelimit-reset").unwrap());
    assert_eq!(
        header(&response, "content-type"),
        Some("application/json; charset=utf-8")
    );

    fake.set_rate_limit(2, 120);
    let first = get(&fake, "/api/v1/notifications?limit=1").await;
    assert_eq!(header(&first, "x-ratelimit-remaining"), Some("1"));
    let second = get(&fake, "/api/v1/notifications?limit=1").await;
    assert_eq!(second.status(), StatusCode::OK);
    assert_eq!(header(&second, "x-ratelimit-remaining"), Some("0"));
    let reset = header(&second, "x-ratelimit-reset").unwrap().to_owned();

    let third = get(&fake, "/api/v1/notifications?limit=1").await;
    assert_eq!(third.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(header(&third, "x-ratelimit-limit"), Some("300"));
    assert_eq!(header(&third, "x-ratelimit-remaining"), Some("0"));
    assert_eq!(header(&third, "x-ratelimit-reset"), Some(reset.as_str()));
    assert_eq!(json_of(third).await, json!({"error": "Too many requests"}));
    assert_eq!(fake.rate_limit_remaining(), 0);

    // Once the window has passed, the full budget is back.
    fake.set_rate_limit(0, 0);
    let response = get(&fake, "/api/v1/notifications?limit=1").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        header(&response, "x-ratelimit-remaining"),
        Some(&*(RATE_LIMIT - 1).to_string())
    );
}

fn assert_iso8601(value: &str) {
    // 2019-12-05T06:00:00.369102Z
    let b = value.as_bytes();
    assert!(
        b.len() == 27
            && b[4] == b'-'
            && b[7] == b'-'
            && b[10] == b'T'
            && b[13] == b':'
            && b[16] == b':'
            && b[19] == b'.'
            && b[26] == b'Z',
        "not ISO 8601: {value}"
    );
    assert!(value > "2026-", "reset in the past: {value}");
}

#[tokio::test]
async fn queued_faults_apply_once_each_in_order() {
    let fake = start().await;
    fake.fail_next(Fault::Status(500));
    fake.fail_next(Fault::Malformed);
    fake.fail_next(Fault::RateLimited { reset_in_secs: 30 });
    fake.fail_next(Fault::Unauthorized);
    fake.fail_next(Fault::Status(503));
    let path = "/api/v1/notifications?limit=2";

    let response = get(&fake, path).await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let body = json_of(response).await;
    assert!(body["error"].is_string());

    let response = get(&fake, path).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        header(&response, "content-type")
            .unwrap()
            .starts_with("application/json")
    );
    let text = response.text().await.unwrap();
    assert!(serde_json::from_str::<Value>(&text).is_err(), "{text}");

    let response = get(&fake, path).await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(header(&response, "x-ratelimit-remaining"), Some("0"));
    assert_iso8601(header(&response, "x-ratelimit-reset").unwrap());

    let response = get(&fake, path).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

    let response = get(&fake, path).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);

    // Normal service resumes; faulted requests spent no budget.
    let response = get(&fake, path).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        header(&response, "x-ratelimit-remaining"),
        Some(&*(RATE_LIMIT - 1).to_string())
    );
    assert_eq!(ids(&json_of(response).await).len(), 2);
}

#[tokio::test]
async fn verify_credentials_returns_the_brand() {
    let fake = start().await;
    let account = json_of(get(&fake, "/api/v1/accounts/verify_credentials").await).await;
    assert_eq!(account["username"], "mastodonpy_test");
    assert_eq!(account["acct"], "mastodonpy_test");
    assert!(account["id"].as_str().unwrap().parse::<u64>().is_ok());
    assert_eq!(account["url"], format!("{}/@mastodonpy_test", fake.base_url()));
    assert!(account["source"].is_object() && account["role"].is_object());
    assert_eq!(account["id"], fake.brand_account()["id"]);
}

/// Some status the dataset knows, to reply to.
async fn known_status(fake: &FakeMastodon) -> Value {
    let page = json_of(get(fake, "/api/v1/notifications?types[]=mention&limit=80").await).await;
    page.as_array()
        .unwrap()
        .iter()
        .map(|n| n["status"].clone())
        .find(|s| s.is_object())
        .expect("a mention with a status")
}

#[tokio::test]
async fn posting_a_reply_form_encoded() {
    let fake = start().await;
    let parent = known_status(&fake).await;
    let parent_id = parent["id"].as_str().unwrap();
    let response = client()
        .post(format!("{}/api/v1/statuses", fake.base_url()))
        .bearer_auth(TOKEN)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "status=Thanks+%3Cfor%3E+writing%21%0Aline+two&in_reply_to_id={parent_id}&visibility=unlisted"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let status = json_of(response).await;
    let id = status["id"].as_str().unwrap();
    assert!(id.parse::<u64>().unwrap() > parent_id.parse::<u64>().unwrap());
    assert_eq!(status["in_reply_to_id"], parent_id);
    assert_eq!(status["in_reply_to_account_id"], parent["account"]["id"]);
    assert_eq!(status["visibility"], "unlisted");
    assert_eq!(status["content"], "<p>Thanks &lt;for&gt; writing!<br />line two</p>");
    assert_eq!(status["url"], format!("{}/@mastodonpy_test/{id}", fake.base_url()));
    assert_eq!(status["account"]["acct"], "mastodonpy_test");
    assert_eq!(fake.posted(), vec![status.clone()]);

    // The new status is known: it can be fetched and replied to.
    let fetched = json_of(get(&fake, &format!("/api/v1/statuses/{id}")).await).await;
    assert_eq!(fetched, status);
    let response = client()
        .post(format!("{}/api/v1/statuses", fake.base_url()))
        .bearer_auth(TOKEN)
        .json(&json!({"status": "and a follow-up", "in_reply_to_id": id}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let follow_up = json_of(response).await;
    assert_eq!(follow_up["in_reply_to_id"], id);
    assert_eq!(follow_up["visibility"], "public");
    assert_eq!(follow_up["content"], "<p>and a follow-up</p>");
    assert_eq!(fake.posted().len(), 2);
}

#[tokio::test]
async fn posting_errors_are_mastodon_shaped() {
    let fake = start().await;
    let post = |body: Value| {
        client()
            .post(format!("{}/api/v1/statuses", fake.base_url()))
            .bearer_auth(TOKEN)
            .json(&body)
            .send()
    };

    let response = post(json!({"status": "hi", "in_reply_to_id": "1234567890123"}))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(json_of(response).await, json!({"error": "Record not found"}));

    for body in [
        json!({"status": ""}),
        json!({"status": "  "}),
        json!({"visibility": "public"}),
    ] {
        let response = post(body).await.unwrap();
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            json_of(response).await,
            json!({"error": "Validation failed: Text can't be blank"})
        );
    }

    let response = post(json!({"status": "x".repeat(501)})).await.unwrap();
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);

    let response = client()
        .post(format!("{}/api/v1/statuses", fake.base_url()))
        .bearer_auth(TOKEN)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(json_of(response).await["error"].is_string());

    assert!(fake.posted().is_empty());
}

#[tokio::test]
async fn idempotency_key_dedupes_posts() {
    let fake = start().await;
    let parent = known_status(&fake).await;
    let send = |key: &'static str, text: &'static str| {
        client()
            .post(format!("{}/api/v1/statuses", fake.base_url()))
            .bearer_auth(TOKEN)
            .header("Idempotency-Key", key)
            .form(&[("status", text), ("in_reply_to_id", parent["id"].as_str().unwrap())])
            .send()
    };
    let first = json_of(send("reply-1", "hello").await.unwrap()).await;
    let again = json_of(send("reply-1", "hello").await.unwrap()).await;
    assert_eq!(first, again);
    assert_eq!(fake.posted().len(), 1);

    let other = json_of(send("reply-2", "hello").await.unwrap()).await;
    assert_ne!(other["id"], first["id"]);
    assert_eq!(fake.posted().len(), 2);
}

#[tokio::test]
async fn records_requests_and_404s_unknown_routes() {
    let fake = start().await;
    let response = get(&fake, "/api/v1/timelines/home").await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(json_of(response).await, json!({"error": "Record not found"}));
    let response = client()
        .delete(format!("{}/api/v1/notifications", fake.base_url()))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let response = get(&fake, "/api/v1/statuses/not-an-id").await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);

    get(&fake, "/api/v1/notifications?types%5B%5D=mention&since_id=5").await;
    let requests = fake.requests();
    assert_eq!(requests.len(), 4);
    let last = &requests[3];
    assert_eq!(last.method, "GET");
    assert_eq!(last.path, "/api/v1/notifications");
    assert_eq!(last.query, "types%5B%5D=mention&since_id=5");
    assert_eq!(
        last.query_pairs(),
        vec![("types[]".into(), "mention".into()), ("since_id".into(), "5".into())]
    );
    assert_eq!(last.header("Authorization"), Some(&*format!("Bearer {TOKEN}")));
    assert_eq!(requests[1].method, "DELETE");
}

#[tokio::test]
async fn stops_when_dropped() {
    let fake = start().await;
    let url = format!("{}/api/v1/notifications", fake.base_url());
    assert_eq!(get_url(&url).await.status(), StatusCode::OK);
    drop(fake);
    let mut refused = false;
    for _ in 0..50 {
        // A fresh client each time: no pooled connection to reuse.
        if Client::new().get(&url).send().await.is_err() {
            refused = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(refused, "the fake still serves after being dropped");
}

#[tokio::test]
async fn bad_input_gets_mastodon_answers_not_a_dead_server() {
    let fake = start().await;
    let count = |path: &'static str| {
        let fake = &fake;
        async move {
            let response = get(fake, path).await;
            assert_eq!(response.status(), StatusCode::OK, "{path}");
            json_of(response).await.as_array().unwrap().len()
        }
    };
    // Ruby's to_i semantics: sign dropped, junk is 0, huge is capped.
    assert_eq!(count("/api/v1/notifications?limit=-5").await, 5);
    assert_eq!(count("/api/v1/notifications?limit=abc").await, 0);
    assert_eq!(count("/api/v1/notifications?limit=99999999999999999999999").await, 80);
    assert_eq!(count("/api/v1/notifications?max_id=abc&since_id=%zz&limit=3").await, 3);
    assert_eq!(count("/api/v1/notifications?types[]=&types%5B%5D=nonsense").await, 0);
    assert_eq!(count("/api/v1/notifications?max_id=1").await, 0);

    let response = get(&fake, "/api/v1/notifications/abc").await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let response = get(&fake, "/api/v1/notifications/9").await;
    assert_eq!(json_of(response).await["type"], "status");

    let post = |body: Vec<u8>| {
        client()
            .post(format!("{}/api/v1/statuses", fake.base_url()))
            .bearer_auth(TOKEN)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
    };
    let response = post(b"status=%FF%FE\xff&in_reply_to_id=abc".to_vec()).await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let response = post(vec![b'a'; (1 << 20) + 1024]).await.unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let response = post(b"status=%FF%FE\xff".to_vec()).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);

    fake.fail_next(Fault::Status(42));
    fake.fail_next(Fault::RateLimited {
        reset_in_secs: u64::MAX,
    });
    assert_eq!(
        get(&fake, "/api/v1/notifications").await.status(),
        StatusCode::INTERNAL_SERVER_ERROR
    );
    assert_eq!(
        get(&fake, "/api/v1/notifications").await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(count("/api/v1/notifications").await, 40);
}
