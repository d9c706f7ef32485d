//! Data-subject rights: a subject that appears in every table is exported
//! whole and erased without a trace (checked against the database's own
//! catalogue, so a table added later is checked too), other people's data
//! unchanged; erasure resumes, and no node's cache brings an erased author back.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;

use serde_json::{Value, json};
use socialcrm::ingest::{ChannelRef, KnownAuthors, PageRows, commit_pages};
use socialcrm::privacy::{self, Start, erase, export, holdings};
use socialcrm::runtime::VerifiedFields;
use socialcrm::runtime::types::{Author, Direction, Post, PostKind};
use socialcrm::secrets::SecretBox;
use socialcrm::store::{Db, catalogue, now_ms};
use sqlx::Row;

const HANDLE: &str = "zoe_quill@demo.social";
const NAME: &str = "Zoe Quillfeather";
const EMAIL: &str = "zoe.quill@example.org";
const PHONE: &str = "+44 20 7946 0958";
const TEXTS: [&str; 3] = [
    "My Blendmaster arrived cracked, order 88812, really upset",
    "Still waiting on the replacement blender, third email now",
    "Support finally answered, thanks for the replacement",
];
const OTHER_TEXT: &str = "Great blender, the smoothie setting is perfect";

async fn exec(db: &Db, sql: &str) {
    sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
        .execute(db.pool())
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

async fn id(db: &Db, sql: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_string()))
        .fetch_one(db.pool())
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

fn b64(s: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(s)
}

fn q(s: &str) -> String {
    s.replace('\'', "''")
}

/// The world: the subject (a contact and a Mastodon identity, confirmed
/// linked) in every table that can hold a person, and another customer.
async fn world(db: &Db) -> (i64, i64) {
    let now = now_ms();
    // Entries naming Zoe by handle, and by her network user id only.
    let kv = json!({ "author:109001": b64(&format!("{{\"acct\":\"{HANDLE}\"}}")), "seen:109001": b64("1796000000000"), "author:109002": b64("{\"acct\":\"oscar_pine@demo.social\"}"), "cursor": b64("5000") });
    exec(db, &format!("INSERT INTO channel_accounts (name, plugin, network, kv, created_at, updated_at) VALUES ('brand', 'mastodon', 'mastodon', '{}', {now}, {now})", q(&kv.to_string()))).await;
    let channel = id(db, "SELECT id FROM channel_accounts WHERE name = 'brand'").await;
    let handles = json!({ "mastodon": HANDLE }).to_string();
    exec(db, &format!("INSERT INTO contacts (external_id, name, email, phone, handles, created_at, updated_at) VALUES ('C-1', '{NAME}', '{EMAIL}', '{PHONE}', '{handles}', {now}, {now})")).await;
    exec(db, &format!("INSERT INTO contacts (external_id, name, email, phone, created_at, updated_at) VALUES ('C-2', 'Oscar Pine', 'oscar.pine@example.org', '+44 20 7946 0000', {now}, {now})")).await;
    let zoe_c = id(db, "SELECT id FROM contacts WHERE external_id = 'C-1'").await;
    let oscar_c = id(db, "SELECT id FROM contacts WHERE external_id = 'C-2'").await;
    for (n, (contact, amount)) in [(zoe_c, 120.0), (zoe_c, 80.0), (oscar_c, 45.5)].into_iter().enumerate() {
        exec(db, &format!("INSERT INTO transactions (external_id, contact_id, kind, amount, currency, occurred_at, reference, product, created_at, updated_at) VALUES ('T-{n}', {contact}, 'order', {amount}, 'EUR', {now}, '8881{n}', 'Blendmaster', {now}, {now})")).await;
    }
    exec(db, &format!("INSERT INTO identities (network, external_user_id, handle, display_name, profile_url, bio, fields, first_seen, last_seen) VALUES ('mastodon', '109001', '{HANDLE}', '{NAME}', 'https://demo.social/@zoe_quill', 'Smoothies. Reach me at {EMAIL}', '[{{\"name\":\"phone\",\"value\":\"{PHONE}\"}}]', {now}, {now})")).await;
    exec(db, &format!("INSERT INTO identities (network, external_user_id, handle, display_name, first_seen, last_seen) VALUES ('mastodon', '109002', 'oscar_pine@demo.social', 'Oscar Pine', {now}, {now})")).await;
    let zoe_i = id(db, "SELECT id FROM identities WHERE external_user_id = '109001'").await;
    let oscar_i = id(db, "SELECT id FROM identities WHERE external_user_id = '109002'").await;
    let evidence = json!([{ "kind": "email", "value": EMAIL, "source": "bio" }]).to_string();
    exec(db, &format!("INSERT INTO identity_links (identity_id, contact_id, method, confidence, evidence, status, decided_by, created_at, updated_at) VALUES ({zoe_i}, {zoe_c}, 'email', 0.9, '{evidence}', 'confirmed', 'agent', {now}, {now})")).await;
    exec(db, &format!("INSERT INTO identity_links (identity_id, contact_id, method, confidence, status, created_at, updated_at) VALUES ({oscar_i}, {oscar_c}, 'manual', 1.0, 'confirmed', {now}, {now})")).await;
    let link = id(
        db,
        &format!("SELECT id FROM identity_links WHERE identity_id = {zoe_i}"),
    )
    .await;
    exec(db, &format!("INSERT INTO identity_verifications (link_id, token_hash, created_by, created_at, expires_at) VALUES ({link}, 'h1', 'agent', {now}, {now})")).await;
    exec(db, &format!("INSERT INTO identity_resolution (identity_id, fingerprint, network, handle_key, crm_version, resolved_at) VALUES ({zoe_i}, 'f', 'mastodon', 'zoe_quill', 1, {now})")).await;
    let mut post_ids = Vec::new();
    for (n, text) in TEXTS.iter().enumerate() {
        let raw =
            json!({ "id": format!("z{n}"), "content": text, "account": { "acct": HANDLE, "display_name": NAME } })
                .to_string();
        let at = now - 3_600_000 * (n as i64 + 1);
        exec(db, &format!("INSERT INTO posts (channel_id, external_id, identity_id, kind, direction, text, url, created_at, raw, ingested_at) VALUES ({channel}, 'z{n}', {zoe_i}, 'mention', 'inbound', '{}', 'https://demo.social/@zoe_quill/z{n}', {at}, '{}', {now})", q(text), q(&raw))).await;
        post_ids.push(id(db, &format!("SELECT id FROM posts WHERE external_id = 'z{n}'")).await);
    }
    // Oscar's posts: one of his own, one answering Zoe by handle.
    let mention = format!("@{HANDLE} same here, ask for the replacement");
    for (ext, text, reply_to) in [
        ("o1", OTHER_TEXT.to_string(), "NULL".to_string()),
        ("o2", mention, "'z0'".to_string()),
    ] {
        let mentions: Vec<Value> = if ext == "o2" {
            vec![json!({ "acct": HANDLE })]
        } else {
            vec![]
        };
        let raw = json!({ "id": ext, "content": text, "mentions": mentions }).to_string();
        exec(db, &format!("INSERT INTO posts (channel_id, external_id, identity_id, kind, direction, text, in_reply_to, created_at, raw, ingested_at) VALUES ({channel}, '{ext}', {oscar_i}, 'reply', 'inbound', '{}', {reply_to}, {now}, '{}', {now})", q(&text), q(&raw))).await;
    }
    for (plugin, post) in [
        ("sentiment", post_ids[0]),
        ("intent", post_ids[0]),
        ("intent", post_ids[1]),
    ] {
        exec(db, &format!("INSERT INTO analyses (post_id, plugin, version, sentiment, label, intents, topics, language, created_at) VALUES ({post}, '{plugin}', '1.0.0', -0.7, 'negative', '[{{\"name\":\"complaint\",\"confidence\":0.9}}]', '[\"blender\"]', 'en', {now})")).await;
    }
    socialcrm::insights::recompute(db, now).await.expect("recompute");
    exec(db, &format!("INSERT INTO advocacy_events (key, kind, post_id, identity_id, points, evidence, occurred_at, created_at) VALUES ('k1', 'positive-mention', {}, {zoe_i}, 5, '{{}}', {now}, {now})", post_ids[2])).await;
    exec(db, &format!("INSERT INTO alerts (kind, scope, subject, bucket_start, signals, posts, negative, baseline_posts, baseline_negative_share, examples, message, status, created_at, updated_at) VALUES ('spike', 'topic', 'blender', 0, 'volume', 3, 2, 1.0, 0.1, '[{}]', 'blender spike', 'open', {now}, {now})", post_ids[0])).await;
    exec(db, &format!("INSERT INTO replies (channel_id, post_id, text, idempotency_key, status, created_by, created_at, updated_at) VALUES ({channel}, {}, 'Hi {NAME}, so sorry! We will call {PHONE}.', 'r1', 'sent', 'agent', {now}, {now})", post_ids[0])).await;
    exec(db, &format!("INSERT INTO responses (kind, channel_id, text, status, created_by, created_at, updated_at) VALUES ('micro', {channel}, 'Hi {NAME}, a replacement is on its way', 'sent', 'agent', {now}, {now})")).await;
    let response = id(db, "SELECT id FROM responses").await;
    exec(db, &format!("INSERT INTO response_recipients (response_id, post_id, text, status, updated_at) VALUES ({response}, {}, 'Hi {NAME}, a replacement is on its way', 'sent', {now})", post_ids[0])).await;
    exec(db, &format!("INSERT INTO audit_log (at, actor, action, subject, details) VALUES ({now}, 'agent', 'identity.confirm', 'identity_link:{link}', '{evidence}')")).await;
    exec(db, &format!("INSERT INTO audit_log (at, actor, action, subject, details) VALUES ({now}, 'agent', 'contact.update', 'contact:{zoe_c}', '{{\"email\":\"{EMAIL}\"}}')")).await;
    exec(db, &format!("INSERT INTO audit_log (at, actor, action, subject, details) VALUES ({now}, 'agent', 'contact.update', 'contact:{oscar_c}', '{{\"note\":\"kept\"}}')")).await;
    let data =
        json!({ "post_id": post_ids[0], "text": TEXTS[0], "author": { "identity_id": zoe_i, "handle": HANDLE } })
            .to_string();
    exec(
        db,
        &format!(
            "INSERT INTO event_outbox (uid, type, data, created_at) VALUES ('msg_1', 'post.received', '{}', {now})",
            q(&data)
        ),
    )
    .await;
    exec(db, &format!("INSERT INTO egress (at, plugin, version, account, call, method, scheme, host, port, path, request_bytes, response_bytes, duration_ms) VALUES ({now}, 'mastodon', '1.0.0', 'brand', 'poll', 'GET', 'https', 'demo.social', 443, '/api/v1/accounts/lookup?acct={HANDLE}', 0, 10, 5)")).await;
    // A shop's source records of both customers, their order lines, and the
    // proposal that two of the contacts are one person.
    exec(db, &format!("INSERT INTO channel_accounts (name, plugin, network, kind, kv, created_at, updated_at) VALUES ('shop', 'shopify', 'shopify', 'source', '{{}}', {now}, {now})")).await;
    let shop = id(db, "SELECT id FROM channel_accounts WHERE name = 'shop'").await;
    for (external, contact, email, phone, name) in [
        ("gid-1", zoe_c, EMAIL, PHONE, NAME),
        (
            "gid-2",
            oscar_c,
            "oscar.pine@example.org",
            "+44 20 7946 0000",
            "Oscar Pine",
        ),
    ] {
        exec(db, &format!("INSERT INTO source_contacts (account_id, external_id, contact_id, emails, phones, custom_fields, updated_at) VALUES ({shop}, '{external}', {contact}, '[\"{email}\"]', '[\"{phone}\"]', '{{\"nickname\":\"{name}\"}}', {now})")).await;
    }
    let zoe_t = id(db, "SELECT MIN(id) FROM transactions WHERE external_id = 'T-0'").await;
    exec(db, &format!("INSERT INTO source_transactions (account_id, external_id, transaction_id, status, updated_at) VALUES ({shop}, 'order-1', {zoe_t}, 'paid', {now})")).await;
    exec(db, &format!("INSERT INTO transaction_lines (transaction_id, position, sku, name, quantity, amount) VALUES ({zoe_t}, 0, 'BM-1', 'Blendmaster engraved for {NAME}', 1, 120.0)")).await;
    exec(db, &format!("INSERT INTO contact_match_proposals (contact_id, other_id, reason, created_at) VALUES ({}, {}, 'same email', {now})", zoe_c.min(oscar_c), zoe_c.max(oscar_c))).await;
    (zoe_c, oscar_c)
}

/// Every (table, column, row key) whose text holds `needle` (any case, anywhere).
async fn found(db: &Db, needles: &[&str]) -> BTreeSet<(String, String, String)> {
    let mut out = BTreeSet::new();
    for table in catalogue::tables(db).await.expect("catalogue") {
        if table.text_columns.is_empty() {
            continue;
        }
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT * FROM {}", table.name)))
            .fetch_all(db.pool())
            .await
            .expect("scan");
        for row in rows {
            let row = socialcrm::store::subjects::row_json(&row);
            let key: Vec<String> = table.key.iter().map(|k| row[k].to_string()).collect();
            for column in &table.text_columns {
                let text = row
                    .get(column)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_lowercase();
                if needles.iter().any(|n| text.contains(&n.to_lowercase())) {
                    out.insert((table.name.clone(), column.clone(), key.join("|")));
                }
            }
        }
    }
    out
}

fn needles() -> Vec<&'static str> {
    let mut n = vec![HANDLE, "@zoe_quill", NAME, EMAIL, PHONE, "109001"];
    n.extend(TEXTS);
    n
}

/// Oscar's rows, to check that they are unchanged but for the mention.
async fn others(db: &Db, oscar_c: i64) -> Vec<String> {
    let mut out = Vec::new();
    for sql in [
        format!("SELECT * FROM contacts WHERE id = {oscar_c}"),
        format!("SELECT * FROM transactions WHERE contact_id = {oscar_c}"),
        "SELECT * FROM identities WHERE external_user_id = '109002'".to_string(),
        format!("SELECT * FROM identity_links WHERE contact_id = {oscar_c}"),
        "SELECT id, text, raw FROM posts WHERE external_id = 'o1'".to_string(),
        format!("SELECT * FROM audit_log WHERE subject = 'contact:{oscar_c}'"),
    ] {
        for row in sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(db.pool())
            .await
            .expect("others")
        {
            out.push(Value::Object(socialcrm::store::subjects::row_json(&row)).to_string());
        }
    }
    out
}

fn archive(bytes: &[u8]) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut tar = tar::Archive::new(bytes);
    for entry in tar.entries().expect("tar") {
        let mut entry = entry.expect("entry");
        let name = entry.path().expect("path").display().to_string();
        let mut text = String::new();
        entry.read_to_string(&mut text).expect("utf-8");
        out.insert(name, text);
    }
    out
}

fn secrets() -> SecretBox {
    SecretBox::from_key(&[7u8; 32]).expect("key")
}

#[tokio::test]
async fn a_subject_is_exported_whole_and_erased_everywhere() {
    common::on_each_db(|db| async move {
        let (zoe_c, oscar_c) = world(&db).await;
        let before = found(&db, &needles()).await;
        let tables: BTreeSet<&str> = before.iter().map(|(t, _, _)| t.as_str()).collect();
        for expected in [
            "contacts",
            "identities",
            "posts",
            "identity_links",
            "replies",
            "responses",
            "response_recipients",
            "audit_log",
            "event_outbox",
            "egress",
            "channel_accounts",
        ] {
            assert!(
                tables.contains(expected),
                "the world puts the subject in {expected}: {tables:?}"
            );
        }
        let oscar_before = others(&db, oscar_c).await;

        // Export: every row that names the subject is in the archive.
        let subject = privacy::find(
            &db,
            &Start::Handle {
                network: "mastodon".into(),
                handle: format!("@{HANDLE}"),
            },
        )
        .await
        .expect("find");
        assert_eq!(
            subject.ids.contacts,
            vec![zoe_c],
            "the confirmed link joins the contact"
        );
        let held = holdings::holdings(&db, &subject).await.expect("holdings");
        let mut tar = Vec::new();
        export::export(&db, &subject, &held, "test", &mut tar)
            .await
            .expect("export");
        let files = archive(&tar);
        let manifest: Value = serde_json::from_str(&files["manifest.json"]).expect("manifest");
        for (table, _, key) in &before {
            if table == "channel_accounts" {
                let entries = files.get("plugin_data.json").expect("plugin data exported");
                assert!(entries.contains("author:109001"), "{entries}");
                assert!(!entries.contains("oscar_pine"), "only the subject's entries: {entries}");
                continue;
            }
            let rows: Vec<Value> = serde_json::from_str(
                files
                    .get(&format!("{table}.json"))
                    .unwrap_or_else(|| panic!("{table}.json missing")),
            )
            .expect("json");
            let t = catalogue::tables(&db)
                .await
                .expect("catalogue")
                .into_iter()
                .find(|t| &t.name == table)
                .expect("table");
            let keys: BTreeSet<String> = rows
                .iter()
                .map(|r| t.key.iter().map(|k| r[k].to_string()).collect::<Vec<_>>().join("|"))
                .collect();
            assert!(keys.contains(key), "row {key} of {table} is in the archive");
            assert_eq!(
                manifest["counts"][table].as_u64(),
                Some(rows.len() as u64),
                "{table} count"
            );
        }
        assert!(files["README.md"].contains("posts.json"));
        assert!(files.contains_key("transactions.csv"));
        // Analyses and scores carry no identifier but are the subject's.
        for derived in ["analyses", "post_scores", "contact_scores", "advocacy_events", "alerts"] {
            assert!(files.contains_key(&format!("{derived}.json")), "{derived} exported");
        }

        // Erase, then nothing names the subject anywhere.
        let receipt = erase::erase(&db, None, &secrets(), &subject, erase::Options::default(), "dpo")
            .await
            .expect("erase");
        let after = found(&db, &needles()).await;
        assert!(after.is_empty(), "left after the erasure: {after:?}");
        assert_eq!(others(&db, oscar_c).await, oscar_before, "Oscar's data is unchanged");
        let mention: String = sqlx::query_scalar("SELECT text FROM posts WHERE external_id = 'o2'")
            .fetch_one(db.pool())
            .await
            .expect("o2");
        assert_eq!(mention, "@[erased] same here, ask for the replacement");
        // Tombstones keep their rows (threads and re-ingest keys hold), nothing derived is left.
        let tombstones: i64 = id(
            &db,
            "SELECT COUNT(*) FROM posts WHERE tombstone = 'erased' AND text = '' AND raw = '{}'",
        )
        .await;
        assert_eq!(tombstones, 3);
        for table in [
            "analyses",
            "post_scores",
            "post_topics",
            "advocacy_events",
            "identity_links",
            "identity_verifications",
            "identity_resolution",
            "contact_scores",
            "event_outbox",
        ] {
            let left = id(
                &db,
                &format!(
                    "SELECT COUNT(*) FROM {table} WHERE {}",
                    match table {
                        "identity_links" | "contact_scores" => format!("contact_id = {zoe_c}"),
                        "identity_verifications" | "event_outbox" => "1 = 1".into(),
                        "analyses" | "post_scores" | "post_topics" | "advocacy_events" =>
                            "post_id IN (SELECT id FROM posts WHERE tombstone IS NOT NULL)".into(),
                        _ => "identity_id NOT IN (SELECT id FROM identities)".into(),
                    }
                ),
            )
            .await;
            assert_eq!(left, 0, "{table}");
        }
        let kv: String = sqlx::query_scalar("SELECT kv FROM channel_accounts WHERE name = 'brand'")
            .fetch_one(db.pool())
            .await
            .expect("kv");
        let keys: BTreeSet<String> = serde_json::from_str::<BTreeMap<String, Value>>(&kv)
            .expect("kv json")
            .into_keys()
            .collect();
        assert_eq!(
            keys,
            BTreeSet::from(["author:109002".to_string(), "cursor".to_string()]),
            "the plugin's entries about Zoe are gone, the rest stay"
        );
        let examples: String = sqlx::query_scalar("SELECT examples FROM alerts")
            .fetch_one(db.pool())
            .await
            .expect("alert");
        assert_eq!(examples, "[]", "the alert no longer quotes the erased post");
        let transactions = id(&db, "SELECT COUNT(*) FROM transactions").await;
        assert_eq!(transactions, 1, "the subject's transactions are gone, Oscar's stay");
        // The receipt: who and when, nothing about the person.
        let row = sqlx::query("SELECT status, plan, requested_by FROM erasures WHERE receipt = $1")
            .bind(&receipt)
            .fetch_one(db.pool())
            .await
            .expect("receipt");
        assert_eq!(row.try_get::<String, _>("status").unwrap(), "done");
        assert_eq!(row.try_get::<String, _>("plan").unwrap(), "{}");
        let audit: i64 = id(
            &db,
            &format!("SELECT COUNT(*) FROM audit_log WHERE action = 'subject.erased' AND details LIKE '%{receipt}%'"),
        )
        .await;
        assert_eq!(audit, 1);
        // Idempotent: erasing again finds nothing.
        assert!(
            privacy::find(&db, &Start::Contact(zoe_c)).await.is_err(),
            "the contact is gone"
        );
    })
    .await;
}

#[tokio::test]
async fn transactions_kept_for_accounting_lose_their_owner() {
    common::on_each_db(|db| async move {
        let (zoe_c, _) = world(&db).await;
        let subject = privacy::find(&db, &Start::Contact(zoe_c)).await.expect("find");
        let options = erase::Options { keep_transactions: true, do_not_track: false };
        erase::erase(&db, None, &secrets(), &subject, options, "dpo").await.expect("erase");
        let kept = sqlx::query("SELECT c.external_id, c.name, c.email, t.amount, t.reference FROM transactions t JOIN contacts c ON c.id = t.contact_id WHERE t.external_id IN ('T-0', 'T-1') ORDER BY t.external_id")
            .fetch_all(db.pool()).await.expect("kept");
        assert_eq!(kept.len(), 2, "the amounts stay");
        for row in &kept {
            assert!(row.try_get::<String, _>("external_id").unwrap().starts_with("erased:"));
            assert_eq!(row.try_get::<Option<String>, _>("name").unwrap(), None);
            assert_eq!(row.try_get::<Option<String>, _>("email").unwrap(), None);
            assert_eq!(row.try_get::<Option<String>, _>("reference").unwrap(), None, "order references could re-identify");
        }
        assert_eq!(kept[0].try_get::<f64, _>("amount").unwrap(), 120.0);
        assert!(found(&db, &needles()).await.is_empty());
    })
    .await;
}

#[tokio::test]
async fn an_interrupted_erasure_resumes_and_steps_run_again_harmlessly() {
    common::on_each_db(|db| async move {
        let (zoe_c, _) = world(&db).await;
        let subject = privacy::find(&db, &Start::Contact(zoe_c)).await.expect("find");
        // A crash right after the plan was stored: nothing erased yet.
        let receipt = erase::start(&db, &secrets(), &subject, erase::Options::default(), "dpo")
            .await
            .expect("start");
        assert!(!found(&db, &needles()).await.is_empty());
        let plan: String = sqlx::query_scalar("SELECT plan FROM erasures WHERE receipt = $1")
            .bind(&receipt)
            .fetch_one(db.pool())
            .await
            .expect("plan");
        assert_eq!(erase::resume(&db, None).await.expect("resume"), vec![receipt.clone()]);
        assert!(found(&db, &needles()).await.is_empty());
        // A crash in the middle: the steps from the fourth on run again.
        sqlx::query("UPDATE erasures SET status = 'running', step = 3, plan = $1 WHERE receipt = $2")
            .bind(&plan)
            .bind(&receipt)
            .execute(db.pool())
            .await
            .expect("reset");
        erase::resume(&db, None).await.expect("resume again");
        assert!(found(&db, &needles()).await.is_empty());
        let plan: String = sqlx::query_scalar("SELECT plan FROM erasures WHERE receipt = $1")
            .bind(&receipt)
            .fetch_one(db.pool())
            .await
            .expect("plan");
        assert_eq!(plan, "{}");
    })
    .await;
}

fn post(external_id: &str, author_id: &str, handle: &str, text: &str) -> Post {
    Post {
        external_id: external_id.into(),
        author: Author {
            external_id: author_id.into(),
            handle: handle.into(),
            display_name: Some(NAME.into()),
            profile_url: None,
            avatar_url: None,
            bio: None,
            followers: None,
            fields: Vec::new(),
        },
        kind: PostKind::Mention,
        direction: Direction::Inbound,
        text: text.into(),
        url: None,
        thread_id: None,
        in_reply_to: None,
        created_at: "2026-12-01T10:00:00Z".into(),
        language: None,
        raw: "{}".into(),
    }
}

async fn commit(db: &Db, known: &KnownAuthors, channel: i64, p: Post) -> usize {
    let posts = [p];
    let pages = [PageRows {
        posts: &posts,
        verified: &VerifiedFields::new(),
        analyses: &[],
        changes: &[],
    }];
    let channel = ChannelRef {
        id: channel,
        network: "mastodon".into(),
        lease_owner: None,
    };
    commit_pages(db, &channel, &pages, None, &Default::default(), known)
        .await
        .expect("commit")
        .new_posts
        .len()
}

#[tokio::test]
async fn no_node_brings_an_erased_author_back_and_do_not_track_holds() {
    common::on_each_db(|db| async move {
        let (zoe_c, _) = world(&db).await;
        let channel = id(&db, "SELECT id FROM channel_accounts").await;
        // Another serve node, which has stored (and remembers) Zoe's identity.
        let node = KnownAuthors::with_do_not_track(secrets());
        assert_eq!(
            commit(
                &db,
                &node,
                channel,
                post("z9", "109001", HANDLE, "One more thing about the blender")
            )
            .await,
            1
        );
        let subject = privacy::find(&db, &Start::Contact(zoe_c)).await.expect("find");
        erase::erase(&db, None, &secrets(), &subject, erase::Options::default(), "dpo")
            .await
            .expect("erase");
        // Her next post starts from nothing: a new identity, no contact, no history.
        assert_eq!(
            commit(&db, &node, channel, post("z10", "109001", HANDLE, "Hello again")).await,
            1
        );
        let identity = id(&db, "SELECT identity_id FROM posts WHERE external_id = 'z10'").await;
        let history = id(
            &db,
            &format!("SELECT COUNT(*) FROM posts WHERE identity_id = {identity}"),
        )
        .await;
        assert_eq!(history, 1, "the new identity holds only the new post");
        let links = id(
            &db,
            &format!("SELECT COUNT(*) FROM identity_links WHERE identity_id = {identity}"),
        )
        .await;
        assert_eq!(links, 0);

        // Erased again, with do-not-track: her posts are not stored any more,
        // and the list holds no handle.
        let subject = privacy::find(&db, &Start::Identity(identity)).await.expect("find");
        let options = erase::Options {
            keep_transactions: false,
            do_not_track: true,
        };
        erase::erase(&db, None, &secrets(), &subject, options, "dpo")
            .await
            .expect("erase");
        assert_eq!(
            commit(&db, &node, channel, post("z11", "109001", HANDLE, "Am I here?")).await,
            0
        );
        assert_eq!(
            commit(
                &db,
                &node,
                channel,
                post("z12", "109001-renamed", HANDLE, "New id, same handle")
            )
            .await,
            0
        );
        assert_eq!(
            commit(
                &db,
                &node,
                channel,
                post("z13", "109001", "zoe_new@demo.social", "Same id, new handle")
            )
            .await,
            0
        );
        assert_eq!(
            commit(
                &db,
                &node,
                channel,
                post("o9", "109002", "oscar_pine@demo.social", "Oscar is still heard")
            )
            .await,
            1
        );
        assert!(found(&db, &["Am I here?", "zoe_new"]).await.is_empty());
        let listed = found(&db, &[HANDLE, "109001"]).await;
        assert!(listed.is_empty(), "{listed:?}");
    })
    .await;
}
