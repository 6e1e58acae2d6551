//! The database: one `sqlx::Any` pool over SQLite (embedded default) or Postgres, so every query
//! is written once. Times are stored as Unix milliseconds and ids as text; both dialects accept
//! the same SQL. Per-table queries live in the submodules.

/// `execute!(tx, "SQL", a, b, ..)`: runs one write in the transaction with its arguments bound in
/// order, for writes whose only outcome is success (`DbResult<()>`).
macro_rules! execute {
    ($tx:expr, $sql:expr $(, $arg:expr)* $(,)?) => {{
        sqlx::query($sql)$(.bind($arg))*.execute(&mut **$tx).await?;
        Ok(())
    }};
}

pub mod api_keys;
pub mod audit;
pub mod domains;
pub mod emails;
pub mod idempotency;
pub mod invitations;
pub mod members;
pub mod orgs;
pub mod sessions;
pub mod sso;
pub mod sso_links;
pub mod throttle;
pub mod tokens;
pub mod usage;
pub mod users;
pub mod webhooks;

use crate::shared::error::AppError;
use chrono::{DateTime, Utc};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{Any, AnyPool, Executor, Row};
use std::{str::FromStr, time::Duration};

pub type Tx = sqlx::Transaction<'static, Any>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Clone)]
pub struct Db {
    pool: AnyPool,
    backend: Backend,
    url: String,
}

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

impl Db {
    /// Connects to `sqlite://PATH` (the file and its folder are created) or `postgres://...`.
    pub async fn connect(url: &str) -> anyhow::Result<Db> {
        sqlx::any::install_default_drivers();
        let (backend, url) = if url.starts_with("sqlite:") {
            (Backend::Sqlite, prepare_sqlite_url(url)?)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            (Backend::Postgres, url.to_owned())
        } else {
            anyhow::bail!("unsupported database URL {url:?}: use sqlite://PATH or postgres://...");
        };
        let options = AnyPoolOptions::new()
            .max_connections(if backend == Backend::Sqlite { 8 } else { 16 })
            .acquire_timeout(Duration::from_secs(10));
        let options = if backend == Backend::Sqlite {
            options.after_connect(|conn, _| {
                Box::pin(async move {
                    // WAL lets readers run beside the one writer; writers queue on the busy timeout.
                    conn.execute("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000;")
                        .await?;
                    Ok(())
                })
            })
        } else {
            options
        };
        let pool = options.connect(&url).await?;
        Ok(Db { pool, backend, url })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The URL actually used (for SQLite with `mode=rwc` added), for the session store's pool.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub async fn migrate(&self) -> anyhow::Result<()> {
        let migrator = match self.backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        migrator.run(&self.pool).await?;
        Ok(())
    }

    /// A transaction for changes. On SQLite it takes the write lock up front (`BEGIN IMMEDIATE`)
    /// so two writers never deadlock upgrading a read lock.
    pub async fn begin_write(&self) -> DbResult<Tx> {
        let tx = match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await,
            Backend::Postgres => self.pool.begin().await,
        };
        Ok(tx?)
    }

    /// A read-only snapshot for answers built from several queries, so they agree with each other
    /// while writers commit (SQLite's WAL readers already see one snapshot per transaction).
    pub async fn begin_snapshot(&self) -> DbResult<Tx> {
        let tx = match self.backend {
            Backend::Sqlite => self.pool.begin().await,
            Backend::Postgres => self.pool.begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY").await,
        };
        Ok(tx?)
    }

    /// A plain transaction at the backend's default isolation, for a read outside any write.
    pub async fn begin(&self) -> DbResult<Tx> {
        Ok(self.pool.begin().await?)
    }

    pub async fn ping(&self) -> DbResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}

fn prepare_sqlite_url(url: &str) -> anyhow::Result<String> {
    let path = url.trim_start_matches("sqlite:").trim_start_matches("//");
    let path = path.split('?').next().unwrap_or_default();
    if path.is_empty() || path == ":memory:" {
        anyhow::bail!("give SQLite a file path, e.g. sqlite://data/gatehouse.db");
    }
    if let Some(parent) = std::path::Path::new(path).parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    Ok(if url.contains("mode=") {
        url.to_owned()
    } else if url.contains('?') {
        format!("{url}&mode=rwc")
    } else {
        format!("{url}?mode=rwc")
    })
}

/// A failed query. The db layer returns only this; it becomes an `AppError` (a 500, the cause
/// logged under the request id) where a service or job applies `?`. Domain outcomes ("slug taken",
/// "not found") are never `DbError`s: queries report them as values (`bool`, `Option`).
pub struct DbError(sqlx::Error);

pub type DbResult<T> = Result<T, DbError>;

impl From<sqlx::Error> for DbError {
    fn from(err: sqlx::Error) -> Self {
        DbError(err)
    }
}

impl From<DbError> for AppError {
    fn from(err: DbError) -> Self {
        crate::server::error::internal(err.0)
    }
}

impl std::fmt::Display for DbError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::fmt::Debug for DbError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// A handler or middleware answering with a failed query answers as `AppError` would: a 500.
impl axum::response::IntoResponse for DbError {
    fn into_response(self) -> axum::response::Response {
        AppError::from(self).into_response()
    }
}

/// Names the outcome of a write that a unique constraint refused, so the caller can say what
/// conflicted ("email taken", "slug taken"); other failures stay errors.
pub trait OnDuplicate<T> {
    /// `Ok(value)` in place of a unique-constraint violation (both dialects).
    fn on_duplicate(self, value: T) -> DbResult<T>;
}

impl<T> OnDuplicate<T> for Result<T, sqlx::Error> {
    fn on_duplicate(self, value: T) -> DbResult<T> {
        match self {
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Ok(value),
            other => Ok(other?),
        }
    }
}

/// Commits a transaction.
pub async fn commit(tx: Tx) -> DbResult<()> {
    Ok(tx.commit().await?)
}

/// Rolls a transaction back (on Postgres, after a refused write aborted it).
pub async fn rollback(tx: Tx) -> DbResult<()> {
    Ok(tx.rollback().await?)
}

pub fn now() -> DateTime<Utc> {
    Utc::now()
}

pub fn to_millis(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

pub use crate::shared::columns::from_millis;

/// Reads a text column holding a typed id.
pub fn get_id<T: FromStr>(row: &AnyRow, column: &str) -> Result<T, sqlx::Error> {
    let raw: String = row.try_get(column)?;
    raw.parse().map_err(|_| sqlx::Error::Decode(format!("bad id in column {column}: {raw:?}").into()))
}

pub fn get_time(row: &AnyRow, column: &str) -> Result<DateTime<Utc>, sqlx::Error> {
    Ok(from_millis(row.try_get(column)?))
}

pub fn get_opt_time(row: &AnyRow, column: &str) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    Ok(row.try_get::<Option<i64>, _>(column)?.map(from_millis))
}

/// Work waiting in the outboxes (for `/metrics`).
pub struct Backlog {
    pub webhook_deliveries: i64,
    pub mail: i64,
}

pub async fn backlog(pool: &AnyPool) -> DbResult<Backlog> {
    let (webhook_deliveries, mail) = sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM webhook_deliveries WHERE status = 'pending') AS webhooks, \
                (SELECT COUNT(*) FROM email_outbox WHERE sent_at IS NULL AND gave_up_at IS NULL) AS mail",
    )
    .fetch_one(pool)
    .await?;
    Ok(Backlog { webhook_deliveries, mail })
}
