//! Retention (docs/retention.md), on SQLite and PostgreSQL: for every kind of
//! data, rows past their period are gone after a run and rows inside it are
//! not; a dry run counts exactly what the run then removes; runs go in
//! bounded batches, each audited; policy changes are audited; the CLI, the
//! API and `serve`'s schedule.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::http::{answer, start};
use serde_json::{Value, json};
use socialcrm::retention::{self, Kind, Period};
use socialcrm::store::{DAY_MS, Db, audit_entries, now_ms};
use socialcrm::tokens::{self, Role};

/// The periods the tests set, in days.
const PERIODS: [(Kind, u32); 6] = [
    (Kind::RawPayloads, 30),
    (Kind::PostText, 365),
    (Kind::Analyses, 90),
    (Kind::Egress, 30),
    (Kind::Audit, 400),
    (Kind::ErasureReceipts, 1095),
];

fn days_ago(now: i64, days: i64) -> i64 {
    now - days * DAY_MS
}

async fn exec(db: &Db, sql: &str, binds: &[i64]) {
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.to_string()));
    for b in binds {
        q = q.bind(*b);
    }
    q.execute(db.pool()).await.unwrap();
}

async fn ids(db: &Db, sql: &str) -> BTreeSet<i64> {
    sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql.to_string()))
        .fetch_all(db.pool())
        .await
        .unwrap()
        .into_iter()
        .collect()
}

async fn set_periods(db: &Db) {
    for (kind, days) in PERIODS {
        retention::set(db, kind, Period::Days(days), "test").await.unwrap();
    }
}

/// A channel, an author and a post written `created` and ingested `ingested`
/// days before `now`: its id.
async fn post(db: &Db, now: i64, external_id: &str, created: i64, ingested: i64) -> i64 {
    if ids(db, "SELECT id FROM channel_accounts").await.is_empty() {
        exec(
            db,
            "INSERT INTO channel_accounts (name, plugin, network, created_at, updated_at) VALUES ('brand', 'mastodon', 'mastodon', $1, $1)",
            &[now],
        )
        .await;
        exec(
            db,
            "INSERT INTO identities (network, external_user_id, handle, first_seen, last_seen) VALUES ('mastodon', 'u1', 'ann@example.social', $1, $1)",
            &[now],
        )
        .await;
    }
    sqlx::query_scalar(
        "INSERT INTO posts (channel_id, external_id, identity_id, kind, direction, text, url, created_at, raw, ingested_at) \
         VALUES (1, $1, 1, 'mention', 'inbound', $2, 'https://example.social/1', $3, '{\"id\":\"1\"}', $4) RETURNING id",
    )
    .bind(external_id)
    .bind(format!("text of {external_id}"))
    .bind(days_ago(now, created))
    .bind(days_ago(now, ingested))
    .fetch_one(db.pool())
    .await
    .unwrap()
}

async fn analysis(db: &Db, post: i64, version: &str, created: i64) -> i64 {
    sqlx::query_scalar(
        "INSERT INTO analyses (post_id, plugin, version, sentiment, created_at) VALUES ($1, 'sentiment', $2, 0.5, $3) RETURNING id",
    )
    .bind(post)
    .bind(version)
    .bind(created)
    .fetch_one(db.pool())
    .await
    .unwrap()
}

async fn egress(db: &Db, at: i64) -> i64 {
    sqlx::query_scalar(
        "INSERT INTO egress (at, plugin, version, call, method, scheme, host, port, path, request_bytes, response_bytes, duration_ms) \
         VALUES ($1, 'mastodon', '1.0.0', 'poll', 'GET', 'https', 'example.social', 443, '/', 0, 0, 1) RETURNING id",
    )
    .bind(at)
    .fetch_one(db.pool())
    .await
    .unwrap()
}

async fn audit_row(db: &Db, at: i64, subject: &str) -> i64 {
    sqlx::query_scalar(
        "INSERT INTO audit_log (at, actor, action, subject, details) VALUES ($1, 'alice', 'post.close', $2, '{}') RETURNING id",
    )
    .bind(at)
    .bind(subject)
    .fetch_one(db.pool())
    .await
    .unwrap()
}

async fn erasure(db: &Db, receipt: &str, status: &str, finished_at: Option<i64>) -> i64 {
    sqlx::query_scalar(
        "INSERT INTO erasures (receipt, requested_by, status, plan, created_at, updated_at, finished_at) \
         VALUES ($1, 'alice', $2, '{}', 0, 0, $3) RETURNING id",
    )
    .bind(receipt)
    .bind(status)
    .bind(finished_at)
    .fetch_one(db.pool())
    .await
    .unwrap()
}

/// The rows one kind has past its period and inside it.
#[derive(Default)]
struct Rows {
    past: BTreeSet<i64>,
    inside: BTreeSet<i64>,
}

/// A world with rows on both sides of every kind's period (one day each
/// side), as `PERIODS` sets them at `now`.
struct World {
    raw: Rows,
    text: Rows,
    analyses: Rows,
    egress: Rows,
    audit: Rows,
    receipts: Rows,
}

async fn world(db: &Db, now: i64) -> World {
    // Posts: written and ingested on either side of 30 (raw) and 365 (text) days.
    let fresh = post(db, now, "fresh", 29, 29).await;
    let raw_old = post(db, now, "raw-old", 31, 31).await;
    let year_old = post(db, now, "year-old", 364, 364).await;
    // A post written long ago and ingested yesterday (a back-fill): its text
    // is past the period, its payload is not.
    let text_old = post(db, now, "text-old", 366, 1).await;
    // (The payload of `text_old` goes with its text.)
    let raw = Rows {
        past: [raw_old, year_old].into(),
        inside: [fresh].into(),
    };
    let text = Rows {
        past: [text_old].into(),
        inside: [fresh, raw_old, year_old].into(),
    };

    // Analyses: 90 days. Superseded ones go once past it; the one insights
    // read (the newest, or the version chosen for insights) stays.
    let superseded_old = analysis(db, fresh, "1.0.0", days_ago(now, 91)).await;
    let superseded_recent = analysis(db, fresh, "1.1.0", days_ago(now, 89)).await;
    let newest_old = analysis(db, fresh, "2.0.0", days_ago(now, 91)).await;
    let only_old = analysis(db, raw_old, "1.0.0", days_ago(now, 200)).await;
    exec(
        db,
        "INSERT INTO insights_versions (plugin, version, updated_by, updated_at) VALUES ('sentiment', '0.9.0', 'test', 0)",
        &[],
    )
    .await;
    let chosen_old = analysis(db, year_old, "0.9.0", days_ago(now, 300)).await;
    let between = analysis(db, year_old, "1.0.0", days_ago(now, 250)).await;
    let newest_of_year_old = analysis(db, year_old, "2.0.0", days_ago(now, 200)).await;
    let analyses = Rows {
        past: [superseded_old, between].into(),
        inside: [superseded_recent, newest_old, only_old, chosen_old, newest_of_year_old].into(),
    };
    // Analyses of a post whose text expires go with its text, not as analyses.
    analysis(db, text_old, "2.0.0", days_ago(now, 1)).await;

    let egress = Rows {
        past: [egress(db, days_ago(now, 31)).await].into(),
        inside: [egress(db, days_ago(now, 29)).await].into(),
    };
    let audit = Rows {
        past: [audit_row(db, days_ago(now, 401), "post:old").await].into(),
        inside: [audit_row(db, days_ago(now, 399), "post:recent").await].into(),
    };
    let receipts = Rows {
        past: [erasure(db, "r-old", "done", Some(days_ago(now, 1096))).await].into(),
        inside: [
            erasure(db, "r-recent", "done", Some(days_ago(now, 1094))).await,
            // Running, however old: a receipt only once it is done.
            erasure(db, "r-running", "running", None).await,
        ]
        .into(),
    };
    World {
        raw,
        text,
        analyses,
        egress,
        audit,
        receipts,
    }
}

/// Where each kind's rows that are still there are, by the kind's own rule.
async fn kept(db: &Db, kind: Kind) -> BTreeSet<i64> {
    ids(
        db,
        match kind {
            Kind::RawPayloads => "SELECT id FROM posts WHERE raw <> '{}'",
            Kind::PostText => "SELECT id FROM posts WHERE tombstone IS NULL AND text <> ''",
            Kind::Analyses => "SELECT id FROM analyses",
            Kind::Egress => "SELECT id FROM egress",
            Kind::Audit => "SELECT id FROM audit_log WHERE action = 'post.close'",
            Kind::ErasureReceipts => "SELECT id FROM erasures",
        },
    )
    .await
}

fn rows_of(world: &World, kind: Kind) -> &Rows {
    match kind {
        Kind::RawPayloads => &world.raw,
        Kind::PostText => &world.text,
        Kind::Analyses => &world.analyses,
        Kind::Egress => &world.egress,
        Kind::Audit => &world.audit,
        Kind::ErasureReceipts => &world.receipts,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_kind_loses_the_rows_past_its_period_and_keeps_the_rest() {
    common::on_each_db(|db| async move {
        set_periods(&db).await;
        let now = now_ms();
        let world = world(&db, now).await;
        for kind in Kind::ALL {
            let rows = rows_of(&world, kind);
            let all: BTreeSet<i64> = rows.past.union(&rows.inside).copied().collect();
            assert!(kept(&db, kind).await.is_superset(&all), "{kind:?}: the world is not set up");
        }

        // The dry run counts what is past each period (the analyses of the
        // post whose text expires are not among them) and changes nothing.
        let preview = retention::preview(&db, now).await.unwrap();
        for due in &preview {
            let rows = rows_of(&world, due.kind);
            assert_eq!(due.rows, rows.past.len() as u64, "{:?} due", due.kind);
        }
        assert_eq!(retention::preview(&db, now).await.unwrap(), preview);

        let done = retention::run(&db, now, "test").await.unwrap();
        assert_eq!(done, preview, "a run removes what the dry run counted");
        for kind in Kind::ALL {
            let rows = rows_of(&world, kind);
            let kept = kept(&db, kind).await;
            assert!(kept.is_disjoint(&rows.past), "{kind:?}: past its period yet kept: {kept:?}");
            assert!(kept.is_superset(&rows.inside), "{kind:?}: inside its period yet gone: {kept:?}");
        }

        // A payload past its period is blanked and the post stays whole; a
        // text past its period makes the post a tombstone, its analyses gone.
        let raw_old = *world.raw.past.first().unwrap();
        let (text, raw, tombstone): (String, String, Option<String>) =
            sqlx::query_as("SELECT text, raw, tombstone FROM posts WHERE id = $1")
                .bind(raw_old)
                .fetch_one(db.pool())
                .await
                .unwrap();
        assert_eq!((text.as_str(), raw.as_str(), tombstone), ("text of raw-old", "{}", None));
        let text_old = *world.text.past.first().unwrap();
        let (text, raw, tombstone): (String, String, Option<String>) =
            sqlx::query_as("SELECT text, raw, tombstone FROM posts WHERE id = $1")
                .bind(text_old)
                .fetch_one(db.pool())
                .await
                .unwrap();
        assert_eq!((text.as_str(), raw.as_str(), tombstone.as_deref()), ("", "{}", Some("expired")));
        let left = format!("SELECT id FROM analyses WHERE post_id = {text_old}");
        assert!(ids(&db, &left).await.is_empty(), "the expired post's analyses");
        assert_eq!(ids(&db, "SELECT id FROM posts").await.len(), 4, "no post row is deleted");

        // Each kind's removal is audited with its rows and cutoff.
        let entries = audit_entries(db.pool(), 100).await.unwrap();
        for kind in Kind::ALL {
            let expired: Vec<&Value> = entries
                .iter()
                .filter(|e| e.action == "retention.expire" && e.subject == kind.as_str())
                .map(|e| &e.details)
                .collect();
            let period = PERIODS.iter().find(|(k, _)| *k == kind).unwrap().1;
            assert_eq!(
                expired,
                [&json!({"rows": rows_of(&world, kind).past.len(), "before": days_ago(now, i64::from(period)), "days": period})],
                "{kind:?}"
            );
        }

        // Nothing is left for the next run.
        assert!(retention::preview(&db, now).await.unwrap().iter().all(|d| d.rows == 0));
        assert!(retention::run(&db, now, "test").await.unwrap().iter().all(|d| d.rows == 0));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_defaults_keep_post_text_and_analyses_and_expire_the_rest() {
    common::on_each_db(|db| async move {
        let now = now_ms();
        let expected = [
            (Kind::RawPayloads, Some(30)),
            (Kind::PostText, None),
            (Kind::Analyses, None),
            (Kind::Egress, Some(30)),
            (Kind::Audit, Some(400)),
            (Kind::ErasureReceipts, Some(1095)),
        ];
        let ancient = post(&db, now, "ancient", 5000, 5000).await;
        analysis(&db, ancient, "1.0.0", days_ago(now, 5000)).await;
        analysis(&db, ancient, "2.0.0", days_ago(now, 5000)).await;
        let preview = retention::preview(&db, now).await.unwrap();
        let periods: Vec<(Kind, Option<u32>)> = preview.iter().map(|d| (d.kind, d.period.days())).collect();
        assert_eq!(periods, expected);
        retention::run(&db, now, "test").await.unwrap();
        assert_eq!(kept(&db, Kind::PostText).await, [ancient].into());
        assert_eq!(kept(&db, Kind::Analyses).await.len(), 2);
        assert!(kept(&db, Kind::RawPayloads).await.is_empty());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn runs_go_in_bounded_batches_each_audited() {
    common::on_each_db(|db| async move {
        let now = now_ms();
        // 12,000 requests a year old and 5 of today.
        exec(
            &db,
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 12000) \
             INSERT INTO egress (at, plugin, version, call, method, scheme, host, port, path, request_bytes, response_bytes, duration_ms) \
             SELECT $1 + i, 'mastodon', '1.0.0', 'poll', 'GET', 'https', 'example.social', 443, '/', 0, 0, 1 FROM n",
            &[days_ago(now, 365)],
        )
        .await;
        for _ in 0..5 {
            egress(&db, now).await;
        }
        let done = retention::run(&db, now, "test").await.unwrap();
        let egress_done = done.iter().find(|d| d.kind == Kind::Egress).unwrap();
        assert_eq!(egress_done.rows, 12_000);
        assert_eq!(kept(&db, Kind::Egress).await.len(), 5);
        let batches: Vec<u64> = audit_entries(db.pool(), 100)
            .await
            .unwrap()
            .iter()
            .filter(|e| e.action == "retention.expire" && e.subject == "egress")
            .map(|e| e.details["rows"].as_u64().unwrap())
            .collect();
        assert_eq!(batches, [2_000, 5_000, 5_000], "newest first");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn policy_changes_are_checked_and_audited() {
    common::on_each_db(|db| async move {
        retention::set(&db, Kind::PostText, Period::Days(730), "alice")
            .await
            .unwrap();
        retention::set(&db, Kind::RawPayloads, Period::Never, "alice")
            .await
            .unwrap();
        // The period it already has: no change, no entry.
        retention::set(&db, Kind::RawPayloads, Period::Never, "alice")
            .await
            .unwrap();
        let changes: Vec<(String, String, Value)> = audit_entries(db.pool(), 10)
            .await
            .unwrap()
            .into_iter()
            .filter(|e| e.action == "retention.set")
            .map(|e| (e.actor, e.subject, e.details))
            .collect();
        assert_eq!(
            changes,
            [
                (
                    "alice".into(),
                    "raw-payloads".into(),
                    json!({"from": "30", "to": "never"})
                ),
                (
                    "alice".into(),
                    "post-text".into(),
                    json!({"from": "never", "to": "730"})
                ),
            ]
        );
        let preview = retention::preview(&db, now_ms()).await.unwrap();
        let period = |kind| preview.iter().find(|d| d.kind == kind).unwrap().period;
        assert_eq!(
            (period(Kind::PostText), period(Kind::RawPayloads)),
            (Period::Days(730), Period::Never)
        );

        for bad in ["0", "-1", "36501", "30d", "", "forever"] {
            assert!(bad.parse::<Period>().is_err(), "{bad:?} taken as a period");
        }
        assert_eq!("36500".parse::<Period>().unwrap(), Period::Days(36_500));
        assert_eq!(" never ".parse::<Period>().unwrap(), Period::Never);
        assert_eq!(Kind::parse("raws"), None);

        // A hand-edited setting that is not a period stops runs instead of guessing.
        exec(
            &db,
            "UPDATE settings SET value = 'soon' WHERE key = 'retention.post-text'",
            &[],
        )
        .await;
        let e = retention::run(&db, now_ms(), "test").await.unwrap_err();
        assert!(e.to_string().contains("post-text is `soon`"), "{e}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_runs_retention_on_its_schedule() {
    common::on_each_db(|db| async move {
        let now = now_ms();
        let old = egress(&db, days_ago(now, 31)).await;
        let recent = egress(&db, days_ago(now, 29)).await;
        let (stop_tx, stop) = tokio::sync::watch::channel(false);
        let task = tokio::spawn(retention::schedule(db.clone(), Duration::from_millis(50), stop));
        let started = std::time::Instant::now();
        while kept(&db, Kind::Egress).await.contains(&old) {
            assert!(started.elapsed() < Duration::from_secs(20), "no scheduled run");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(kept(&db, Kind::Egress).await, [recent].into());
        let entry = audit_entries(db.pool(), 10)
            .await
            .unwrap()
            .into_iter()
            .find(|e| e.action == "retention.expire");
        assert_eq!(entry.map(|e| e.actor).as_deref(), Some("retention"));
        stop_tx.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(10), task)
            .await
            .unwrap()
            .unwrap();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_cli_shows_sets_and_runs() {
    common::on_each_db_url(|url, db| async move {
        let now = now_ms();
        egress(&db, days_ago(now, 31)).await;
        egress(&db, days_ago(now, 31)).await;
        let cli = |args: &[&str]| {
            let out = std::process::Command::new(env!("CARGO_BIN_EXE_socialcrm"))
                .arg("--database-url")
                .arg(&url)
                .arg("retention")
                .args(args)
                .output()
                .unwrap();
            let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
            (out.status.success(), text)
        };
        let line = |text: &str, kind: &str| {
            text.lines()
                .find(|l| l.starts_with(kind))
                .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
                .unwrap_or_default()
        };

        let (ok, shown) = cli(&["show"]);
        assert!(ok, "{shown}");
        assert!(
            line(&shown, "egress").starts_with("egress 30 days 30 days 2 "),
            "{shown}"
        );
        assert_eq!(line(&shown, "post-text"), "post-text never never 0 -", "{shown}");

        let (ok, out) = cli(&["set", "egress", "40"]);
        assert!(ok, "{out}");
        let (ok, shown) = cli(&["run", "--dry-run"]);
        assert!(ok, "{shown}");
        assert!(
            line(&shown, "egress").starts_with("egress 40 days 30 days 0 "),
            "{shown}"
        );
        cli(&["set", "egress", "30"]);
        let (ok, done) = cli(&["run"]);
        assert!(ok, "{done}");
        assert!(line(&done, "egress").starts_with("egress 30 days 30 days 2 "), "{done}");
        assert!(kept(&db, Kind::Egress).await.is_empty());

        for bad in [&["set", "egress", "0"][..], &["set", "posts", "30"], &["set", "egress"]] {
            let (ok, out) = cli(bad);
            assert!(!ok, "{bad:?} accepted: {out}");
        }
        let (_, out) = cli(&["set", "posts", "30"]);
        assert!(out.contains("raw-payloads, post-text"), "{out}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_api_shows_the_policy_with_what_is_due_and_admins_set_it() {
    common::on_each_db(|db| async move {
        let server = start(&db).await;
        let admin = tokens::first_admin(&db).await.unwrap().unwrap();
        let agent = tokens::create(&db, "alice", Role::Agent, "test").await.unwrap();
        let now = now_ms();
        post(&db, now, "old", 800, 800).await;
        let client = reqwest::Client::new();

        let (status, policy) = answer(client.get(server.api("/retention")).bearer_auth(&admin)).await;
        assert_eq!(status, 200, "{policy}");
        let item = |policy: &Value, kind: &str| {
            policy["items"]
                .as_array()
                .unwrap()
                .iter()
                .find(|i| i["kind"] == kind)
                .cloned()
                .unwrap()
        };
        assert_eq!(policy["items"].as_array().unwrap().len(), 6);
        let raw = item(&policy, "raw-payloads");
        assert_eq!(
            (&raw["days"], &raw["default_days"], &raw["due"]),
            (&json!(30), &json!(30), &json!(1))
        );
        let text = item(&policy, "post-text");
        assert_eq!(
            (&text["days"], &text["cutoff"], &text["due"]),
            (&Value::Null, &Value::Null, &json!(0))
        );

        let put = |kind: &str, token: &str, body: Value| {
            client
                .put(server.api(&format!("/retention/{kind}")))
                .bearer_auth(token)
                .json(&body)
        };
        let (status, body) = answer(put("post-text", &admin, json!({"days": 730}))).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!((&body["days"], &body["due"]), (&json!(730), &json!(1)));
        assert_eq!(answer(put("post-text", &agent, json!({"days": 1}))).await.0, 403);
        assert_eq!(answer(put("posts", &admin, json!({"days": 1}))).await.0, 404);
        for (bad, code) in [
            (json!({"days": 0}), 400),
            (json!({"days": -3}), 400),
            (json!({"days": 36501}), 400),
            (json!({}), 422),
            (json!({"days": "never"}), 422),
        ] {
            let (status, body) = answer(put("post-text", &admin, bad.clone())).await;
            assert_eq!(status, code, "{bad}: {body}");
        }
        let (status, body) = answer(put("audit", &admin, json!({"days": 500.0}))).await;
        assert_eq!((status, &body["days"]), (200, &json!(500)), "{body}");
        let (status, body) = answer(put("post-text", &admin, json!({"days": null}))).await;
        assert_eq!((status, &body["days"]), (200, &Value::Null), "{body}");
        // Everyone reads the policy; only admins set it.
        let (status, policy) = answer(client.get(server.api("/retention")).bearer_auth(&agent)).await;
        assert_eq!(
            (status, &item(&policy, "audit")["days"]),
            (200, &json!(500)),
            "{policy}"
        );
        let actors: Vec<String> = audit_entries(db.pool(), 10)
            .await
            .unwrap()
            .into_iter()
            .filter(|e| e.action == "retention.set")
            .map(|e| e.actor)
            .collect();
        assert_eq!(actors.len(), 3);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_expired_post_leaves_its_customers_churn_risk() {
    common::on_each_db(|db| async move {
        let now = now_ms();
        let angry = post(&db, now, "angry", 2, 2).await;
        analysis(&db, angry, "1.0.0", now).await;
        exec(&db, "UPDATE analyses SET sentiment = -0.9 WHERE post_id = $1", &[angry]).await;
        exec(
            &db,
            "INSERT INTO contacts (external_id, name, created_at, updated_at) VALUES ('c1', 'Ann', $1, $1)",
            &[now],
        )
        .await;
        exec(
            &db,
            "INSERT INTO identity_links (identity_id, contact_id, method, confidence, status, created_at, updated_at) \
             VALUES (1, 1, 'manual', 1, 'confirmed', $1, $1)",
            &[now],
        )
        .await;
        socialcrm::insights::recompute(&db, now).await.unwrap();
        let signals = || async {
            sqlx::query_as::<_, (i64, Option<f64>)>(
                "SELECT negative_week, recent_sentiment FROM contact_scores WHERE contact_id = 1",
            )
            .fetch_one(db.pool())
            .await
            .unwrap()
        };
        assert_eq!(signals().await, (1, Some(-0.9)), "the post counts before it expires");

        retention::set(&db, Kind::PostText, Period::Days(1), "test")
            .await
            .unwrap();
        retention::run(&db, now, "test").await.unwrap();
        assert_eq!(signals().await, (0, None), "the expired post counts no more");
    })
    .await;
}
