//! The benchmarks' world: N posts (1% outbound from a staff account, 10%
//! replies) spread over a year, each with a sentiment and an intent analysis,
//! and N/10 contacts with 0 to 4 transactions and a confirmed identity (as many
//! identities again unlinked), written with multi-row inserts. The same world
//! on every run.

use socialcrm::insights::DAY_MS;
use socialcrm::store::{Db, placeholders};
use sqlx::Row;

/// 2026-11-30 12:00 UTC.
pub const NOW: i64 = 1_796_040_000_000;
const ROWS: usize = 100;
const TOPICS: [&str; 12] = [
    "shipping", "battery", "app", "price", "support", "brakes", "motor", "display", "warranty", "delivery", "design",
    "range",
];
const PRODUCTS: [&str; 8] = [
    "X2 e-bike",
    "X1 e-bike",
    "rear rack",
    "lock",
    "helmet",
    "bell",
    "charger",
    "pannier",
];
const INTENTS: [&str; 6] = [
    "complaint",
    "question",
    "praise",
    "purchase-intent",
    "churn-risk",
    "support-request",
];

/// splitmix64: the same world on every run.
pub struct Rng(pub u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    pub fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Runs `rows` through multi-row inserts of `columns` values, `ROWS` a statement,
/// 50 statements a transaction.
pub async fn insert<T>(
    db: &Db,
    head: &str,
    columns: usize,
    rows: &[T],
    bind: impl Fn(
        sqlx::query::Query<'static, sqlx::Any, sqlx::any::AnyArguments>,
        &T,
    ) -> sqlx::query::Query<'static, sqlx::Any, sqlx::any::AnyArguments>,
) {
    for batch in rows.chunks(ROWS * 50) {
        let mut tx = db.pool().begin().await.unwrap();
        for chunk in batch.chunks(ROWS) {
            let sql = format!("{head} VALUES {}", placeholders(chunk.len(), columns));
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).persistent(false);
            for row in chunk {
                query = bind(query, row);
            }
            query.execute(&mut *tx).await.unwrap();
        }
        tx.commit().await.unwrap();
    }
}

/// Writes the world; returns the number of contacts.
pub async fn generate(db: &Db, n: usize) -> usize {
    let contacts = (n / 10).max(10);
    let mut rng = Rng(7);
    let channel: i64 = sqlx::query(
        "INSERT INTO channel_accounts (name, plugin, network, created_at, updated_at) \
         VALUES ('bench', 'mastodon', 'mastodon', 0, 0) RETURNING id",
    )
    .fetch_one(db.pool())
    .await
    .unwrap()
    .get("id");

    let rows: Vec<usize> = (0..contacts).collect();
    insert(
        db,
        "INSERT INTO contacts (external_id, name, created_at, updated_at)",
        4,
        &rows,
        |q, i| {
            q.bind(format!("C{i}"))
                .bind(format!("Contact {i}"))
                .bind(0i64)
                .bind(0i64)
        },
    )
    .await;
    let mut transactions = Vec::new();
    for c in 0..contacts {
        for t in 0..(c % 5) {
            let kind = if rng.below(20) == 0 { "refund" } else { "purchase" };
            let amount = (10 + rng.below(3000)) as f64;
            let at = NOW - rng.below(730) as i64 * DAY_MS;
            transactions.push((
                format!("T{c}-{t}"),
                c as i64 + 1,
                kind,
                amount,
                at,
                PRODUCTS[rng.below(8) as usize],
            ));
        }
    }
    insert(
        db,
        "INSERT INTO transactions (external_id, contact_id, kind, amount, currency, occurred_at, product, \
         created_at, updated_at)",
        9,
        &transactions,
        |q, t| {
            q.bind(t.0.clone())
                .bind(t.1)
                .bind(t.2)
                .bind(t.3)
                .bind("EUR")
                .bind(t.4)
                .bind(t.5)
                .bind(0i64)
                .bind(0i64)
        },
    )
    .await;
    // Identities 1..=contacts are linked to the contact of the same number;
    // as many again are not; the last one is the brand's staff account.
    let identities = 2 * contacts + 1;
    let followers: Vec<i64> = (0..identities)
        .map(|_| 10i64.pow(rng.below(6) as u32) + rng.below(10) as i64)
        .collect();
    let rows: Vec<usize> = (0..identities).collect();
    insert(
        db,
        "INSERT INTO identities (network, external_user_id, handle, followers, first_seen, last_seen)",
        6,
        &rows,
        |q, i| {
            q.bind("mastodon")
                .bind(format!("u{i}"))
                .bind(format!("user{i}"))
                .bind(followers[*i])
                .bind(0i64)
                .bind(0i64)
        },
    )
    .await;
    let rows: Vec<usize> = (1..=contacts).collect();
    insert(
        db,
        "INSERT INTO identity_links (identity_id, contact_id, method, confidence, status, created_at, updated_at)",
        7,
        &rows,
        |q, i| {
            q.bind(*i as i64)
                .bind(*i as i64)
                .bind("email")
                .bind(1.0)
                .bind("confirmed")
                .bind(0i64)
                .bind(0i64)
        },
    )
    .await;

    let staff = identities as i64;
    let mut posts = Vec::with_capacity(n);
    let mut analyses = Vec::with_capacity(2 * n);
    for i in 0..n {
        let outbound = rng.below(100) == 0;
        let identity = if outbound {
            staff
        } else {
            1 + rng.below(identities as u64 - 1) as i64
        };
        let reply = (i > 10 && rng.below(10) == 0).then(|| format!("p{}", i - 1 - rng.below(10) as usize));
        let at = NOW - (rng.unit() * 365.0 * DAY_MS as f64) as i64;
        posts.push((format!("p{i}"), identity, outbound, reply, at));
        analyses.extend(analyses_of(&mut rng, i as i64 + 1));
    }
    insert(
        db,
        "INSERT INTO posts (channel_id, external_id, identity_id, kind, direction, text, in_reply_to, created_at, raw, \
         ingested_at)",
        10,
        &posts,
        |q, p| {
            q.bind(channel)
                .bind(p.0.clone())
                .bind(p.1)
                .bind(if p.3.is_some() { "reply" } else { "mention" })
                .bind(if p.2 { "outbound" } else { "inbound" })
                .bind("The battery died after two weeks and support has not answered my ticket yet")
                .bind(p.3.clone())
                .bind(p.4)
                .bind("{}")
                .bind(p.4)
        },
    )
    .await;
    insert_analyses(db, &analyses).await;
    contacts
}

/// An analysis row: post id, plugin, sentiment, intents, topics.
pub type AnalysisRow = (i64, &'static str, Option<f64>, String, String);

/// The world's analyses of one post: a sentiment and an intent analysis
/// (two intents, one or two topics).
pub fn analyses_of(rng: &mut Rng, post_id: i64) -> [AnalysisRow; 2] {
    let sentiment = rng.unit() * 2.0 - 1.0;
    let (first, second) = (INTENTS[rng.below(6) as usize], INTENTS[rng.below(6) as usize]);
    let intents = format!(
        "[{{\"name\":\"{first}\",\"confidence\":{:.2}}},{{\"name\":\"{second}\",\"confidence\":{:.2}}}]",
        rng.unit(),
        rng.unit() * 0.5
    );
    let topics = if rng.below(2) == 0 {
        format!("[\"{}\"]", TOPICS[rng.below(12) as usize])
    } else {
        format!(
            "[\"{}\",\"{}\"]",
            TOPICS[rng.below(12) as usize],
            TOPICS[rng.below(12) as usize]
        )
    };
    [
        (
            post_id,
            "sentiment",
            Some(sentiment),
            "[]".to_string(),
            "[]".to_string(),
        ),
        (post_id, "intent", None, intents, topics),
    ]
}

pub async fn insert_analyses(db: &Db, analyses: &[AnalysisRow]) {
    insert(
        db,
        "INSERT INTO analyses (post_id, plugin, version, sentiment, intents, topics, created_at)",
        7,
        analyses,
        |q, a| {
            q.bind(a.0)
                .bind(a.1)
                .bind("1.0.0")
                .bind(a.2)
                .bind(a.3.clone())
                .bind(a.4.clone())
                .bind(0i64)
        },
    )
    .await;
}
