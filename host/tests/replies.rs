//! Replies against a fake Mastodon: stored before they are sent, sent once
//! however often they are requested, failures recorded and retried, and a
//! crash between the network's answer and the commit does not post twice.
//! On SQLite and PostgreSQL.

mod common;

use socialcrm::replies::{self, ReplyError};
use socialcrm::runtime::types::{Outbound, ReplyTarget};
use socialcrm::store::{Db, audit_entries};
use socialcrm_fakes::Fault;
use sqlx::Row;

async fn newest_post(db: &Db) -> (i64, String) {
    let row = sqlx::query("SELECT id, external_id FROM posts ORDER BY created_at DESC, id DESC LIMIT 1")
        .fetch_one(db.pool())
        .await
        .unwrap();
    (row.get("id"), row.get("external_id"))
}

#[tokio::test(flavor = "multi_thread")]
async fn replies_are_recorded_sent_once_and_retried() {
    let plugin = common::plugin_dir("plugins/mastodon");
    let plugin = &plugin.path().display().to_string();
    common::on_each_db(|db| async move {
        let (network, ingest) = common::brand::mastodon_brand(&db, plugin, "test").await;
        let (post, external_id) = newest_post(&db).await;

        assert!(matches!(
            replies::queue(&db, post, "  ", None, "agent").await,
            Err(ReplyError::Empty)
        ));
        assert!(matches!(
            replies::queue(&db, 999_999, "hi", None, "agent").await,
            Err(ReplyError::NoPost(_))
        ));
        // Queued first: the row exists before anything leaves.
        let queued = replies::queue(&db, post, "Thanks, we're on it!", None, "agent")
            .await
            .unwrap();
        assert_eq!((queued.status.as_str(), queued.attempts), ("queued", 0));
        assert!(network.posted().is_empty());
        let sent = replies::send(&ingest, queued.id, "agent").await.unwrap();
        assert_eq!(sent.status, "sent");
        let posted = network.posted();
        assert_eq!(posted.len(), 1);
        assert_eq!(sent.external_id.as_deref(), posted[0]["id"].as_str());
        assert_eq!(posted[0]["in_reply_to_id"].as_str(), Some(external_id.as_str()));
        assert!(sent.url.is_some());

        // The same request again (same derived key) is the same reply, not a second post.
        let again = replies::queue(&db, post, "Thanks, we're on it!", None, "agent")
            .await
            .unwrap();
        assert_eq!(again.id, sent.id);
        let again = replies::send(&ingest, again.id, "agent").await.unwrap();
        assert_eq!((again.status.as_str(), again.attempts), ("sent", 1));
        assert_eq!(network.posted().len(), 1);

        // A failure is recorded, and a retry sends it.
        let second = replies::queue(&db, post, "One more thing", Some("k2"), "agent")
            .await
            .unwrap();
        network.fail_next(Fault::Status(503));
        let failed = replies::send(&ingest, second.id, "agent").await.unwrap();
        assert_eq!(failed.status, "failed");
        assert!(
            failed.error.as_deref().unwrap_or_default().contains("503"),
            "{failed:?}"
        );
        let retried = replies::send(&ingest, second.id, "agent").await.unwrap();
        assert_eq!((retried.status.as_str(), retried.attempts), ("sent", 2));
        assert_eq!(network.posted().len(), 2);

        // A crash after the network took the reply but before the commit: the
        // row is still queued; the retry carries the same network idempotency
        // key, so the network returns the first status instead of posting again.
        let third = replies::queue(&db, post, "Following up", None, "agent").await.unwrap();
        let stored = ingest.account("brand").await.unwrap();
        let handle: String =
            sqlx::query("SELECT i.handle FROM posts p JOIN identities i ON i.id = p.identity_id WHERE p.id = $1")
                .bind(post)
                .fetch_one(db.pool())
                .await
                .unwrap()
                .get("handle");
        let plugin = ingest.channel_plugin(plugin).await.unwrap();
        // The plugin call blocks (it runs wasm); keep it off the async workers.
        let first_try = tokio::task::block_in_place(|| {
            plugin
                .send(
                    &stored.account,
                    &Outbound {
                        text: "Following up".into(),
                        in_reply_to: Some(ReplyTarget {
                            external_id: external_id.clone(),
                            author_handle: handle,
                            thread_id: None,
                        }),
                        recipient: None,
                    },
                )
                .unwrap()
        });
        let recovered = replies::send(&ingest, third.id, "agent").await.unwrap();
        assert_eq!(recovered.status, "sent");
        assert_eq!(recovered.external_id, Some(first_try.value.external_id));
        assert_eq!(network.posted().len(), 3, "posted once");

        let listed = replies::list(&db, Some(post), 10).await.unwrap();
        assert_eq!(listed.len(), 3);
        assert!(listed.iter().all(|r| r.status == "sent"));
        let actions: Vec<String> = audit_entries(db.pool(), 50)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.action)
            .filter(|a| a.starts_with("reply."))
            .collect();
        assert_eq!(actions.iter().filter(|a| *a == "reply.sent").count(), 3);
        assert_eq!(actions.iter().filter(|a| *a == "reply.failed").count(), 1);
        assert_eq!(actions.iter().filter(|a| *a == "reply.queue").count(), 3);

        // Mastodon has no conversations with templates: refused before anything is stored,
        // and a queued one fails unsent (free text is not held to a window here).
        assert!(matches!(
            replies::check_route(&ingest, post, true).await,
            Err(ReplyError::NoTemplates(_))
        ));
        replies::check_route(&ingest, post, false).await.unwrap();
        let template = replies::ReplyTemplate {
            name: "order_update".into(),
            language: "en_US".into(),
            parameters: vec!["1042".into()],
        };
        let refused = replies::queue_template(&db, post, &template, Some("t1"), "agent")
            .await
            .unwrap();
        let refused = replies::send(&ingest, refused.id, "agent").await.unwrap();
        assert_eq!(refused.status, "failed");
        assert!(refused.error.unwrap_or_default().contains("template"));
        assert_eq!(network.posted().len(), 3, "nothing more posted");
        let bad = replies::ReplyTemplate {
            name: "Order Update".into(),
            ..template
        };
        assert!(matches!(
            replies::queue_template(&db, post, &bad, None, "agent").await,
            Err(ReplyError::BadTemplate(_))
        ));
    })
    .await;
}
