//! Source sync benchmark: `cargo xtask bench`.
//!
//! A fake Shopify of `CUSTOMERS` customers (default 2,000;
//! `SOCIALCRM_BENCH_CUSTOMERS` sets it), each with one order of two lines,
//! every tenth order refunded in part. Measured in the same run, on a fresh
//! database each: a full sync of it through the Shopify plugin and the
//! host's page commits (the GraphQL pages over loopback HTTP, the sandbox,
//! the exactly-once commit with its cursor), then the CSV import of the
//! same contacts and transactions (socialcrm's own columns). Reported:
//! records per second of each and their ratio. On SQLite, and on
//! PostgreSQL when `SOCIALCRM_TEST_POSTGRES_URL` is set.

#[path = "common/postgres.rs"]
mod postgres;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use socialcrm::crm::import;
use socialcrm::ingest::{Ingest, IngestOptions};
use socialcrm::runtime::{Runtime, RuntimeOptions};
use socialcrm::secrets::SecretBox;
use socialcrm::sources::{self, NewSource, OnDelete};
use socialcrm::store::Db;
use socialcrm_fakes::FakeShopify;
use socialcrm_fakes::shopify::{Customer, Order, TOKEN};
use socialcrm_sdk::testkit;

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

fn customers() -> u64 {
    std::env::var("SOCIALCRM_BENCH_CUSTOMERS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(2_000)
}

fn customer(id: u64) -> Customer {
    Customer {
        id,
        first_name: format!("First{id}"),
        last_name: "Buyer".into(),
        email: Some(format!("buyer{id}@example.com")),
        phone: Some(format!("+1555{id:07}")),
        company: id.is_multiple_of(10).then(|| "Acme Ltd".to_string()),
        updated_at: "2026-01-01T00:00:00Z".into(),
    }
}

fn order(id: u64) -> Order {
    Order {
        id,
        customer: Some(id),
        name: format!("#{}", 1000 + id),
        total: "59.90".into(),
        currency: "EUR".into(),
        created_at: "2026-03-01T10:00:00Z".into(),
        updated_at: "2026-03-01T10:00:00Z".into(),
        financial_status: "PAID".into(),
        lines: vec![
            ("SKU-MUG".into(), "Mug".into(), 2, "19.90".into()),
            ("SKU-TEE".into(), "T-shirt".into(), 1, "20.10".into()),
        ],
        refunds: if id.is_multiple_of(10) {
            vec![(id, "2026-03-05T10:00:00Z".into(), "19.90".into())]
        } else {
            Vec::new()
        },
    }
}

/// The same records as CSV files in socialcrm's own columns.
fn csv(n: u64) -> (String, String) {
    let mut contacts = String::from("id,name,email,phone,company\n");
    let mut transactions = String::from("id,contact_id,kind,amount,currency,occurred_at,reference,product\n");
    for id in 1..=n {
        let c = customer(id);
        let _ = writeln!(
            contacts,
            "C{id},{} {},{},{},{}",
            c.first_name,
            c.last_name,
            c.email.unwrap_or_default(),
            c.phone.unwrap_or_default(),
            c.company.unwrap_or_default()
        );
        let _ = writeln!(
            transactions,
            "O{id},C{id},purchase,59.90,EUR,2026-03-01T10:00:00Z,#{},Mug; T-shirt",
            1000 + id
        );
        if id.is_multiple_of(10) {
            let _ = writeln!(
                transactions,
                "R{id},C{id},refund,19.90,EUR,2026-03-05T10:00:00Z,#{},",
                1000 + id
            );
        }
    }
    (contacts, transactions)
}

fn plugin_dir() -> tempfile::TempDir {
    let src = format!("{ROOT}/plugins/shopify");
    let wasm = testkit::build(&src).expect("build the Shopify plugin");
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(format!("{src}/plugin.toml"), dir.path().join("plugin.toml")).unwrap();
    std::fs::copy(wasm, dir.path().join("plugin.wasm")).unwrap();
    dir
}

/// Records per second of the sync and of the import, on two fresh databases.
async fn measure(sync_db: Db, import_db: Db, fake: &FakeShopify, plugin: &str, n: u64) -> (f64, f64, u64) {
    let sbox = SecretBox::from_key(&[7; 32]).unwrap();
    let runtime = Runtime::new(RuntimeOptions::default()).unwrap();
    let ingest = Ingest::new(sync_db.clone(), sbox.clone(), runtime, vec![], IngestOptions::default());
    let new = NewSource {
        name: "shop".into(),
        plugin: plugin.into(),
        config: BTreeMap::from([("shop".into(), fake.base_url())]),
        secrets: BTreeMap::from([("access-token".into(), TOKEN.into())]),
        allow_private: true,
        on_delete: OnDelete::Inactive,
    };
    sources::add(&sync_db, &sbox, &ingest, new, "bench").await.unwrap();
    let started = Instant::now();
    let report = sources::sync_now(&ingest, "shop", "bench").await.unwrap();
    let synced = started.elapsed();
    let c = &report.committed;
    let records = (c.new_contacts + c.new_transactions) as u64;
    assert_eq!(records, n + n + n / 10, "{report:?}");

    let (contacts, transactions) = csv(n);
    let started = Instant::now();
    let a = import::contacts(&import_db, contacts.as_bytes(), &|_| {})
        .await
        .unwrap();
    let b = import::transactions(&import_db, transactions.as_bytes(), &|_| {})
        .await
        .unwrap();
    let imported = started.elapsed();
    assert_eq!((a.created + b.created) as u64, records, "{a:?} {b:?}");
    (rate(records, synced), rate(records, imported), records)
}

fn rate(records: u64, took: Duration) -> f64 {
    records as f64 / took.as_secs_f64()
}

fn report(db: &str, (sync, import, records): (f64, f64, u64)) {
    println!(
        "sources/{db}: {records} records (contacts and transactions); sync {sync:.0}/s, CSV import {import:.0}/s, \
         sync/import {:.2}",
        sync / import
    );
}

#[tokio::main]
async fn main() {
    let n = customers();
    let plugin = plugin_dir();
    let plugin = plugin.path().display().to_string();
    let fake = FakeShopify::start().await.unwrap();
    for id in 1..=n {
        fake.put_customer(customer(id));
        fake.put_order(order(id));
    }

    let dir = tempfile::tempdir().unwrap();
    let url = |name: &str| format!("sqlite://{}?mode=rwc", dir.path().join(name).display());
    let sync_db = Db::connect(&url("sync.db")).await.unwrap();
    let import_db = Db::connect(&url("import.db")).await.unwrap();
    report("sqlite", measure(sync_db, import_db, &fake, &plugin, n).await);

    let (fake, plugin) = (&fake, plugin.as_str());
    postgres::in_schema("bench_sources_sync", |sync_url| async move {
        postgres::in_schema("bench_sources_import", |import_url| async move {
            let sync_db = Db::connect(&sync_url).await.unwrap();
            let import_db = Db::connect(&import_url).await.unwrap();
            report("postgres", measure(sync_db, import_db, fake, plugin, n).await);
        })
        .await;
    })
    .await;
}
