//! Channel accounts end to end against a fake Mastodon on loopback: add
//! (validated, checked by the plugin), sync page by page, list, secrets
//! encrypted at rest, failures recorded, remove. On SQLite and PostgreSQL.

mod common;

use common::map;

use serde_json::json;
use socialcrm::channels::{self, ChannelError, NewChannel};
use socialcrm::ingest::{self, Ingest, IngestError, IngestOptions, SyncReport};
use socialcrm::runtime::{Runtime, RuntimeOptions};
use socialcrm::secrets::SecretBox;
use socialcrm_fakes::mastodon::TOKEN;
use socialcrm_fakes::{FakeMastodon, Fault};
use sqlx::Row;

#[tokio::test(flavor = "multi_thread")]
async fn add_sync_list_remove() {
    let network = FakeMastodon::start().await.unwrap();
    let dir = common::plugin_dir("plugins/mastodon");
    let runtime = Runtime::new(RuntimeOptions::default()).unwrap();
    let sbox = SecretBox::from_key(&[7; 32]).unwrap();
    let (network, runtime, sbox) = (&network, &runtime, &sbox);
    let plugin = dir.path().display().to_string();
    let plugin = &plugin;
    common::on_each_db(move |db| async move {
        let channel = |config: &[(&str, &str)], secrets: &[(&str, &str)]| NewChannel {
            name: "brand".into(),
            plugin: plugin.clone(),
            config: map(config),
            secrets: map(secrets),
            allow_private: true,
        };
        let base = network.base_url();
        let ingest = Ingest::new(
            db.clone(),
            sbox.clone(),
            runtime.clone(),
            vec![],
            IngestOptions::default(),
        );
        let ingest = &ingest;
        let add = |c| channels::add(&db, sbox, ingest, c);
        let sync = |progress: &'static (dyn Fn(&SyncReport) + Sync)| ingest.sync_now("brand", "test", progress);

        let err = add(channel(&[("instance", &base)], &[])).await.unwrap_err();
        assert_eq!(err.to_string(), "`access-token` is required: --secret access-token=...");
        let err = add(channel(&[("instance", &base), ("access-token", TOKEN)], &[]))
            .await
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "`access-token` is a secret: pass it with --secret access-token=..."
        );
        let err = add(channel(
            &[("instance", &base), ("colour", "red")],
            &[("access-token", TOKEN)],
        ))
        .await
        .unwrap_err();
        assert!(err.to_string().starts_with("unknown field `colour`"), "{err}");
        let err = add(channel(&[("instance", &base)], &[("access-token", "wrong")]))
            .await
            .unwrap_err();
        assert!(matches!(err, ChannelError::Check(_)), "{err}");
        assert!(err.to_string().contains("unauthorized"), "{err}");

        add(channel(&[("instance", &base)], &[("access-token", TOKEN)]))
            .await
            .unwrap();
        let err = add(channel(&[("instance", &base)], &[("access-token", TOKEN)]))
            .await
            .unwrap_err();
        assert_eq!(err.to_string(), "a channel named `brand` already exists");
        let sealed: String = sqlx::query("SELECT secrets FROM channel_accounts WHERE name = 'brand'")
            .fetch_one(db.pool())
            .await
            .unwrap()
            .get("secrets");
        assert!(!sealed.contains(TOKEN), "secrets are encrypted at rest");

        let first = sync(&|_| {}).await.unwrap();
        assert_eq!(first.pages, 1, "the first sync takes the newest page");
        assert!(first.new_posts > 0);

        // A customer whose profile carries the email the CRM knows is linked
        // by the ingest itself, right after the page is committed.
        socialcrm::crm::import::contacts(
            &db,
            "id,name,email,website\nC1,Maya Okafor,maya@example.com,https://mayarides.example\n".as_bytes(),
            &|_| {},
        )
        .await
        .unwrap();
        network.push_mention(json!({
            "content": "<p>@brand where is my order?</p>",
            "visibility": "public",
            "account": {"id": "900001", "username": "maya", "acct": "maya@bikes.example",
                        "display_name": "Maya", "note": "<p>Rider. maya@example.com</p>",
                        "fields": [{"name": "Site", "value": "<a href=\"https://mayarides.example\" rel=\"me\">mayarides.example</a>",
                                    "verified_at": "2026-01-05T10:00:00.000+00:00"}]},
        }));
        // 100 new mentions: a full page of 80, then 20.
        for i in 0..99 {
            network.push_mention(json!({"content": format!("<p>@brand question {i}?</p>"), "visibility": "public"}));
        }
        let seen = std::sync::Mutex::new(Vec::new());
        let second = ingest
            .sync_now("brand", "test", &|r: &SyncReport| seen.lock().unwrap().push(r.clone()))
            .await
            .unwrap();
        assert_eq!((second.pages, second.new_posts, second.duplicates), (2, 100, 0));
        assert_eq!(seen.lock().unwrap().len(), 2, "progress after every page");
        // Confirmed by the link the instance verified (the email in her bio
        // alone would only propose it).
        let linked: (String, String, String) = sqlx::query_as(
            "SELECT c.external_id, l.status, l.evidence FROM identity_links l JOIN contacts c ON c.id = l.contact_id \
             JOIN identities i ON i.id = l.identity_id WHERE i.external_user_id = '900001'",
        )
        .fetch_one(db.pool())
        .await
        .unwrap();
        assert_eq!((linked.0.as_str(), linked.1.as_str()), ("C1", "confirmed"));
        assert!(linked.2.contains("verified-field:Site"), "{}", linked.2);
        // Scored for the inbox after analysis and linking: Maya's post carries her contact.
        let (scored, maya): (i64, Option<i64>) = sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM post_scores), (SELECT s.contact_id FROM post_scores s \
             JOIN posts p ON p.id = s.post_id JOIN identities i ON i.id = p.identity_id \
             WHERE i.external_user_id = '900001')",
        )
        .fetch_one(db.pool())
        .await
        .unwrap();
        let inbound: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM posts WHERE direction = 'inbound'")
            .fetch_one(db.pool())
            .await
            .unwrap();
        assert_eq!(scored, inbound, "every inbound post scored");
        assert!(maya.is_some(), "the linked contact is in the score");
        let third = sync(&|_| {}).await.unwrap();
        assert_eq!(third.new_posts, 0);

        let listed = channels::list(&db).await.unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].status, "active");
        assert_eq!(listed[0].posts as usize, first.new_posts + 100);

        network.fail_next(Fault::Unauthorized);
        let err = sync(&|_| {}).await.unwrap_err();
        assert!(err.to_string().contains("unauthorized"), "{err}");
        let listed = channels::list(&db).await.unwrap();
        assert_eq!(listed[0].status, "paused");
        assert!(
            listed[0]
                .last_error
                .as_deref()
                .unwrap_or_default()
                .contains("unauthorized")
        );
        sync(&|_| {}).await.unwrap();
        assert_eq!(
            channels::list(&db).await.unwrap()[0].status,
            "active",
            "a good sync clears the failure"
        );

        assert_eq!(
            channels::remove(&db, "brand").await.unwrap() as usize,
            first.new_posts + 100
        );
        assert!(channels::list(&db).await.unwrap().is_empty());
        assert!(matches!(
            channels::remove(&db, "brand").await,
            Err(ChannelError::Unknown(_))
        ));
        assert!(matches!(sync(&|_| {}).await, Err(IngestError::Lease(_))));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn secrets_are_bound_to_their_account_and_rotate_to_a_new_key() {
    let hostile = common::plugin_dir("tests/hostile/channel");
    let plugin = &hostile.path().display().to_string();
    common::on_each_db(move |db| async move {
        let old = SecretBox::from_key(&[7; 32]).unwrap();
        let runtime = Runtime::new(RuntimeOptions::default()).unwrap();
        let ingest = Ingest::new(db.clone(), old.clone(), runtime, vec![], IngestOptions::default());
        for (name, password) in [("a", "pw-of-a"), ("b", "pw-of-b")] {
            let new = NewChannel {
                name: name.into(),
                plugin: plugin.clone(),
                config: map(&[("mode", "calls"), ("target", "https://api.example.net")]),
                secrets: map(&[("password", password)]),
                allow_private: false,
            };
            channels::add(&db, &old, &ingest, new).await.unwrap();
        }
        let sealed = |name: &'static str| {
            let db = db.clone();
            async move {
                sqlx::query_scalar::<_, String>("SELECT secrets FROM channel_accounts WHERE name = $1")
                    .bind(name)
                    .fetch_one(db.pool())
                    .await
                    .unwrap()
            }
        };
        let set = |name: &'static str, blob: String| {
            let db = db.clone();
            async move {
                sqlx::query("UPDATE channel_accounts SET secrets = $1 WHERE name = $2")
                    .bind(blob)
                    .bind(name)
                    .execute(db.pool())
                    .await
                    .unwrap();
            }
        };

        // A's blob copied onto B does not open as B's.
        let (a, b) = (sealed("a").await, sealed("b").await);
        set("b", a.clone()).await;
        let err = ingest::load_account(&db, &old, "b").await.unwrap_err();
        assert!(err.to_string().contains("cannot be decrypted"), "{err}");
        set("b", b).await;

        // Rotation: every account opens under the new key only.
        let new = SecretBox::from_key(&[8; 32]).unwrap();
        assert_eq!(ingest::reseal_secrets(&db, &old, &new).await.unwrap(), 2);
        let a_now = ingest::load_account(&db, &new, "a").await.unwrap();
        assert_eq!(a_now.account.secrets["password"], "pw-of-a");
        let err = ingest::load_account(&db, &old, "a").await.unwrap_err();
        assert!(err.to_string().contains("cannot be decrypted"), "{err}");
        assert_ne!(sealed("a").await, a, "sealed again");
    })
    .await;
}
