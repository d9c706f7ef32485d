//! The CRM side of the HTTP API over a small world, on SQLite and PostgreSQL:
//! contact search and the customer 360, paged timelines and transactions,
//! the identity review queue and its decisions (roles, audit, errors), and
//! the insights routes (trends, topics, alerts, advocates, churn, recompute).

mod common;

use common::http::{Server, start};

use std::collections::BTreeSet;

use serde_json::{Value, json};
use socialcrm::insights::{self, DAY_MS, HOUR_MS};
use socialcrm::store::{Db, audit_entries};
use socialcrm::tokens::{self, Role};
use sqlx::Row;

/// 2026-11-30 12:00 UTC: the scores are computed as of then.
const NOW: i64 = 1_796_040_000_000;
/// 2026-11-30 00:00 UTC.
const TODAY: i64 = NOW - 12 * HOUR_MS;

/// A caller with a token of `role`.
struct Client {
    base: String,
    token: String,
    http: reqwest::Client,
}

impl Client {
    async fn new(server: &Server, db: &Db, name: &str, role: Role) -> Client {
        Client {
            base: server.api(""),
            token: tokens::create(db, name, role, "test").await.unwrap(),
            http: reqwest::Client::new(),
        }
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> (u16, Value) {
        let response = request
            .bearer_auth(&self.token)
            .send()
            .await
            .expect("the server answers");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        self.send(self.http.get(format!("{}{path}", self.base))).await
    }

    /// The body of a 200 answer to `GET path`.
    async fn ok(&self, path: &str) -> Value {
        let (status, body) = self.get(path).await;
        assert_eq!(status, 200, "GET {path}: {body}");
        body
    }

    async fn post(&self, path: &str, body: Option<Value>) -> (u16, Value) {
        let request = self.http.post(format!("{}{path}", self.base));
        self.send(match body {
            Some(body) => request.json(&body),
            None => request,
        })
        .await
    }

    /// Every item of every page of `path` (which has a query string) by `limit`.
    async fn walk(&self, path: &str, limit: usize) -> Vec<Value> {
        let (mut items, mut cursor) = (Vec::new(), None::<String>);
        loop {
            let mut url = format!("{path}&limit={limit}");
            if let Some(c) = &cursor {
                url.push_str(&format!("&cursor={c}"));
            }
            let page = self.ok(&url).await;
            let got = page["items"].as_array().unwrap();
            assert!(got.len() <= limit);
            items.extend(got.iter().cloned());
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_string()),
                None => return items,
            }
        }
    }
}

fn ids(items: &[Value]) -> Vec<i64> {
    items.iter().map(|i| i["id"].as_i64().unwrap()).collect()
}

/// Every id once.
fn assert_once(ids: &[i64], expected: usize) {
    let unique: BTreeSet<i64> = ids.iter().copied().collect();
    assert_eq!((ids.len(), unique.len()), (expected, expected), "{ids:?}");
}

fn assert_error(status: u16, body: &Value, expected: u16, code: &str) {
    assert_eq!(status, expected, "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(body["error"]["message"].is_string(), "{body}");
}

/// Inserts a row and answers its id.
async fn insert(db: &Db, sql: &str, values: Vec<Value>) -> i64 {
    let mut query = sqlx::query(sqlx::AssertSqlSafe(format!("{sql} RETURNING id"))).persistent(false);
    for v in values {
        query = match v {
            Value::Number(n) if n.is_i64() => query.bind(n.as_i64()),
            Value::Number(n) => query.bind(n.as_f64()),
            Value::Null => query.bind(None::<f64>),
            other => query.bind(other.as_str().map(String::from).unwrap_or_else(|| other.to_string())),
        };
    }
    query.fetch_one(db.pool()).await.unwrap().get("id")
}

struct World {
    ada: i64,
    bob: i64,
    carol: i64,
    contacts: usize,
    ada_posts: usize,
    ada_transactions: usize,
    /// Proposed links: Bob's (to confirm) and another (to reject).
    proposals: [i64; 2],
    crowd: i64,
}

/// Contacts, transactions, identities and links, and posts with analyses:
/// Ada posts daily (positive on odd days, negative on even ones) about the
/// battery; a crowd posts about shipping, 6 a day and 30 today (a spike).
async fn seed(db: &Db) -> World {
    let contact = |external: &str, name: &str, email: &str, handles: Value| {
        let values = vec![json!(external), json!(name), json!(email), json!(handles.to_string())];
        async move {
            insert(
                db,
                "INSERT INTO contacts (external_id, name, email, company, handles, created_at, updated_at) \
                 VALUES ($1, $2, $3, 'Acme', $4, 0, 0)",
                values,
            )
            .await
        }
    };
    let ada = contact(
        "C-ADA",
        "Ada Lovelace",
        "ada@example.com",
        json!({"bluesky": "ada.bsky.social"}),
    )
    .await;
    let bob = contact("C-BOB", "Bob Builder", "bob@example.org", json!({})).await;
    let carol = contact("C-CAROL", "Carol 100%_sure", "carol@example.net", json!({})).await;
    for k in 0..4 {
        contact(
            &format!("C-{k}"),
            &format!("Filler {k}"),
            &format!("f{k}@example.net"),
            json!({}),
        )
        .await;
    }
    // Two of Ada's orders on the same day: the pages order them by id.
    let orders = [(3, 250.0), (10, 90.0), (10, 60.0), (40, 1200.0), (200, 80.0)];
    for (i, (days, amount)) in orders.iter().enumerate() {
        insert(
            db,
            "INSERT INTO transactions (external_id, contact_id, kind, amount, currency, occurred_at, reference, \
             product, created_at, updated_at) VALUES ($1, $2, 'purchase', $3, 'EUR', $4, $5, 'X2 e-bike', 0, 0)",
            vec![
                json!(format!("T{i}")),
                json!(ada),
                json!(amount),
                json!(NOW - days * DAY_MS),
                json!(format!("A-{i}")),
            ],
        )
        .await;
    }
    let channel = insert(
        db,
        "INSERT INTO channel_accounts (name, plugin, network, created_at, updated_at) VALUES ($1, $2, $2, 0, 0)",
        vec![json!("brand"), json!("mastodon")],
    )
    .await;
    let identity = |handle: &'static str| async move {
        insert(
            db,
            "INSERT INTO identities (network, external_user_id, handle, followers, first_seen, last_seen) \
             VALUES ('mastodon', $1, $2, 10, 0, 0)",
            vec![json!(format!("u-{handle}")), json!(handle)],
        )
        .await
    };
    let (ada_m, bob_m, crowd, other) = (
        identity("ada_m").await,
        identity("bob_m").await,
        identity("crowd").await,
        identity("other").await,
    );
    let link = |identity: i64, contact: i64, status: &str, confidence: f64| {
        let values = vec![json!(identity), json!(contact), json!(confidence), json!(status)];
        async move {
            insert(
                db,
                "INSERT INTO identity_links (identity_id, contact_id, method, confidence, evidence, status, \
                 created_at, updated_at) VALUES ($1, $2, 'name', $3, \
                 '[{\"kind\":\"name\",\"value\":\"x\",\"source\":\"display_name\",\"weight\":0.5}]', $4, 0, 0)",
                values,
            )
            .await
        }
    };
    link(ada_m, ada, "confirmed", 1.0).await;
    let proposals = [
        link(bob_m, bob, "proposed", 0.5).await,
        link(other, carol, "proposed", 0.35).await,
    ];

    let mut n = 0;
    let mut post = |identity: i64, at: i64, sentiment: f64, intent: (&'static str, f64), topic: &'static str| {
        n += 1;
        let external = format!("p{n}");
        async move {
            let id = insert(
                db,
                "INSERT INTO posts (channel_id, external_id, identity_id, kind, direction, text, created_at, raw, \
                 ingested_at) VALUES ($1, $2, $3, 'mention', 'inbound', $4, $5, '{}', $5)",
                vec![
                    json!(channel),
                    json!(external),
                    json!(identity),
                    json!(format!("about {topic}")),
                    json!(at),
                ],
            )
            .await;
            let analysis = "INSERT INTO analyses (post_id, plugin, version, sentiment, intents, topics, created_at) \
                            VALUES ($1, $2, '1.0.0', $3, $4, $5, 0)";
            insert(
                db,
                analysis,
                vec![
                    json!(id),
                    json!("sentiment"),
                    json!(sentiment),
                    json!("[]"),
                    json!("[]"),
                ],
            )
            .await;
            let intents = json!([{"name": intent.0, "confidence": intent.1}]);
            insert(
                db,
                analysis,
                vec![
                    json!(id),
                    json!("intent"),
                    Value::Null,
                    json!(intents.to_string()),
                    json!(json!([topic]).to_string()),
                ],
            )
            .await;
        }
    };
    let ada_posts = 25;
    for d in 1..=ada_posts {
        let (sentiment, intent) = if d % 2 == 1 {
            (0.6, "praise")
        } else {
            (-0.3, "complaint")
        };
        post(ada_m, TODAY - d * DAY_MS + HOUR_MS, sentiment, (intent, 0.8), "battery").await;
    }
    for d in 1..35 {
        for i in 0..6 {
            let sentiment = if i == 0 { -0.4 } else { 0.2 };
            post(
                crowd,
                TODAY - d * DAY_MS + i * 600_000,
                sentiment,
                ("question", 0.3),
                "shipping",
            )
            .await;
        }
    }
    for i in 0..30 {
        let sentiment = if i < 24 { -0.5 } else { 0.3 };
        post(crowd, TODAY + i * 600_000, sentiment, ("question", 0.3), "shipping").await;
    }
    post(bob_m, TODAY - 10 * DAY_MS, 0.2, ("question", 0.3), "service").await;
    World {
        ada,
        bob,
        carol,
        contacts: 7,
        ada_posts: ada_posts as usize,
        ada_transactions: orders.len(),
        proposals,
        crowd,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn contacts_identities_and_insights_over_http() {
    common::on_each_db(|db| async move {
        let w = seed(&db).await;
        insights::recompute(&db, NOW).await.unwrap();
        let server = start(&db).await;
        let viewer = Client::new(&server, &db, "viewer-1", Role::Viewer).await;
        let agent = Client::new(&server, &db, "agent-1", Role::Agent).await;
        let admin = Client::new(&server, &db, "admin-1", Role::Admin).await;

        // Search: by a linked handle, a listed handle (any case, with `@`),
        // an email, an external id; wildcards are taken literally.
        for (q, expected) in [
            ("ada_m", vec![w.ada]),
            ("%40ADA.BSKY", vec![w.ada]),
            ("BOB%40EXAMPLE", vec![w.bob]),
            ("c-bob", vec![w.bob]),
            ("lovelace", vec![w.ada]),
            ("100%25_", vec![w.carol]),
            ("%25", vec![w.carol]),
            ("nobody", vec![]),
        ] {
            let page = viewer.ok(&format!("/contacts?q={q}")).await;
            assert_eq!(ids(page["items"].as_array().unwrap()), expected, "q={q}: {page}");
        }
        let ada = &viewer.ok("/contacts?q=ada_m").await["items"][0];
        assert_eq!(
            (ada["email"].as_str(), ada["company"].as_str()),
            (Some("ada@example.com"), Some("Acme"))
        );
        assert!(
            ada["churn"].as_f64().unwrap() > 0.0 && ada["ltv"].as_f64() == Some(1680.0),
            "{ada}"
        );
        let all = viewer.walk("/contacts?", 3).await;
        assert_once(&ids(&all), w.contacts);
        assert!(ids(&all).windows(2).all(|p| p[0] < p[1]), "by id");

        // The customer 360.
        let c = viewer.ok(&format!("/contacts/{}", w.ada)).await;
        assert_eq!(
            (c["id"].as_i64(), c["external_id"].as_str()),
            (Some(w.ada), Some("C-ADA"))
        );
        assert_eq!(c["handles"], json!({"bluesky": "ada.bsky.social"}));
        let identities = c["identities"].as_array().unwrap();
        assert_eq!(identities.len(), 1);
        assert_eq!(
            (identities[0]["handle"].as_str(), identities[0]["status"].as_str()),
            (Some("ada_m"), Some("confirmed"))
        );
        assert_eq!(identities[0]["evidence"][0]["kind"], "name");
        let scores = &c["scores"];
        assert_eq!(
            (scores["signals"]["ltv"].as_f64(), scores["signals"]["orders"].as_i64()),
            (Some(1680.0), Some(5))
        );
        assert_eq!(scores["signals"]["negative_week"], 3);
        assert!(
            scores["explanation"]
                .as_str()
                .unwrap()
                .contains("3 negative posts in 7 days"),
            "{scores}"
        );
        let transactions = c["transactions"].as_array().unwrap();
        assert_eq!(transactions.len(), w.ada_transactions);
        assert_eq!(
            (
                transactions[0]["amount"].as_f64(),
                transactions[0]["reference"].as_str()
            ),
            (Some(250.0), Some("A-0"))
        );
        let posts = c["posts"].as_array().unwrap();
        assert_eq!(posts.len(), 20, "the 20 newest");
        assert_eq!(posts[0]["created_at"], TODAY - DAY_MS + HOUR_MS);
        assert_eq!(
            (posts[0]["sentiment"].as_f64(), posts[0]["sentiment_label"].as_str()),
            (Some(0.6), Some("positive"))
        );
        assert_eq!(
            (posts[0]["intent"].as_str(), posts[0]["topics"].clone()),
            (Some("praise"), json!(["battery"]))
        );
        assert_eq!(posts[0]["contact"]["id"], w.ada);
        let bob = viewer.ok(&format!("/contacts/{}", w.bob)).await;
        assert_eq!(bob["identities"][0]["status"], "proposed");
        assert!(
            bob["posts"].as_array().unwrap().is_empty(),
            "a proposal is not the contact's yet"
        );

        // Timeline and transactions, paged: each item once, newest first.
        let timeline = viewer.walk(&format!("/contacts/{}/timeline?", w.ada), 7).await;
        assert_once(&ids(&timeline), w.ada_posts);
        let times: Vec<i64> = timeline.iter().map(|p| p["created_at"].as_i64().unwrap()).collect();
        assert!(times.windows(2).all(|t| t[0] > t[1]), "{times:?}");
        let paid = viewer.walk(&format!("/contacts/{}/transactions?", w.ada), 2).await;
        assert_once(&ids(&paid), w.ada_transactions);
        let amounts: Vec<f64> = paid.iter().map(|t| t["amount"].as_f64().unwrap()).collect();
        assert_eq!(
            amounts,
            [250.0, 60.0, 90.0, 1200.0, 80.0],
            "same day: the later id first"
        );

        // Unknown contacts and bad parameters: the error body.
        for path in [
            "/contacts/999999",
            "/contacts/999999/timeline",
            "/contacts/999999/transactions",
        ] {
            let (status, body) = viewer.get(path).await;
            assert_error(status, &body, 404, "not-found");
        }
        for path in [
            "/contacts/abc",
            "/contacts?limit=0",
            "/contacts?cursor=zz!",
            "/contacts?color=red",
        ] {
            let (status, body) = viewer.get(path).await;
            assert_error(status, &body, 400, "bad-request");
        }

        // The review queue, most confident first, paged.
        let queue = viewer.walk("/identity-links?status=proposed", 1).await;
        assert_eq!(ids(&queue), w.proposals);
        assert_eq!(queue[0]["evidence"][0]["source"], "display_name");
        assert_once(&ids(&viewer.walk("/identity-links?", 1).await), 3);
        let (status, body) = viewer.get("/identity-links?status=maybe").await;
        assert_error(status, &body, 400, "bad-request");

        // Decisions: agents only, audited with the token's name.
        let [to_confirm, to_reject] = w.proposals;
        let (status, body) = viewer
            .post(&format!("/identity-links/{to_confirm}/confirm"), None)
            .await;
        assert_error(status, &body, 403, "forbidden");
        let (status, link) = agent.post(&format!("/identity-links/{to_confirm}/confirm"), None).await;
        assert_eq!(status, 200, "{link}");
        assert_eq!(
            (link["status"].as_str(), link["decided_by"].as_str()),
            (Some("confirmed"), Some("agent-1"))
        );
        let entry = &audit_entries(db.pool(), 1).await.unwrap()[0];
        assert_eq!(
            (entry.actor.as_str(), entry.action.as_str(), entry.subject.as_str()),
            (
                "agent-1",
                "identity.confirm",
                format!("identity_link:{to_confirm}").as_str()
            )
        );
        let (status, link) = agent.post(&format!("/identity-links/{to_reject}/reject"), None).await;
        assert_eq!((status, link["status"].as_str()), (200, Some("rejected")));
        let (status, body) = agent.post(&format!("/identity-links/{to_reject}/reject"), None).await;
        assert_error(status, &body, 409, "conflict");
        let (status, link) = agent.post(&format!("/identity-links/{to_confirm}/unlink"), None).await;
        assert_eq!((status, link["status"].as_str()), (200, Some("rejected")));
        for action in ["confirm", "reject", "unlink"] {
            let (status, body) = agent.post(&format!("/identity-links/999999/{action}"), None).await;
            assert_error(status, &body, 404, "not-found");
        }
        let manual = json!({"identity_id": w.crowd, "contact_id": w.bob});
        let (status, link) = agent.post("/identity-links", Some(manual)).await;
        assert_eq!(status, 201, "{link}");
        assert_eq!(
            (link["method"].as_str(), link["status"].as_str()),
            (Some("manual"), Some("confirmed"))
        );
        assert_eq!(audit_entries(db.pool(), 1).await.unwrap()[0].actor, "agent-1");
        let (status, body) = agent
            .post(
                "/identity-links",
                Some(json!({"identity_id": w.crowd, "contact_id": w.bob})),
            )
            .await;
        assert_error(status, &body, 409, "conflict");
        let (status, body) = agent
            .post(
                "/identity-links",
                Some(json!({"identity_id": w.crowd, "contact_id": 999999})),
            )
            .await;
        assert_error(status, &body, 404, "not-found");
        let (status, body) = agent
            .post(
                "/identity-links",
                Some(json!({"identity_id": w.crowd, "contact_id": w.bob, "x": 1})),
            )
            .await;
        assert_error(status, &body, 422, "invalid-body");

        // Insights.
        let trend = viewer
            .ok(&format!(
                "/insights/trends?topic=shipping&bucket=day&since={}&until={}",
                TODAY - 2 * DAY_MS,
                TODAY + DAY_MS
            ))
            .await;
        let points: Vec<(i64, i64, i64)> = trend["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p["start"].as_i64().unwrap(),
                    p["posts"].as_i64().unwrap(),
                    p["negative"].as_i64().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            points,
            [(TODAY - 2 * DAY_MS, 6, 1), (TODAY - DAY_MS, 6, 1), (TODAY, 30, 24)]
        );
        let weekly = viewer
            .ok(&format!(
                "/insights/trends?bucket=week&since={}&until={NOW}",
                NOW - 21 * DAY_MS
            ))
            .await;
        assert_eq!(weekly["items"].as_array().unwrap().len(), 4, "{weekly}");
        for bad in [
            "bucket=year",
            "since=10&until=5",
            "since=0&until=1796040000000",
            "since=-9223372036854775808&until=9223372036854775807",
        ] {
            let (status, body) = viewer.get(&format!("/insights/trends?{bad}")).await;
            assert_error(status, &body, 400, "bad-request");
        }

        let topics = viewer
            .ok(&format!(
                "/insights/topics?since={}&until={}",
                TODAY - 3 * DAY_MS,
                TODAY + DAY_MS
            ))
            .await;
        let counts: Vec<(&str, i64, i64)> = topics["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                (
                    t["topic"].as_str().unwrap(),
                    t["posts"].as_i64().unwrap(),
                    t["negative"].as_i64().unwrap(),
                )
            })
            .collect();
        assert_eq!(counts, [("shipping", 48, 27), ("battery", 3, 1)]);
        let mean = topics["items"][1]["mean_sentiment"].as_f64().unwrap();
        assert!((mean - (0.6 - 0.3 + 0.6) / 3.0).abs() < 1e-9, "{mean}");

        let (status, body) = viewer.get("/insights/topics?until=-1").await;
        assert_error(status, &body, 400, "bad-request");

        let alerts = viewer.ok("/insights/alerts").await;
        let alerts = alerts["items"].as_array().unwrap();
        assert_eq!(alerts.len(), 1, "{alerts:?}");
        assert_eq!(
            (alerts[0]["subject"].as_str(), alerts[0]["bucket_start"].as_i64()),
            (Some("shipping"), Some(TODAY))
        );
        assert_eq!(
            (alerts[0]["posts"].as_i64(), alerts[0]["negative"].as_i64()),
            (Some(30), Some(24))
        );
        assert_eq!(alerts[0]["signals"], json!(["volume", "negative-share"]));

        let advocates = viewer.ok("/insights/advocates").await;
        let top = &advocates["items"][0];
        assert_eq!(
            (top["contact_id"].as_i64(), top["points"].as_i64()),
            (Some(w.ada), Some(13)),
            "{advocates}"
        );
        assert_eq!(top["explanation"], "13 positive mentions (+13)");
        assert_eq!(top["events"].as_array().unwrap().len(), 13);
        assert_eq!(top["events"][0]["evidence"]["sentiment"], 0.6);
        assert_eq!(advocates["items"].as_array().unwrap().len(), 1);

        let churn = viewer.ok("/insights/churn?limit=2").await;
        assert_eq!(churn["items"].as_array().unwrap().len(), 2);
        assert_eq!(churn["items"][0]["contact_id"], w.ada);
        assert_eq!(churn["items"][0]["name"], "Ada Lovelace");

        // Recompute: admins only, audited; scores as of now, not NOW.
        let (status, body) = agent.post("/insights/recompute", None).await;
        assert_error(status, &body, 403, "forbidden");
        let (status, report) = admin.post("/insights/recompute", None).await;
        assert_eq!(status, 200, "{report}");
        assert!(
            report["posts_changed"].is_u64() && report["contacts_changed"].is_u64(),
            "{report}"
        );
        let entry = &audit_entries(db.pool(), 1).await.unwrap()[0];
        assert_eq!(
            (entry.actor.as_str(), entry.action.as_str()),
            ("admin-1", "insights.recompute")
        );
    })
    .await;
}

/// The customer confirms a proposed link from a verification link: the page
/// names the social account only, a GET changes nothing, the POST confirms
/// once (audited as the customer), and a used or unknown token gets the same
/// 404 page.
#[tokio::test(flavor = "multi_thread")]
async fn a_customer_confirms_a_link_from_a_verification_link() {
    common::on_each_db(|db| async move {
        let w = seed(&db).await;
        let server = start(&db).await;
        let viewer = Client::new(&server, &db, "viewer-1", Role::Viewer).await;
        let agent = Client::new(&server, &db, "agent-1", Role::Agent).await;
        let [proposal, other] = w.proposals;
        let path = format!("/identity-links/{proposal}/verification");
        let (status, body) = viewer.post(&path, None).await;
        assert_error(status, &body, 403, "forbidden");
        let (status, made) = agent.post(&path, None).await;
        assert_eq!(status, 201, "{made}");
        let page_path = made["path"].as_str().unwrap().to_string();
        assert!(page_path.starts_with("/verify/") && page_path.len() > 40, "{page_path}");
        let url = format!("{}{page_path}", server.root);
        let http = reqwest::Client::new();

        let shown = http.get(&url).send().await.unwrap();
        assert_eq!(shown.status(), 200);
        assert_eq!(shown.headers()["referrer-policy"], "no-referrer");
        assert_eq!(shown.headers()["cache-control"], "no-store");
        let html = shown.text().await.unwrap();
        let queue = agent.ok("/identity-links?status=proposed&limit=200").await;
        let link = queue["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["id"] == proposal)
            .unwrap();
        assert!(
            html.contains(&format!("@{}", link["handle"].as_str().unwrap())),
            "{html}"
        );
        for crm in ["contact_name", "contact_external_id"] {
            let value = link[crm].as_str().unwrap();
            assert!(!html.contains(value), "no CRM data on the page: {crm} {value}");
        }
        let still: String = sqlx::query_scalar("SELECT status FROM identity_links WHERE id = $1")
            .bind(proposal)
            .fetch_one(db.pool())
            .await
            .unwrap();
        assert_eq!(still, "proposed", "a GET confirms nothing");

        let done = http.post(&url).send().await.unwrap();
        assert_eq!(done.status(), 200);
        let (status, link) = agent.post(&format!("/identity-links/{proposal}/confirm"), None).await;
        assert_error(status, &link, 409, "conflict");
        let entry = &audit_entries(db.pool(), 1).await.unwrap()[0];
        assert_eq!(
            (entry.actor.as_str(), entry.action.as_str()),
            ("customer", "identity.verify")
        );
        let confirmed = viewer.ok("/identity-links?status=confirmed").await;
        let confirmed = confirmed["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["id"] == proposal)
            .cloned()
            .unwrap();
        assert_eq!(confirmed["method"], "verification-link");
        assert_eq!(confirmed["decided_by"], "customer");

        // Used: the same answer as a token never made.
        for url in [url.clone(), format!("{}/verify/not-a-token", server.root)] {
            for response in [
                http.get(&url).send().await.unwrap(),
                http.post(&url).send().await.unwrap(),
            ] {
                assert_eq!(response.status(), 404, "{url}");
            }
        }
        // Only proposed links get one.
        let (status, body) = agent.post(&format!("/identity-links/{other}/reject"), None).await;
        assert_eq!(status, 200, "{body}");
        let (status, body) = agent.post(&format!("/identity-links/{other}/verification"), None).await;
        assert_error(status, &body, 409, "conflict");
    })
    .await;
}
