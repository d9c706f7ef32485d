//! Sources of customer data: the Shopify plugin against the fake GraphQL
//! Admin API, synced through the host's runner (lease, page commits with
//! their cursor, schedule), on SQLite and PostgreSQL.

mod common;

use std::collections::BTreeMap;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::brand::secret_box;
use common::{count, on_each_db, plugin_dir, scalar, status};
use socialcrm::ingest::lease::{self, AccountKind};
use socialcrm::ingest::{Ingest, IngestOptions, SchedulerOptions};
use socialcrm::runtime::types::{SourceContact, SourcePage};
use socialcrm::runtime::{KvChanges, Runtime, RuntimeOptions};
use socialcrm::sources::{self, NewSource, OnDelete, SourceRef};
use socialcrm::store::Db;
use socialcrm_fakes::FakeShopify;
use socialcrm_fakes::shopify::{Customer, Fault, Order, TOKEN, customer_gid};
use sqlx::Row;

/// The Shopify plugin, built once per run.
fn plugin() -> String {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    let dir = DIR.get_or_init(|| plugin_dir("plugins/shopify"));
    dir.path().display().to_string()
}

fn customer(id: u64, updated_at: &str) -> Customer {
    Customer {
        id,
        first_name: format!("First{id}"),
        last_name: "Buyer".into(),
        email: Some(format!("buyer{id}@example.com")),
        phone: Some(format!("+1555000{id:04}")),
        company: id.is_multiple_of(10).then(|| "Acme Ltd".to_string()),
        updated_at: updated_at.into(),
    }
}

fn order(id: u64, customer: u64, updated_at: &str) -> Order {
    Order {
        id,
        customer: Some(customer),
        name: format!("#{}", 1000 + id),
        total: "59.90".into(),
        currency: "EUR".into(),
        created_at: "2026-03-01T10:00:00Z".into(),
        updated_at: updated_at.into(),
        financial_status: "PAID".into(),
        lines: vec![
            ("SKU-MUG".into(), "Mug".into(), 2, "19.90".into()),
            ("SKU-TEE".into(), "T-shirt".into(), 1, "40.00".into()),
        ],
        // Every tenth order was refunded in part.
        refunds: if id.is_multiple_of(10) {
            vec![(id, "2026-03-05T10:00:00Z".into(), "19.90".into())]
        } else {
            Vec::new()
        },
    }
}

/// A fake shop of `customers` customers (1..=n) each with one order, the
/// ingest, and the source account `name` on it.
async fn shop(db: &Db, customers: u64) -> (FakeShopify, Ingest) {
    let fake = FakeShopify::start().await.expect("the fake Shopify");
    for id in 1..=customers {
        fake.put_customer(customer(id, "2026-01-01T00:00:00Z"));
        fake.put_order(order(id, id, "2026-03-01T10:00:00Z"));
    }
    let runtime = Runtime::new(RuntimeOptions::default()).expect("runtime");
    let ingest = Ingest::new(db.clone(), secret_box(), runtime, vec![], IngestOptions::default());
    (fake, ingest)
}

async fn add(db: &Db, ingest: &Ingest, fake: &FakeShopify, name: &str, on_delete: OnDelete) {
    let new = NewSource {
        name: name.into(),
        plugin: plugin(),
        config: BTreeMap::from([("shop".into(), fake.base_url())]),
        secrets: BTreeMap::from([("access-token".into(), TOKEN.into())]),
        allow_private: true,
        on_delete,
    };
    sources::add(db, &secret_box(), ingest, new, "test")
        .await
        .expect("the source account");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_then_an_incremental_sync_store_each_record_once() {
    on_each_db(|db| async move {
        let (fake, ingest) = shop(&db, 150).await;
        add(&db, &ingest, &fake, "shop", OnDelete::Inactive).await;
        let report = sources::sync_now(&ingest, "shop", "test").await.expect("the full sync");
        // 2 pages of customers, 3 of orders (50 each), and the deletions,
        // which the first pass does not ask for.
        assert_eq!(report.pages, 6, "{report:?}");
        assert_eq!(report.committed.new_contacts, 150);
        assert_eq!(count(&db, "source_contacts").await, 150);
        assert_eq!(count(&db, "contacts").await, 150);
        // 150 orders and 15 refunds, each a transaction; two lines per order.
        assert_eq!(count(&db, "source_transactions").await, 165);
        assert_eq!(count(&db, "transactions").await, 165);
        assert_eq!(count(&db, "transaction_lines").await, 300);
        assert_eq!(
            scalar(
                &db,
                "SELECT COUNT(*) FROM transactions WHERE kind = 'refund' AND amount = 19.9"
            )
            .await,
            15
        );
        let row = sqlx::query(
            "SELECT c.name, c.email, c.external_id, t.reference, t.currency FROM contacts c \
             JOIN transactions t ON t.contact_id = c.id WHERE c.external_id = $1 AND t.kind = 'purchase'",
        )
        .bind(format!("shop:{}", customer_gid(7)))
        .fetch_one(db.pool())
        .await
        .expect("customer 7 and its order");
        assert_eq!(row.get::<Option<String>, _>("name").as_deref(), Some("First7 Buyer"));
        assert_eq!(
            row.get::<Option<String>, _>("email").as_deref(),
            Some("buyer7@example.com")
        );
        assert_eq!(row.get::<Option<String>, _>("reference").as_deref(), Some("#1007"));
        assert_eq!(row.get::<String, _>("currency"), "EUR");

        // Changes after the pass started: one renamed customer, one new, one new order.
        let mut renamed = customer(7, "2099-01-01T00:00:00Z");
        renamed.first_name = "Renamed".into();
        fake.put_customer(renamed);
        fake.put_customer(customer(151, "2099-01-01T00:00:00Z"));
        fake.put_order(order(151, 151, "2099-01-01T00:00:00Z"));
        let report = sources::sync_now(&ingest, "shop", "test")
            .await
            .expect("the incremental sync");
        // Customers, orders and deletions: one page each.
        assert_eq!(report.pages, 3, "{report:?}");
        assert_eq!(
            (report.committed.new_contacts, report.committed.updated_contacts),
            (1, 1),
            "{report:?}"
        );
        assert_eq!(report.committed.new_transactions, 1, "{report:?}");
        assert_eq!(count(&db, "source_contacts").await, 151);
        assert_eq!(count(&db, "transactions").await, 166);
        let name: Option<String> = sqlx::query_scalar("SELECT name FROM contacts WHERE external_id = $1")
            .bind(format!("shop:{}", customer_gid(7)))
            .fetch_one(db.pool())
            .await
            .expect("customer 7");
        assert_eq!(name.as_deref(), Some("Renamed Buyer"));
        let listed = sources::list(&db).await.expect("the list");
        assert_eq!(listed.len(), 1);
        assert_eq!((listed[0].contacts, listed[0].transactions), (151, 166));
        assert!(listed[0].last_synced_at.is_some());
        assert_eq!(status(&db, "shop").await, ("active".into(), None));
        // The channel commands neither show nor sync (nor pause) a source.
        assert!(socialcrm::channels::list(&db).await.expect("channels").is_empty());
        let wrong = ingest.sync_now("shop", "test", &|_| {}).await.map(|_| ());
        assert!(
            wrong
                .as_ref()
                .is_err_and(|e| e.to_string().contains("no channel named `shop`")),
            "{wrong:?}"
        );
        assert_eq!(status(&db, "shop").await, ("active".into(), None));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failure_between_pages_resumes_from_the_committed_cursor_without_loss_or_duplicates() {
    on_each_db(|db| async move {
        let (fake, ingest) = shop(&db, 250).await;
        add(&db, &ingest, &fake, "shop", OnDelete::Inactive).await;
        // `check` was served; the first page of customers is, the second fails.
        fake.pass_next();
        fake.fail_next(Fault::Status(502));
        let failed = sources::sync_now(&ingest, "shop", "test").await;
        assert!(failed.is_err(), "{failed:?}");
        assert_eq!(count(&db, "source_contacts").await, 100);
        let (state, _) = status(&db, "shop").await;
        assert_eq!(state, "failing");
        // Then a crash while the orders are read: the third page fails.
        fake.pass_next();
        fake.pass_next();
        fake.pass_next();
        fake.fail_next(Fault::Status(500));
        assert!(sources::sync_now(&ingest, "shop", "test").await.is_err());
        assert_eq!(count(&db, "source_contacts").await, 250);
        assert_eq!(count(&db, "source_transactions").await, 50 + 5);
        let report = sources::sync_now(&ingest, "shop", "test")
            .await
            .expect("the resumed sync");
        assert!(report.pages >= 1, "{report:?}");
        assert_eq!(count(&db, "source_contacts").await, 250);
        assert_eq!(count(&db, "contacts").await, 250);
        // 250 orders and 25 refunds, each once.
        assert_eq!(count(&db, "source_transactions").await, 275);
        assert_eq!(count(&db, "transactions").await, 275);
        assert_eq!(count(&db, "transaction_lines").await, 500);
        assert_eq!(status(&db, "shop").await, ("active".into(), None));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_customer_deleted_upstream_is_kept_inactive_or_erased_as_the_admin_chose() {
    on_each_db(|db| async move {
        let (fake, ingest) = shop(&db, 5).await;
        add(&db, &ingest, &fake, "keep", OnDelete::Inactive).await;
        add(&db, &ingest, &fake, "erase", OnDelete::Erase).await;
        sources::sync_now(&ingest, "keep", "test").await.expect("keep's first sync");
        let report = sources::sync_now(&ingest, "erase", "test").await.expect("erase's first sync");
        // The same five people in two sources: proposed as one each, never merged.
        assert_eq!(report.committed.proposals, 5, "{report:?}");
        assert_eq!(count(&db, "contacts").await, 10);
        assert_eq!(count(&db, "contact_match_proposals").await, 5);

        fake.delete_customer(3, "2099-01-01T00:00:00Z");
        let kept = sources::sync_now(&ingest, "keep", "test").await.expect("keep's sync");
        assert_eq!(kept.committed.deleted, 1, "{kept:?}");
        assert_eq!(kept.erased, 0);
        let erased = sources::sync_now(&ingest, "erase", "test").await.expect("erase's sync");
        assert_eq!((erased.committed.deleted, erased.erased), (1, 1), "{erased:?}");
        // Kept: inactive, with its order.
        let active: i64 = sqlx::query_scalar("SELECT active FROM source_contacts WHERE external_id = $1 AND account_id = (SELECT id FROM channel_accounts WHERE name = 'keep')")
            .bind(customer_gid(3))
            .fetch_one(db.pool())
            .await
            .expect("keep's customer 3");
        assert_eq!(active, 0);
        // The customer 360 names the source record, inactive, with the account's last sync.
        let contact: i64 = sqlx::query_scalar("SELECT id FROM contacts WHERE external_id = $1")
            .bind(format!("keep:{}", customer_gid(3)))
            .fetch_one(db.pool())
            .await
            .expect("keep's contact 3");
        let held = socialcrm::store::sources::of_contact(&db, contact).await.expect("its sources");
        assert_eq!(held.len(), 1, "{held:?}");
        assert_eq!(
            (held[0].account.as_str(), held[0].source.as_str(), held[0].external_id.clone(), held[0].active),
            ("keep", "shopify", customer_gid(3), false)
        );
        assert!(held[0].last_synced_at.is_some_and(|at| at >= held[0].updated_at), "{held:?}");
        // Erased: the contact and its transactions are gone.
        assert_eq!(count(&db, "contacts").await, 9);
        let gone = sqlx::query("SELECT 1 FROM contacts WHERE external_id = $1")
            .bind(format!("erase:{}", customer_gid(3)))
            .fetch_optional(db.pool())
            .await
            .expect("a lookup");
        assert!(gone.is_none());
        assert_eq!(count(&db, "transactions").await, 10 - 1);

        // The shop sends the person again: the erased contact stays erased.
        fake.put_customer(customer(3, "2099-02-01T00:00:00Z"));
        let again = sources::sync_now(&ingest, "erase", "test").await.expect("erase's next sync");
        assert_eq!(again.committed.suppressed, 1, "{again:?}");
        assert_eq!(again.committed.new_contacts, 0, "{again:?}");
        assert_eq!(count(&db, "contacts").await, 9);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn throttling_is_rate_limited_for_as_long_as_the_cost_bucket_needs() {
    on_each_db(|db| async move {
        let (fake, ingest) = shop(&db, 3).await;
        add(&db, &ingest, &fake, "shop", OnDelete::Inactive).await;
        fake.fail_next(Fault::Throttled { available: 502 });
        let before = socialcrm::store::now_ms();
        assert!(sources::sync_now(&ingest, "shop", "test").await.is_err());
        let (state, error) = status(&db, "shop").await;
        assert_eq!(state, "rate-limited");
        assert!(error.as_deref().is_some_and(|e| e.contains("Throttled")), "{error:?}");
        // (752 requested - 502 available) / 100 restored per second.
        let next: i64 = scalar(&db, "SELECT next_poll_at FROM channel_accounts WHERE name = 'shop'").await;
        assert!((before + 2_400..before + 4_000).contains(&next), "{}", next - before);
        assert_eq!(count(&db, "source_contacts").await, 0);
        // Nothing was lost: the next sync reads everything.
        sources::sync_now(&ingest, "shop", "test")
            .await
            .expect("the sync after the wait");
        assert_eq!(count(&db, "source_contacts").await, 3);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_scheduler_syncs_due_sources_in_turns_and_their_requests_are_audited() {
    on_each_db(|db| async move {
        let (fake, ingest) = shop(&db, 120).await;
        add(&db, &ingest, &fake, "shop", OnDelete::Inactive).await;
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let options = SchedulerOptions {
            node: "test".into(),
            workers: 2,
            // One page per turn: the account goes back in the queue, due at once.
            pages_per_turn: 1,
            idle: Duration::from_millis(20),
        };
        let scheduler = tokio::spawn(socialcrm::ingest::run(ingest.clone(), options, stopped));
        let deadline = Instant::now() + Duration::from_secs(60);
        while count(&db, "source_transactions").await < 132 || !synced(&db).await {
            assert!(Instant::now() < deadline, "the scheduler did not catch the source up");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let _ = stop.send(true);
        scheduler.await.expect("the scheduler stops");
        assert_eq!(count(&db, "source_contacts").await, 120);
        assert_eq!(count(&db, "transactions").await, 132);
        // Every request of the plugin is in the egress log, under the account.
        ingest.egress().flush().await;
        let logged = scalar(
            &db,
            "SELECT COUNT(*) FROM egress WHERE plugin = 'shopify' AND account = 'shop'",
        )
        .await;
        assert!(logged >= 5, "{logged}");
    })
    .await;
}

/// Whether the source caught up since it was added.
async fn synced(db: &Db) -> bool {
    let at: Option<i64> = sqlx::query_scalar("SELECT last_synced_at FROM source_settings")
        .fetch_one(db.pool())
        .await
        .expect("the settings");
    at.is_some()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_node_that_lost_its_lease_mid_run_stores_nothing_and_the_next_holder_resumes() {
    on_each_db(|db| async move {
        let (fake, ingest) = shop(&db, 150).await;
        add(&db, &ingest, &fake, "shop", OnDelete::Inactive).await;
        // A node leases the account and dies holding it: nobody else syncs it
        // until the lease expires.
        let ttl = Duration::from_millis(300);
        lease::acquire(&db, "shop", AccountKind::Source, "dead-node", ttl)
            .await
            .expect("the dead node's lease");
        let held = sources::sync_now(&ingest, "shop", "live-node").await;
        assert!(held.is_err_and(|e| e.to_string().contains("is being synced by dead-node")));
        // Its page, pulled before it died, arrives after another node took over: refused.
        tokio::time::sleep(ttl * 2).await;
        let live = lease::acquire(&db, "shop", AccountKind::Source, "live-node", Duration::from_secs(60))
            .await
            .expect("the live node's lease");
        let late = SourcePage {
            contacts: vec![SourceContact {
                external_id: customer_gid(999),
                name: Some("Late Page".into()),
                emails: vec!["late@example.com".into()],
                phones: vec![],
                websites: vec![],
                company: None,
                handles: vec![],
                custom_fields: vec![],
            }],
            cursor: "{\"phase\":\"orders\"}".into(),
            ..SourcePage::default()
        };
        let target = SourceRef {
            id: live.channel_id,
            name: "shop".into(),
            lease_owner: Some("dead-node".into()),
        };
        let refused = sources::commit_page(&db, &secret_box(), &target, &late, &KvChanges::new()).await;
        assert!(
            matches!(refused, Err(sources::CommitError::LeaseLost(_))),
            "{refused:?}"
        );
        assert_eq!(count(&db, "contacts").await, 0);
        let state: String = scalar_text(&db, "SELECT state FROM channel_accounts WHERE name = 'shop'").await;
        assert_eq!(state, "");
        // The live node syncs from the last committed cursor: everything, once.
        let report = sources::sync(&ingest, &live, usize::MAX)
            .await
            .expect("the live node's sync");
        assert_eq!(report.committed.new_contacts, 150, "{report:?}");
        assert_eq!(count(&db, "contacts").await, 150);
        assert_eq!(count(&db, "transactions").await, 165);
    })
    .await;
}

async fn scalar_text(db: &Db, sql: &'static str) -> String {
    sqlx::query_scalar(sql).fetch_one(db.pool()).await.expect(sql)
}
