//! Insights on a small fixture world of contacts, transactions, identities,
//! posts and analyses (inserted directly): the inbox order, churn ranking and
//! explanations, trends per topic and segment, one spike alert (and none for
//! a flat series), advocacy points with evidence; recomputing twice changes
//! nothing. On SQLite and PostgreSQL.

mod common;

use std::sync::atomic::{AtomicI64, Ordering};

use socialcrm::insights::churn::ChurnSignals;
use socialcrm::insights::custom::{self, CustomError, Entry};
use socialcrm::insights::predict::{self, PredictError};
use socialcrm::insights::priority::Parts;
use socialcrm::insights::{self, Bucket, DAY_MS, HOUR_MS, RecomputeReport, TrendPoint, TrendQuery};
use socialcrm::plugins::{Package, Permissions, registry};
use socialcrm::runtime::{Runtime, RuntimeOptions};
use socialcrm::store::{Db, placeholders};
use sqlx::Row;
use sqlx::any::AnyRow;

/// 2026-11-30 12:00 UTC.
const NOW: i64 = 1_796_040_000_000;
/// 2026-11-30 00:00 UTC.
const TODAY: i64 = NOW - 12 * HOUR_MS;

struct World {
    db: Db,
    channel: i64,
    next: AtomicI64,
}

/// A post to insert: author, time, text, reply target, and its analyses.
#[derive(Clone, Default)]
struct P {
    identity: i64,
    at: i64,
    text: &'static str,
    outbound: bool,
    channel: Option<i64>,
    reply_to: Option<i64>,
    sentiment: Option<f64>,
    intents: Vec<(&'static str, f64)>,
    topics: Vec<&'static str>,
}

impl World {
    async fn new(db: Db) -> World {
        let world = World {
            db,
            channel: 0,
            next: AtomicI64::new(1),
        };
        let channel = world.channel("brand", "mastodon").await;
        World { channel, ..world }
    }

    async fn channel(&self, name: &str, network: &str) -> i64 {
        sqlx::query(
            "INSERT INTO channel_accounts (name, plugin, network, created_at, updated_at) VALUES ($1, $2, $3, 0, 0) \
             RETURNING id",
        )
        .bind(name)
        .bind(network)
        .bind(network)
        .fetch_one(self.db.pool())
        .await
        .unwrap()
        .get("id")
    }

    fn next(&self) -> i64 {
        self.next.fetch_add(1, Ordering::SeqCst)
    }

    async fn contact(&self, name: &str) -> i64 {
        sqlx::query(
            "INSERT INTO contacts (external_id, name, created_at, updated_at) VALUES ($1, $2, 0, 0) RETURNING id",
        )
        .bind(format!("C{}", self.next()))
        .bind(name)
        .fetch_one(self.db.pool())
        .await
        .unwrap()
        .get("id")
    }

    /// A transaction `days` ago.
    async fn transaction(&self, contact: i64, kind: &str, amount: f64, days: i64, product: &str) {
        sqlx::query(
            "INSERT INTO transactions (external_id, contact_id, kind, amount, currency, occurred_at, product, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, 'EUR', $5, $6, 0, 0)",
        )
        .bind(format!("T{}", self.next()))
        .bind(contact)
        .bind(kind)
        .bind(amount)
        .bind(NOW - days * DAY_MS)
        .bind(product)
        .execute(self.db.pool())
        .await
        .unwrap();
    }

    async fn identity(&self, network: &str, handle: &str, followers: i64) -> i64 {
        sqlx::query(
            "INSERT INTO identities (network, external_user_id, handle, followers, first_seen, last_seen) \
             VALUES ($1, $2, $3, $4, 0, 0) RETURNING id",
        )
        .bind(network)
        .bind(format!("u{}", self.next()))
        .bind(handle)
        .bind(followers)
        .fetch_one(self.db.pool())
        .await
        .unwrap()
        .get("id")
    }

    async fn link(&self, identity: i64, contact: i64) {
        sqlx::query(
            "INSERT INTO identity_links (identity_id, contact_id, method, confidence, status, created_at, updated_at) \
             VALUES ($1, $2, 'manual', 1, 'confirmed', 0, 0)",
        )
        .bind(identity)
        .bind(contact)
        .execute(self.db.pool())
        .await
        .unwrap();
    }

    /// A customer linked to a new identity: `(contact, identity)`.
    async fn customer(&self, name: &str, handle: &str, followers: i64) -> (i64, i64) {
        let contact = self.contact(name).await;
        let identity = self.identity("mastodon", handle, followers).await;
        self.link(identity, contact).await;
        (contact, identity)
    }

    async fn post(&self, p: P) -> i64 {
        self.posts(vec![p]).await[0]
    }

    /// Inserts posts and their analyses with multi-row statements; returns
    /// their ids in order.
    async fn posts(&self, posts: Vec<P>) -> Vec<i64> {
        let mut ids = Vec::new();
        for chunk in posts.chunks(200) {
            let sql = format!(
                "INSERT INTO posts (channel_id, external_id, identity_id, kind, direction, text, in_reply_to, \
                 created_at, raw, ingested_at) VALUES {} RETURNING id, external_id",
                placeholders(chunk.len(), 10)
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).persistent(false);
            let mut externals = Vec::new();
            for p in chunk {
                let external = format!("x{}", self.next());
                externals.push(external.clone());
                query = query
                    .bind(p.channel.unwrap_or(self.channel))
                    .bind(external)
                    .bind(p.identity)
                    .bind(if p.reply_to.is_some() { "reply" } else { "mention" })
                    .bind(if p.outbound { "outbound" } else { "inbound" })
                    .bind(p.text)
                    .bind(p.reply_to.map(|id| format!("x{id}")))
                    .bind(p.at)
                    .bind("{}")
                    .bind(p.at);
            }
            let rows = query.fetch_all(self.db.pool()).await.unwrap();
            let by_external: std::collections::HashMap<String, i64> = rows
                .iter()
                .map(|r| (r.get::<String, _>("external_id"), r.get::<i64, _>("id")))
                .collect();
            ids.extend(externals.iter().map(|e| by_external[e]));
        }
        // External ids are `x{id}` of the numbering, so replies name their
        // target by the target's external id: map post ids back.
        let mut analyses = Vec::new();
        for (id, p) in ids.iter().zip(&posts) {
            if let Some(s) = p.sentiment {
                analyses.push((*id, "sentiment", Some(s), "[]".to_string(), "[]".to_string()));
            }
            if !p.intents.is_empty() || !p.topics.is_empty() {
                let intents: Vec<_> = p
                    .intents
                    .iter()
                    .map(|(n, c)| serde_json::json!({"name": n, "confidence": c}))
                    .collect();
                analyses.push((
                    *id,
                    "intent",
                    None,
                    serde_json::to_string(&intents).unwrap(),
                    serde_json::to_string(&p.topics).unwrap(),
                ));
            }
        }
        self.analyses("1.0.0", analyses).await;
        ids
    }

    /// `(post, plugin, sentiment, intents, topics)` rows of version `version`.
    async fn analyses(&self, version: &str, rows: Vec<(i64, &str, Option<f64>, String, String)>) {
        for chunk in rows.chunks(200) {
            let sql = format!(
                "INSERT INTO analyses (post_id, plugin, version, sentiment, intents, topics, created_at) VALUES {}",
                placeholders(chunk.len(), 7)
            );
            // Not kept prepared: on PostgreSQL a statement first prepared with
            // a NULL sentiment rejects a number in that place later.
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).persistent(false);
            for (post, plugin, sentiment, intents, topics) in chunk {
                query = query
                    .bind(*post)
                    .bind(*plugin)
                    .bind(version)
                    .bind(*sentiment)
                    .bind(intents.clone())
                    .bind(topics.clone())
                    .bind(0i64);
            }
            query.execute(self.db.pool()).await.unwrap();
        }
    }

    /// The external id the post `id` got (`x{n}`), for replies.
    async fn external(&self, id: i64) -> i64 {
        let e: String = sqlx::query("SELECT external_id FROM posts WHERE id = $1")
            .bind(id)
            .fetch_one(self.db.pool())
            .await
            .unwrap()
            .get("external_id");
        e.trim_start_matches('x').parse().unwrap()
    }
}

/// Every column of a row as text, whatever its type.
fn cells(row: &AnyRow) -> String {
    use sqlx::Column;
    row.columns()
        .iter()
        .map(|c| {
            let i = c.ordinal();
            if let Ok(v) = row.try_get::<Option<i64>, _>(i) {
                format!("{v:?}")
            } else if let Ok(v) = row.try_get::<Option<f64>, _>(i) {
                format!("{v:?}")
            } else {
                format!("{:?}", row.try_get::<Option<String>, _>(i).unwrap())
            }
        })
        .collect::<Vec<_>>()
        .join("|")
}

/// Every stored score, to compare two recomputes.
async fn snapshot(db: &Db) -> Vec<String> {
    let mut out = Vec::new();
    for sql in [
        "SELECT * FROM contact_scores ORDER BY contact_id",
        "SELECT * FROM post_scores ORDER BY post_id",
        "SELECT * FROM post_topics ORDER BY topic, post_id",
        "SELECT * FROM alerts ORDER BY id",
        "SELECT * FROM advocacy_events ORDER BY id",
    ] {
        for row in sqlx::query(sql).fetch_all(db.pool()).await.unwrap() {
            out.push(format!("{sql}: {}", cells(&row)));
        }
    }
    out
}

/// Recomputes, then again: the second changes nothing.
async fn recompute_twice(db: &Db) -> RecomputeReport {
    let first = insights::recompute(db, NOW).await.unwrap();
    let before = snapshot(db).await;
    let second = insights::recompute(db, NOW).await.unwrap();
    assert!(
        second.is_unchanged(),
        "a second recompute changed something: {second:?}"
    );
    assert_eq!(snapshot(db).await, before);
    first
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[tokio::test(flavor = "multi_thread")]
async fn the_inbox_puts_a_top_customers_complaint_first() {
    common::on_each_db(|db| async move {
        let w = World::new(db).await;
        let (ada, ada_id) = w.customer("Ada Top", "ada", 40).await;
        w.transaction(ada, "purchase", 1800.0, 20, "X2 e-bike").await;
        w.transaction(ada, "purchase", 1200.0, 60, "rear rack").await;
        let mut fifth = (0, 0);
        for k in 1..=9 {
            let c = w.customer(&format!("Customer {k}"), &format!("c{k}"), 12).await;
            w.transaction(c.0, "purchase", 100.0 * k as f64, 200, "lock").await;
            if k == 5 {
                fifth = c;
            }
        }
        // A ticket is no order.
        w.transaction(fifth.0, "ticket", 0.0, 5, "").await;
        let stranger = w.identity("mastodon", "influencer", 250_000).await;
        let asker = w.identity("mastodon", "asker", 5).await;
        let quiet = w.identity("mastodon", "quiet", 0).await;
        let brand = w.identity("mastodon", "brand", 1_000).await;

        let complaint = w
            .post(P {
                identity: ada_id,
                at: NOW - 2 * HOUR_MS,
                text: "My X2 broke down again. Third time. Unacceptable.",
                intents: vec![("complaint", 0.9), ("question", 0.2)],
                topics: vec!["reliability"],
                ..P::default()
            })
            .await;
        // An older version of the sentiment plugin read it as positive: the newest wins.
        w.analyses(
            "0.9.0",
            vec![(complaint, "sentiment", Some(0.5), "[]".into(), "[]".into())],
        )
        .await;
        w.analyses(
            "1.0.0",
            vec![(complaint, "sentiment", Some(-0.7), "[]".into(), "[]".into())],
        )
        .await;
        let praise = w
            .post(P {
                identity: stranger,
                at: NOW - 10 * HOUR_MS,
                text: "Love this brand!",
                sentiment: Some(0.8),
                intents: vec![("praise", 0.95)],
                ..P::default()
            })
            .await;
        let question = w
            .post(P {
                identity: asker,
                at: NOW - HOUR_MS,
                text: "Does the X2 fit a child seat?",
                sentiment: Some(0.0),
                intents: vec![("question", 0.8)],
                ..P::default()
            })
            .await;
        let unanalysed = w
            .post(P {
                identity: quiet,
                at: NOW - 72 * HOUR_MS,
                text: "hello",
                ..P::default()
            })
            .await;
        let support = w
            .post(P {
                identity: fifth.1,
                at: NOW - 5 * HOUR_MS,
                text: "How do I pair the app? It keeps failing.",
                sentiment: Some(-0.2),
                intents: vec![("support-request", 0.7)],
                ..P::default()
            })
            .await;
        let outbound = w
            .post(P {
                identity: brand,
                at: NOW - HOUR_MS,
                text: "We're on it!",
                outbound: true,
                sentiment: Some(0.6),
                ..P::default()
            })
            .await;

        let report = recompute_twice(&w.db).await;
        assert_eq!(report.posts_changed, 5, "inbound posts only");
        assert_eq!(report.contacts_changed, 10);

        let inbox = insights::inbox(&w.db, "open", 10, NOW).await.unwrap();
        let order: Vec<i64> = inbox.iter().map(|i| i.post_id).collect();
        assert_eq!(order, vec![complaint, unanalysed, support, praise, question]);
        assert!(!order.contains(&outbound));

        // Each known author's churn risk is their contact's, from the bound scorer.
        for item in &inbox {
            let stored = match item.contact_id {
                Some(id) => insights::churn::contact_scores(&w.db, id).await.unwrap().unwrap().churn,
                None => 0.0,
            };
            assert_eq!(item.signals.author_churn, stored, "post {}", item.post_id);
        }
        assert!(inbox[0].signals.author_churn > 0.0 && inbox[2].signals.author_churn > 0.0);

        // Priorities: base + 0.5 per hour waited; the stored base is the documented formula.
        let churn = |i: usize| 10.0 * inbox[i].signals.author_churn;
        let expected = [
            (complaint, 21.0 + 20.25 + 15.0 + churn(0) + 10.0 * 2.0 / 3.0 + 2.0, 2),
            (unanalysed, 0.0, 72),
            (support, 6.0 + 14.0 + 7.5 + churn(2) + 0.0 + 2.0, 5),
            (praise, 10.0, 10),
            (question, 12.0, 1),
        ];
        for (item, (id, base, hours)) in inbox.iter().zip(expected) {
            assert_eq!(item.post_id, id);
            assert!(
                (item.base - base).abs() < 1e-6,
                "post {id}: base {} != {base}",
                item.base
            );
            assert!(close(item.base, Parts::of(&item.signals).base()));
            assert!((item.priority - (base + 0.5 * hours as f64)).abs() < 1e-6);
        }
        let top = &inbox[0];
        assert_eq!(top.contact_name.as_deref(), Some("Ada Top"));
        assert_eq!(top.signals.sentiment, Some(-0.7), "the newest sentiment analysis");
        assert_eq!(top.signals.intent.as_deref(), Some("complaint"));
        assert_eq!(top.signals.value_pct, 1.0);
        assert_eq!(top.signals.ltv, 3000.0);
        assert_eq!(top.signals.recent_orders, 2);
        assert_eq!(
            top.explanation,
            format!(
                "negative -0.70 (+21.0), complaint 0.90 (+20.2), top-10% customer, LTV 3000.00 (+15.0), \
                 2 orders in 90 days (+6.7), churn risk {:.2} (+{:.1}), 40 followers (+2.0), waiting 2 h (+1.0)",
                top.signals.author_churn,
                churn(0)
            )
        );
        assert_eq!(
            inbox[2].explanation,
            format!(
                "support-request 0.70 (+14.0), customer, LTV 500.00 (+7.5), negative -0.20 (+6.0), \
                 churn risk {:.2} (+{:.1}), 12 followers (+2.0), waiting 5 h (+2.5)",
                inbox[2].signals.author_churn,
                churn(2)
            )
        );
        assert_eq!(
            inbox[1].explanation,
            "no urgency signals, unknown author, waiting 3 d (+36.0)"
        );
        assert_eq!(inbox[3].explanation, "250,000 followers (+10.0), waiting 10 h (+5.0)");

        // The key does not age: the order is the same at any later time.
        let later = insights::inbox(&w.db, "open", 10, NOW + 48 * HOUR_MS).await.unwrap();
        assert_eq!(later.iter().map(|i| i.post_id).collect::<Vec<_>>(), order);

        // A closed post leaves the inbox.
        sqlx::query("UPDATE posts SET inbox_status = 'done' WHERE id = $1")
            .bind(complaint)
            .execute(w.db.pool())
            .await
            .unwrap();
        assert_eq!(
            insights::inbox(&w.db, "open", 1, NOW).await.unwrap()[0].post_id,
            unanalysed
        );

        // New posts are scored as the ingest hands them over, like a recompute would.
        let again = w
            .post(P {
                identity: ada_id,
                at: NOW - HOUR_MS,
                text: "Still waiting for an answer.",
                sentiment: Some(-0.4),
                intents: vec![("complaint", 0.8)],
                topics: vec!["support"],
                ..P::default()
            })
            .await;
        assert_eq!(
            insights::refresh_posts(&w.db, &[again, outbound], NOW).await.unwrap(),
            1
        );
        let first = insights::inbox(&w.db, "open", 1, NOW).await.unwrap();
        assert_eq!(first[0].post_id, again);
        assert_eq!(first[0].signals.value_pct, 1.0);
        // A new customer's value is estimated at once: top of 11 customers.
        let (neo, neo_id) = w.customer("Neo New", "neo", 3).await;
        w.transaction(neo, "purchase", 5000.0, 3, "X2 e-bike").await;
        let neo_post = w
            .post(P {
                identity: neo_id,
                at: NOW,
                text: "Where is my order?",
                sentiment: Some(-0.3),
                intents: vec![("support-request", 0.9)],
                ..P::default()
            })
            .await;
        insights::refresh_posts(&w.db, &[neo_post], NOW).await.unwrap();
        let neo_item = insights::inbox(&w.db, "open", 10, NOW)
            .await
            .unwrap()
            .into_iter()
            .find(|i| i.post_id == neo_post)
            .unwrap();
        assert_eq!(neo_item.signals.value_pct, 1.0);
        assert_eq!(neo_item.signals.ltv, 5000.0);
        let after = insights::recompute(&w.db, NOW).await.unwrap();
        // Ada's two posts and Customer 5's move: their share among 11 customers changed.
        assert_eq!(after.posts_changed, 3);
        assert_eq!(after.topics_changed, 0, "refresh kept topics in line");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn churn_ranks_contacts_with_explanations() {
    common::on_each_db(|db| async move {
        let w = World::new(db).await;
        let (bob, bob_id) = w.customer("Bob Lapsed", "bob", 10).await;
        w.transaction(bob, "purchase", 80.0, 210, "lock").await;
        for day in 1..=3 {
            w.post(P {
                identity: bob_id,
                at: NOW - day * DAY_MS,
                text: "Still broken.",
                sentiment: Some(-0.6),
                intents: vec![("complaint", 0.9)],
                ..P::default()
            })
            .await;
        }
        let (ada, ada_id) = w.customer("Ada Loyal", "ada", 10).await;
        for days in [10, 40, 100, 200] {
            w.transaction(ada, "purchase", 750.0, days, "X2 e-bike").await;
        }
        w.transaction(ada, "refund", 50.0, 30, "X2 e-bike").await;
        w.transaction(ada, "purchase", 50.0, 35, "bell").await;
        for (days, s) in [(2, 0.6), (60, 0.5)] {
            w.post(P {
                identity: ada_id,
                at: NOW - days * DAY_MS,
                text: "Love it",
                sentiment: Some(s),
                ..P::default()
            })
            .await;
        }
        let (carol, carol_id) = w.customer("Carol Cooling", "carol", 10).await;
        w.transaction(carol, "purchase", 200.0, 100, "rear rack").await;
        w.transaction(carol, "purchase", 200.0, 300, "rear rack").await;
        w.post(P {
            identity: carol_id,
            at: NOW - 90 * DAY_MS,
            text: "Nice rack",
            sentiment: Some(0.5),
            ..P::default()
        })
        .await;
        w.post(P {
            identity: carol_id,
            at: NOW - 10 * DAY_MS,
            text: "Thinking of switching brands.",
            sentiment: Some(-0.3),
            intents: vec![("churn-risk", 0.8), ("complaint", 0.9)],
            ..P::default()
        })
        .await;
        let (dan, _) = w.customer("Dan Quiet", "dan", 10).await;
        w.transaction(dan, "purchase", 150.0, 400, "lock").await;
        let (_, eve_id) = w.customer("Eve Prospect", "eve", 10).await;
        w.post(P {
            identity: eve_id,
            at: NOW - 2 * DAY_MS,
            text: "Shipping costs are too high",
            sentiment: Some(-0.4),
            ..P::default()
        })
        .await;

        recompute_twice(&w.db).await;
        let ranking = insights::churn_ranking(&w.db, 10).await.unwrap();
        let names: Vec<&str> = ranking.iter().map(|s| s.name.as_deref().unwrap()).collect();
        assert_eq!(
            names,
            ["Bob Lapsed", "Dan Quiet", "Carol Cooling", "Eve Prospect", "Ada Loyal"]
        );
        let expected = [
            ChurnSignals {
                negative_week: 3,
                recent_sentiment: Some(-0.6),
                days_since_order: Some(210),
                orders: 1,
                orders_year: 1,
                value_pct: 0.25,
                ltv: 80.0,
                posts_90d: 3,
                ..ChurnSignals::default()
            },
            ChurnSignals {
                days_since_order: Some(400),
                orders: 1,
                value_pct: 0.5,
                ltv: 150.0,
                ..ChurnSignals::default()
            },
            ChurnSignals {
                recent_sentiment: Some(-0.3),
                earlier_sentiment: Some(0.5),
                churn_intent: true,
                days_since_order: Some(100),
                orders: 2,
                orders_year: 2,
                value_pct: 0.75,
                ltv: 400.0,
                // The post of exactly 90 days ago is out of the window.
                posts_90d: 1,
                ..ChurnSignals::default()
            },
            ChurnSignals {
                negative_week: 1,
                recent_sentiment: Some(-0.4),
                posts_90d: 1,
                ..ChurnSignals::default()
            },
            ChurnSignals {
                recent_sentiment: Some(0.6),
                earlier_sentiment: Some(0.5),
                days_since_order: Some(10),
                orders: 5,
                orders_year: 5,
                value_pct: 1.0,
                ltv: 3000.0,
                posts_90d: 2,
                ..ChurnSignals::default()
            },
        ];
        for (score, signals) in ranking.iter().zip(&expected) {
            // Every value is in the reporting currency, the one the world's transactions are in.
            let signals = &ChurnSignals {
                ltv_currency: Some("EUR".into()),
                ..signals.clone()
            };
            assert_eq!(&score.signals, signals, "{:?}", score.name);
            // The bundled scorer made it (its formula is tested in plugins/churn).
            assert_eq!(score.scorer.as_deref(), Some("churn 0.1.0"), "{:?}", score.name);
        }
        assert!(ranking.windows(2).all(|w| w[0].churn >= w[1].churn));
        assert!((ranking[0].churn - 0.381_996).abs() < 1e-6);
        let explanations: Vec<&str> = ranking.iter().map(|s| s.explanation.as_str()).collect();
        assert_eq!(
            explanations,
            [
                "3 negative posts in 7 days; sentiment -0.60 over 30 days; last order 210 days ago; \
                 1 order in 12 months; customer, LTV 80.00 EUR",
                "last order 400 days ago; 0 orders in 12 months; customer, LTV 150.00 EUR",
                "sentiment down from 0.50 to -0.30; churn-risk intent in 30 days; last order 100 days ago; \
                 2 orders in 12 months; top-half customer, LTV 400.00 EUR",
                "1 negative post in 7 days; sentiment -0.40 over 30 days; no orders",
                "last order 10 days ago; top-10% customer, LTV 3000.00 EUR",
            ]
        );
        let one = insights::churn::contact_scores(&w.db, bob).await.unwrap().unwrap();
        assert_eq!(one, ranking[0]);

        // A new negative post moves the contact's churn at once.
        let before = ranking[3].churn;
        let post = w
            .post(P {
                identity: eve_id,
                at: NOW - HOUR_MS,
                text: "Cancelling.",
                sentiment: Some(-0.8),
                intents: vec![("churn-risk", 0.9)],
                ..P::default()
            })
            .await;
        insights::refresh_posts(&w.db, &[post], NOW).await.unwrap();
        let eve = insights::churn_ranking(&w.db, 10)
            .await
            .unwrap()
            .into_iter()
            .find(|s| s.name.as_deref() == Some("Eve Prospect"))
            .unwrap();
        assert!(eve.churn > before);
        assert_eq!(eve.signals.negative_week, 2);
        assert!(eve.signals.churn_intent);
        assert!(insights::recompute(&w.db, NOW).await.unwrap().is_unchanged());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn trends_per_topic_and_per_buyers_of_a_product() {
    common::on_each_db(|db| async move {
        let w = World::new(db).await;
        let (ada, ada_id) = w.customer("Ada", "ada", 10).await;
        w.transaction(ada, "purchase", 1800.0, 100, "X2 e-bike").await;
        let (bo, bo_id) = w.customer("Bo", "bo", 10).await;
        w.transaction(bo, "purchase", 90.0, 100, "rear rack").await;
        let stranger = w.identity("mastodon", "stranger", 10).await;
        let battery = |identity, day: i64, hour: i64, s: Option<f64>, topics: Vec<&'static str>| P {
            identity,
            at: TODAY - day * DAY_MS + hour * HOUR_MS,
            text: "battery",
            sentiment: s,
            intents: vec![("complaint", 0.5)],
            topics,
            ..P::default()
        };
        let ids = w
            .posts(vec![
                battery(ada_id, 2, 9, Some(-0.5), vec![]),
                battery(ada_id, 2, 10, Some(0.5), vec!["battery", "app"]),
                battery(stranger, 1, 3, Some(-0.8), vec!["battery"]),
                battery(ada_id, 0, 1, Some(0.2), vec!["battery"]),
                battery(stranger, 0, 2, Some(-0.1), vec!["battery", "battery"]),
                battery(stranger, 0, 3, None, vec!["battery"]),
                battery(bo_id, 0, 4, Some(-0.9), vec!["shipping"]),
                // After `now`: outside the series.
                battery(stranger, 0, 13, Some(-0.9), vec!["battery"]),
            ])
            .await;
        // A newer intent analysis of the last day's post changes its topics.
        w.analyses(
            "2.0.0",
            vec![(ids[6], "intent", None, "[]".into(), "[\"shipping\",\"battery\"]".into())],
        )
        .await;
        // Of two analyses of the first post, the older one never counts.
        w.analyses(
            "0.1.0",
            vec![(ids[0], "intent", None, "[]".into(), "[\"old-topic\"]".into())],
        )
        .await;
        w.analyses(
            "1.1.0",
            vec![(ids[0], "intent", None, "[]".into(), "[\"battery\"]".into())],
        )
        .await;
        recompute_twice(&w.db).await;

        let q = |topic: Option<&str>, product: Option<&str>, bucket| TrendQuery {
            topic: topic.map(String::from),
            aspect: None,
            product: product.map(String::from),
            signal: None,
            bucket,
            since: TODAY - 3 * DAY_MS,
            until: NOW,
        };
        let point = |day: i64, posts, negative, mean: Option<f64>| TrendPoint {
            start: TODAY - day * DAY_MS,
            posts,
            negative,
            mean_sentiment: mean,
            negative_share: if posts > 0 { negative as f64 / posts as f64 } else { 0.0 },
            mean_signal: None,
        };
        let series = insights::trend(&w.db, &q(Some("battery"), None, Bucket::Day))
            .await
            .unwrap();
        assert_series(
            &series,
            &[
                point(3, 0, 0, None),
                point(2, 2, 1, Some(0.0)),
                point(1, 1, 1, Some(-0.8)),
                point(0, 4, 2, Some((0.2 - 0.1 - 0.9) / 3.0)),
            ],
        );
        let buyers = insights::trend(&w.db, &q(Some("battery"), Some("X2 e-bike"), Bucket::Day))
            .await
            .unwrap();
        assert_series(
            &buyers,
            &[
                point(3, 0, 0, None),
                point(2, 2, 1, Some(0.0)),
                point(1, 0, 0, None),
                point(0, 1, 0, Some(0.2)),
            ],
        );
        let all = insights::trend(&w.db, &q(None, None, Bucket::Day)).await.unwrap();
        assert_eq!(all.iter().map(|p| p.posts).collect::<Vec<_>>(), [0, 2, 1, 4]);
        let rack = insights::trend(&w.db, &q(None, Some("rear rack"), Bucket::Day))
            .await
            .unwrap();
        assert_eq!(rack.iter().map(|p| p.posts).collect::<Vec<_>>(), [0, 0, 0, 1]);
        let old = insights::trend(&w.db, &q(Some("old-topic"), None, Bucket::Day))
            .await
            .unwrap();
        assert!(
            old.iter().all(|p| p.posts == 0),
            "only the newest intent analysis counts"
        );
        // 2026-11-30 is a Monday: weeks from Monday 11-23 and 11-30.
        let weekly = insights::trend(&w.db, &q(Some("battery"), None, Bucket::Week))
            .await
            .unwrap();
        assert_eq!(
            weekly
                .iter()
                .map(|p| (insights::date(p.start), p.posts, p.negative))
                .collect::<Vec<_>>(),
            [("2026-11-23".to_string(), 3, 2), ("2026-11-30".to_string(), 4, 2)]
        );
        assert!(matches!(
            insights::trend(
                &w.db,
                &TrendQuery {
                    since: NOW,
                    ..q(None, None, Bucket::Day)
                }
            )
            .await,
            Err(insights::InsightsError::EmptyRange { .. })
        ));
    })
    .await;
}

fn assert_series(actual: &[TrendPoint], expected: &[TrendPoint]) {
    assert_eq!(actual.len(), expected.len(), "{actual:?}");
    for (a, e) in actual.iter().zip(expected) {
        assert_eq!(
            (a.start, a.posts, a.negative),
            (e.start, e.posts, e.negative),
            "{actual:?}"
        );
        assert!(close(a.negative_share, e.negative_share));
        match (a.mean_sentiment, e.mean_sentiment) {
            (Some(x), Some(y)) => assert!(close(x, y), "{x} != {y}"),
            (x, y) => assert_eq!(x, y),
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_spike_raises_one_alert_and_a_flat_series_none() {
    common::on_each_db(|db| async move {
        let w = World::new(db).await;
        let crowd = w.identity("mastodon", "crowd", 10).await;
        let post = |day: i64, i: i64, s: f64, topic: &'static str| P {
            identity: crowd,
            at: TODAY - day * DAY_MS + i * 10 * 60_000,
            text: "post",
            sentiment: Some(s),
            intents: vec![("complaint", 0.4)],
            topics: vec![topic],
            ..P::default()
        };
        let mut posts = Vec::new();
        for day in 0..35 {
            // `app`: flat, 12 a day, 3 of them negative.
            for i in 0..12 {
                posts.push(post(day, i, if i < 3 { -0.4 } else { 0.2 }, "app"));
            }
            // `shipping`: 6 a day, 1 negative, until today's 30 with 24 negative.
            if day > 0 {
                for i in 0..6 {
                    posts.push(post(day, i, if i == 0 { -0.4 } else { 0.2 }, "shipping"));
                }
            }
        }
        let spike_start = posts.len();
        for i in 0..30 {
            posts.push(post(
                0,
                i,
                if i < 24 { -0.5 - 0.01 * i as f64 } else { 0.3 },
                "shipping",
            ));
        }
        let ids = w.posts(posts).await;
        let spike = &ids[spike_start..];

        let report = recompute_twice(&w.db).await;
        assert_eq!(report.alerts_changed, 1);
        let alerts = insights::alerts(&w.db, 10).await.unwrap();
        assert_eq!(alerts.len(), 1, "{alerts:?}");
        let a = &alerts[0];
        assert_eq!(
            (a.kind.as_str(), a.scope.as_str(), a.subject.as_str()),
            ("spike", "topic", "shipping")
        );
        assert_eq!(a.bucket_start, TODAY);
        assert_eq!(a.signals, ["volume", "negative-share"]);
        assert_eq!((a.posts, a.negative), (30, 24));
        assert!(close(a.baseline_posts, 6.0));
        assert!(close(a.baseline_negative_share, 30.0 / 188.0));
        assert_eq!(a.examples, [spike[23], spike[22], spike[21]], "the most negative posts");
        assert_eq!(
            a.message,
            "shipping: 30 posts on 2026-11-30 vs 6.0 a day over the 28 days before; 80% negative vs 16%"
        );
        assert_eq!(a.status, "open");

        // Later the same day more posts arrive: the alert is updated, not repeated.
        let more = w.post(post(0, 40, -0.9, "shipping")).await;
        insights::refresh_posts(&w.db, &[more], NOW + HOUR_MS).await.unwrap();
        let report = insights::recompute(&w.db, NOW + HOUR_MS).await.unwrap();
        assert_eq!(report.alerts_changed, 1);
        let alerts = insights::alerts(&w.db, 10).await.unwrap();
        assert_eq!(alerts.len(), 1);
        assert_eq!((alerts[0].id, alerts[0].posts, alerts[0].negative), (a.id, 31, 25));
        assert_eq!(alerts[0].examples[0], more);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_aspect_spikes_on_what_posts_say_of_it_and_a_macro_answers_them() {
    use socialcrm::responses::{self, Audience, Content, MacroRequest};
    common::on_each_db(|db| async move {
        let w = World::new(db).await;
        let crowd = w.identity("mastodon", "crowd", 10).await;
        // Every post is upbeat overall; what it says of the battery is not.
        let post = |day: i64, i: i64| P {
            identity: crowd,
            at: TODAY - day * DAY_MS + i * 10 * 60_000,
            text: "the battery and the frame",
            sentiment: Some(0.5),
            ..P::default()
        };
        let (mut posts, mut kinds) = (Vec::new(), Vec::new());
        for day in 1..35 {
            for i in 0..5 {
                posts.push(post(day, i));
                kinds.push(if i == 0 { "sad" } else { "glad" });
            }
            for i in 5..9 {
                posts.push(post(day, i));
                kinds.push("frame");
            }
        }
        for i in 0..20 {
            posts.push(post(0, i));
            kinds.push(if i < 16 { "sad" } else { "glad" });
        }
        for i in 20..24 {
            posts.push(post(0, i));
            kinds.push("frame");
        }
        let ids = w.posts(posts).await;
        for (kind, aspects) in [
            ("sad", r#"[{"entry":"battery","start":4,"end":11,"sentiment":-0.8}]"#),
            ("glad", r#"[{"entry":"battery","start":4,"end":11,"sentiment":0.6}]"#),
            ("frame", r#"[{"entry":"frame","start":20,"end":25,"sentiment":0.7}]"#),
        ] {
            let of: Vec<String> = ids
                .iter()
                .zip(&kinds)
                .filter(|(_, k)| **k == kind)
                .map(|(id, _)| id.to_string())
                .collect();
            let sql = format!(
                "UPDATE analyses SET aspects = $1 WHERE plugin = 'sentiment' AND post_id IN ({})",
                of.join(", ")
            );
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(aspects)
                .execute(w.db.pool())
                .await
                .unwrap();
        }

        recompute_twice(&w.db).await;
        let alerts = insights::alerts(&w.db, 10).await.unwrap();
        assert_eq!(
            alerts.len(),
            1,
            "only the battery, not the posts' overall mood: {alerts:?}"
        );
        let a = &alerts[0];
        assert_eq!((a.scope.as_str(), a.subject.as_str()), ("aspect", "battery"));
        assert_eq!((a.posts, a.negative), (20, 16));
        assert_eq!(a.signals, ["volume", "negative-share"]);
        assert!(
            a.message
                .starts_with("aspect battery: 20 posts on 2026-11-30 vs 5.0 a day"),
            "{}",
            a.message
        );

        // A macro response to the alert answers the posts that mention the battery that day.
        let request = |audience| MacroRequest {
            channel: "brand".into(),
            broadcast: Content::Text("We hear you about the battery.".into()),
            reply: Some(Content::Text("Sorry, {{author.handle}}: a fix is coming.".into())),
            audience: Some(audience),
        };
        let made = responses::create_macro(&w.db, &request(Audience::Alert(a.id)), "lead")
            .await
            .unwrap();
        assert_eq!((made.aspect.as_deref(), made.topic.as_deref()), (Some("battery"), None));
        assert_eq!(responses::recipients(&w.db, made.id).await.unwrap().len(), 20);
        let frame = Audience::Aspect {
            aspect: "frame".into(),
            since: Some(TODAY),
        };
        let made = responses::create_macro(&w.db, &request(frame), "lead").await.unwrap();
        let answered: Vec<i64> = responses::recipients(&w.db, made.id)
            .await
            .unwrap()
            .iter()
            .map(|r| r.post_id)
            .collect();
        assert_eq!(answered, ids[ids.len() - 4..]);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn advocates_earn_points_with_evidence() {
    common::on_each_db(|db| async move {
        let w = World::new(db).await;
        let bluesky = w.channel("brand-bsky", "bluesky").await;
        let (hana, hana_id) = w.customer("Hana Helper", "hana", 300).await;
        let hana_bsky = w.identity("bluesky", "hana.bsky.social", 20).await;
        w.link(hana_bsky, hana).await;
        let ivo = w.identity("mastodon", "ivo", 50).await;
        let quinn = w.identity("mastodon", "quinn", 5).await;
        let fay = w.identity("mastodon", "fay", 5).await;
        let staff = w.identity("mastodon", "brand_support", 900).await;
        let at = |hours: i64| NOW - hours * HOUR_MS;

        w.post(P {
            identity: staff,
            at: at(100),
            text: "New firmware is out!",
            outbound: true,
            ..P::default()
        })
        .await;
        let q1 = w
            .post(P {
                identity: quinn,
                at: at(50),
                text: "How do I reset the display?",
                sentiment: Some(0.0),
                intents: vec![("question", 0.9)],
                ..P::default()
            })
            .await;
        let q1x = w.external(q1).await;
        let a1 = w
            .post(P {
                identity: hana_id,
                at: at(49),
                text: "Hold both buttons for 5 seconds.",
                reply_to: Some(q1x),
                sentiment: Some(0.1),
                ..P::default()
            })
            .await;
        let a1x = w.external(a1).await;
        let thanks = w
            .post(P {
                identity: quinn,
                at: at(48),
                text: "Thanks, that worked!",
                reply_to: Some(a1x),
                sentiment: Some(0.8),
                intents: vec![("praise", 0.7)],
                ..P::default()
            })
            .await;
        // A second answer is an answer, not accepted; answering twice counts once.
        let a2 = w
            .post(P {
                identity: ivo,
                at: at(47),
                text: "Or use the app's reset.",
                reply_to: Some(q1x),
                sentiment: Some(0.0),
                ..P::default()
            })
            .await;
        w.post(P {
            identity: ivo,
            at: at(46),
            text: "Settings > Display > Reset.",
            reply_to: Some(q1x),
            sentiment: Some(0.0),
            ..P::default()
        })
        .await;
        // Staff answering, a question answered by its asker, a staff question: nothing.
        w.post(P {
            identity: staff,
            at: at(45),
            text: "Happy to help via DM!",
            reply_to: Some(q1x),
            sentiment: Some(0.9),
            ..P::default()
        })
        .await;
        let q2 = w
            .post(P {
                identity: quinn,
                at: at(40),
                text: "Is the rack rated for 25 kg?",
                intents: vec![("question", 0.7)],
                ..P::default()
            })
            .await;
        let q2x = w.external(q2).await;
        w.post(P {
            identity: quinn,
            at: at(39),
            text: "Found it: yes.",
            reply_to: Some(q2x),
            ..P::default()
        })
        .await;
        let q3 = w
            .post(P {
                identity: staff,
                at: at(30),
                text: "Which color should we launch next?",
                intents: vec![("question", 0.9)],
                ..P::default()
            })
            .await;
        let q3x = w.external(q3).await;
        w.post(P {
            identity: ivo,
            at: at(29),
            text: "Green!",
            reply_to: Some(q3x),
            ..P::default()
        })
        .await;
        // Hana on Bluesky: a positive mention counts for the same contact.
        let hana_mention = w
            .post(P {
                identity: hana_bsky,
                channel: Some(bluesky),
                at: at(20),
                text: "Best e-bike I've owned",
                sentiment: Some(0.9),
                ..P::default()
            })
            .await;
        // Fay: two positive posts the same day count once; the next day again.
        let fay_day1 = TODAY - 3 * DAY_MS;
        let fay_first = w
            .post(P {
                identity: fay,
                at: fay_day1 + HOUR_MS,
                text: "Great ride today",
                sentiment: Some(0.7),
                ..P::default()
            })
            .await;
        w.post(P {
            identity: fay,
            at: fay_day1 + 2 * HOUR_MS,
            text: "Seriously great",
            sentiment: Some(0.9),
            ..P::default()
        })
        .await;
        let fay_second = w
            .post(P {
                identity: fay,
                at: fay_day1 + DAY_MS + HOUR_MS,
                text: "So smooth",
                intents: vec![("praise", 0.8)],
                ..P::default()
            })
            .await;

        let report = recompute_twice(&w.db).await;
        assert_eq!(report.events_added, 7);
        let ranking = insights::advocates(&w.db, 10, 0).await.unwrap();
        let summary: Vec<(usize, &str, i64)> = ranking.iter().map(|a| (a.rank, a.name.as_str(), a.points)).collect();
        assert_eq!(
            summary,
            [
                (1, "Hana Helper", 9),
                (2, "mastodon:ivo", 3),
                (3, "mastodon:fay", 2),
                (4, "mastodon:quinn", 1)
            ]
        );
        let top = &ranking[0];
        assert_eq!((top.contact_id, top.identity_id), (Some(hana), None));
        assert_eq!(
            top.explanation,
            "1 accepted answer (+5), 1 answered question (+3), 1 positive mention (+1)"
        );
        let events: Vec<(&str, i64, i64)> = top
            .events
            .iter()
            .map(|e| (e.kind.as_str(), e.post_id, e.points))
            .collect();
        assert_eq!(
            events,
            [
                ("positive-mention", hana_mention, 1),
                ("accepted-answer", a1, 5),
                ("answered-question", a1, 3)
            ]
        );
        let accepted = &top.events[1].evidence;
        assert_eq!(accepted["question"], q1);
        assert_eq!(accepted["thanks"], thanks);
        assert_eq!(accepted["asker"], quinn);
        assert_eq!(accepted["thanks_excerpt"], "Thanks, that worked!");
        let answered = &top.events[2].evidence;
        assert_eq!(answered["question"], q1);
        assert_eq!(answered["question_excerpt"], "How do I reset the display?");
        assert_eq!(top.events[0].network, "bluesky");

        assert_eq!(ranking[1].identity_id, Some(ivo));
        assert_eq!(ranking[1].events.len(), 1);
        assert_eq!(ranking[1].events[0].post_id, a2);
        let fay_posts: Vec<i64> = ranking[2].events.iter().map(|e| e.post_id).collect();
        assert_eq!(fay_posts, [fay_second, fay_first]);
        assert_eq!(ranking[2].events[0].evidence["praise"], 0.8);
        assert_eq!(ranking[3].events[0].post_id, thanks);

        // Since a time: only later events.
        let recent = insights::advocates(&w.db, 10, at(30)).await.unwrap();
        assert_eq!(
            recent.iter().map(|a| (a.name.as_str(), a.points)).collect::<Vec<_>>(),
            [("Hana Helper", 1)]
        );
    })
    .await;
}

/// An analyzer's topics are plugin output: whatever characters they hold come
/// back through the inbox's JSON aggregate unchanged, each one whole.
#[tokio::test(flavor = "multi_thread")]
async fn an_analyzers_topics_reach_the_inbox_whole() {
    common::on_each_db(|db| async move {
        let w = World::new(db).await;
        let author = w.identity("mastodon", "someone", 10).await;
        let hostile = vec![
            r#"say "hi""#,
            r"back\slash",
            "line\nbreak\ttab",
            r#"","],["#,
            "ünïcödé 🚲",
            "\u{1f}unit",
        ];
        let post = w
            .post(P {
                identity: author,
                at: NOW - HOUR_MS,
                text: "topics",
                sentiment: Some(-0.5),
                intents: vec![("complaint", 0.9)],
                topics: hostile.clone(),
                ..P::default()
            })
            .await;
        recompute_twice(&w.db).await;
        let row = socialcrm::store::inbox::get(&w.db, post).await.unwrap().unwrap();
        let mut got = row.topics;
        let mut want: Vec<String> = hostile.iter().map(|t| t.to_string()).collect();
        // The order is the database's collation (bytes on SQLite, the locale on PostgreSQL).
        got.sort();
        want.sort();
        assert_eq!(got, want);
    })
    .await;
}

/// `socialcrm analyzer ARGS` on the database at `url`, with the plugins of
/// `plugins` as the bundled ones: (success, stdout and stderr).
fn analyzer_cli(url: &str, plugins: &std::path::Path, args: &[&str]) -> (bool, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_socialcrm"))
        .args(["--database-url", url, "analyzer"])
        .args(args)
        .env("SOCIALCRM_PLUGIN_DIR", plugins)
        .output()
        .expect("socialcrm runs");
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

/// A vendor's analyzer under its own name, and a channel, as installed
/// plugins the CLI finds (their components are not run here).
fn vendor_plugins() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../plugins");
    for (name, from) in [
        ("acme-sentiment", "sentiment"),
        ("acme-mood", "sentiment"),
        ("mastodon", "mastodon"),
    ] {
        let manifest = std::fs::read_to_string(format!("{root}/{from}/plugin.toml")).unwrap();
        let manifest = manifest.replacen(&format!("name = \"{from}\""), &format!("name = \"{name}\""), 1);
        std::fs::create_dir(dir.path().join(name)).unwrap();
        std::fs::write(dir.path().join(name).join("plugin.toml"), manifest).unwrap();
        std::fs::write(dir.path().join(name).join("plugin.wasm"), b"\0asm\x0d\0\x01\0").unwrap();
    }
    dir
}

async fn post_sentiment(db: &Db, post: i64) -> Option<f64> {
    sqlx::query_scalar("SELECT sentiment FROM post_scores WHERE post_id = $1")
        .bind(post)
        .fetch_one(db.pool())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn insights_read_the_analyzer_bound_to_each_signal_whatever_its_name() {
    let plugins = vendor_plugins();
    let plugins = plugins.path();
    common::on_each_db_url(|url, db| async move {
        let w = World::new(db).await;
        let author = w.identity("mastodon", "someone", 10).await;
        let post = w
            .post(P {
                identity: author,
                at: NOW - HOUR_MS,
                text: "the battery died again",
                sentiment: Some(0.6),
                intents: vec![("complaint", 0.9)],
                ..P::default()
            })
            .await;
        // The vendor's analyzer read the same post otherwise.
        w.analyses(
            "2.0.0",
            vec![(post, "acme-sentiment", Some(-0.9), "[]".into(), "[]".into())],
        )
        .await;
        recompute_twice(&w.db).await;
        assert_eq!(
            post_sentiment(&w.db, post).await,
            Some(0.6),
            "a fresh install reads `sentiment`"
        );

        // Compare, then switch: the candidate's shadow analyses against the bound one's.
        let (ok, out) = tokio::task::block_in_place(|| {
            analyzer_cli(&url, plugins, &["compare-binding", "sentiment", "acme-sentiment"])
        });
        assert!(
            ok && out.contains("→ acme-sentiment 2.0.0: 1 posts analysed by both"),
            "{out}"
        );
        assert!(out.contains("label agreement"), "{out}");
        // A candidate that analysed none of the bound one's posts: compare first, or force.
        let (ok, out) =
            tokio::task::block_in_place(|| analyzer_cli(&url, plugins, &["bind", "sentiment", "acme-mood"]));
        assert!(
            !ok && out.contains("`acme-mood` has analysed none of the 1 posts"),
            "{out}"
        );
        let (ok, out) =
            tokio::task::block_in_place(|| analyzer_cli(&url, plugins, &["bind", "sentiment", "acme-sentiment"]));
        assert!(ok, "{out}");
        recompute_twice(&w.db).await;
        assert_eq!(
            post_sentiment(&w.db, post).await,
            Some(-0.9),
            "the bound analyzer is read"
        );
        let (ok, out) = tokio::task::block_in_place(|| analyzer_cli(&url, plugins, &["bindings"]));
        assert!(ok && out.contains("acme-sentiment") && out.contains("intents"), "{out}");

        // Only an analyzer, and only a signal that exists.
        let (ok, out) = tokio::task::block_in_place(|| analyzer_cli(&url, plugins, &["bind", "intents", "mastodon"]));
        assert!(!ok && out.contains("`mastodon` is not an analyzer plugin"), "{out}");
        let (ok, out) =
            tokio::task::block_in_place(|| analyzer_cli(&url, plugins, &["bind", "mood", "acme-sentiment"]));
        assert!(!ok && out.contains("`mood` is not a signal"), "{out}");
        let (ok, out) = tokio::task::block_in_place(|| analyzer_cli(&url, plugins, &["bind", "topics", "no-such"]));
        assert!(!ok && out.contains("no analyzer `no-such`"), "{out}");
        let (ok, out) =
            tokio::task::block_in_place(|| analyzer_cli(&url, plugins, &["bind", "topics", "acme-mood", "--force"]));
        assert!(ok, "{out}");
        let binds: Vec<String> =
            sqlx::query_scalar("SELECT details FROM audit_log WHERE action = 'analyzer.bind' ORDER BY id")
                .fetch_all(w.db.pool())
                .await
                .unwrap();
        assert_eq!(binds.len(), 2);
        assert!(binds[1].contains(r#""forced":true"#), "{binds:?}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_binding_for_a_channel_or_a_language_holds_for_its_posts_only() {
    let plugins = vendor_plugins();
    let plugins = plugins.path();
    common::on_each_db_url(|url, db| async move {
        let w = World::new(db).await;
        let support = w.channel("support", "mastodon").await;
        let author = w.identity("mastodon", "someone", 10).await;
        let post = |channel: i64| P {
            identity: author,
            at: NOW - HOUR_MS,
            text: "der Akku ist schon wieder leer",
            channel: Some(channel),
            sentiment: Some(0.6),
            ..P::default()
        };
        let [english, german, german_support] =
            w.posts(vec![post(w.channel), post(w.channel), post(support)]).await[..]
        else {
            panic!("three posts")
        };
        sqlx::query("UPDATE posts SET language = CASE WHEN id = $1 THEN 'en' ELSE 'de' END")
            .bind(english)
            .execute(w.db.pool())
            .await
            .unwrap();
        let mut vendor = Vec::new();
        for id in [english, german, german_support] {
            vendor.push((id, "acme-sentiment", Some(-0.9), "[]".to_string(), "[]".to_string()));
            vendor.push((id, "acme-mood", Some(-0.5), "[]".to_string(), "[]".to_string()));
        }
        w.analyses("2.0.0", vendor).await;
        let cli = |args: &[&str]| tokio::task::block_in_place(|| analyzer_cli(&url, plugins, args));

        let (ok, out) = cli(&["bind", "sentiment", "acme-sentiment", "--language", "de"]);
        assert!(ok && out.contains("for language:de"), "{out}");
        let (ok, out) = cli(&["bind", "sentiment", "acme-mood", "--channel", "support"]);
        assert!(ok, "{out}");
        recompute_twice(&w.db).await;
        let read = || async {
            let mut out = Vec::new();
            for id in [english, german, german_support] {
                out.push(post_sentiment(&w.db, id).await);
            }
            out
        };
        assert_eq!(
            read().await,
            [Some(0.6), Some(-0.9), Some(-0.5)],
            "everywhere, the language's, then the channel's before the language's"
        );
        let (ok, out) = cli(&["bindings"]);
        assert!(
            ok && out.contains("language:de") && out.contains("channel:support") && out.contains("everywhere"),
            "{out}"
        );

        // Removing the channel's binding hands its posts to the next in line.
        let (ok, out) = cli(&["unbind", "sentiment", "--channel", "support"]);
        assert!(ok, "{out}");
        recompute_twice(&w.db).await;
        assert_eq!(read().await, [Some(0.6), Some(-0.9), Some(-0.9)]);
        let (ok, out) = cli(&["unbind", "sentiment", "--language", "de"]);
        assert!(ok, "{out}");
        recompute_twice(&w.db).await;
        assert_eq!(read().await, [Some(0.6), Some(0.6), Some(0.6)]);

        // Scopes that do not exist or do not parse, and bindings that are not there.
        let (ok, out) = cli(&["bind", "sentiment", "acme-mood", "--channel", "nope"]);
        assert!(!ok && out.contains("no channel account `nope`"), "{out}");
        let (ok, out) = cli(&["bind", "sentiment", "acme-mood", "--language", "German"]);
        assert!(!ok && out.contains("`language:German` is not a binding scope"), "{out}");
        let (ok, out) = cli(&["unbind", "sentiment", "--language", "fr"]);
        assert!(
            !ok && out.contains("sentiment has no binding for `language:fr`"),
            "{out}"
        );
        let (ok, out) = cli(&["unbind", "sentiment"]);
        assert!(!ok && out.contains("can be changed, not removed"), "{out}");
        let audited: Vec<(String, String)> = sqlx::query_as(
            "SELECT action, details FROM audit_log WHERE action IN ('analyzer.bind', 'analyzer.unbind') ORDER BY id",
        )
        .fetch_all(w.db.pool())
        .await
        .unwrap();
        let actions: Vec<&str> = audited.iter().map(|(a, _)| a.as_str()).collect();
        assert_eq!(
            actions,
            ["analyzer.bind", "analyzer.bind", "analyzer.unbind", "analyzer.unbind"]
        );
        assert!(audited[1].1.contains(r#""scope":"channel:support""#), "{audited:?}");
    })
    .await;
}

/// The example vendor scorer of plugins/examples, built and packaged as its
/// author would hand it to an admin.
fn recency_scorer() -> Package {
    let dir = common::plugin_dir("plugins/examples/recency-scorer");
    Package::from_dir(dir.path()).expect("the example packages")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_vendor_scorer_bound_to_churn_risk_reorders_the_ranking_and_the_inbox() {
    let package = recency_scorer();
    common::on_each_db(|db| {
        let package = package.clone();
        async move {
            let w = World::new(db).await;
            // Bob is angry now but ordered 20 days ago; Dan is quiet, his last order 300 days ago.
            let (bob, bob_id) = w.customer("Bob Angry", "bob", 10).await;
            w.transaction(bob, "purchase", 100.0, 20, "lock").await;
            for day in 1..=3 {
                w.post(P {
                    identity: bob_id,
                    at: NOW - day * DAY_MS,
                    text: "Still broken.",
                    sentiment: Some(-0.6),
                    intents: vec![("complaint", 0.9)],
                    ..P::default()
                })
                .await;
            }
            let (dan, dan_id) = w.customer("Dan Lapsed", "dan", 10).await;
            w.transaction(dan, "purchase", 100.0, 300, "lock").await;
            let question = w
                .post(P {
                    identity: dan_id,
                    at: NOW - HOUR_MS,
                    text: "Do you still sell the X1 lock?",
                    sentiment: Some(0.0),
                    intents: vec![("question", 0.8)],
                    ..P::default()
                })
                .await;
            // Dan is a VIP in the shop (a source's `tags` field).
            let shop = w.channel("shop", "shopify").await;
            sqlx::query(
                "INSERT INTO source_contacts (account_id, external_id, contact_id, custom_fields, updated_at) \
                 VALUES ($1, 'c-dan', $2, '{\"tags\": \"VIP, newsletter\"}', 0)",
            )
            .bind(shop)
            .bind(dan)
            .execute(w.db.pool())
            .await
            .unwrap();

            recompute_twice(&w.db).await;
            let names = |r: &[insights::ContactScore]| -> Vec<String> {
                r.iter().map(|s| s.name.clone().unwrap_or_default()).collect()
            };
            let before = insights::churn_ranking(&w.db, 10).await.unwrap();
            assert_eq!(
                names(&before),
                ["Bob Angry", "Dan Lapsed"],
                "the bundled model weighs the anger"
            );
            let priority = |db: Db| async move {
                let inbox = insights::inbox(&db, "open", 10, NOW).await.unwrap();
                let item = inbox.into_iter().find(|i| i.post_id == question).unwrap();
                (item.base, item.signals.author_churn)
            };
            let (base_before, churn_before) = priority(w.db.clone()).await;
            assert_eq!(churn_before, before[1].churn);

            // Binding refuses what cannot make the prediction.
            let err = predict::bind(&w.db, "churn-risk", "recency-scorer", "admin")
                .await
                .unwrap_err();
            assert!(err.to_string().contains("no scorer `recency-scorer`"), "{err}");
            let err = predict::bind(&w.db, "churn-risk", "sentiment", "admin")
                .await
                .unwrap_err();
            assert!(matches!(err, PredictError::NotScorer(_)), "{err}");
            let err = predict::bind(&w.db, "lifetime", "churn", "admin").await.unwrap_err();
            assert!(matches!(err, PredictError::Prediction(_)), "{err}");

            // The admin sees the features it reads among its permissions, installs and binds it.
            assert_eq!(
                Permissions::of(&package.manifest).features,
                ["days-since-order", "orders-12m", "churn-intent-30d", "tags"]
            );
            let runtime = Runtime::new(RuntimeOptions::default()).unwrap();
            registry::install(&w.db, &runtime, &package, "admin").await.unwrap();
            let bound = predict::bind(&w.db, "churn-risk", "recency-scorer", "admin")
                .await
                .unwrap();
            assert_eq!(bound.scorer, "recency-scorer");
            let listed = predict::bindings(&w.db).await.unwrap();
            assert_eq!(listed, [bound]);
            let audit = socialcrm::store::audit_entries(w.db.pool(), 10).await.unwrap();
            assert!(
                audit
                    .iter()
                    .any(|e| e.action == "scorer.bind" && e.subject == "churn-risk")
            );

            let report = insights::recompute(&w.db, NOW).await.unwrap();
            assert!(report.warnings.is_empty(), "{:?}", report.warnings);
            assert!(insights::recompute(&w.db, NOW).await.unwrap().is_unchanged());
            let after = insights::churn_ranking(&w.db, 10).await.unwrap();
            assert_eq!(
                names(&after),
                ["Dan Lapsed", "Bob Angry"],
                "the vendor's model weighs recency"
            );
            let dan_score = &after[0];
            assert_eq!(dan_score.scorer.as_deref(), Some("recency-scorer 0.1.0"));
            // 0.6 for 300 days, 0.25 · 3/4 for one order; the VIP tag halves it.
            assert!(
                (dan_score.churn - (0.6 + 0.1875) / 2.0).abs() < 1e-6,
                "{}",
                dan_score.churn
            );
            assert_eq!(
                dan_score.explanation,
                "no order for 300 days; VIP: half the risk; 1 order in 12 months"
            );
            assert_eq!(after[1].explanation, "1 order in 12 months; no order for 20 days");

            // Dan's question now ranks by his new risk.
            let (base_after, churn_after) = priority(w.db.clone()).await;
            assert_eq!(churn_after, dan_score.churn);
            assert!((base_after - base_before - 10.0 * (churn_after - churn_before)).abs() < 1e-6);

            // Binding the bundled model again brings its ranking back.
            predict::bind(&w.db, "churn-risk", "churn", "admin").await.unwrap();
            insights::recompute(&w.db, NOW).await.unwrap();
            let again = insights::churn_ranking(&w.db, 10).await.unwrap();
            assert_eq!(names(&again), names(&before));
            assert_eq!(again[0].churn, before[0].churn);
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_vendor_analyzers_custom_signals_and_aspects_reach_the_inbox_and_its_filters() {
    let dir = common::plugin_dir("plugins/examples/urgency-analyzer");
    let (manifest, wasm) = socialcrm::plugins::resolve(dir.path().to_str().unwrap()).unwrap();
    common::on_each_db(|db| {
        let (manifest, wasm) = (manifest.clone(), wasm.clone());
        async move {
            let w = World::new(db).await;
            let author = w.identity("mastodon", "someone", 10).await;
            let urgent = w
                .post(P {
                    identity: author,
                    at: NOW - HOUR_MS,
                    text: "PLEASE FIX THIS ASAP!!! the battery died but the frame is gorgeous",
                    ..P::default()
                })
                .await;
            let calm = w
                .post(P {
                    identity: author,
                    at: NOW - 2 * HOUR_MS,
                    text: "The range is great",
                    ..P::default()
                })
                .await;
            let entry = |id: &str, synonyms: &[&str]| Entry {
                id: id.into(),
                kind: "aspect".into(),
                name: id.into(),
                synonyms: synonyms.iter().map(|s| s.to_string()).collect(),
            };
            custom::put(&w.db, &entry("battery", &["range"]), "admin")
                .await
                .unwrap();
            custom::put(&w.db, &entry("frame", &[]), "admin").await.unwrap();
            let bad = Entry {
                kind: "colour".into(),
                ..entry("paint", &[])
            };
            assert!(matches!(
                custom::put(&w.db, &bad, "admin").await,
                Err(CustomError::Invalid(_))
            ));

            // The analyzer runs as the ingest runs it, with the taxonomy.
            let runtime = Runtime::new(RuntimeOptions::default()).unwrap();
            let analyzer = runtime.load_analyzer(manifest.sandbox(), &wasm).unwrap();
            assert_eq!(custom::register(&w.db, &analyzer).await.unwrap(), 2);
            let sbox = socialcrm::secrets::SecretBox::from_key(&[7; 32]).unwrap();
            let options = socialcrm::ingest::IngestOptions::default();
            let ingest = socialcrm::ingest::Ingest::new(w.db.clone(), sbox, runtime, vec![analyzer], options);
            assert_eq!(ingest.catch_up_analysis().await.unwrap(), 2);
            recompute_twice(&w.db).await;
            let aspect_rows = || async {
                sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM post_aspects")
                    .fetch_one(w.db.pool())
                    .await
                    .unwrap()
            };
            assert_eq!(aspect_rows().await, 0, "aspects come from the analyzer bound to them");
            // Bound as `analyzer bind aspects urgency-analyzer` would (the
            // example is loaded here, not installed).
            sqlx::query("UPDATE signal_bindings SET analyzer = 'urgency-analyzer' WHERE signal = 'aspects'")
                .execute(w.db.pool())
                .await
                .unwrap();
            recompute_twice(&w.db).await;
            assert_eq!(aspect_rows().await, 3);

            let signals = custom::signals(&w.db).await.unwrap();
            let names: Vec<(&str, &str)> = signals.iter().map(|s| (s.name.as_str(), s.analyzer.as_str())).collect();
            assert_eq!(names, [("tone", "urgency-analyzer"), ("urgency", "urgency-analyzer")]);
            let aspects: Vec<(i64, String, Option<f64>)> =
                sqlx::query("SELECT post_id, entry, sentiment FROM post_aspects ORDER BY post_id, entry")
                    .fetch_all(w.db.pool())
                    .await
                    .unwrap()
                    .iter()
                    .map(|r| (r.get("post_id"), r.get("entry"), r.get("sentiment")))
                    .collect();
            assert_eq!(
                aspects,
                [
                    (urgent, "battery".into(), Some(-1.0)),
                    (urgent, "frame".into(), Some(1.0)),
                    (calm, "battery".into(), Some(1.0)),
                ]
            );

            // Trends per aspect: each post with the sentiment of what it says of it.
            let trend = |aspect: &str, topic: Option<&str>| {
                let q = TrendQuery {
                    topic: topic.map(String::from),
                    aspect: Some(aspect.to_string()),
                    product: None,
                    signal: None,
                    bucket: Bucket::Day,
                    since: NOW - DAY_MS,
                    until: NOW,
                };
                let db = w.db.clone();
                async move { insights::trend(&db, &q).await }
            };
            let battery = trend("battery", None).await.unwrap();
            let posts: i64 = battery.iter().map(|p| p.posts).sum();
            let negative: i64 = battery.iter().map(|p| p.negative).sum();
            assert_eq!((posts, negative), (2, 1), "{battery:?}");
            let frame = trend("frame", None).await.unwrap();
            assert_eq!(
                frame
                    .iter()
                    .map(|p| (p.posts, p.negative))
                    .filter(|p| p.0 > 0)
                    .collect::<Vec<_>>(),
                [(1, 0)]
            );
            // With a topic too: the posts that have both (none here).
            assert!(trend("frame", Some("x2")).await.unwrap().iter().all(|p| p.posts == 0));

            // The inbox shows them as badges and filters on them.
            let server = common::http::start_with(ingest).await;
            let token = socialcrm::tokens::create(&w.db, "val", socialcrm::tokens::Role::Viewer, "test")
                .await
                .unwrap();
            let get = |path: String| {
                let request = reqwest::Client::new().get(server.api(&path)).bearer_auth(&token);
                common::http::answer(request)
            };
            let ids = |body: &serde_json::Value| -> Vec<i64> {
                body["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|p| p["id"].as_i64().unwrap())
                    .collect()
            };
            let (status, all) = get("/posts?sort=newest".into()).await;
            assert_eq!(status, 200, "{all}");
            // Newest first by id: the calm post was stored second.
            assert_eq!(ids(&all), [calm, urgent]);
            assert_eq!(
                all["items"][1]["signals"],
                serde_json::json!([
                    {"name": "tone", "value": "polite"},
                    {"name": "urgency", "value": "0.70"},
                ])
            );
            let (_, body) = get("/posts?sort=newest&signal=urgency%3E%3D0.5".into()).await;
            assert_eq!(ids(&body), [urgent]);
            let (_, body) = get("/posts?sort=newest&signal=urgency%3E%3D0".into()).await;
            assert_eq!(ids(&body), [calm, urgent]);
            let (_, body) = get("/posts?signal=tone:polite".into()).await;
            assert_eq!(ids(&body), [urgent]);
            let (_, body) = get("/posts?signal=tone:rude".into()).await;
            assert!(ids(&body).is_empty());
            for bad in ["urgency%3E%3Dhigh", "Tone:polite", "tone:", "a:b:c"] {
                let (status, body) = get(format!("/posts?signal={bad}")).await;
                assert_eq!(status, 400, "{bad}: {body}");
            }
            // Trends of a custom signal: its posts, with the mean score per bucket.
            let since = NOW - DAY_MS;
            let trend_of = |signal: &str| get(format!("/insights/trends?signal={signal}&since={since}&until={NOW}"));
            let busy = |body: &serde_json::Value| -> Vec<(i64, serde_json::Value)> {
                body["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|p| p["posts"].as_i64() > Some(0))
                    .map(|p| (p["posts"].as_i64().unwrap(), p["mean_signal"].clone()))
                    .collect()
            };
            let (status, body) = trend_of("urgency%3E%3D0.5").await;
            assert_eq!(status, 200, "{body}");
            let points = busy(&body);
            assert_eq!(points.len(), 1, "{body}");
            assert_eq!(points[0].0, 1);
            assert!((points[0].1.as_f64().unwrap() - 0.7).abs() < 1e-9, "{body}");
            let (_, body) = trend_of("urgency").await;
            assert_eq!(busy(&body).iter().map(|p| p.0).sum::<i64>(), 2, "{body}");
            let (_, body) = trend_of("tone:polite").await;
            assert_eq!(busy(&body), [(1, serde_json::Value::Null)], "a label has no mean");
            let (status, _) = trend_of("urgency%3E%3Dsoon").await;
            assert_eq!(status, 400);
            let (_, detail) = get(format!("/posts/{urgent}")).await;
            let analysis = &detail["analyses"][0];
            assert_eq!(analysis["plugin"], "urgency-analyzer");
            assert_eq!(analysis["aspects"][0]["entry"], "battery");
            assert_eq!(analysis["signals"][0]["name"], "urgency");
            let (_, listed) = get("/signals".into()).await;
            assert_eq!(
                listed["items"][1]["kind"],
                serde_json::json!({"score": {"min": 0.0, "max": 1.0}})
            );
        }
    })
    .await;
}
