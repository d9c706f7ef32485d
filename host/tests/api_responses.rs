//! The responses API against a fake Mastodon, on SQLite and PostgreSQL:
//! templates, a micro response, approval by a second token, roles, and a
//! macro response with a status per recipient.

mod common;

use std::collections::BTreeMap;

use common::http::{Server, answer, start_with};
use reqwest::Method;
use serde_json::{Value, json};
use socialcrm::store::Db;
use socialcrm::tokens::{self, Role};
use socialcrm_fakes::FakeMastodon;
use sqlx::Row;

/// The server, the fake network with the `brand` channel synced, and tokens by name.
struct Setup {
    server: Server,
    _network: FakeMastodon,
    tokens: BTreeMap<&'static str, String>,
}

impl Setup {
    async fn new(db: &Db, plugin: &str) -> Setup {
        let (network, ingest) = common::brand::mastodon_brand(db, plugin, "test").await;
        let mut tokens = BTreeMap::new();
        for (name, role) in [
            ("viewer", Role::Viewer),
            ("ana", Role::Agent),
            ("ben", Role::Agent),
            ("admin", Role::Admin),
        ] {
            tokens.insert(name, tokens::create(db, name, role, "test").await.unwrap());
        }
        Setup {
            server: start_with(ingest).await,
            _network: network,
            tokens,
        }
    }

    async fn call(&self, method: Method, path: &str, token: &str, body: Option<Value>) -> (u16, Value) {
        let mut request = reqwest::Client::new()
            .request(method, self.server.api(path))
            .bearer_auth(&self.tokens[token]);
        if let Some(body) = body {
            request = request.json(&body);
        }
        answer(request).await
    }
}

/// Inbound post ids, oldest first.
async fn inbound(db: &Db) -> Vec<i64> {
    sqlx::query("SELECT id FROM posts WHERE direction = 'inbound' ORDER BY id")
        .fetch_all(db.pool())
        .await
        .unwrap()
        .iter()
        .map(|r| r.get("id"))
        .collect()
}

/// A stored post the fake network does not know (so a reply to it fails).
async fn missing_post(db: &Db) -> i64 {
    sqlx::query(
        "INSERT INTO posts (channel_id, external_id, identity_id, kind, direction, text, created_at, raw, ingested_at) \
         SELECT channel_id, '424242', identity_id, kind, 'inbound', 'where is my order?', 0, '{}', 0 \
         FROM posts WHERE direction = 'inbound' ORDER BY id LIMIT 1 RETURNING id",
    )
    .fetch_one(db.pool())
    .await
    .unwrap()
    .get("id")
}

async fn tag(db: &Db, post: i64, topic: &str) {
    sqlx::query(
        "INSERT INTO post_topics (topic, post_id, identity_id, created_at, sentiment) \
         SELECT $1, id, identity_id, 1000, -0.5 FROM posts WHERE id = $2",
    )
    .bind(topic)
    .bind(post)
    .execute(db.pool())
    .await
    .unwrap();
}

fn code(body: &Value) -> &str {
    assert!(body["error"]["message"].is_string(), "no error body: {body}");
    body["error"]["code"].as_str().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn responses_over_http() {
    let plugin = common::plugin_dir("plugins/mastodon");
    let plugin = &plugin.path().display().to_string();
    common::on_each_db(|db| async move {
        let s = Setup::new(&db, plugin).await;
        let posts = inbound(&db).await;
        assert!(posts.len() >= 2, "the fake has posts");

        // Templates: the variables, save, an unknown variable, list, remove.
        let (status, vars) = s.call(Method::GET, "/templates/variables", "viewer", None).await;
        assert_eq!(status, 200);
        assert!(
            vars["items"]
                .as_array()
                .unwrap()
                .iter()
                .any(|v| v["name"] == "contact.first_name")
        );
        let (status, saved) = s
            .call(
                Method::PUT,
                "/templates/hello",
                "ana",
                Some(json!({"body": "Hi {{author.handle}}!"})),
            )
            .await;
        assert_eq!(status, 200, "{saved}");
        assert_eq!(
            (saved["name"].as_str(), saved["variables"].clone()),
            (Some("hello"), json!(["author.handle"]))
        );
        let (status, body) = s
            .call(
                Method::PUT,
                "/templates/bad",
                "ana",
                Some(json!({"body": "Hi {{contact.nickname}}"})),
            )
            .await;
        assert_eq!((status, code(&body)), (400, "bad-request"));
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("unknown variable {{contact.nickname}}")
        );
        let (status, body) = s
            .call(Method::PUT, "/templates/x", "ana", Some(json!({"text": "a"})))
            .await;
        assert_eq!(status, 422, "{body}");
        code(&body);
        let (status, listed) = s.call(Method::GET, "/templates", "viewer", None).await;
        assert_eq!((status, listed["items"].as_array().unwrap().len()), (200, 1));
        s.call(Method::PUT, "/templates/gone", "ana", Some(json!({"body": "bye"})))
            .await;
        let (status, _) = s.call(Method::DELETE, "/templates/gone", "ana", None).await;
        assert_eq!(status, 204);
        let (status, body) = s.call(Method::DELETE, "/templates/gone", "ana", None).await;
        assert_eq!((status, code(&body)), (404, "not-found"));

        // A micro response from a template is sent.
        let (status, sent) = s
            .call(
                Method::POST,
                &format!("/posts/{}/responses", posts[0]),
                "ana",
                Some(json!({"template": "hello"})),
            )
            .await;
        assert_eq!(status, 201, "{sent}");
        assert_eq!(
            (sent["kind"].as_str(), sent["status"].as_str()),
            (Some("micro"), Some("sent"))
        );
        assert_eq!(sent["counts"]["sent"], 1);
        let (status, body) = s
            .call(
                Method::POST,
                "/posts/999999/responses",
                "ana",
                Some(json!({"text": "hi"})),
            )
            .await;
        assert_eq!((status, code(&body)), (404, "not-found"));
        let (status, body) = s
            .call(
                Method::POST,
                &format!("/posts/{}/responses", posts[0]),
                "ana",
                Some(json!({"text": "  "})),
            )
            .await;
        assert_eq!((status, code(&body)), (400, "bad-request"));

        // Approval: the author's own approve is refused, another agent's sends.
        let (status, body) = s
            .call(
                Method::PUT,
                "/channels/brand/approval",
                "ana",
                Some(json!({"required": true})),
            )
            .await;
        assert_eq!((status, code(&body)), (403, "forbidden"));
        let (status, body) = s
            .call(
                Method::PUT,
                "/channels/brand/approval",
                "admin",
                Some(json!({"required": true})),
            )
            .await;
        assert_eq!((status, body), (200, json!({"required": true})));
        let (status, pending) = s
            .call(
                Method::POST,
                &format!("/posts/{}/responses", posts[1]),
                "ana",
                Some(json!({"text": "We're on it."})),
            )
            .await;
        assert_eq!(
            (status, pending["status"].as_str()),
            (201, Some("pending-approval")),
            "{pending}"
        );
        let id = pending["id"].as_i64().unwrap();
        let (status, listed) = s
            .call(Method::GET, "/responses?status=pending-approval", "viewer", None)
            .await;
        assert_eq!((status, listed["items"][0]["id"].as_i64()), (200, Some(id)));
        let (status, body) = s
            .call(Method::POST, &format!("/responses/{id}/send"), "ana", None)
            .await;
        assert_eq!((status, code(&body)), (409, "conflict"));
        let (status, body) = s
            .call(Method::POST, &format!("/responses/{id}/approve"), "ana", None)
            .await;
        assert_eq!((status, code(&body)), (403, "forbidden"));
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("someone else must approve it")
        );
        let (status, approved) = s
            .call(Method::POST, &format!("/responses/{id}/approve"), "ben", None)
            .await;
        assert_eq!(status, 200, "{approved}");
        assert_eq!(
            (approved["status"].as_str(), approved["approved_by"].as_str()),
            (Some("sent"), Some("ben"))
        );
        // No body at all: the reason is optional, and so is the body that carries it.
        let (status, body) = s
            .call(Method::POST, &format!("/responses/{id}/reject"), "ben", None)
            .await;
        assert_eq!((status, code(&body)), (409, "conflict"));
        let (_, withdrawn) = s
            .call(
                Method::POST,
                &format!("/posts/{}/responses", posts[1]),
                "ana",
                Some(json!({"text": "Oops"})),
            )
            .await;
        let (status, rejected) = s
            .call(
                Method::POST,
                &format!("/responses/{}/reject", withdrawn["id"]),
                "ana",
                Some(json!({"reason": "wrong tone"})),
            )
            .await;
        assert_eq!(
            (status, rejected["status"].as_str(), rejected["reason"].as_str()),
            (200, Some("rejected"), Some("wrong tone"))
        );
        s.call(
            Method::PUT,
            "/channels/brand/approval",
            "admin",
            Some(json!({"required": false})),
        )
        .await;
        let (status, body) = s
            .call(
                Method::PUT,
                "/channels/nope/approval",
                "admin",
                Some(json!({"required": true})),
            )
            .await;
        assert_eq!((status, code(&body)), (404, "not-found"));

        // A viewer changes nothing.
        for (method, path, body) in [
            (Method::PUT, "/templates/v".to_string(), json!({"body": "x"})),
            (Method::DELETE, "/templates/hello".to_string(), json!({})),
            (
                Method::POST,
                format!("/posts/{}/responses", posts[0]),
                json!({"text": "x"}),
            ),
            (
                Method::POST,
                "/responses".to_string(),
                json!({"channel": "brand", "broadcast": {"text": "x"}}),
            ),
            (Method::POST, format!("/responses/{id}/send"), json!({})),
            (Method::POST, format!("/responses/{id}/approve"), json!({})),
            (Method::POST, format!("/responses/{id}/reject"), json!({})),
            (
                Method::PUT,
                "/channels/brand/approval".to_string(),
                json!({"required": true}),
            ),
        ] {
            let (status, answer) = s.call(method, &path, "viewer", Some(body)).await;
            assert_eq!((status, code(&answer)), (403, "forbidden"), "{path}");
        }

        // A macro to a topic: a status per recipient; sending again retries the failed one.
        let failing = missing_post(&db).await;
        for post in [posts[0], posts[1], failing] {
            tag(&db, post, "shipping").await;
        }
        let request = json!({
            "channel": "brand",
            "broadcast": {"text": "Shipping is delayed on {{channel.name}}."},
            "reply": {"template": "hello"},
            "audience": {"topic": {"topic": "shipping", "since": null}},
        });
        let (status, made) = s.call(Method::POST, "/responses", "ana", Some(request)).await;
        assert_eq!(status, 201, "{made}");
        assert_eq!(
            (made["kind"].as_str(), made["status"].as_str()),
            (Some("macro"), Some("partially-failed"))
        );
        assert_eq!(made["text"], "Shipping is delayed on brand.");
        assert_eq!(made["broadcast"]["status"], "sent");
        assert_eq!(
            made["counts"],
            json!({"queued": 0, "sent": 2, "failed": 1, "skipped": 0})
        );
        let id = made["id"].as_i64().unwrap();
        let (status, recipients) = s
            .call(Method::GET, &format!("/responses/{id}/recipients"), "viewer", None)
            .await;
        assert_eq!(status, 200);
        let statuses: BTreeMap<i64, &str> = recipients["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| (r["post_id"].as_i64().unwrap(), r["status"].as_str().unwrap()))
            .collect();
        assert_eq!(
            statuses,
            BTreeMap::from([(posts[0], "sent"), (posts[1], "sent"), (failing, "failed")])
        );
        let (status, again) = s
            .call(Method::POST, &format!("/responses/{id}/send"), "ben", None)
            .await;
        assert_eq!((status, again["counts"]["sent"].as_i64()), (200, Some(2)));
        let (status, got) = s.call(Method::GET, &format!("/responses/{id}"), "viewer", None).await;
        assert_eq!((status, got["counts"].clone()), (200, again["counts"].clone()));

        // Bad input is a 4xx with the error body.
        let (status, body) = s
            .call(
                Method::POST,
                "/responses",
                "ana",
                Some(json!({"channel": "brand", "broadcast": {"text": "x", "template": "y"}})),
            )
            .await;
        assert!((400..500).contains(&status), "{status} {body}");
        code(&body);
        let (status, body) = s
            .call(
                Method::POST,
                "/responses",
                "ana",
                Some(json!({"channel": "brand", "broadcast": {"text": "x"}, "reply": {"text": "y"}})),
            )
            .await;
        assert_eq!((status, code(&body)), (400, "bad-request"));
        let (status, body) = s
            .call(Method::GET, "/responses/999999/recipients", "viewer", None)
            .await;
        assert_eq!((status, code(&body)), (404, "not-found"));
        let (status, body) = s.call(Method::GET, "/responses?limit=0", "viewer", None).await;
        assert_eq!((status, code(&body)), (400, "bad-request"));
    })
    .await;
}

/// The OpenAPI document describes the routes.
#[tokio::test(flavor = "multi_thread")]
async fn openapi_lists_the_routes() {
    common::on_each_db(|db| async move {
        let server = common::http::start(&db).await;
        let (status, doc) = answer(reqwest::Client::new().get(server.api("/openapi.json"))).await;
        assert_eq!(status, 200);
        for path in [
            "/api/v1/templates",
            "/api/v1/templates/{name}",
            "/api/v1/templates/variables",
            "/api/v1/posts/{id}/responses",
            "/api/v1/responses",
            "/api/v1/responses/{id}",
            "/api/v1/responses/{id}/recipients",
            "/api/v1/responses/{id}/send",
            "/api/v1/responses/{id}/approve",
            "/api/v1/responses/{id}/reject",
            "/api/v1/channels/{name}/approval",
        ] {
            assert!(doc["paths"][path].is_object(), "{path} not in the document");
        }
        for schema in [
            "Response",
            "MacroRequest",
            "Content",
            "Audience",
            "Recipient",
            "StoredTemplate",
        ] {
            assert!(
                doc["components"]["schemas"][schema].is_object(),
                "{schema} not in the document"
            );
        }
    })
    .await;
}
