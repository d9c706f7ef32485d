//! The SQLite and PostgreSQL migrations are twins kept by hand: after
//! migrating, both databases have the same tables, columns, nullability,
//! indexes and unique constraints. Column types and index names may differ
//! (each dialect has its own); expression indexes compare as `<expr>`.

mod common;

use std::collections::BTreeSet;

use socialcrm::store::{Backend, Db};
use sqlx::Row;

/// (table, column, not null).
type Columns = BTreeSet<(String, String, bool)>;
/// (table, unique, columns in order).
type Indexes = BTreeSet<(String, bool, String)>;

async fn sqlite_schema(db: &Db) -> (Columns, Indexes) {
    let pool = db.pool();
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_sqlx%'",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let (mut columns, mut indexes) = (Columns::new(), Indexes::new());
    for table in tables {
        for row in sqlx::query("SELECT name, \"notnull\" AS nn, pk FROM pragma_table_info($1)")
            .bind(&table)
            .fetch_all(pool)
            .await
            .unwrap()
        {
            // A primary key column is never null, whatever SQLite reports.
            let not_null = row.get::<i64, _>("nn") == 1 || row.get::<i64, _>("pk") > 0;
            columns.insert((table.clone(), row.get("name"), not_null));
        }
        for index in sqlx::query("SELECT name, \"unique\" AS u, origin FROM pragma_index_list($1)")
            .bind(&table)
            .fetch_all(pool)
            .await
            .unwrap()
        {
            if index.get::<String, _>("origin") == "pk" {
                continue;
            }
            let names: Vec<Option<String>> =
                sqlx::query_scalar("SELECT name FROM pragma_index_info($1) ORDER BY seqno")
                    .bind(index.get::<String, _>("name"))
                    .fetch_all(pool)
                    .await
                    .unwrap();
            indexes.insert((table.clone(), index.get::<i64, _>("u") == 1, joined(names)));
        }
    }
    (columns, indexes)
}

async fn postgres_schema(db: &Db) -> (Columns, Indexes) {
    let pool = db.pool();
    let columns = sqlx::query(
        "SELECT table_name::TEXT AS t, column_name::TEXT AS c, (is_nullable = 'NO') AS nn \
         FROM information_schema.columns WHERE table_schema = current_schema() AND table_name NOT LIKE '\\_sqlx%'",
    )
    .fetch_all(pool)
    .await
    .unwrap()
    .iter()
    .map(|r| (r.get("t"), r.get("c"), r.get("nn")))
    .collect();
    let mut indexes = Indexes::new();
    for row in sqlx::query(
        "SELECT t.relname::TEXT AS t, ix.indisunique AS u, ix.indexrelid::BIGINT AS id \
         FROM pg_index ix JOIN pg_class t ON t.oid = ix.indrelid JOIN pg_namespace n ON n.oid = t.relnamespace \
         WHERE n.nspname = current_schema() AND NOT ix.indisprimary AND t.relname NOT LIKE '\\_sqlx%'",
    )
    .fetch_all(pool)
    .await
    .unwrap()
    {
        // Key columns in order; an expression's position has no attribute.
        let names: Vec<Option<String>> = sqlx::query_scalar(
            "SELECT a.attname::TEXT FROM pg_index ix \
             CROSS JOIN LATERAL unnest(ix.indkey) WITH ORDINALITY AS k(attnum, n) \
             LEFT JOIN pg_attribute a ON a.attrelid = ix.indrelid AND a.attnum = k.attnum AND k.attnum <> 0 \
             WHERE ix.indexrelid = $1 ORDER BY k.n",
        )
        .bind(row.get::<i64, _>("id"))
        .fetch_all(pool)
        .await
        .unwrap();
        indexes.insert((row.get("t"), row.get("u"), joined(names)));
    }
    (columns, indexes)
}

fn joined(names: Vec<Option<String>>) -> String {
    names
        .into_iter()
        .map(|n| n.unwrap_or_else(|| "<expr>".into()))
        .collect::<Vec<_>>()
        .join(",")
}

#[tokio::test(flavor = "multi_thread")]
async fn sqlite_and_postgresql_migrate_to_the_same_schema() {
    let schemas = std::sync::Mutex::new(Vec::new());
    common::on_each_db(|db| {
        let schemas = &schemas;
        async move {
            let schema = match db.backend() {
                Backend::Sqlite => sqlite_schema(&db).await,
                Backend::Postgres => postgres_schema(&db).await,
            };
            schemas.lock().unwrap().push(schema);
        }
    })
    .await;
    let schemas = schemas.into_inner().unwrap();
    let Some((sqlite, postgres)) = schemas.first().zip(schemas.get(1)) else {
        common::skipped("the schema comparison needs PostgreSQL");
        return;
    };
    assert!(sqlite.0.len() > 100, "{} columns read from SQLite", sqlite.0.len());
    let only = |a: &Columns, b: &Columns| a.difference(b).cloned().collect::<Vec<_>>();
    assert_eq!(
        (only(&sqlite.0, &postgres.0), only(&postgres.0, &sqlite.0)),
        (vec![], vec![]),
        "columns (table, column, not null) only in SQLite, only in PostgreSQL"
    );
    let only = |a: &Indexes, b: &Indexes| a.difference(b).cloned().collect::<Vec<_>>();
    assert_eq!(
        (only(&sqlite.1, &postgres.1), only(&postgres.1, &sqlite.1)),
        (vec![], vec![]),
        "indexes (table, unique, columns) only in SQLite, only in PostgreSQL"
    );
}
