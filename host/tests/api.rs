//! The HTTP API's shared behaviour, on SQLite and PostgreSQL: bearer tokens
//! and roles, the one error body for every bad request, the OpenAPI document
//! against the router, and the inbox's order, filters and cursors.

mod common;

use common::http::{answer, start};

use serde_json::{Value, json};
use socialcrm::store::{Db, audit_entries, now_ms};
use socialcrm::tokens::{self, Role};

/// A request with `token` (or none).
fn call(method: reqwest::Method, url: String, token: Option<&str>) -> reqwest::RequestBuilder {
    let request = reqwest::Client::new().request(method, url);
    match token {
        Some(token) => request.bearer_auth(token),
        None => request,
    }
}

fn error_code(body: &Value) -> &str {
    assert!(body["error"]["message"].is_string(), "no error body: {body}");
    body["error"]["code"].as_str().unwrap_or_default()
}

/// Five inbound posts with scores: (external id, priority key, sentiment, intent).
const POSTS: [(&str, f64, f64, &str); 5] = [
    ("a", 50.0, -0.8, "complaint"),
    ("b", 10.0, 0.6, "praise"),
    ("c", 30.0, 0.0, "question"),
    ("d", 30.0, -0.3, "complaint"),
    ("e", 70.0, -0.9, "churn-risk"),
];

async fn seed(db: &Db) -> Vec<i64> {
    let now = now_ms();
    sqlx::query("INSERT INTO channel_accounts (name, plugin, network, created_at, updated_at) VALUES ('brand', 'mastodon', 'mastodon', $1, $1)")
        .bind(now)
        .execute(db.pool())
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO identities (network, external_user_id, handle, followers, first_seen, last_seen) \
         VALUES ('mastodon', 'u1', 'ann@example.social', 12, $1, $1)",
    )
    .bind(now)
    .execute(db.pool())
    .await
    .unwrap();
    let mut ids = Vec::new();
    for (external_id, key, sentiment, intent) in POSTS {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO posts (channel_id, external_id, identity_id, kind, direction, text, created_at, raw, ingested_at) \
             VALUES (1, $1, 1, 'mention', 'inbound', $2, $3, '{}', $3) RETURNING id",
        )
        .bind(external_id)
        .bind(format!("post {external_id}"))
        .bind(now)
        .fetch_one(db.pool())
        .await
        .unwrap();
        sqlx::query(
            "INSERT INTO post_scores (post_id, identity_id, created_at, sentiment, intent, intent_confidence, base, priority_key) \
             VALUES ($1, 1, $2, $3, $4, 0.9, $5, $5)",
        )
        .bind(id)
        .bind(now)
        .bind(sentiment)
        .bind(intent)
        .bind(key)
        .execute(db.pool())
        .await
        .unwrap();
        ids.push(id);
    }
    ids
}

/// Every page of `url` (a query string without cursor) with `limit`, concatenated.
async fn walk(base: &str, query: &str, token: &str) -> Vec<String> {
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut url = format!("{base}/api/v1/posts?{query}&limit=2");
        if let Some(c) = &cursor {
            url.push_str(&format!("&cursor={c}"));
        }
        let (status, page) = answer(call(reqwest::Method::GET, url, Some(token))).await;
        assert_eq!(status, 200, "{page}");
        for item in page["items"].as_array().unwrap() {
            seen.push(item["external_id"].as_str().unwrap().to_string());
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return seen,
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn tokens_and_roles_guard_every_route() {
    common::on_each_db(|db| async move {
        let server = start(&db).await;
        let base = &server.root;
        let admin = tokens::first_admin(&db)
            .await
            .unwrap()
            .expect("the first start's token");
        assert!(tokens::first_admin(&db).await.unwrap().is_none(), "printed once only");
        let viewer = tokens::create(&db, "val", Role::Viewer, "test").await.unwrap();
        let agent = tokens::create(&db, "alice", Role::Agent, "test").await.unwrap();
        assert!(matches!(
            tokens::create(&db, "alice", Role::Admin, "test").await,
            Err(tokens::TokenError::Exists(_))
        ));
        let ids = seed(&db).await;

        let url = format!("{base}/api/v1/posts");
        let response = call(reqwest::Method::GET, url.clone(), None).send().await.unwrap();
        assert_eq!(response.status(), 401);
        assert_eq!(response.headers()["www-authenticate"], "Bearer");
        let (status, body) = answer(call(reqwest::Method::GET, url.clone(), Some("scrm_nope"))).await;
        assert_eq!((status, error_code(&body)), (401, "unauthorized"));
        let (status, body) = answer(call(reqwest::Method::GET, url.clone(), Some(&viewer))).await;
        assert_eq!(status, 200, "{body}");
        let (status, me) = answer(call(reqwest::Method::GET, format!("{base}/api/v1/me"), Some(&agent))).await;
        assert_eq!((status, me), (200, json!({"name": "alice", "role": "agent"})));

        // A viewer changes nothing; an agent works the inbox but not tokens.
        let close = format!("{base}/api/v1/posts/{}/close", ids[0]);
        let (status, body) = answer(call(reqwest::Method::POST, close.clone(), Some(&viewer))).await;
        assert_eq!((status, error_code(&body)), (403, "forbidden"));
        let (status, post) = answer(call(reqwest::Method::POST, close, Some(&agent))).await;
        assert_eq!((status, post["inbox_status"].as_str()), (200, Some("closed")));
        let entries = audit_entries(db.pool(), 1).await.unwrap();
        assert_eq!(
            (entries[0].actor.as_str(), entries[0].action.as_str()),
            ("alice", "post.inbox_status")
        );
        let tokens_url = format!("{base}/api/v1/tokens");
        let new = json!({"name": "bot", "role": "viewer"});
        let (status, _) = answer(call(reqwest::Method::POST, tokens_url.clone(), Some(&agent)).json(&new)).await;
        assert_eq!(status, 403);

        // An admin makes and revokes tokens; a revoked token stops working.
        let (status, created) = answer(call(reqwest::Method::POST, tokens_url.clone(), Some(&admin)).json(&new)).await;
        assert_eq!(status, 201, "{created}");
        let bot = created["token"].as_str().unwrap().to_string();
        let (status, _) = answer(call(reqwest::Method::GET, url.clone(), Some(&bot))).await;
        assert_eq!(status, 200);
        let (status, listed) = answer(call(reqwest::Method::GET, tokens_url.clone(), Some(&admin))).await;
        assert_eq!(status, 200);
        let names: Vec<&str> = listed["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["admin", "alice", "bot", "val"]);
        assert!(!listed.to_string().contains(&bot), "secrets are never listed");
        let (status, _) = answer(call(reqwest::Method::DELETE, format!("{tokens_url}/bot"), Some(&admin))).await;
        assert_eq!(status, 204);
        let (status, _) = answer(call(reqwest::Method::GET, url, Some(&bot))).await;
        assert_eq!(status, 401);
        let (status, audit) = answer(call(
            reqwest::Method::GET,
            format!("{base}/api/v1/audit?limit=2"),
            Some(&admin),
        ))
        .await;
        assert_eq!(status, 200);
        assert_eq!(audit["items"][0]["action"], "token.revoke");
        assert_eq!(audit["items"][0]["actor"], "admin");
        assert!(audit["next_cursor"].is_string());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_requests_get_the_error_body_never_a_500() {
    common::on_each_db(|db| async move {
        let server = start(&db).await;
        let base = &server.root;
        let agent = tokens::create(&db, "alice", Role::Agent, "test").await.unwrap();
        let ids = seed(&db).await;
        let assign = format!("{base}/api/v1/posts/{}/assign", ids[0]);
        let post = |body: reqwest::Body, content_type: &str| {
            call(reqwest::Method::POST, assign.clone(), Some(&agent))
                .header("content-type", content_type)
                .body(body)
        };
        let cases: [(reqwest::RequestBuilder, u16); 10] = [
            // A NUL, which PostgreSQL's text cannot hold, in a body or a filter.
            (post(r#"{"assignee": "b\u0000o"}"#.into(), "application/json"), 400),
            (
                call(
                    reqwest::Method::GET,
                    format!("{base}/api/v1/posts?assignee=b%00o"),
                    Some(&agent),
                ),
                400,
            ),
            (post("{not json".into(), "application/json"), 400),
            (post(r#"{"assignee": 7}"#.into(), "application/json"), 422),
            (
                post(r#"{"assignee": "bo", "extra": 1}"#.into(), "application/json"),
                422,
            ),
            (post(r#"{"assignee": "bo"}"#.into(), "text/plain"), 415),
            // One byte over the 32 MiB limit: the server reads it all before
            // it answers, so the answer is not lost to a connection it closed
            // while the body was still being written.
            (post(vec![b' '; (32 << 20) + 1].into(), "application/json"), 413),
            (
                call(reqwest::Method::GET, format!("{base}/api/v1/posts/abc"), Some(&agent)),
                400,
            ),
            (
                call(
                    reqwest::Method::GET,
                    format!("{base}/api/v1/posts?sort=random"),
                    Some(&agent),
                ),
                400,
            ),
            (
                call(
                    reqwest::Method::GET,
                    format!("{base}/api/v1/posts?cursor=%%%"),
                    Some(&agent),
                ),
                400,
            ),
        ];
        for (request, expected) in cases {
            let (status, body) = answer(request).await;
            assert_eq!(status, expected, "{body}");
            error_code(&body);
        }
        for (method, url, expected) in [
            (reqwest::Method::GET, format!("{base}/api/v1/nothing"), 404),
            (reqwest::Method::GET, format!("{base}/api/v1/posts/999999"), 404),
            (reqwest::Method::DELETE, format!("{base}/api/v1/posts"), 405),
        ] {
            let (status, body) = answer(call(method, url, Some(&agent))).await;
            assert_eq!(status, expected, "{body}");
            error_code(&body);
        }
        // Still assigned to nobody: nothing bad was applied.
        let (_, post) = answer(call(
            reqwest::Method::GET,
            format!("{base}/api/v1/posts/{}", ids[0]),
            Some(&agent),
        ))
        .await;
        assert!(post["assignee"].is_null(), "{post}");
        let (status, post) = answer(post_json(&assign, &agent, json!({"assignee": " bo "}))).await;
        assert_eq!((status, post["assignee"].as_str()), (200, Some("bo")));
    })
    .await;
}

fn post_json(url: &str, token: &str, body: Value) -> reqwest::RequestBuilder {
    call(reqwest::Method::POST, url.to_string(), Some(token)).json(&body)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_openapi_document_describes_every_route_the_router_answers() {
    common::on_each_db(|db| async move {
        let server = start(&db).await;
        let (status, doc) = answer(call(
            reqwest::Method::GET,
            format!("{}/api/v1/openapi.json", server.root),
            None,
        ))
        .await;
        assert_eq!(status, 200);
        assert!(
            doc["openapi"].as_str().unwrap_or_default().starts_with("3.1"),
            "{}",
            doc["openapi"]
        );
        assert_eq!(doc, serde_json::to_value(socialcrm::server::openapi()).unwrap());
        let paths = doc["paths"].as_object().expect("paths");
        assert!(paths.contains_key("/api/v1/posts") && paths.contains_key("/api/v1/tokens/{name}"));
        let mut operations = 0;
        let mut ids = std::collections::HashSet::new();
        for (path, item) in paths {
            let concrete = path.replace("{id}", "1").replace("{name}", "x");
            for (method, op) in item.as_object().unwrap() {
                let Ok(method) = method.to_uppercase().parse::<reqwest::Method>() else {
                    continue;
                };
                operations += 1;
                let id = op["operationId"].as_str().unwrap_or_default().to_string();
                assert!(ids.insert(id.clone()), "operation id {id} is not unique");
                assert!(op["responses"]["401"].is_object(), "{method} {path} documents 401");
                // Every documented operation exists and asks for a token.
                let (status, body) = answer(call(method.clone(), format!("{}{concrete}", server.root), None)).await;
                assert_eq!(status, 401, "{method} {path}: {body}");
            }
        }
        assert!(operations >= 9, "{operations}");

        // A viewer changes nothing, and only an admin manages the product.
        let viewer = tokens::create(&db, "val", Role::Viewer, "test").await.unwrap();
        let agent = tokens::create(&db, "alice", Role::Agent, "test").await.unwrap();
        let admin_only = [
            "/tokens",
            "/plugins",
            "/plugin-index",
            "/channels",
            "/imports",
            "/audit",
            "/insights/recompute",
            "/analyzers",
            "/scorers",
            "/taxonomy",
            "/events",
            "/retention",
            "/currencies",
            "/subjects",
            "/erasures",
        ];
        for (path, item) in paths {
            let concrete = path.replace("{id}", "1").replace("{name}", "x");
            let admin = admin_only.iter().any(|p| path.starts_with(&format!("/api/v1{p}")));
            for method in item.as_object().unwrap().keys() {
                let Ok(method) = method.to_uppercase().parse::<reqwest::Method>() else {
                    continue;
                };
                let url = format!("{}{concrete}", server.root);
                let (status, body) = answer(call(method.clone(), url.clone(), Some(&agent))).await;
                assert_eq!(
                    status == 403,
                    admin && method != reqwest::Method::GET
                        || path == "/api/v1/audit"
                        || path == "/api/v1/tokens"
                        || path == "/api/v1/plugin-index"
                        || path.starts_with("/api/v1/events")
                        || path.starts_with("/api/v1/subjects")
                        || path.starts_with("/api/v1/erasures")
                        || path.ends_with("/egress"),
                    "agent {method} {path}: {status} {body}"
                );
                if method != reqwest::Method::GET {
                    let (status, body) = answer(call(method.clone(), url, Some(&viewer))).await;
                    assert_eq!(status, 403, "viewer {method} {path}: {body}");
                }
            }
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_inbox_orders_filters_and_pages() {
    common::on_each_db(|db| async move {
        let server = start(&db).await;
        let base = &server.root;
        let viewer = tokens::create(&db, "val", Role::Viewer, "test").await.unwrap();
        seed(&db).await;

        // Highest priority first; ties newest first; every post exactly once across pages.
        assert_eq!(walk(base, "sort=priority", &viewer).await, ["e", "a", "d", "c", "b"]);
        assert_eq!(walk(base, "sort=newest", &viewer).await, ["e", "d", "c", "b", "a"]);
        assert_eq!(walk(base, "sentiment=negative", &viewer).await, ["e", "a", "d"]);
        assert_eq!(walk(base, "sentiment=neutral", &viewer).await, ["c"]);
        assert_eq!(walk(base, "intent=complaint", &viewer).await, ["a", "d"]);
        assert_eq!(walk(base, "channel=nobody", &viewer).await, Vec::<String>::new());
        // Priorities grow with waiting time; the key of "d" and "c" is 30.
        let (_, page) = answer(call(
            reqwest::Method::GET,
            format!("{base}/api/v1/posts?limit=1"),
            Some(&viewer),
        ))
        .await;
        let top = &page["items"][0];
        let waiting = top["priority"].as_f64().unwrap() - 70.0;
        assert!(waiting > 0.0, "{top}");
        assert_eq!(top["sentiment_label"], "negative");
        assert_eq!(top["intent"], "churn-risk");
        assert!(top["priority_explanation"].as_str().is_some_and(|e| !e.is_empty()));
        let min = 30.0 + waiting - 0.001;
        assert_eq!(
            walk(base, &format!("min_priority={min}"), &viewer).await,
            ["e", "a", "d", "c"]
        );
        // The same posts newest first, paged by id.
        assert_eq!(
            walk(base, &format!("sort=newest&min_priority={min}"), &viewer).await,
            ["e", "d", "c", "a"]
        );
        assert_eq!(walk(base, "status=closed", &viewer).await, Vec::<String>::new());
    })
    .await;
}
