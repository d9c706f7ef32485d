//! Responses against a fake Mastodon: templates checked when saved and
//! rendered per recipient, micro and macro responses with a status per
//! recipient, retries that send only what failed, and approval by a second
//! person. On SQLite and PostgreSQL.

mod common;

use std::collections::BTreeSet;

use serde_json::json;
use socialcrm::ingest::Ingest;
use socialcrm::responses::{self, Audience, Content, MacroRequest, ResponseError, TemplateError, Variable};
use socialcrm::store::{Db, audit_entries};
use socialcrm_fakes::FakeMastodon;
use sqlx::Row;

const DAY_MS: i64 = 86_400_000;
/// The day of the test topic's posts (an alert's bucket).
const DAY: i64 = 19_000 * DAY_MS;
/// A status the fake does not know until the test pushes it: replies to it fail.
const MISSING_STATUS: &str = "424242";

/// The fake network, and the `brand` channel on it synced.
async fn setup(db: &Db, plugin: &str) -> (FakeMastodon, Ingest) {
    common::brand::mastodon_brand(db, plugin, "test").await
}

/// The newest `n` inbound posts of distinct authors: (id, external id).
async fn posts(db: &Db, n: usize) -> Vec<(i64, String)> {
    let rows = sqlx::query(
        "SELECT id, external_id, identity_id FROM posts WHERE direction = 'inbound' ORDER BY created_at DESC, id DESC",
    )
    .fetch_all(db.pool())
    .await
    .unwrap();
    let mut authors = BTreeSet::new();
    rows.iter()
        .filter(|r| authors.insert(r.get::<i64, _>("identity_id")))
        .take(n)
        .map(|r| (r.get("id"), r.get("external_id")))
        .collect()
}

/// Links the author of `post` to a contact with two orders (the later one is "A-1001").
async fn link_contact(db: &Db, post: i64) {
    let contact: i64 = sqlx::query(
        "INSERT INTO contacts (external_id, name, created_at, updated_at) VALUES ('c1', 'Maya Lopez', 0, 0) RETURNING id",
    )
    .fetch_one(db.pool())
    .await
    .unwrap()
    .get("id");
    sqlx::query(
        "INSERT INTO identity_links (identity_id, contact_id, method, confidence, status, created_at, updated_at) \
         SELECT identity_id, $1, 'manual', 1.0, 'confirmed', 0, 0 FROM posts WHERE id = $2",
    )
    .bind(contact)
    .bind(post)
    .execute(db.pool())
    .await
    .unwrap();
    for (key, at, reference, product) in [("t1", 1_000, "A-0999", "Helmet"), ("t2", 2_000, "A-1001", "Trail bike")] {
        sqlx::query(
            "INSERT INTO transactions (external_id, contact_id, kind, amount, currency, occurred_at, reference, \
             product, created_at, updated_at) VALUES ($1, $2, 'purchase', 100.0, 'EUR', $3, $4, $5, 0, 0)",
        )
        .bind(key)
        .bind(contact)
        .bind(at)
        .bind(reference)
        .bind(product)
        .execute(db.pool())
        .await
        .unwrap();
    }
}

/// Files `post` under `topic` at time `at` (as insights would from an analysis).
async fn tag(db: &Db, post: i64, topic: &str, at: i64) {
    sqlx::query(
        "INSERT INTO post_topics (topic, post_id, identity_id, created_at, sentiment) \
         SELECT $1, id, identity_id, $2, -0.5 FROM posts WHERE id = $3",
    )
    .bind(topic)
    .bind(at)
    .bind(post)
    .execute(db.pool())
    .await
    .unwrap();
}

/// A stored post the fake network does not know (so a reply to it fails).
async fn missing_post(db: &Db) -> i64 {
    sqlx::query(
        "INSERT INTO posts (channel_id, external_id, identity_id, kind, direction, text, created_at, raw, ingested_at) \
         SELECT channel_id, $1, identity_id, kind, 'inbound', 'where is my order?', 0, '{}', 0 \
         FROM posts WHERE direction = 'inbound' ORDER BY id LIMIT 1 RETURNING id",
    )
    .bind(MISSING_STATUS)
    .fetch_one(db.pool())
    .await
    .unwrap()
    .get("id")
}

async fn actions(db: &Db, prefix: &str) -> Vec<(String, String)> {
    audit_entries(db.pool(), 500)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action.starts_with(prefix))
        .map(|e| (e.action, e.actor))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn templates_render_per_recipient_and_micro_responses_send_once() {
    let plugin = common::plugin_dir("plugins/mastodon");
    let plugin = &plugin.path().display().to_string();
    common::on_each_db(|db| async move {
        let (network, ingest) = setup(&db, plugin).await;
        let found = posts(&db, 2).await;
        let ((linked, linked_external), (unlinked, _)) = (found[0].clone(), found[1].clone());
        link_contact(&db, linked).await;

        // Refused when saved: an unknown variable (named), a bad name, an empty body.
        let err = responses::save_template(&db, "typo", "Hi {{contact.nickname}}!", "agent")
            .await
            .unwrap_err();
        assert!(
            matches!(&err, ResponseError::Template(TemplateError::UnknownVariable { name }) if name == "contact.nickname"),
            "{err:?}"
        );
        assert!(err.to_string().contains("{{contact.nickname}}"), "{err}");
        assert!(matches!(
            responses::save_template(&db, "two words", "Hi", "agent").await,
            Err(ResponseError::TemplateName(_))
        ));
        assert!(matches!(
            responses::save_template(&db, "empty", "  ", "agent").await,
            Err(ResponseError::Reply(_))
        ));
        let body = "Hi {{contact.first_name|there}}, about {{order.reference}} ({{ order.product }}) on {{channel.name}}";
        let saved = responses::save_template(&db, "late", body, "agent").await.unwrap();
        assert_eq!(
            saved.variables,
            [Variable::ContactFirstName, Variable::OrderReference, Variable::OrderProduct, Variable::ChannelName]
        );

        // CRM data for an author who is no confirmed customer refuses a micro
        // response; the same template renders for a linked author.
        let late = Content::Template("late".into());
        let err = responses::create_micro(&db, unlinked, &late, "agent").await.unwrap_err();
        assert!(
            matches!(err, ResponseError::Unconfirmed { variable: Variable::OrderReference, post_id, proposed: false } if post_id == unlinked),
            "{err:?}"
        );
        assert!(matches!(
            responses::create_micro(&db, linked, &Content::Template("nope".into()), "agent").await,
            Err(ResponseError::NoTemplate(_))
        ));
        let micro = responses::create_micro(&db, linked, &late, "agent").await.unwrap();
        assert_eq!(micro.text, "Hi Maya, about A-1001 (Trail bike) on brand");
        assert_eq!((micro.kind.as_str(), micro.status.as_str()), ("micro", "approved"));
        assert_eq!(micro.template.as_deref(), Some("late"));
        assert!(network.posted().is_empty(), "created, not sent");

        let sent = responses::send(&ingest, micro.id, "agent").await.unwrap();
        assert_eq!(sent.status, "sent");
        assert_eq!(sent.counts.sent, 1);
        let posted = network.posted();
        assert_eq!(posted.len(), 1);
        assert_eq!(posted[0]["in_reply_to_id"].as_str(), Some(linked_external.as_str()));
        assert!(posted[0]["content"].as_str().unwrap_or_default().contains("Hi Maya"), "{}", posted[0]);
        let recipients = responses::recipients(&db, micro.id).await.unwrap();
        assert_eq!(recipients.len(), 1);
        assert_eq!(recipients[0].external_id.as_deref(), posted[0]["id"].as_str());
        // Sent is final: sending again posts nothing.
        assert_eq!(responses::send(&ingest, micro.id, "agent").await.unwrap().status, "sent");
        assert_eq!(network.posted().len(), 1);

        // Given text may use variables too; a macro skips the post without a value.
        tag(&db, linked, "orders", DAY).await;
        tag(&db, unlinked, "orders", DAY).await;
        let request = MacroRequest {
            channel: "brand".into(),
            broadcast: Content::Text("Orders are shipping again.".into()),
            reply: Some(late.clone()),
            audience: Some(Audience::Topic {
                topic: "orders".into(),
                since: None,
            }),
        };
        let made = responses::create_macro(&db, &request, "agent").await.unwrap();
        assert_eq!((made.counts.queued, made.counts.skipped), (1, 1));
        let skipped = responses::recipients(&db, made.id).await.unwrap();
        let skipped = skipped.iter().find(|r| r.post_id == unlinked).unwrap();
        assert_eq!((skipped.status.as_str(), skipped.text.as_deref()), ("skipped", None));
        assert!(skipped.error.as_deref().unwrap_or_default().contains("{{order.reference}}"), "{skipped:?}");

        assert_eq!(responses::templates(&db).await.unwrap().len(), 1);
        responses::remove_template(&db, "late", "agent").await.unwrap();
        assert!(responses::templates(&db).await.unwrap().is_empty());
        assert!(matches!(
            responses::remove_template(&db, "late", "agent").await,
            Err(ResponseError::NoTemplate(_))
        ));
        let audited = actions(&db, "template.").await;
        assert!(audited.contains(&("template.save".into(), "agent".into())));
        assert!(audited.contains(&("template.remove".into(), "agent".into())));
    })
    .await;
}

/// A stranger who writes a customer's email and order number (in a bio, in a
/// post) is proposed as that customer, not confirmed: a templated reply does
/// not hand them the customer's name and orders until a person confirms.
#[tokio::test(flavor = "multi_thread")]
async fn a_text_claimed_identity_reveals_no_crm_data() {
    let plugin = common::plugin_dir("plugins/mastodon");
    let plugin = &plugin.path().display().to_string();
    common::on_each_db(|db| async move {
        let (network, ingest) = setup(&db, plugin).await;
        socialcrm::crm::import::contacts(
            &db,
            "id,name,email\nC1,Maya Lopez,maya@example.com\n".as_bytes(),
            &|_| {},
        )
        .await
        .unwrap();
        network.push_mention(json!({
            "content": "<p>@brand my order A-1001 never came. Maya Lopez, maya@example.com</p>",
            "visibility": "public",
            "account": {"id": "666", "username": "notmaya", "acct": "notmaya@evil.example",
                        "display_name": "Maya Lopez", "note": "<p>maya@example.com</p>", "fields": []},
        }));
        ingest.sync_now("brand", "test", &|_| {}).await.unwrap();
        let post: i64 = sqlx::query_scalar(
            "SELECT p.id FROM posts p JOIN identities i ON i.id = p.identity_id WHERE i.external_user_id = '666'",
        )
        .fetch_one(db.pool())
        .await
        .unwrap();
        let link: (i64, String, f64) = sqlx::query_as(
            "SELECT l.id, l.status, l.confidence FROM identity_links l JOIN posts p ON p.identity_id = l.identity_id \
             WHERE p.id = $1",
        )
        .bind(post)
        .fetch_one(db.pool())
        .await
        .unwrap();
        assert_eq!(
            (link.1.as_str(), link.2),
            ("proposed", 0.95),
            "claims propose, capped below certainty"
        );

        let greeting = Content::Text("Hi {{contact.first_name}}, we are on it".into());
        let err = responses::create_micro(&db, post, &greeting, "agent")
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                ResponseError::Unconfirmed {
                    variable: Variable::ContactFirstName,
                    proposed: true,
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(err.to_string().contains("awaits review"), "{err}");
        // A default reveals nothing, so it renders.
        let safe = Content::Text("Hi {{contact.first_name|there}}, we are on it".into());
        let made = responses::create_micro(&db, post, &safe, "agent").await.unwrap();
        assert_eq!(made.text, "Hi there, we are on it");

        // A person confirms: now the author is the customer.
        socialcrm::crm::identity::confirm(&db, link.0, "agent").await.unwrap();
        let made = responses::create_micro(&db, post, &greeting, "agent").await.unwrap();
        assert_eq!(made.text, "Hi Maya, we are on it");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn macro_responses_report_each_recipient_and_retry_only_failures() {
    let plugin = common::plugin_dir("plugins/mastodon");
    let plugin = &plugin.path().display().to_string();
    common::on_each_db(|db| async move {
        let (network, ingest) = setup(&db, plugin).await;
        let found = posts(&db, 3).await;
        let failing = missing_post(&db).await;
        for (post, _) in &found[..2] {
            tag(&db, *post, "shipping", DAY + 3_600_000).await;
        }
        tag(&db, failing, "shipping", DAY + 7_200_000).await;
        tag(&db, found[2].0, "shipping", DAY - 3 * DAY_MS).await;
        let alert: i64 = sqlx::query(
            "INSERT INTO alerts (kind, scope, subject, bucket_start, signals, posts, negative, baseline_posts, \
             baseline_negative_share, examples, message, status, created_at, updated_at) \
             VALUES ('spike', 'topic', 'shipping', $1, 'volume', 3, 3, 0.5, 0.1, '[]', 'shipping spike', 'open', 0, 0) \
             RETURNING id",
        )
        .bind(DAY)
        .fetch_one(db.pool())
        .await
        .unwrap()
        .get("id");

        let reply = Content::Text("Hi @{{author.handle}}, a fix is on its way.".into());
        let mut request = MacroRequest {
            channel: "brand".into(),
            broadcast: Content::Text("Known issue on {{channel.name}}: shipping is delayed.".into()),
            reply: Some(reply.clone()),
            audience: None,
        };
        assert!(matches!(
            responses::create_macro(&db, &request, "agent").await,
            Err(ResponseError::RepliesWithoutAudience)
        ));
        // The whole topic, or from a time on; the alert is its day only.
        request.audience = Some(Audience::Topic {
            topic: "shipping".into(),
            since: None,
        });
        let whole = responses::create_macro(&db, &request, "agent").await.unwrap();
        assert_eq!(whole.counts.queued, 4);
        request.audience = Some(Audience::Topic {
            topic: "shipping".into(),
            since: Some(DAY),
        });
        assert_eq!(
            responses::create_macro(&db, &request, "agent")
                .await
                .unwrap()
                .counts
                .queued,
            3
        );
        let broadcast_with_author = MacroRequest {
            broadcast: reply.clone(),
            ..request.clone()
        };
        assert!(matches!(
            responses::create_macro(&db, &broadcast_with_author, "agent").await,
            Err(ResponseError::BroadcastVariable(Variable::AuthorHandle))
        ));
        request.audience = Some(Audience::Alert(alert));
        let made = responses::create_macro(&db, &request, "agent").await.unwrap();
        assert_eq!((made.kind.as_str(), made.status.as_str()), ("macro", "approved"));
        assert_eq!(made.text, "Known issue on brand: shipping is delayed.");
        assert_eq!((made.topic.as_deref(), made.alert_id), (Some("shipping"), Some(alert)));
        assert_eq!(made.counts.queued, 3);

        // One recipient's post is unknown to the network: that reply fails, the rest go.
        let first = responses::send(&ingest, made.id, "agent").await.unwrap();
        assert_eq!(first.status, "partially-failed");
        assert_eq!(first.broadcast.as_ref().map(|b| b.status.as_str()), Some("sent"));
        assert_eq!((first.counts.sent, first.counts.failed), (2, 1));
        let recipients = responses::recipients(&db, made.id).await.unwrap();
        let failed = recipients.iter().find(|r| r.post_id == failing).unwrap();
        assert_eq!(failed.status, "failed");
        assert!(
            failed.error.as_deref().unwrap_or_default().contains("404"),
            "{failed:?}"
        );
        assert!(
            recipients
                .iter()
                .filter(|r| r.post_id != failing)
                .all(|r| r.status == "sent")
        );
        let posted = network.posted();
        assert_eq!(posted.len(), 3, "the broadcast and two replies");
        assert!(posted[0]["in_reply_to_id"].is_null(), "the broadcast answers nothing");

        // Once the post exists, a retry sends only the failed reply.
        network.push_mention(json!({"id": MISSING_STATUS, "content": "<p>where is my order?</p>"}));
        let retried = responses::send(&ingest, made.id, "agent").await.unwrap();
        assert_eq!(retried.status, "sent");
        assert_eq!((retried.counts.sent, retried.counts.failed), (3, 0));
        let posted = network.posted();
        assert_eq!(posted.len(), 4);
        assert_eq!(posted[3]["in_reply_to_id"].as_str(), Some(MISSING_STATUS));
        let targets: BTreeSet<String> = posted[1..]
            .iter()
            .map(|p| p["in_reply_to_id"].as_str().unwrap_or_default().to_string())
            .collect();
        assert_eq!(targets.len(), 3, "one reply per post");

        // A crash after a reply went out but before its recipient was marked:
        // resuming finds the sent reply and posts nothing again.
        sqlx::query("UPDATE response_recipients SET status = 'queued' WHERE response_id = $1")
            .bind(made.id)
            .execute(db.pool())
            .await
            .unwrap();
        sqlx::query("UPDATE responses SET status = 'sending', broadcast_reply_id = NULL WHERE id = $1")
            .bind(made.id)
            .execute(db.pool())
            .await
            .unwrap();
        let resumed = responses::send(&ingest, made.id, "agent").await.unwrap();
        assert_eq!((resumed.status.as_str(), resumed.counts.sent), ("sent", 3));
        assert_eq!(resumed.broadcast.map(|b| b.id), first.broadcast.map(|b| b.id));
        assert_eq!(network.posted().len(), 4, "nothing posted twice");

        let audited: Vec<String> = actions(&db, "response.").await.into_iter().map(|(a, _)| a).collect();
        assert!(audited.contains(&"response.partially-failed".to_string()));
        assert_eq!(audited.iter().filter(|a| *a == "response.sent").count(), 2);
        assert_eq!(audited.iter().filter(|a| *a == "response.create").count(), 3);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn approval_needs_a_second_person() {
    let plugin = common::plugin_dir("plugins/mastodon");
    let plugin = &plugin.path().display().to_string();
    common::on_each_db(|db| async move {
        let (network, ingest) = setup(&db, plugin).await;
        let post = posts(&db, 1).await[0].0;
        assert!(!responses::approval_required(&db, "brand").await.unwrap());
        responses::set_approval(&db, "brand", true, "admin").await.unwrap();
        assert!(responses::approval_required(&db, "brand").await.unwrap());
        assert!(matches!(
            responses::set_approval(&db, "nope", true, "admin").await,
            Err(ResponseError::NoChannel(_))
        ));

        // Drafting sends nothing; neither does sending before approval.
        let text = Content::Text("We're sorry, a refund is on its way.".into());
        let draft = responses::create_micro(&db, post, &text, "agent").await.unwrap();
        assert_eq!(draft.status, "pending-approval");
        assert!(matches!(
            responses::send(&ingest, draft.id, "agent").await,
            Err(ResponseError::NotApproved(_))
        ));
        // The author cannot approve their own draft.
        assert!(matches!(
            responses::approve(&ingest, draft.id, "agent").await,
            Err(ResponseError::SelfApproval(..))
        ));
        assert_eq!(responses::get(&db, draft.id).await.unwrap().status, "pending-approval");
        assert!(network.posted().is_empty());

        // Another person's approval sends it.
        let approved = responses::approve(&ingest, draft.id, "lead").await.unwrap();
        assert_eq!(approved.status, "sent");
        assert_eq!(approved.approved_by.as_deref(), Some("lead"));
        assert_eq!(network.posted().len(), 1);
        assert!(matches!(
            responses::approve(&ingest, draft.id, "lead").await,
            Err(ResponseError::NotPending { .. })
        ));

        // A rejected response is never sent.
        let other = Content::Text("Another draft".into());
        let draft = responses::create_micro(&db, post, &other, "agent").await.unwrap();
        let rejected = responses::reject(&db, draft.id, "lead", Some("wrong tone"))
            .await
            .unwrap();
        assert_eq!(rejected.status, "rejected");
        assert_eq!(
            (rejected.rejected_by.as_deref(), rejected.reason.as_deref()),
            (Some("lead"), Some("wrong tone"))
        );
        assert!(matches!(
            responses::send(&ingest, draft.id, "lead").await,
            Err(ResponseError::Rejected(_))
        ));
        assert!(matches!(
            responses::approve(&ingest, draft.id, "lead").await,
            Err(ResponseError::NotPending { .. })
        ));
        assert_eq!(network.posted().len(), 1);
        assert_eq!(responses::list(&db, Some("rejected"), 10).await.unwrap().len(), 1);

        let audited = actions(&db, "").await;
        for expected in [
            ("channel.approval", "admin"),
            ("response.create", "agent"),
            ("response.approve", "lead"),
            ("response.reject", "lead"),
        ] {
            assert!(
                audited.contains(&(expected.0.into(), expected.1.into())),
                "{expected:?} in {audited:?}"
            );
        }
    })
    .await;
}
