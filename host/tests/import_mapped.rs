//! Mapped CSV imports: the presets import the sample exports of HubSpot,
//! Salesforce and Shopify (tests/data/imports) without renaming a column,
//! encodings and delimiters are detected, saved mappings are reused, a dry run
//! writes nothing, and bad rows are still named by line and reason; on SQLite
//! and PostgreSQL.

mod common;

use socialcrm::crm::import::saved;
use socialcrm::crm::import::{self, ImportError, ImportReport, Kind, Mapping, Options, Request};
use socialcrm::store::{Db, audit_entries};
use sqlx::Row;

fn sample(name: &str) -> Vec<u8> {
    let path = format!("{}/../tests/data/imports/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

async fn run(db: &Db, kind: Kind, input: &[u8], options: &Options) -> Result<ImportReport, ImportError> {
    import::import(db, kind, input, options, &|_| {}, "test").await
}

/// Options a CLI user would give: `--mapping NAME` and `--map` pairs.
async fn options(db: &Db, kind: Kind, mapping: Option<&str>, map: &[&str], dry_run: bool) -> Options {
    Request {
        mapping: mapping.map(str::to_string),
        map: map.iter().map(|s| s.to_string()).collect(),
        ..Request::default()
    }
    .options(db, kind, dry_run)
    .await
    .expect("valid options")
}

async fn contact(db: &Db, external_id: &str) -> (Option<String>, Option<String>, Option<String>, Option<String>) {
    let row = sqlx::query("SELECT name, email, phone, company FROM contacts WHERE external_id = $1")
        .bind(external_id)
        .fetch_one(db.pool())
        .await
        .unwrap_or_else(|e| panic!("contact {external_id}: {e}"));
    (row.get("name"), row.get("email"), row.get("phone"), row.get("company"))
}

/// A transaction as stored: id, contact, kind, amount, currency, time, reference, product.
type Stored = (String, String, String, f64, String, i64, Option<String>, Option<String>);

fn some(s: &str) -> Option<String> {
    Some(s.to_string())
}

#[tokio::test(flavor = "multi_thread")]
async fn presets_import_the_sample_exports_without_renaming() {
    common::on_each_db(|db| async move {
        // Shopify's customers, UTF-8 with a BOM: the preset is chosen by the columns.
        let r = run(
            &db,
            Kind::Contacts,
            &sample("shopify-customers.csv"),
            &Options::default(),
        )
        .await
        .unwrap();
        assert_eq!(r.chosen_mapping.as_deref(), Some("shopify"));
        assert_eq!(
            (r.format.encoding.as_str(), r.format.delimiter.as_str()),
            ("UTF-8 with BOM", ",")
        );
        assert_eq!((r.read, r.created), (4, 3));
        assert_eq!(
            r.rejected,
            [(5, "`raj at example.com` is not an email address".to_string())]
        );
        assert!(
            r.ignored_columns.contains(&"total spent".to_string()),
            "{:?}",
            r.ignored_columns
        );
        assert_eq!(
            contact(&db, "7208424587523").await,
            (
                some("Maya Okafor"),
                some("maya.okafor@example.com"),
                some("+16135550143"),
                some("Okafor Cycles")
            )
        );
        assert_eq!(
            contact(&db, "7208424587525").await,
            (
                some("Tom Becker"),
                some("tom.becker@example.org"),
                some("+49301234567"),
                None
            )
        );

        // HubSpot's, saved again by Excel: Windows-1252 with `;`.
        let r = run(
            &db,
            Kind::Contacts,
            &sample("hubspot-contacts-excel.csv"),
            &Options::default(),
        )
        .await
        .unwrap();
        assert_eq!(r.chosen_mapping.as_deref(), Some("hubspot"));
        assert_eq!(
            (r.format.encoding.as_str(), r.format.delimiter.as_str()),
            ("windows-1252", ";")
        );
        assert_eq!((r.read, r.created, r.rejected.len()), (3, 3, 0), "{:?}", r.rejected);
        assert_eq!(
            contact(&db, "51").await,
            (
                some("Renée Lefèvre"),
                some("renee.lefevre@example.fr"),
                some("+33142685300"),
                some("Vélos Lefèvre")
            )
        );
        assert_eq!(contact(&db, "52").await.3, some("Café €uro"));
        assert_eq!(contact(&db, "53").await.0, some("Zoë Ødegaard"));

        // Salesforce's Data Export: every value quoted; a row without an Id.
        let r = run(
            &db,
            Kind::Contacts,
            &sample("salesforce-contacts.csv"),
            &Options::default(),
        )
        .await
        .unwrap();
        assert_eq!(r.chosen_mapping.as_deref(), Some("salesforce"));
        assert_eq!((r.read, r.created), (3, 2));
        assert_eq!(r.rejected, [(4, "`id` is empty".to_string())]);
        assert_eq!(
            contact(&db, "0035e00000ABCdFAAX").await,
            (
                some("Kwame Mensah"),
                some("kwame@example.com"),
                some("4155550199"),
                None
            )
        );

        // Shopify's orders, named explicitly: lines folded into their order,
        // refunds as transactions of their own, contacts found by email.
        let shopify = options(&db, Kind::Transactions, Some("shopify"), &[], false).await;
        let r = run(&db, Kind::Transactions, &sample("shopify-orders.csv"), &shopify)
            .await
            .unwrap();
        assert_eq!(r.chosen_mapping, None);
        assert_eq!((r.read, r.created, r.updated), (5, 5, 0), "{:?}", r.rejected);
        assert_eq!(
            r.rejected,
            [(
                6,
                "no contact with email `guest.buyer@example.com` (import contacts first)".to_string()
            )]
        );
        let rows = sqlx::query(
            "SELECT t.external_id, c.external_id AS contact, t.kind, t.amount, t.currency, t.occurred_at, \
             t.reference, t.product FROM transactions t JOIN contacts c ON c.id = t.contact_id ORDER BY t.external_id",
        )
        .fetch_all(db.pool())
        .await
        .unwrap();
        let rows: Vec<Stored> = rows
            .iter()
            .map(|r| {
                (
                    r.get("external_id"),
                    r.get("contact"),
                    r.get("kind"),
                    r.get("amount"),
                    r.get("currency"),
                    r.get("occurred_at"),
                    r.get("reference"),
                    r.get("product"),
                )
            })
            .collect();
        let maya = "7208424587523".to_string();
        let (lina, tom) = ("7208424587524".to_string(), "7208424587525".to_string());
        let s = |v: &str| v.to_string();
        assert_eq!(
            rows,
            [
                // 2024-01-15 10:22:01 -0500
                (
                    s("#1001"),
                    maya,
                    s("purchase"),
                    2624.0,
                    s("CAD"),
                    1_705_332_121_000,
                    some("#1001"),
                    some("X2 e-bike; Rear rack")
                ),
                (
                    s("#1002"),
                    lina.clone(),
                    s("purchase"),
                    89.5,
                    s("DKK"),
                    1_706_979_944_000,
                    some("#1002"),
                    some("Bottle cage")
                ),
                (
                    s("#1002/refund"),
                    lina,
                    s("refund"),
                    -20.0,
                    s("DKK"),
                    1_706_979_944_000,
                    some("#1002"),
                    None
                ),
                (
                    s("#1003"),
                    tom.clone(),
                    s("purchase"),
                    45.0,
                    s("EUR"),
                    1_709_280_000_000,
                    some("#1003"),
                    some("Helmet")
                ),
                (
                    s("#1003/refund"),
                    tom,
                    s("refund"),
                    -45.0,
                    s("EUR"),
                    1_709_280_000_000,
                    some("#1003"),
                    None
                ),
            ]
        );
        let again = run(&db, Kind::Transactions, &sample("shopify-orders.csv"), &shopify)
            .await
            .unwrap();
        assert_eq!(
            (again.created, again.updated, again.unchanged),
            (0, 0, 5),
            "the same file changes nothing"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dry_run_counts_and_writes_nothing() {
    common::on_each_db(|db| async move {
        let csv = "external_id,full_name,mail\nA1,Ann Lee,ann@example.com\nA2,Bob,bob at example\nA1,Ann Lee,ann@example.com\n";
        let map = ["external_id=id", "full_name=name", "mail=email"];
        let dry = options(&db, Kind::Contacts, None, &map, true).await;
        let report = run(&db, Kind::Contacts, csv.as_bytes(), &dry).await.unwrap();
        assert!(report.dry_run);
        assert_eq!((report.read, report.created, report.unchanged), (3, 1, 1));
        assert_eq!(report.rejected, [(3, "`bob at example` is not an email address".to_string())]);
        assert_eq!(common::count(&db, "contacts").await, 0, "a dry run writes nothing");
        assert!(audit_entries(db.pool(), 10).await.unwrap().is_empty(), "nor audits");

        let real = options(&db, Kind::Contacts, None, &map, false).await;
        let done = run(&db, Kind::Contacts, csv.as_bytes(), &real).await.unwrap();
        assert_eq!(
            (done.created, done.updated, done.unchanged, &done.rejected),
            (report.created, report.updated, report.unchanged, &report.rejected),
            "the dry run told what the import does"
        );
        assert_eq!(common::count(&db, "contacts").await, 1);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn saved_mappings_are_reused_and_missing_columns_named() {
    common::on_each_db(|db| async move {
        let legacy = Mapping::from_pairs(
            Kind::Contacts,
            &["Kundennummer=id".into(), "Vorname+Nachname=name".into(), "E-Mail=email".into()],
        )
        .unwrap();
        saved::save(&db, "legacy", Kind::Contacts, &legacy, "test").await.unwrap();
        for (name, why) in [("shopify", "a preset's name"), ("bad name", "not a mapping name")] {
            let e = saved::save(&db, name, Kind::Contacts, &legacy, "test").await.unwrap_err();
            assert!(e.to_string().contains(why), "{e}");
        }

        let by_name = options(&db, Kind::Contacts, Some("legacy"), &[], false).await;
        let first = "Kundennummer;Vorname;Nachname;E-Mail\r\nK1;Jörg;Maier;joerg@example.de\r\n";
        let second = "Kundennummer;Vorname;Nachname;E-Mail\r\nK2;Eva;Roth;eva@example.de\r\nK1;Jörg;Maier;joerg@example.de\r\n";
        assert_eq!(run(&db, Kind::Contacts, first.as_bytes(), &by_name).await.unwrap().created, 1);
        let r = run(&db, Kind::Contacts, second.as_bytes(), &by_name).await.unwrap();
        assert_eq!((r.created, r.unchanged), (1, 1));
        assert_eq!(contact(&db, "K2").await.0, some("Eva Roth"));

        // A file without a column the mapping reads is refused whole, naming it.
        let e = run(&db, Kind::Contacts, b"Kundennummer,Vorname,Nachname\nK3,A,B\n", &by_name)
            .await
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "the mapping reads `E-Mail` for `email`, but the CSV has no such column (its columns: Kundennummer, Vorname, Nachname)"
        );
        let e = Request {
            mapping: Some("legacy".into()),
            ..Request::default()
        }
        .options(&db, Kind::Transactions, false)
        .await
        .unwrap_err();
        assert_eq!(e.to_string(), "mapping `legacy` is for contacts, not transactions");
        let e = Request {
            mapping: Some("nope".into()),
            ..Request::default()
        }
        .options(&db, Kind::Contacts, false)
        .await
        .unwrap_err();
        assert!(matches!(e, ImportError::NoMapping(_)), "{e}");

        assert_eq!(saved::list(&db).await.unwrap().len(), 1);
        saved::remove(&db, "legacy", "test").await.unwrap();
        assert!(saved::list(&db).await.unwrap().is_empty());
        let actions: Vec<String> = audit_entries(db.pool(), 10).await.unwrap().into_iter().map(|e| e.action).collect();
        assert!(actions.contains(&"import.mapping.save".to_string()), "{actions:?}");
        assert!(actions.contains(&"import.mapping.remove".to_string()), "{actions:?}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_rows_are_named_by_their_file_line() {
    common::on_each_db(|db| async move {
        // CRLF, a title line and blank lines: lines are the file's.
        let csv = "Customers\r\n\r\nRecord ID,First Name,Email,Create Date\r\n1,Ann,ann@example.com,2024-01-15 10:22\r\n\r\n2,Bob,bob@,2024-01-15\r\n3,\"Cy\r\nDee\",cy@example.com,x\r\n,Dot,dot@example.com,\r\n";
        let r = run(&db, Kind::Contacts, csv.as_bytes(), &Options::default()).await.unwrap();
        assert_eq!(r.format.header_line, 3);
        assert_eq!(r.chosen_mapping.as_deref(), Some("hubspot"));
        assert_eq!(
            r.rejected,
            [(6, "`bob@` is not an email address".to_string()), (9, "`id` is empty".to_string())]
        );
        assert_eq!(contact(&db, "3").await.0, some("Cy\r\nDee"));

        // Slashed dates read as told, and an ambiguous one is a row's error.
        run(&db, Kind::Contacts, b"id,email\nC1,c1@example.com\n", &Options::default()).await.unwrap();
        let csv = "Order,Customer,Date,Total\nO1,C1,13/01/2024,5\nO2,C1,03/04/2024,6\n";
        let mut opts = options(
            &db,
            Kind::Transactions,
            None,
            &["Order=id", "Customer=contact_id", "Date=occurred_at", "Total=amount"],
            false,
        )
        .await;
        opts.extra.kind = Some("purchase".into());
        opts.extra.currency = Some("EUR".into());
        let r = run(&db, Kind::Transactions, csv.as_bytes(), &opts).await.unwrap();
        assert_eq!(r.created, 1);
        assert_eq!(r.rejected.len(), 1);
        assert_eq!(r.rejected[0].0, 3);
        assert!(r.rejected[0].1.contains("month first or day first"), "{:?}", r.rejected);
        opts.extra.dates = Some(import::dates::DateOrder::Dmy);
        let r = run(&db, Kind::Transactions, csv.as_bytes(), &opts).await.unwrap();
        assert_eq!((r.created, r.unchanged, r.rejected.len()), (1, 1, 0));
        let at: i64 = sqlx::query_scalar("SELECT occurred_at FROM transactions WHERE external_id = 'O2'")
            .fetch_one(db.pool())
            .await
            .unwrap();
        assert_eq!(at, 1_712_102_400_000, "3 April 2024");
    })
    .await;
}
