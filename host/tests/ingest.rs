//! Exactly-once effect of a page: posts, authors, the next state and the
//! plugin's key-value writes commit together; a re-poll collapses duplicates;
//! a bad page stores nothing; pages joined into one commit keep their own
//! analyses; a known author's row is only rewritten when the profile changed.
//! On SQLite and PostgreSQL.

mod common;

use socialcrm::ingest::{
    ChannelRef, CommitError, KnownAuthors, PageAnalyses, PageRows, analyze_page, commit_page, commit_pages,
};
use socialcrm::plugins::Manifest;
use socialcrm::runtime::types::{Analysis, Author, Direction, Post, PostKind};
use socialcrm::runtime::{AnalyzerPlugin, KvChanges, Runtime, RuntimeOptions, VerifiedFields};
use socialcrm::store::{Db, now_ms};
use sqlx::Row;

fn post(id: &str, author: &str, handle: &str, created_at: &str) -> Post {
    Post {
        external_id: id.into(),
        kind: PostKind::Mention,
        direction: Direction::Inbound,
        author: Author {
            external_id: author.into(),
            handle: handle.into(),
            display_name: Some("Someone".into()),
            profile_url: None,
            avatar_url: None,
            bio: None,
            followers: Some(12),
            fields: vec![],
        },
        text: format!("post {id}"),
        url: None,
        thread_id: None,
        in_reply_to: None,
        created_at: created_at.into(),
        language: Some("en".into()),
        raw: "{}".into(),
    }
}

async fn channel(db: &Db) -> ChannelRef {
    let now = now_ms();
    let id = sqlx::query(
        "INSERT INTO channel_accounts (name, plugin, network, created_at, updated_at) VALUES ($1, $2, $3, $4, $5) \
         RETURNING id",
    )
    .bind("brand")
    .bind("mastodon")
    .bind("mastodon")
    .bind(now)
    .bind(now)
    .fetch_one(db.pool())
    .await
    .unwrap()
    .get("id");
    ChannelRef {
        id,
        network: "mastodon".into(),
        lease_owner: None,
    }
}

async fn count(db: &Db, table: &str) -> i64 {
    sqlx::query(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) AS n FROM {table}")))
        .fetch_one(db.pool())
        .await
        .unwrap()
        .get("n")
}

async fn state(db: &Db, id: i64) -> (String, String) {
    let row = sqlx::query("SELECT state, kv FROM channel_accounts WHERE id = $1")
        .bind(id)
        .fetch_one(db.pool())
        .await
        .unwrap();
    (row.get("state"), row.get("kv"))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_page_commits_once_and_a_repoll_collapses() {
    common::on_each_db(|db| async move {
        let id = channel(&db).await;
        let page = vec![
            post("1", "u1", "alice@demo.social", "2026-11-22T08:00:00Z"),
            post("2", "u2", "bob@demo.social", "2026-11-22T08:01:00.123Z"),
            post("3", "u1", "alice@demo.social", "2026-11-22T08:02:00+01:00"),
        ];
        let kv: KvChanges = [("session".to_string(), Some(b"jwt".to_vec()))].into();
        let first = commit_page(&db, &id, &page, &[], Some("{\"newest\":\"3\"}"), &kv)
            .await
            .unwrap();
        assert_eq!(first.new_posts.len(), 3);
        assert_eq!(first.duplicates, 0);
        assert_eq!(
            count(&db, "identities").await,
            2,
            "authors key on the network's user id"
        );
        assert_eq!(
            state(&db, id.id).await,
            ("{\"newest\":\"3\"}".into(), r#"{"session":"and0"}"#.into())
        );

        // A crash after the commit and a re-poll from an older state: nothing doubles.
        let again = commit_page(&db, &id, &page, &[], Some("{\"newest\":\"3\"}"), &KvChanges::new())
            .await
            .unwrap();
        assert_eq!((again.new_posts.len(), again.duplicates), (0, 3));
        assert_eq!(count(&db, "posts").await, 3);

        // The handle changed; the identity is the same row, with the new handle.
        let renamed = vec![post("4", "u1", "alice@new.social", "2026-11-22T09:00:00Z")];
        let deleted: KvChanges = [("session".to_string(), None)].into();
        commit_page(&db, &id, &renamed, &[], Some("{\"newest\":\"4\"}"), &deleted)
            .await
            .unwrap();
        assert_eq!(count(&db, "identities").await, 2);
        let handle: String = sqlx::query("SELECT handle FROM identities WHERE external_user_id = 'u1'")
            .fetch_one(db.pool())
            .await
            .unwrap()
            .get("handle");
        assert_eq!(handle, "alice@new.social");
        assert_eq!(state(&db, id.id).await.1, "{}");

        let created: i64 = sqlx::query("SELECT created_at FROM posts WHERE external_id = '3'")
            .fetch_one(db.pool())
            .await
            .unwrap()
            .get("created_at");
        assert_eq!(created, 1_795_330_920_000, "offsets are normalised to UTC");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_page_stores_nothing() {
    common::on_each_db(|db| async move {
        let id = channel(&db).await;
        let page = vec![
            post("1", "u1", "a", "2026-11-22T08:00:00Z"),
            post("2", "u2", "b", "yesterday"),
        ];
        let err = commit_page(&db, &id, &page, &[], Some("next"), &KvChanges::new())
            .await
            .unwrap_err();
        assert!(matches!(err, CommitError::BadTime { .. }));
        assert_eq!(
            err.to_string(),
            "post 2: created-at `yesterday` is not an RFC 3339 time; nothing from this page was stored"
        );
        assert_eq!(count(&db, "posts").await, 0);
        assert_eq!(count(&db, "identities").await, 0);
        assert_eq!(state(&db, id.id).await.0, "", "the state did not move");

        let missing = commit_page(
            &db,
            &ChannelRef { id: 9999, ..id.clone() },
            &page[..1],
            &[],
            Some("next"),
            &KvChanges::new(),
        )
        .await
        .unwrap_err();
        assert!(matches!(missing, CommitError::NoChannel(9999)));
        assert_eq!(count(&db, "posts").await, 0, "the transaction rolled back");
    })
    .await;
}

fn analyzer(runtime: &Runtime, dir: &tempfile::TempDir) -> AnalyzerPlugin {
    let manifest = std::fs::read_to_string(dir.path().join("plugin.toml")).unwrap();
    let wasm = std::fs::read(dir.path().join("plugin.wasm")).unwrap();
    runtime
        .load_analyzer(Manifest::parse(&manifest).unwrap().sandbox(), &wasm)
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn analyses_with_and_without_sentiment_share_a_statement() {
    let (intent, sentiment) = (
        common::plugin_dir("plugins/intent"),
        common::plugin_dir("plugins/sentiment"),
    );
    let runtime = Runtime::new(RuntimeOptions::default()).unwrap();
    let (intent, sentiment) = (analyzer(&runtime, &intent), analyzer(&runtime, &sentiment));
    common::on_each_db(|db| {
        let (intent, sentiment) = (intent.clone(), sentiment.clone());
        async move {
            let id = channel(&db).await;
            // Pooled connections are handed out in turn: enough pages that one
            // connection prepares the insert without sentiment and reuses it with.
            for n in 0..12 {
                let page = vec![
                    post(&format!("{n}a"), "u1", "alice@demo.social", "2026-11-22T08:00:00Z"),
                    post(&format!("{n}b"), "u2", "bob@demo.social", "2026-11-22T08:01:00Z"),
                ];
                // The same insert, without sentiment (intent) and with it.
                let analyses = analyze_page(&[intent.clone(), sentiment.clone()], &page, &[]);
                assert_eq!(analyses.len(), 2, "both analyzers answered");
                let committed = commit_page(&db, &id, &page, &analyses, None, &KvChanges::new())
                    .await
                    .unwrap();
                assert_eq!(committed.new_posts.len(), 2);
            }
            let analysed: i64 = sqlx::query("SELECT COUNT(*) AS n FROM analyses")
                .fetch_one(db.pool())
                .await
                .unwrap()
                .get("n");
            assert_eq!(analysed, 48);
            let scored: i64 = sqlx::query("SELECT COUNT(*) AS n FROM analyses WHERE sentiment IS NOT NULL")
                .fetch_one(db.pool())
                .await
                .unwrap()
                .get("n");
            assert_eq!(scored, 24);
        }
    })
    .await;
}

fn analyses(plugin: &str, labels: &[&str]) -> PageAnalyses {
    PageAnalyses {
        plugin: plugin.into(),
        version: "1.0.0".into(),
        analyses: labels
            .iter()
            .map(|label| Analysis {
                sentiment: None,
                label: Some(label.to_string()),
                intents: vec![],
                topics: vec![],
                language: None,
                ..Analysis::default()
            })
            .collect(),
    }
}

/// `(external id, plugin, label)` of every stored analysis.
async fn labels(db: &Db) -> Vec<(String, String, String)> {
    sqlx::query(
        "SELECT p.external_id, a.plugin, a.label FROM analyses a JOIN posts p ON p.id = a.post_id \
         ORDER BY p.external_id, a.plugin",
    )
    .fetch_all(db.pool())
    .await
    .unwrap()
    .iter()
    .map(|r| (r.get("external_id"), r.get("plugin"), r.get("label")))
    .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn joined_pages_commit_as_one_with_each_page_s_analyses() {
    common::on_each_db(|db| async move {
        let id = channel(&db).await;
        let first = vec![
            post("1", "u1", "alice@demo.social", "2026-11-22T08:00:00Z"),
            post("2", "u2", "bob@demo.social", "2026-11-22T08:01:00Z"),
        ];
        // Overlaps the first page; the intent analyzer failed on it.
        let second = vec![
            post("2", "u2", "bob@demo.social", "2026-11-22T08:01:00Z"),
            post("3", "u1", "alice@demo.social", "2026-11-22T08:02:00Z"),
        ];
        let first_analyses = [analyses("sentiment", &["s1", "s2"]), analyses("intent", &["i1", "i2"])];
        let second_analyses = [analyses("sentiment", &["s2 again", "s3"])];
        let none = VerifiedFields::new();
        let pages = [
            PageRows {
                posts: &first,
                verified: &none,
                analyses: &first_analyses,
                changes: &[],
            },
            PageRows {
                posts: &second,
                verified: &none,
                analyses: &second_analyses,
                changes: &[],
            },
        ];
        let kv: KvChanges = [("cursor".to_string(), Some(b"2".to_vec()))].into();

        // A bad post in the second page: neither page is stored.
        let mut broken = second.clone();
        broken[1].created_at = "soon".into();
        let err = commit_pages(
            &db,
            &id,
            &[
                pages[0],
                PageRows {
                    posts: &broken,
                    verified: &none,
                    analyses: &second_analyses,
                    changes: &[],
                },
            ],
            Some("after second"),
            &kv,
            &KnownAuthors::default(),
        )
        .await
        .unwrap_err();
        assert!(matches!(err, CommitError::BadTime { .. }));
        assert_eq!(count(&db, "posts").await, 0);

        let committed = commit_pages(&db, &id, &pages, Some("after second"), &kv, &KnownAuthors::default())
            .await
            .unwrap();
        assert_eq!((committed.new_posts.len(), committed.duplicates), (3, 1));
        assert_eq!(
            state(&db, id.id).await,
            ("after second".into(), r#"{"cursor":"Mg=="}"#.into())
        );
        let expected = [
            ("1", "intent", "i1"),
            ("1", "sentiment", "s1"),
            ("2", "intent", "i2"),
            ("2", "sentiment", "s2"),
            ("3", "sentiment", "s3"),
        ];
        let expected: Vec<(String, String, String)> = expected
            .iter()
            .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
            .collect();
        assert_eq!(labels(&db).await, expected, "each post has its own page's analyses");
    })
    .await;
}

/// `(handle, followers, last_seen)` of an identity.
async fn identity(db: &Db, external_user_id: &str) -> (String, i64, i64) {
    let row = sqlx::query("SELECT handle, followers, last_seen FROM identities WHERE external_user_id = $1")
        .bind(external_user_id)
        .fetch_one(db.pool())
        .await
        .unwrap();
    (row.get("handle"), row.get("followers"), row.get("last_seen"))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_known_author_is_rewritten_only_when_the_profile_changed() {
    common::on_each_db(|db| async move {
        let id = channel(&db).await;
        let page = |n: &str, followers: u64| {
            let mut p = post(n, "u1", "alice@demo.social", "2026-11-22T08:00:00Z");
            p.author.followers = Some(followers);
            vec![p]
        };
        commit_page(&db, &id, &page("1", 12), &[], None, &KvChanges::new())
            .await
            .unwrap();
        let seen = identity(&db, "u1").await;
        // Mark the row, as if seen a minute ago: an unchanged profile leaves it alone.
        sqlx::query("UPDATE identities SET last_seen = last_seen - 60000")
            .execute(db.pool())
            .await
            .unwrap();
        commit_page(&db, &id, &page("2", 12), &[], None, &KvChanges::new())
            .await
            .unwrap();
        assert_eq!(identity(&db, "u1").await.2, seen.2 - 60_000, "not rewritten");

        let changed = commit_page(&db, &id, &page("3", 13), &[], None, &KvChanges::new())
            .await
            .unwrap();
        let now = identity(&db, "u1").await;
        assert_eq!(now.1, 13, "the new follower count is stored");
        assert!(now.2 >= seen.2, "and the sighting");

        // Every post points at the one identity.
        let authors: i64 = sqlx::query("SELECT COUNT(DISTINCT identity_id) AS n FROM posts")
            .fetch_one(db.pool())
            .await
            .unwrap()
            .get("n");
        assert_eq!((authors, changed.new_posts.len()), (1, 1));
    })
    .await;
}

/// Commits `posts` as one page with the known-authors cache `known`.
async fn commit_known(db: &Db, id: &ChannelRef, posts: &[Post], known: &KnownAuthors) -> usize {
    let pages = [PageRows {
        posts,
        verified: &VerifiedFields::new(),
        analyses: &[],
        changes: &[],
    }];
    let committed = commit_pages(db, id, &pages, None, &KvChanges::new(), known)
        .await
        .unwrap();
    committed.new_posts.len()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_author_the_process_knows_is_not_read_again_until_its_profile_changes() {
    common::on_each_db(|db| async move {
        let id = channel(&db).await;
        let known = KnownAuthors::default();
        let page = |n: &str, followers: u64| {
            let mut p = post(n, "u1", "alice@demo.social", "2026-11-22T08:00:00Z");
            p.author.followers = Some(followers);
            vec![p]
        };
        let behind_the_cache = || async {
            sqlx::query("UPDATE identities SET handle = 'changed-elsewhere'")
                .execute(db.pool())
                .await
                .unwrap();
        };
        assert_eq!(commit_known(&db, &id, &page("1", 12), &known).await, 1);
        behind_the_cache().await;
        // The same profile again: known, so the row is neither read nor written.
        assert_eq!(commit_known(&db, &id, &page("2", 12), &known).await, 1);
        assert_eq!(identity(&db, "u1").await.0, "changed-elsewhere");
        // A process that does not know the author reads the row and writes
        // the profile it sees.
        commit_known(&db, &id, &page("3", 12), &KnownAuthors::default()).await;
        assert_eq!(identity(&db, "u1").await.0, "alice@demo.social");
        // A changed profile is written whatever the cache knows.
        behind_the_cache().await;
        commit_known(&db, &id, &page("4", 13), &known).await;
        assert_eq!(identity(&db, "u1").await.0, "alice@demo.social");
        assert_eq!(identity(&db, "u1").await.1, 13);

        let authors: i64 = sqlx::query("SELECT COUNT(DISTINCT identity_id) AS n FROM posts")
            .fetch_one(db.pool())
            .await
            .unwrap()
            .get("n");
        assert_eq!(authors, 1, "every post points at the one identity");
    })
    .await;
}
