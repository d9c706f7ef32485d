//! Importing contacts and transactions: upsert on the external id, bad rows
//! reported by line, the same file twice changes nothing; on SQLite and PostgreSQL.

mod common;

use socialcrm::crm::import::{self, ImportReport};
use socialcrm::store::{Db, audit_entries};
use sqlx::Row;

const CONTACTS: &str = "\
id,name,email,phone,website,mastodon,loyalty_tier
C1,Maya Okafor,Maya@Example.com,+1 555 010 2030,https://www.mayarides.example/,@maya@demo.social,gold
C2,Tom Becker,tom@example.org,,,,
C3,Bad Email,not-an-email,,,,
,No Id,x@example.com,,,,
C4,Lina Sørensen,lina@example.net,call me,,,
C5,Raj Patel,raj@example.com,0049 30 1234567,,raj@demo.social,silver
";

const TRANSACTIONS: &str = "\
id,contact_id,kind,amount,currency,occurred_at,reference,product
T1,C1,purchase,2499.00,EUR,2026-03-14,LB-1001,X2 e-bike
T2,C1,warranty-claim,0,EUR,2026-09-01T10:00:00Z,WC-7,battery
T3,C2,purchase,89.5,eur,2026-10-02,LB-20931,rear rack
T4,C9,purchase,10,EUR,2026-10-02,,
T5,C2,gift,10,EUR,2026-10-02,,
T6,C5,refund,-89.5,EUR,yesterday,,
T7,C5,purchase,abc,EUR,2026-10-02,,
";

async fn contacts(db: &Db, csv: &str) -> ImportReport {
    import::contacts(db, csv.as_bytes(), &|_| {})
        .await
        .expect("import runs")
}

async fn transactions(db: &Db, csv: &str) -> ImportReport {
    import::transactions(db, csv.as_bytes(), &|_| {})
        .await
        .expect("import runs")
}

#[tokio::test(flavor = "multi_thread")]
async fn contacts_upsert_report_bad_rows_and_are_idempotent() {
    common::on_each_db(|db| async move {
        let first = contacts(&db, CONTACTS).await;
        assert_eq!(
            (first.read, first.created, first.updated, first.unchanged),
            (6, 3, 0, 0)
        );
        assert_eq!(
            first.rejected,
            vec![
                (4, "`not-an-email` is not an email address".to_string()),
                (5, "`id` is empty".to_string()),
                (6, "`call me` is not a phone number".to_string()),
            ]
        );
        assert_eq!(first.ignored_columns, vec!["loyalty_tier".to_string()]);

        let row = sqlx::query("SELECT email, phone, website, handles FROM contacts WHERE external_id = 'C1'")
            .fetch_one(db.pool())
            .await
            .unwrap();
        assert_eq!(row.get::<String, _>("email"), "maya@example.com");
        assert_eq!(row.get::<String, _>("phone"), "+15550102030");
        assert_eq!(row.get::<String, _>("website"), "mayarides.example");
        assert_eq!(row.get::<String, _>("handles"), r#"{"mastodon":"maya@demo.social"}"#);

        let again = contacts(&db, CONTACTS).await;
        assert_eq!(
            (again.created, again.updated, again.unchanged),
            (0, 0, 3),
            "the same file changes nothing"
        );

        let changed = contacts(&db, "id,name,email\nC2,Tom Becker,tom.becker@example.org\n").await;
        assert_eq!((changed.created, changed.updated), (0, 1));
        let count: i64 = sqlx::query("SELECT COUNT(*) AS n FROM contacts")
            .fetch_one(db.pool())
            .await
            .unwrap()
            .get("n");
        assert_eq!(count, 3);

        let audit = audit_entries(db.pool(), 10).await.unwrap();
        assert_eq!(audit.len(), 3);
        assert_eq!(audit[0].action, "import.contacts");
        assert_eq!(audit[0].details["updated"], 1);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn transactions_need_their_contact_and_valid_fields() {
    common::on_each_db(|db| async move {
        contacts(&db, CONTACTS).await;
        let first = transactions(&db, TRANSACTIONS).await;
        assert_eq!((first.read, first.created), (7, 3));
        let lines: Vec<u64> = first.rejected.iter().map(|(l, _)| *l).collect();
        assert_eq!(lines, vec![5, 6, 7, 8]);
        assert!(
            first.rejected[0].1.contains("no contact with id `C9`"),
            "{:?}",
            first.rejected
        );
        assert!(first.rejected[1].1.contains("`kind` `gift` is not one of"));
        assert!(first.rejected[2].1.contains("`yesterday` is not a time"));
        assert!(first.rejected[3].1.contains("`amount` `abc` is not a number"));

        let row = sqlx::query("SELECT currency, occurred_at, amount FROM transactions WHERE external_id = 'T3'")
            .fetch_one(db.pool())
            .await
            .unwrap();
        assert_eq!(row.get::<String, _>("currency"), "EUR");
        assert_eq!(
            row.get::<i64, _>("occurred_at"),
            1_790_899_200_000,
            "2026-10-02T00:00:00Z"
        );
        assert_eq!(row.get::<f64, _>("amount"), 89.5);

        let again = transactions(&db, TRANSACTIONS).await;
        assert_eq!((again.created, again.updated, again.unchanged), (0, 0, 3));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_file_without_an_id_column_is_refused() {
    common::on_each_db(|db| async move {
        let err = import::contacts(&db, "name,email\nA,a@example.com\n".as_bytes(), &|_| {})
            .await
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "the CSV has no `id` column (the header row names the columns; or give a mapping, docs/imports.md)"
        );
    })
    .await;
}
