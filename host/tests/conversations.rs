//! Conversations over HTTP, on SQLite and PostgreSQL: a thread's posts and
//! the brand's replies in order, a post without a thread as its own
//! conversation, tombstones without their text, a contact's conversations,
//! the reply window open then closed, the cap on history, 404s, and a
//! viewer reading all of it.

mod common;

use common::http::{answer, start};

use serde_json::{Value, json};
use socialcrm::store::{Db, now_ms};
use socialcrm::tokens::{self, Role};
use sqlx::Row;

/// Inserts a row and answers its id.
async fn insert(db: &Db, sql: &str, values: Vec<Value>) -> i64 {
    let mut query = sqlx::query(sqlx::AssertSqlSafe(format!("{sql} RETURNING id"))).persistent(false);
    for v in values {
        query = match v {
            Value::Number(n) => query.bind(n.as_i64()),
            Value::Null => query.bind(None::<String>),
            other => query.bind(other.as_str().map(String::from).unwrap_or_else(|| other.to_string())),
        };
    }
    query.fetch_one(db.pool()).await.unwrap().get("id")
}

async fn execute(db: &Db, sql: &str, values: Vec<Value>) {
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql.to_string())).persistent(false);
    for v in values {
        query = match v {
            Value::Number(n) => query.bind(n.as_i64()),
            other => query.bind(other.as_str().map(String::from).unwrap_or_else(|| other.to_string())),
        };
    }
    query.execute(db.pool()).await.unwrap();
}

/// What the tests look for.
struct World {
    ada: i64,
    /// A contact with a proposed link only.
    bob: i64,
    forum: i64,
    chat: i64,
    /// The forum thread: root (Ada), Bob's comment, Ada's reply, Bob's erased comment.
    root: i64,
    comment: i64,
    answer: i64,
    erased: i64,
    /// A post of Ada's nobody answered, without a thread.
    alone: i64,
    /// Ada's direct messages, in conversation `dm-1`.
    dms: [i64; 2],
    /// The newest of the times used.
    t: i64,
}

async fn seed(db: &Db) -> World {
    let t = now_ms() - 3_600_000;
    let contact = |external: &'static str, name: &'static str| async move {
        insert(
            db,
            "INSERT INTO contacts (external_id, name, handles, created_at, updated_at) VALUES ($1, $2, '{}', 0, 0)",
            vec![json!(external), json!(name)],
        )
        .await
    };
    let (ada, bob) = (contact("C-ADA", "Ada").await, contact("C-BOB", "Bob").await);
    let channel = |name: &'static str, network: &'static str| async move {
        insert(
            db,
            "INSERT INTO channel_accounts (name, plugin, network, created_at, updated_at) VALUES ($1, $2, $2, 0, 0)",
            vec![json!(name), json!(network)],
        )
        .await
    };
    let (forum, chat) = (channel("forum", "reddit").await, channel("chat", "whatsapp").await);
    let identity = |network: &'static str, handle: &'static str, name: &'static str| async move {
        insert(
            db,
            "INSERT INTO identities (network, external_user_id, handle, display_name, first_seen, last_seen) \
             VALUES ($1, $2, $3, $4, 0, 0)",
            vec![json!(network), json!(format!("u-{handle}")), json!(handle), json!(name)],
        )
        .await
    };
    let ada_r = identity("reddit", "ada_r", "Ada L.").await;
    let bob_r = identity("reddit", "bob_r", "Bob B.").await;
    let brand_r = identity("reddit", "brand", "The Brand").await;
    let ada_w = identity("whatsapp", "+15550100", "Ada").await;
    let link = |identity: i64, contact: i64, status: &'static str| async move {
        insert(
            db,
            "INSERT INTO identity_links (identity_id, contact_id, method, confidence, status, created_at, updated_at) \
             VALUES ($1, $2, 'manual', 1.0, $3, 0, 0)",
            vec![json!(identity), json!(contact), json!(status)],
        )
        .await
    };
    link(ada_r, ada, "confirmed").await;
    link(ada_w, ada, "confirmed").await;
    link(bob_r, bob, "proposed").await;

    #[allow(clippy::too_many_arguments)]
    async fn post(
        db: &Db,
        channel: i64,
        external: &str,
        identity: i64,
        kind: &str,
        direction: &str,
        text: &str,
        thread: Option<&str>,
        at: i64,
    ) -> i64 {
        insert(
            db,
            "INSERT INTO posts (channel_id, external_id, identity_id, kind, direction, text, thread_id, created_at, \
             raw, ingested_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, '{}', $8)",
            vec![
                json!(channel),
                json!(external),
                json!(identity),
                json!(kind),
                json!(direction),
                json!(text),
                json!(thread),
                json!(at),
            ],
        )
        .await
    }
    let root = post(
        db,
        forum,
        "t3_root",
        ada_r,
        "post",
        "inbound",
        "My battery died",
        None,
        t,
    )
    .await;
    let comment = post(
        db,
        forum,
        "t1_c1",
        bob_r,
        "comment",
        "inbound",
        "Mine too",
        Some("t3_root"),
        t + 10,
    )
    .await;
    // The brand's answer to Bob, sent through socialcrm and also ingested as the brand's own post.
    let reply = |post: i64, text: &'static str, status: &'static str, external: Option<&'static str>, at: i64| {
        let values = vec![
            json!(forum),
            json!(post),
            json!(text),
            json!(format!("k-{post}-{at}")),
            json!(status),
            json!(external),
            json!(at),
        ];
        async move {
            insert(
                db,
                "INSERT INTO replies (channel_id, post_id, text, idempotency_key, status, external_id, created_by, \
                 created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, 'agent-1', $7, $7)",
                values,
            )
            .await
        }
    };
    reply(comment, "We're on it", "sent", Some("t1_brand"), t + 20).await;
    post(
        db,
        forum,
        "t1_brand",
        brand_r,
        "comment",
        "outbound",
        "We're on it",
        Some("t3_root"),
        t + 21,
    )
    .await;
    let answer = post(
        db,
        forum,
        "t1_c2",
        ada_r,
        "reply",
        "inbound",
        "Thanks!",
        Some("t3_root"),
        t + 30,
    )
    .await;
    let erased = post(
        db,
        forum,
        "t1_c3",
        bob_r,
        "comment",
        "inbound",
        "",
        Some("t3_root"),
        t + 40,
    )
    .await;
    execute(
        db,
        "UPDATE posts SET tombstone = 'erased' WHERE id = $1",
        vec![json!(erased)],
    )
    .await;
    // Another thread on the same channel: not part of this one.
    post(
        db,
        forum,
        "t3_other",
        bob_r,
        "post",
        "inbound",
        "Unrelated",
        None,
        t + 5,
    )
    .await;
    post(
        db,
        forum,
        "t1_o1",
        ada_r,
        "comment",
        "inbound",
        "Elsewhere",
        Some("t3_other"),
        t + 6,
    )
    .await;
    let alone = post(
        db,
        forum,
        "t3_alone",
        ada_r,
        "post",
        "inbound",
        "Anyone there?",
        None,
        t + 50,
    )
    .await;

    let dm1 = post(
        db,
        chat,
        "wamid.1",
        ada_w,
        "direct-message",
        "inbound",
        "Hello?",
        Some("dm-1"),
        t + 60,
    )
    .await;
    let dm2 = post(
        db,
        chat,
        "wamid.2",
        ada_w,
        "direct-message",
        "inbound",
        "Where is my order?",
        Some("dm-1"),
        t + 80,
    )
    .await;
    let template = insert(
        db,
        "INSERT INTO replies (channel_id, post_id, text, idempotency_key, status, error, created_by, created_at, \
         updated_at, template) VALUES ($1, $2, 'Your order ships today', 'k-dm', 'failed', 'window closed', \
         'agent-1', $3, $3, $4)",
        vec![
            json!(chat),
            json!(dm1),
            json!(t + 70),
            json!(json!({"name": "order_update", "language": "en", "parameters": ["today"]}).to_string()),
        ],
    )
    .await;
    assert!(template > 0);
    World {
        ada,
        bob,
        forum,
        chat,
        root,
        comment,
        answer,
        erased,
        alone,
        dms: [dm1, dm2],
        t: t + 80,
    }
}

/// A GET with `token`: status and body.
async fn get(root: &str, path: &str, token: &str) -> (u16, Value) {
    answer(
        reqwest::Client::new()
            .get(format!("{root}/api/v1{path}"))
            .bearer_auth(token),
    )
    .await
}

/// (entry, post id, text) of each message.
fn entries(conversation: &Value) -> Vec<(String, i64, Value)> {
    conversation["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["entry"].as_str().unwrap().to_string(),
                m["post_id"].as_i64().unwrap(),
                m["text"].clone(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn conversations_show_their_history_window_and_contacts() {
    common::on_each_db(|db| async move {
        let w = seed(&db).await;
        let server = start(&db).await;
        let root = &server.root;
        let viewer = tokens::create(&db, "viewer-1", Role::Viewer, "test").await.unwrap();

        // The thread, from any of its posts: oldest first, the brand's reply
        // after the post it answers and once (not again as the ingested post).
        for from in [w.root, w.comment, w.answer, w.erased] {
            let (status, c) = get(root, &format!("/posts/{from}/conversation"), &viewer).await;
            assert_eq!(status, 200, "{c}");
            assert_eq!(
                (c["channel"].as_str(), c["network"].as_str()),
                (Some("forum"), Some("reddit"))
            );
            assert_eq!(c["conversation_id"], "t3_root");
            assert_eq!(c["truncated"], false);
            assert_eq!(c["window"], Value::Null);
            assert_eq!(
                entries(&c),
                [
                    ("post".into(), w.root, json!("My battery died")),
                    ("post".into(), w.comment, json!("Mine too")),
                    ("reply".into(), w.comment, json!("We're on it")),
                    ("post".into(), w.answer, json!("Thanks!")),
                    ("post".into(), w.erased, Value::Null),
                ]
            );
            let m = &c["messages"];
            assert_eq!(m[0]["author"]["handle"], "ada_r");
            assert_eq!(m[0]["author"]["display_name"], "Ada L.");
            assert_eq!(
                (m[0]["kind"].as_str(), m[0]["direction"].as_str()),
                (Some("post"), Some("inbound"))
            );
            assert_eq!(m[0]["external_id"], "t3_root");
            assert_eq!(m[0]["tombstone"], false);
            let reply = &m[2];
            assert_eq!(reply["direction"], "outbound");
            assert_eq!(reply["status"], "sent");
            assert_eq!(reply["external_id"], "t1_brand");
            assert_eq!(reply["author"], Value::Null);
            assert!(reply["reply_id"].is_i64());
            // The erased person's comment: no text, no name.
            let gone = &m[4];
            assert_eq!(gone["tombstone"], true);
            assert_eq!(gone["author"]["handle"], "[erased]");
            assert_eq!(gone["author"]["display_name"], Value::Null);
            assert!(!gone.to_string().contains("bob"), "{gone}");
        }

        // A post without a thread is a conversation of its own.
        let (status, c) = get(root, &format!("/posts/{}/conversation", w.alone), &viewer).await;
        assert_eq!(status, 200, "{c}");
        assert_eq!(c["conversation_id"], "t3_alone");
        assert_eq!(entries(&c), [("post".into(), w.alone, json!("Anyone there?"))]);

        // A direct-message conversation, with the template reply and its window.
        let dm = format!("/posts/{}/conversation", w.dms[1]);
        let (status, c) = get(root, &dm, &viewer).await;
        assert_eq!(status, 200, "{c}");
        assert_eq!(
            (c["conversation_id"].as_str(), c["network"].as_str()),
            (Some("dm-1"), Some("whatsapp"))
        );
        assert_eq!(
            entries(&c),
            [
                ("post".into(), w.dms[0], json!("Hello?")),
                ("reply".into(), w.dms[0], json!("Your order ships today")),
                ("post".into(), w.dms[1], json!("Where is my order?")),
            ]
        );
        assert_eq!(c["messages"][0]["kind"], "direct-message");
        let template = &c["messages"][1];
        assert_eq!(
            (
                template["status"].as_str(),
                template["template"].as_str(),
                template["error"].as_str()
            ),
            (Some("failed"), Some("order_update"), Some("window closed"))
        );
        assert_eq!(c["window"], Value::Null, "no window reported yet");

        let until = now_ms() + 3_600_000;
        execute(
            &db,
            "INSERT INTO conversation_windows (channel_id, conversation_id, open_until) VALUES ($1, 'dm-1', $2)",
            vec![json!(w.chat), json!(until)],
        )
        .await;
        let (_, c) = get(root, &dm, &viewer).await;
        assert_eq!(c["window"], json!({"open_until": until, "open": true}));
        let closed = now_ms() - 60_000;
        execute(
            &db,
            "UPDATE conversation_windows SET open_until = $1 WHERE channel_id = $2",
            vec![json!(closed), json!(w.chat)],
        )
        .await;
        let (_, c) = get(root, &dm, &viewer).await;
        assert_eq!(c["window"], json!({"open_until": closed, "open": false}));
        // Another channel's window of the same id is not this conversation's.
        execute(
            &db,
            "INSERT INTO conversation_windows (channel_id, conversation_id, open_until) VALUES ($1, 't3_alone', $2)",
            vec![json!(w.chat), json!(until)],
        )
        .await;
        let (_, c) = get(root, &format!("/posts/{}/conversation", w.alone), &viewer).await;
        assert_eq!(c["window"], Value::Null);

        // Ada's conversations: the most recently active first, each with its
        // size, newest message and the post to open.
        let (status, list) = get(root, &format!("/contacts/{}/conversations", w.ada), &viewer).await;
        assert_eq!(status, 200, "{list}");
        assert_eq!(list["truncated"], false);
        let items = list["items"].as_array().unwrap();
        let ids: Vec<&str> = items.iter().map(|i| i["conversation_id"].as_str().unwrap()).collect();
        assert_eq!(ids, ["dm-1", "t3_alone", "t3_root", "t3_other"]);
        let dm = &items[0];
        assert_eq!(
            (dm["channel"].as_str(), dm["network"].as_str()),
            (Some("chat"), Some("whatsapp"))
        );
        assert_eq!(dm["messages"], 3);
        assert_eq!(dm["last_message_at"], w.t);
        assert_eq!(dm["snippet"], "Where is my order?");
        assert_eq!(dm["latest_post_id"], w.dms[1]);
        assert_eq!(dm["window"], json!({"open_until": closed, "open": false}));
        let thread = &items[2];
        // Five posts (with the brand's own) and the reply; the newest is the erased comment.
        assert_eq!(thread["messages"], 6);
        assert_eq!(thread["snippet"], Value::Null);
        assert_eq!(thread["latest_post_id"], w.erased);
        assert_eq!(thread["window"], Value::Null);
        assert_eq!(items[1]["messages"], 1);
        assert_eq!(items[1]["latest_post_id"], w.alone);
        assert_eq!(items[3]["messages"], 2);

        // A proposed link is no one's conversation; nor is an unknown id.
        let (status, list) = get(root, &format!("/contacts/{}/conversations", w.bob), &viewer).await;
        assert_eq!((status, list), (200, json!({"items": [], "truncated": false})));
        let (status, body) = get(root, "/contacts/999999/conversations", &viewer).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (404, Some("not-found")),
            "{body}"
        );
        let (status, body) = get(root, "/posts/999999/conversation", &viewer).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (404, Some("not-found")),
            "{body}"
        );
        let (status, _) =
            answer(reqwest::Client::new().get(format!("{root}/api/v1/posts/{}/conversation", w.root))).await;
        assert_eq!(status, 401);
        assert!(w.forum > 0);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_long_conversation_shows_its_newest_messages() {
    common::on_each_db(|db| async move {
        let channel = insert(
            &db,
            "INSERT INTO channel_accounts (name, plugin, network, created_at, updated_at) VALUES ('chat', 'x', 'x', 0, 0)",
            vec![],
        )
        .await;
        let person = insert(
            &db,
            "INSERT INTO identities (network, external_user_id, handle, first_seen, last_seen) VALUES ('x', 'u', 'u', 0, 0)",
            vec![],
        )
        .await;
        let mut last = 0;
        for n in 0..205 {
            last = insert(
                &db,
                "INSERT INTO posts (channel_id, external_id, identity_id, kind, direction, text, thread_id, \
                 created_at, raw, ingested_at) VALUES ($1, $2, $3, 'direct-message', 'inbound', $4, 'c', $5, '{}', 0)",
                vec![json!(channel), json!(format!("m{n}")), json!(person), json!(format!("message {n}")), json!(1000 + n)],
            )
            .await;
        }
        let server = start(&db).await;
        let viewer = tokens::create(&db, "viewer-1", Role::Viewer, "test").await.unwrap();
        let (status, c) = get(&server.root, &format!("/posts/{last}/conversation"), &viewer).await;
        assert_eq!(status, 200, "{c}");
        assert_eq!(c["truncated"], true);
        let texts: Vec<&str> = c["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["text"].as_str().unwrap())
            .collect();
        assert_eq!(texts.len(), 200);
        assert_eq!((texts[0], texts[199]), ("message 5", "message 204"));
    })
    .await;
}
