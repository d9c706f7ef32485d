//! The database: a SQLite file by default (WAL), PostgreSQL for scale-out.
//! Migrations for both are applied at start; callers use one API over both
//! (portable SQL with `$N` parameters, times as Unix milliseconds, JSON as text).

pub mod accounts;
mod audit;
pub(crate) mod codec;

use std::path::Path;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::any::{AnyConnectOptions, AnyPoolOptions, install_default_drivers};
use sqlx::{Any, AnyPool, AssertSqlSafe, Executor, Transaction};

pub use audit::{AuditEntry, audit, audit_entries};

/// How long a caller waits for a PostgreSQL connection before the error.
pub const POSTGRES_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// `sql` (written with `$1, $2, ...`) in this backend's fastest parameter
    /// style. SQLite finds the number of a named parameter (`$N`) by a linear
    /// search, so binding a statement of n named values costs O(n²); when the
    /// values are numbered in order of appearance, plain `?` binds the same
    /// values in O(n).
    pub fn sql(self, sql: String) -> AssertSqlSafe<String> {
        AssertSqlSafe(match self {
            Backend::Sqlite => positional(sql),
            Backend::Postgres => sql,
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("unsupported database URL `{0}`: use sqlite://PATH or postgres://USER@HOST/DB")]
    Url(String),
    #[error("cannot create the data directory {path}: {source}")]
    DataDir { path: String, source: std::io::Error },
    #[error("database: {0}")]
    Sqlx(#[from] sqlx::Error),
    #[error("migrating the database: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// How [`Db::connect_with`] opens a database.
#[derive(Clone, Copy, Debug, Default)]
pub struct ConnectOptions {
    /// SQLite only: the most pages (of 4 KiB) the database may grow to, set
    /// on every pooled connection (`PRAGMA max_page_count` holds per
    /// connection). A write past it fails as on a full disk ("database or
    /// disk is full"): how tests bring about a full disk.
    pub sqlite_max_pages: Option<u32>,
}

/// A connection pool with the schema migrated.
#[derive(Clone, Debug)]
pub struct Db {
    pool: AnyPool,
    backend: Backend,
}

impl Db {
    /// The embedded default: `DATA_DIR/socialcrm.db`.
    pub async fn open_default(data_dir: &Path) -> Result<Db, StoreError> {
        std::fs::create_dir_all(data_dir).map_err(|source| StoreError::DataDir {
            path: data_dir.display().to_string(),
            source,
        })?;
        Db::connect(&format!(
            "sqlite://{}?mode=rwc",
            data_dir.join("socialcrm.db").display()
        ))
        .await
    }

    /// Connects to `url` (`sqlite://...` or `postgres://...`) and migrates.
    pub async fn connect(url: &str) -> Result<Db, StoreError> {
        Db::connect_with(url, ConnectOptions::default()).await
    }

    /// [`Db::connect`] with `options`.
    pub async fn connect_with(url: &str, options: ConnectOptions) -> Result<Db, StoreError> {
        install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            return Err(StoreError::Url(url.to_string()));
        };
        let max_pages = options.sqlite_max_pages;
        let pool = AnyPoolOptions::new()
            .max_connections(if backend == Backend::Sqlite { 4 } else { 16 })
            // A PostgreSQL that is away answers callers with an error soon
            // (the API's 503) instead of holding them for sqlx's 30 s.
            .acquire_timeout(if backend == Backend::Sqlite {
                Duration::from_secs(30)
            } else {
                POSTGRES_ACQUIRE_TIMEOUT
            })
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // WAL lets readers run beside the one writer; wait for
                        // the writer's lock instead of failing at once.
                        conn.execute("PRAGMA journal_mode = WAL").await?;
                        conn.execute("PRAGMA busy_timeout = 10000").await?;
                        conn.execute("PRAGMA foreign_keys = ON").await?;
                        conn.execute("PRAGMA synchronous = NORMAL").await?;
                        if let Some(pages) = max_pages {
                            conn.execute(AssertSqlSafe(format!("PRAGMA max_page_count = {pages}")))
                                .await?;
                        }
                    }
                    Ok(())
                })
            })
            .connect_with(AnyConnectOptions::from_str(url)?)
            .await?;
        match backend {
            Backend::Sqlite => sqlx::migrate!("./migrations/sqlite").run(&pool).await?,
            Backend::Postgres => sqlx::migrate!("./migrations/postgres").run(&pool).await?,
        }
        Ok(Db { pool, backend })
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Begins a transaction that writes. On SQLite it takes the write lock at
    /// once (`BEGIN IMMEDIATE`): a transaction that read first and then wrote
    /// fails with "database is locked" if another writer committed in
    /// between, instead of waiting its turn.
    pub async fn begin(&self) -> Result<Transaction<'static, Any>, sqlx::Error> {
        match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await,
            Backend::Postgres => self.pool.begin().await,
        }
    }
}

/// Now, in Unix milliseconds.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// `($1, $2), ($3, $4)`: placeholders for a multi-row statement of `rows`
/// rows of `columns` values each (one row of n values doubles as an `IN` list).
pub fn placeholders(rows: usize, columns: usize) -> String {
    use std::fmt::Write as _;
    // One buffer: statements of thousands of values are built per page.
    let mut out = String::with_capacity(rows * columns * 6);
    for r in 0..rows {
        out.push_str(if r == 0 { "(" } else { ", (" });
        for c in 1..=columns {
            let sep = if c == 1 { "" } else { ", " };
            let _ = write!(out, "{sep}${}", r * columns + c);
        }
        out.push(')');
    }
    out
}

/// `SELECT {columns} FROM {from} WHERE {expr} IN (${first}, ...) {filter}`
/// for `n` values (`filter`: more conditions, `AND ...`, or empty). On
/// PostgreSQL, one index lookup per value instead: without statistics (a
/// table not analyzed yet, as after an import or the first burst of ingest)
/// it estimates an `IN` list at a large part of the table and scans all of
/// it; a `LATERAL` subquery it cannot flatten (`OFFSET 0`) is planned for one
/// value, by the index.
pub fn lookup_sql(
    backend: Backend,
    columns: &str,
    from: &str,
    expr: &str,
    first: usize,
    n: usize,
    filter: &str,
) -> String {
    let values = (first..first + n).map(|i| format!("${i}"));
    match backend {
        Backend::Sqlite => format!(
            "SELECT {columns} FROM {from} WHERE {expr} IN ({}) {filter}",
            values.collect::<Vec<_>>().join(", ")
        ),
        Backend::Postgres => format!(
            "SELECT s.* FROM (VALUES {}) AS q(x) CROSS JOIN LATERAL \
             (SELECT {columns} FROM {from} WHERE {expr} = q.x {filter} OFFSET 0) AS s",
            values.map(|v| format!("({v})")).collect::<Vec<_>>().join(", ")
        ),
    }
}

/// `sql` with every `$N` outside quotes replaced by `?`, when the Ns are
/// 1, 2, 3, ... in order of appearance (otherwise `sql` unchanged).
fn positional(sql: String) -> String {
    let mut out = String::with_capacity(sql.len());
    let (mut expected, mut quoted) = (1usize, false);
    let mut chars = sql.char_indices().peekable();
    while let Some((_, c)) = chars.next() {
        if c == '\'' {
            quoted = !quoted;
        }
        if c != '$' || quoted {
            out.push(c);
            continue;
        }
        let mut n = String::new();
        while let Some((_, d)) = chars.next_if(|(_, d)| d.is_ascii_digit()) {
            n.push(d);
        }
        if n.parse() != Ok(expected) {
            return sql;
        }
        expected += 1;
        out.push('?');
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn placeholders_number_every_value() {
        assert_eq!(super::placeholders(2, 2), "($1, $2), ($3, $4)");
        assert_eq!(super::placeholders(1, 3), "($1, $2, $3)");
        assert_eq!(super::placeholders(0, 3), "");
    }

    #[test]
    fn positional_only_when_numbered_in_order() {
        use super::positional;
        assert_eq!(positional("VALUES ($1, $2), ($3, $4)".into()), "VALUES (?, ?), (?, ?)");
        assert_eq!(
            positional("a IN ($1) AND b = '$9' AND c = $2".into()),
            "a IN (?) AND b = '$9' AND c = ?"
        );
        // A value used twice, or out of order, keeps its number.
        assert_eq!(positional("a = $1 OR b = $1".into()), "a = $1 OR b = $1");
        assert_eq!(positional("a = $2, b = $1".into()), "a = $2, b = $1");
        assert_eq!(positional("SELECT 1".into()), "SELECT 1");
    }
}
