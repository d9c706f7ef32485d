//! The database: a SQLite file by default (WAL), PostgreSQL for scale-out.
//! Migrations for both are applied at start; callers use one API over both
//! (portable SQL with `$N` parameters, times as Unix milliseconds, JSON as text).

pub mod accounts;
mod audit;
pub mod catalogue;
pub(crate) mod codec;
pub mod contacts;
pub mod conversations;
pub mod credentials;
pub mod currencies;
pub mod customers;
pub mod deletion_requests;
pub mod dialect;
pub mod egress;
pub mod erasures;
pub mod events;
pub mod identity;
pub mod import_mappings;
pub mod inbox;
pub mod indexes;
pub mod insights;
pub mod leases;
pub mod network_changes;
pub mod posts;
pub mod reanalysis;
pub mod registry;
pub mod replies;
pub mod reply_windows;
pub mod responses;
pub mod retention;
pub mod sessions;
pub mod sources;
pub mod subjects;
pub mod templates;
pub mod tokens;
pub mod tombstones;
pub mod trust;

use std::path::Path;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::any::{AnyConnectOptions, AnyPoolOptions, install_default_drivers};
use sqlx::{Any, AnyPool, AssertSqlSafe, Executor, Transaction};

pub use audit::{AuditEntry, AuditFilter, audit, audit_entries, audit_page};
pub use dialect::{Backend, lookup_sql, placeholders};

/// How long a caller waits for a PostgreSQL connection before the error.
pub const POSTGRES_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

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
    /// The event types subscriptions want, as this process last read them.
    wanted: std::sync::Arc<events::Wanted>,
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
                        // Erased text must not linger in free pages (docs/privacy.md).
                        conn.execute("PRAGMA secure_delete = ON").await?;
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
        Ok(Db {
            pool,
            backend,
            wanted: Default::default(),
        })
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Answers when the database does (health checks).
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        sqlx::query("SELECT 1").execute(&self.pool).await.map(|_| ())
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// This process's view of the event types subscriptions want ([`events::wanted`]).
    pub fn wanted(&self) -> &events::Wanted {
        &self.wanted
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

/// Stored times are Unix milliseconds; these are their hour and (UTC) day.
pub const HOUR_MS: i64 = 3_600_000;
pub const DAY_MS: i64 = 86_400_000;

/// Now, in Unix milliseconds.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// The time `ttl` from now, in milliseconds since the epoch: a lease's end.
pub fn ms_after(ttl: std::time::Duration) -> i64 {
    now_ms().saturating_add(i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX))
}
