//! Databases for tests: a fresh SQLite file always, and a fresh PostgreSQL
//! schema when `SOCIALCRM_TEST_POSTGRES_URL` is set (e.g.
//! `postgres://postgres@127.0.0.1:5432/test`). A part of a test that does not
//! run is reported by [`skipped`]; with `CI` set PostgreSQL must be there.
#![allow(dead_code)]

pub mod brand;
pub mod demo;
pub mod http;

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::atomic::{AtomicU32, Ordering};

use socialcrm::store::Db;

/// Runs `test` on every database this machine offers.
pub async fn on_each_db<F, Fut>(test: F)
where
    F: Fn(Db) -> Fut,
    Fut: Future<Output = ()>,
{
    on_each_db_url(|_, db| test(db)).await
}

/// Like [`on_each_db`], also handing over the database's URL (for child processes).
pub async fn on_each_db_url<F, Fut>(mut test: F)
where
    F: FnMut(String, Db) -> Fut,
    Fut: Future<Output = ()>,
{
    let dir = tempfile::tempdir().expect("a temporary directory");
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("socialcrm.db").display());
    test(url.clone(), Db::connect(&url).await.expect("open SQLite")).await;

    if let Some(base) = postgres_url() {
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
        test(url.clone(), Db::connect(&url).await.expect("open PostgreSQL")).await;
        drop_schema(&admin, &schema).await;
    }
}

/// Drops `schema`. A task the test left behind (a server, a poller being
/// aborted) may still hold locks in it: PostgreSQL may then pick the drop as
/// a deadlock's victim, so it is tried again a few times.
async fn drop_schema(admin: &sqlx::AnyPool, schema: &str) {
    let mut tries = 0;
    loop {
        let dropped = sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
            .execute(admin)
            .await;
        match dropped {
            Ok(_) => return,
            Err(e) if tries < 5 => {
                tries += 1;
                eprintln!("dropping schema {schema} failed ({e}); trying again");
                tokio::time::sleep(std::time::Duration::from_millis(200 * tries)).await;
            }
            Err(e) => panic!("drop schema {schema}: {e}"),
        }
    }
}

/// A config or secrets map of `pairs`.
pub fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// Rows in `table`.
pub async fn count(db: &Db, table: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
        .fetch_one(db.pool())
        .await
        .expect("count rows")
}

/// The number the one row of `sql` selects.
pub async fn scalar(db: &Db, sql: &'static str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(db.pool()).await.expect(sql)
}

/// The status and last error of channel or source account `name`.
pub async fn status(db: &Db, name: &str) -> (String, Option<String>) {
    use sqlx::Row;
    let row = sqlx::query("SELECT status, last_error FROM channel_accounts WHERE name = $1")
        .bind(name)
        .fetch_one(db.pool())
        .await
        .expect("the account");
    (row.get("status"), row.get("last_error"))
}

/// Runs `test` on PostgreSQL only (when configured); says so when it is not.
pub async fn on_postgres<F, Fut>(test: F)
where
    F: Fn(String, Db) -> Fut,
    Fut: Future<Output = ()>,
{
    if postgres_url().is_none() {
        return;
    }
    let mut first = true;
    on_each_db_url(|url, db| {
        let skip = std::mem::replace(&mut first, false);
        let run = (!skip).then(|| test(url, db));
        async move {
            if let Some(run) = run {
                run.await;
            }
        }
    })
    .await
}

/// The PostgreSQL to test on: `SOCIALCRM_TEST_POSTGRES_URL`. Without it the
/// caller's PostgreSQL part is [`skipped`], except under `CI`, where that fails.
fn postgres_url() -> Option<String> {
    let url = std::env::var("SOCIALCRM_TEST_POSTGRES_URL").ok();
    if url.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI tests on PostgreSQL too: set SOCIALCRM_TEST_POSTGRES_URL"
        );
        skipped("PostgreSQL (SOCIALCRM_TEST_POSTGRES_URL is not set): database tests ran on SQLite only");
    }
    url
}

/// Says that `what` was not tested: on stderr, and as a line of the file
/// `SOCIALCRM_TEST_SKIPS` names, which `cargo xtask test` sums up at the end.
pub fn skipped(what: &str) {
    eprintln!("skipped: {what}");
    if let Some(path) = std::env::var_os("SOCIALCRM_TEST_SKIPS") {
        use std::io::Write;
        let file = std::fs::OpenOptions::new().create(true).append(true).open(path);
        if let Ok(mut file) = file {
            let _ = writeln!(file, "{what}");
        }
    }
}

/// A plugin directory (plugin.toml + plugin.wasm) of the crate at `crate_dir`
/// (relative to the workspace), built for wasm32-wasip2 by the test kit.
pub fn plugin_dir(crate_dir: &str) -> tempfile::TempDir {
    let src = format!("{}/../{crate_dir}", env!("CARGO_MANIFEST_DIR"));
    let wasm = socialcrm_sdk::testkit::build(&src).expect("build the plugin");
    let dir = tempfile::tempdir().expect("a temporary directory");
    std::fs::copy(format!("{src}/plugin.toml"), dir.path().join("plugin.toml")).expect("copy plugin.toml");
    std::fs::copy(wasm, dir.path().join("plugin.wasm")).expect("copy plugin.wasm");
    dir
}
