//! Databases for tests: a fresh SQLite file always, and a fresh PostgreSQL
//! schema when `SOCIALCRM_TEST_POSTGRES_URL` is set (e.g.
//! `postgres://postgres@127.0.0.1:5432/test`).

use std::future::Future;
use std::sync::atomic::{AtomicU32, Ordering};

use socialcrm::store::Db;

/// Runs `test` on every database this machine offers.
pub async fn on_each_db<F, Fut>(test: F)
where
    F: Fn(Db) -> Fut,
    Fut: Future<Output = ()>,
{
    let dir = tempfile::tempdir().expect("a temporary directory");
    test(Db::open_default(dir.path()).await.expect("open SQLite")).await;

    if let Ok(base) = std::env::var("SOCIALCRM_TEST_POSTGRES_URL") {
        static SCHEMAS: AtomicU32 = AtomicU32::new(0);
        let schema = format!("test_{}_{}", std::process::id(), SCHEMAS.fetch_add(1, Ordering::SeqCst));
        sqlx::any::install_default_drivers();
        let admin = sqlx::AnyPool::connect(&base).await.expect("connect to PostgreSQL");
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
            .execute(&admin)
            .await
            .expect("create schema");
        let sep = if base.contains('?') { '&' } else { '?' };
        let url = format!("{base}{sep}options=-c%20search_path%3D{schema}");
        test(Db::connect(&url).await.expect("open PostgreSQL")).await;
        sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
            .execute(&admin)
            .await
            .expect("drop schema");
    }
}
