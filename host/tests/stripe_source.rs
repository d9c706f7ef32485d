//! The Stripe source against the fake Stripe API, synced through the host's
//! runner (lease, page commits with their cursor), on SQLite and PostgreSQL.
//!
//! What exists before the first sync is dated 2026 and its events too; what
//! changes later is dated 2099, after any pass a test runs, so that a later
//! pass (which reads events since the previous one started) sees exactly it.

mod common;

use std::collections::BTreeMap;
use std::sync::OnceLock;

use common::brand::secret_box;
use common::{count, on_each_db, plugin_dir, scalar, status};
use socialcrm::ingest::{Ingest, IngestOptions};
use socialcrm::runtime::{Runtime, RuntimeOptions};
use socialcrm::sources::{self, NewSource, OnDelete, SourceError};
use socialcrm::store::Db;
use socialcrm_fakes::FakeStripe;
use socialcrm_fakes::stripe::{Customer, Fault, Invoice, InvoiceLine, KEY, PaymentIntent, Refund, VERSION};
use sqlx::Row;

/// 2026-01-01T00:00:00Z: when the account's history happened.
const PAST: i64 = 1_767_225_600;
/// 2099-01-01T00:00:00Z: when changes after a sync happen.
const LATER: i64 = 4_070_908_800;

/// The Stripe plugin, built once per run.
fn plugin() -> String {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    let dir = DIR.get_or_init(|| plugin_dir("plugins/stripe"));
    dir.path().display().to_string()
}

fn customer(n: i64, created: i64) -> Customer {
    Customer {
        id: format!("cus_{n}"),
        name: Some(format!("First{n} Buyer")),
        email: Some(format!("buyer{n}@example.com")),
        phone: Some(format!("+1555000{n:04}")),
        description: None,
        metadata: vec![("tier".into(), "gold".into())],
        created,
    }
}

fn payment(id: &str, customer: i64, amount: i64, currency: &str, created: i64) -> PaymentIntent {
    PaymentIntent {
        id: id.into(),
        customer: Some(format!("cus_{customer}")),
        amount,
        currency: currency.into(),
        status: "succeeded".into(),
        invoice: None,
        created,
    }
}

fn refund(id: &str, payment: &str, amount: i64, currency: &str, created: i64) -> Refund {
    Refund {
        id: id.into(),
        payment_intent: payment.into(),
        amount,
        currency: currency.into(),
        status: "succeeded".into(),
        created,
    }
}

fn line(id: &str, description: &str, quantity: u64, amount: i64) -> InvoiceLine {
    InvoiceLine {
        id: id.into(),
        description: description.into(),
        quantity,
        amount,
        product: format!("prod_{}", description.to_lowercase().replace(' ', "_")),
    }
}

/// Paid invoice `in_N` of customer N at `at`, of two lines (19.90 and 40.00 EUR).
fn invoice(n: i64, subscription: bool, at: i64) -> Invoice {
    Invoice {
        id: format!("in_{n}"),
        customer: format!("cus_{n}"),
        number: format!("FAKE-{n:04}"),
        currency: "eur".into(),
        status: "paid".into(),
        subscription: subscription.then(|| format!("sub_{n}")),
        created: at,
        paid_at: Some(at + 60),
        lines: vec![
            line(&format!("il_{n}_1"), "Mug", 2, 1990),
            line(&format!("il_{n}_2"), "T-shirt", 1, 4000),
        ],
    }
}

/// A fake account of `customers` customers (cus_1..) with one succeeded
/// payment each (59.90 EUR), every tenth refunded in part (19.90 EUR).
async fn account(customers: i64) -> FakeStripe {
    let fake = FakeStripe::start().await.expect("the fake Stripe");
    for n in 1..=customers {
        fake.put_customer(customer(n, PAST + n), PAST + n);
        fake.put_payment(payment(&format!("pi_{n}"), n, 5990, "eur", PAST + 1_000 + n));
        if n % 10 == 0 {
            let pi = format!("pi_{n}");
            fake.put_refund(refund(&format!("re_{n}"), &pi, 1990, "eur", PAST + 2_000 + n));
        }
    }
    fake
}

fn ingest(db: &Db) -> Ingest {
    let runtime = Runtime::new(RuntimeOptions::default()).expect("runtime");
    Ingest::new(db.clone(), secret_box(), runtime, vec![], IngestOptions::default())
}

async fn add_with(
    db: &Db,
    ingest: &Ingest,
    fake: &FakeStripe,
    name: &str,
    key: &str,
    on_delete: OnDelete,
) -> Result<(), SourceError> {
    let new = NewSource {
        name: name.into(),
        plugin: plugin(),
        config: BTreeMap::from([("api-url".into(), fake.base_url())]),
        secrets: BTreeMap::from([("secret-key".into(), key.into())]),
        allow_private: true,
        on_delete,
    };
    sources::add(db, &secret_box(), ingest, new, "test").await
}

async fn add(db: &Db, ingest: &Ingest, fake: &FakeStripe, name: &str, on_delete: OnDelete) {
    add_with(db, ingest, fake, name, KEY, on_delete)
        .await
        .expect("the source account");
}

/// Amount and currency of the transaction the source calls `external_id`.
async fn stored(db: &Db, external_id: &str) -> (f64, String, String) {
    let row = sqlx::query(
        "SELECT t.amount, t.currency, t.kind FROM transactions t \
         JOIN source_transactions s ON s.transaction_id = t.id WHERE s.external_id = $1",
    )
    .bind(external_id)
    .fetch_one(db.pool())
    .await
    .expect(external_id);
    (row.get("amount"), row.get("currency"), row.get("kind"))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_then_an_incremental_sync_store_each_record_once() {
    on_each_db(|db| async move {
        let fake = account(150).await;
        // Invoices of customers 1..=20, the even ones billed by a subscription;
        // the first has 12 lines, more than an invoice carries.
        for n in 1..=20 {
            let mut paid = invoice(n, n % 2 == 0, PAST + 3_000 + n);
            if n == 1 {
                paid.lines = (1..=12).map(|i| line(&format!("il_1_{i}"), "Sticker", 1, 50)).collect();
            }
            fake.put_invoice(paid);
        }
        // Neither a payment that did not succeed nor an open invoice is a transaction.
        let mut pending = payment("pi_pending", 5, 1000, "eur", PAST + 4_000);
        pending.status = "requires_payment_method".into();
        fake.put_payment(pending);
        let mut open = invoice(21, false, PAST + 4_001);
        (open.customer, open.status, open.paid_at) = ("cus_5".into(), "open".into(), None);
        fake.put_invoice(open);
        let ingest = ingest(&db);
        add(&db, &ingest, &fake, "stripe", OnDelete::Inactive).await;

        let report = sources::sync_now(&ingest, "stripe", "test")
            .await
            .expect("the full sync");
        // Customers and payments (150 + the invoices' 20 + 1) in two pages
        // each, refunds and invoices in one; no deletions in a first pass.
        assert_eq!(report.pages, 6, "{report:?}");
        assert_eq!(report.committed.new_contacts, 150);
        assert_eq!(count(&db, "source_contacts").await, 150);
        assert_eq!(count(&db, "contacts").await, 150);
        // 150 payments, 15 refunds, 20 invoices (their payments not again).
        assert_eq!(count(&db, "source_transactions").await, 185);
        assert_eq!(count(&db, "transactions").await, 185);
        assert_eq!(count(&db, "transaction_lines").await, 19 * 2 + 12);
        let kinds = |sql| scalar(&db, sql);
        assert_eq!(
            kinds("SELECT COUNT(*) FROM transactions WHERE kind = 'purchase'").await,
            160
        );
        assert_eq!(
            kinds("SELECT COUNT(*) FROM transactions WHERE kind = 'subscription'").await,
            10
        );
        assert_eq!(
            kinds("SELECT COUNT(*) FROM transactions WHERE kind = 'refund' AND amount = 19.9").await,
            15
        );
        assert_eq!(stored(&db, "pi_7").await, (59.9, "EUR".into(), "purchase".into()));
        assert_eq!(stored(&db, "in_2").await, (59.9, "EUR".into(), "subscription".into()));
        let row = sqlx::query(
            "SELECT c.name, c.email, t.reference FROM contacts c JOIN transactions t ON t.contact_id = c.id \
             WHERE c.external_id = 'stripe:cus_3' AND t.kind = 'purchase' AND t.reference IS NOT NULL",
        )
        .fetch_one(db.pool())
        .await
        .expect("customer 3 and its invoice");
        assert_eq!(row.get::<Option<String>, _>("name").as_deref(), Some("First3 Buyer"));
        assert_eq!(
            row.get::<Option<String>, _>("email").as_deref(),
            Some("buyer3@example.com")
        );
        assert_eq!(row.get::<Option<String>, _>("reference").as_deref(), Some("FAKE-0003"));
        let line = sqlx::query(
            "SELECT l.sku, l.name, l.quantity, l.amount FROM transaction_lines l \
             JOIN source_transactions s ON s.transaction_id = l.transaction_id \
             WHERE s.external_id = 'in_4' ORDER BY l.position",
        )
        .fetch_one(db.pool())
        .await
        .expect("invoice 4's first line");
        assert_eq!(line.get::<Option<String>, _>("sku").as_deref(), Some("prod_mug"));
        assert_eq!(line.get::<String, _>("name"), "Mug");
        assert_eq!(
            (line.get::<i64, _>("quantity"), line.get::<f64, _>("amount")),
            (2, 19.9)
        );
        // Every request named the pinned version (the fake refuses others).
        let requests = fake.requests();
        assert!(requests.iter().all(|r| r.header("stripe-version") == Some(VERSION)));

        // Changes after the pass started: a renamed customer, a new one with
        // a payment, its refund and a subscription invoice.
        let mut renamed = customer(7, PAST + 7);
        renamed.name = Some("Renamed Buyer".into());
        fake.put_customer(renamed, LATER);
        fake.put_customer(customer(151, LATER), LATER);
        fake.put_payment(payment("pi_151", 151, 2500, "usd", LATER + 1));
        fake.put_refund(refund("re_151", "pi_151", 500, "usd", LATER + 2));
        fake.put_invoice(invoice(151, true, LATER + 3));
        let before = fake.requests().len();
        let report = sources::sync_now(&ingest, "stripe", "test")
            .await
            .expect("the incremental sync");
        // Customers, payments, refunds, invoices and deletions: one page each.
        assert_eq!(report.pages, 5, "{report:?}");
        assert_eq!(
            (report.committed.new_contacts, report.committed.updated_contacts),
            (1, 1),
            "{report:?}"
        );
        assert_eq!(report.committed.new_transactions, 3, "{report:?}");
        assert_eq!(count(&db, "source_contacts").await, 151);
        assert_eq!(count(&db, "transactions").await, 188);
        assert_eq!(stored(&db, "re_151").await, (5.0, "USD".into(), "refund".into()));
        let name: Option<String> = sqlx::query_scalar("SELECT name FROM contacts WHERE external_id = 'stripe:cus_7'")
            .fetch_one(db.pool())
            .await
            .expect("customer 7");
        assert_eq!(name.as_deref(), Some("Renamed Buyer"));
        // The later pass read events and refunds created after the first began.
        let later = &fake.requests()[before..];
        let events: Vec<_> = later.iter().filter(|r| r.path == "/v1/events").collect();
        assert_eq!(events.len(), 4, "{later:?}");
        assert!(events.iter().all(|r| r.param("created[gt]").is_some()), "{events:?}");
        assert!(later.iter().all(|r| r.path != "/v1/customers"), "{later:?}");
        let listed = sources::list(&db).await.expect("the list");
        assert_eq!((listed[0].contacts, listed[0].transactions), (151, 188));
        assert_eq!(status(&db, "stripe").await, ("active".into(), None));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failure_between_pages_resumes_from_the_committed_cursor_without_loss_or_duplicates() {
    on_each_db(|db| async move {
        let fake = account(250).await;
        let ingest = ingest(&db);
        add(&db, &ingest, &fake, "stripe", OnDelete::Inactive).await;
        // The first page of customers is served; the second fails through
        // every retry.
        fake.pass_next();
        for _ in 0..4 {
            fake.fail_next(Fault::Status(500));
        }
        let failed = sources::sync_now(&ingest, "stripe", "test").await;
        assert!(failed.is_err(), "{failed:?}");
        assert_eq!(count(&db, "source_contacts").await, 100);
        assert_eq!(status(&db, "stripe").await.0, "failing");
        // Then the payments fail after their first page.
        for _ in 0..3 {
            fake.pass_next();
        }
        for _ in 0..4 {
            fake.fail_next(Fault::Status(503));
        }
        assert!(sources::sync_now(&ingest, "stripe", "test").await.is_err());
        assert_eq!(count(&db, "source_contacts").await, 250);
        assert_eq!(count(&db, "source_transactions").await, 100);
        let before = fake.requests().len();
        let report = sources::sync_now(&ingest, "stripe", "test")
            .await
            .expect("the resumed sync");
        // It went on after the last payment committed (newest first: pi_151).
        let resumed = &fake.requests()[before];
        assert_eq!(resumed.path, "/v1/payment_intents");
        assert_eq!(resumed.param("starting_after").as_deref(), Some("pi_151"));
        // The two pages of payments left, the refunds and the invoices.
        assert_eq!(report.pages, 4, "{report:?}");
        assert_eq!(count(&db, "source_contacts").await, 250);
        assert_eq!(count(&db, "contacts").await, 250);
        // 250 payments and 25 refunds, each once.
        assert_eq!(count(&db, "source_transactions").await, 275);
        assert_eq!(count(&db, "transactions").await, 275);
        assert_eq!(status(&db, "stripe").await, ("active".into(), None));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_customer_deleted_upstream_is_kept_inactive_or_erased_as_the_admin_chose() {
    on_each_db(|db| async move {
        let fake = account(5).await;
        let ingest = ingest(&db);
        add(&db, &ingest, &fake, "keep", OnDelete::Inactive).await;
        add(&db, &ingest, &fake, "erase", OnDelete::Erase).await;
        sources::sync_now(&ingest, "keep", "test")
            .await
            .expect("keep's first sync");
        let report = sources::sync_now(&ingest, "erase", "test")
            .await
            .expect("erase's first sync");
        // The same five people in two sources: proposed as one each, never merged.
        assert_eq!(report.committed.proposals, 5, "{report:?}");
        assert_eq!(count(&db, "contacts").await, 10);

        fake.delete_customer("cus_3", LATER);
        let kept = sources::sync_now(&ingest, "keep", "test").await.expect("keep's sync");
        assert_eq!((kept.committed.deleted, kept.erased), (1, 0), "{kept:?}");
        let erased = sources::sync_now(&ingest, "erase", "test").await.expect("erase's sync");
        assert_eq!((erased.committed.deleted, erased.erased), (1, 1), "{erased:?}");
        // Kept: inactive, with its payment.
        let active: i64 = sqlx::query_scalar(
            "SELECT active FROM source_contacts WHERE external_id = 'cus_3' \
             AND account_id = (SELECT id FROM channel_accounts WHERE name = 'keep')",
        )
        .fetch_one(db.pool())
        .await
        .expect("keep's customer 3");
        assert_eq!(active, 0);
        assert_eq!(
            scalar(&db, "SELECT COUNT(*) FROM contacts WHERE external_id = 'keep:cus_3'").await,
            1
        );
        // Erased: the contact and its payment are gone.
        assert_eq!(count(&db, "contacts").await, 9);
        assert_eq!(
            scalar(&db, "SELECT COUNT(*) FROM contacts WHERE external_id = 'erase:cus_3'").await,
            0
        );
        assert_eq!(count(&db, "transactions").await, 10 - 1);

        // The person comes back as a new customer with the same email: the
        // erased contact stays erased.
        let mut again = customer(3, LATER + 10);
        again.id = "cus_3_again".into();
        fake.put_customer(again, LATER + 10);
        let next = sources::sync_now(&ingest, "erase", "test")
            .await
            .expect("erase's next sync");
        assert_eq!(
            (next.committed.suppressed, next.committed.new_contacts),
            (1, 0),
            "{next:?}"
        );
        assert_eq!(
            scalar(&db, "SELECT COUNT(*) FROM contacts WHERE external_id LIKE 'erase:%'").await,
            4
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn zero_and_three_decimal_currencies_are_stored_in_their_major_unit() {
    on_each_db(|db| async move {
        let fake = account(1).await;
        fake.put_payment(payment("pi_yen", 1, 1500, "jpy", PAST + 10));
        fake.put_payment(payment("pi_dinar", 1, 12_345, "kwd", PAST + 11));
        fake.put_refund(refund("re_dinar", "pi_dinar", 5, "kwd", PAST + 12));
        let mut dinars = invoice(1, false, PAST + 13);
        dinars.currency = "kwd".into();
        dinars.lines = vec![line("il_k1", "Tea", 3, 5_120), line("il_k2", "Dates", 1, 7_225)];
        fake.put_invoice(dinars);
        let mut yen = invoice(2, false, PAST + 14);
        (yen.id, yen.customer, yen.currency) = ("in_yen".into(), "cus_1".into(), "jpy".into());
        yen.lines = vec![line("il_y1", "Matcha", 2, 3_000)];
        fake.put_invoice(yen);
        let ingest = ingest(&db);
        add(&db, &ingest, &fake, "stripe", OnDelete::Inactive).await;
        sources::sync_now(&ingest, "stripe", "test").await.expect("the sync");
        assert_eq!(stored(&db, "pi_1").await, (59.9, "EUR".into(), "purchase".into()));
        assert_eq!(stored(&db, "pi_yen").await, (1500.0, "JPY".into(), "purchase".into()));
        assert_eq!(stored(&db, "pi_dinar").await, (12.345, "KWD".into(), "purchase".into()));
        assert_eq!(stored(&db, "re_dinar").await, (0.005, "KWD".into(), "refund".into()));
        assert_eq!(stored(&db, "in_1").await, (12.345, "KWD".into(), "purchase".into()));
        assert_eq!(stored(&db, "in_yen").await, (3000.0, "JPY".into(), "purchase".into()));
        let lines: Vec<f64> = sqlx::query_scalar(
            "SELECT l.amount FROM transaction_lines l JOIN source_transactions s \
             ON s.transaction_id = l.transaction_id WHERE s.external_id = 'in_1' ORDER BY l.position",
        )
        .fetch_all(db.pool())
        .await
        .expect("the dinar invoice's lines");
        assert_eq!(lines, [5.12, 7.225]);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_429_is_retried_with_backoff_then_waits_as_rate_limited() {
    on_each_db(|db| async move {
        let fake = account(3).await;
        let ingest = ingest(&db);
        add(&db, &ingest, &fake, "stripe", OnDelete::Inactive).await;
        // Two 429s: the third try is served, within the same pull.
        let before = fake.requests().len();
        fake.fail_next(Fault::Status(429));
        fake.fail_next(Fault::Status(429));
        let report = sources::sync_now(&ingest, "stripe", "test").await.expect("the sync");
        assert_eq!(report.pages, 4, "{report:?}");
        let customers = fake.requests()[before..]
            .iter()
            .filter(|r| r.path == "/v1/customers")
            .count();
        assert_eq!(customers, 3);
        assert_eq!(count(&db, "source_contacts").await, 3);
        assert_eq!(status(&db, "stripe").await, ("active".into(), None));

        // 429s through every retry: the account waits, nothing is lost.
        fake.put_customer(customer(4, LATER), LATER);
        for _ in 0..4 {
            fake.fail_next(Fault::Status(429));
        }
        let start = socialcrm::store::now_ms();
        assert!(sources::sync_now(&ingest, "stripe", "test").await.is_err());
        let (state, error) = status(&db, "stripe").await;
        assert_eq!(state, "rate-limited");
        assert!(
            error.as_deref().is_some_and(|e| e.contains("Too many requests")),
            "{error:?}"
        );
        let next = scalar(&db, "SELECT next_poll_at FROM channel_accounts WHERE name = 'stripe'").await;
        // 30 s after the retries (1.75 s of backoff) gave up.
        assert!((start + 30_000..start + 40_000).contains(&next), "{}", next - start);
        sources::sync_now(&ingest, "stripe", "test")
            .await
            .expect("the sync after the wait");
        assert_eq!(count(&db, "source_contacts").await, 4);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_key_is_refused_on_add_and_pauses_the_account_when_revoked() {
    on_each_db(|db| async move {
        let fake = account(3).await;
        let ingest = ingest(&db);
        let refused = add_with(&db, &ingest, &fake, "wrong", "sk_test_wrong", OnDelete::Inactive).await;
        assert!(
            matches!(&refused, Err(SourceError::Check(e)) if e.to_string().contains("Invalid API Key")),
            "{refused:?}"
        );
        assert_eq!(count(&db, "channel_accounts").await, 0);
        // Every request carried the key as a bearer token, attached by the host.
        assert_eq!(fake.requests()[0].header("authorization"), Some("Bearer sk_test_wrong"));

        add(&db, &ingest, &fake, "stripe", OnDelete::Inactive).await;
        fake.set_key("sk_test_rolled");
        assert!(sources::sync_now(&ingest, "stripe", "test").await.is_err());
        let (state, error) = status(&db, "stripe").await;
        assert_eq!(state, "paused");
        assert!(
            error.as_deref().is_some_and(|e| e.contains("Invalid API Key")),
            "{error:?}"
        );
        assert_eq!(count(&db, "source_contacts").await, 0);
        // Nothing retried a 401: one request.
        let after_add = fake.requests().iter().filter(|r| r.path == "/v1/customers").count();
        assert_eq!(after_add, 3);
    })
    .await;
}
