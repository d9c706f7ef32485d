//! The benchmarks' PostgreSQL: a schema of its own on the server of
//! `SOCIALCRM_TEST_POSTGRES_URL`, dropped afterwards.

use std::future::Future;

/// Runs `run` with the URL of a fresh schema `{prefix}_{pid}` when
/// `SOCIALCRM_TEST_POSTGRES_URL` is set; does nothing otherwise.
pub async fn in_schema<F: Future<Output = ()>>(prefix: &str, run: impl FnOnce(String) -> F) {
    let Ok(base) = std::env::var("SOCIALCRM_TEST_POSTGRES_URL") else {
        return;
    };
    sqlx::any::install_default_drivers();
    let admin = sqlx::AnyPool::connect(&base).await.unwrap();
    let schema = format!("{prefix}_{}", std::process::id());
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&admin)
        .await
        .unwrap();
    let sep = if base.contains('?') { '&' } else { '?' };
    run(format!("{base}{sep}options=-c%20search_path%3D{schema}")).await;
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
        .execute(&admin)
        .await
        .unwrap();
}
