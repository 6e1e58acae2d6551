//! Browser sessions: tower-sessions keeps the cookie and a small record in the database (SQLite or
//! Postgres store); the record points at a `user_sessions` row, which is what users list and revoke.
use crate::server::{config::Config, db, error::internal, state::AppState};
use crate::shared::{
    error::AppError,
    ids::{SessionId, UserId},
};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tower_sessions::{
    cookie::SameSite,
    session::{Id, Record},
    session_store::{self, ExpiredDeletion, SessionStore},
    Expiry, Session, SessionManagerLayer,
};
use tower_sessions_sqlx_store::{PostgresStore, SqliteStore};

const AUTH_KEY: &str = "auth";

/// The session cookie's name. Over https it carries the `__Host-` prefix, which browsers accept
/// only from a secure origin, with `Path=/` and no `Domain`: a sibling subdomain or a plain-http
/// page cannot plant or overwrite it.
pub fn cookie_name(config: &Config) -> &'static str {
    if config.secure_cookies() {
        "__Host-gatehouse_session"
    } else {
        "gatehouse_session"
    }
}

/// What the session record holds once signed in.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
struct AuthRef {
    session_id: SessionId,
    user_id: UserId,
}

/// The session store for whichever database is configured.
#[derive(Debug, Clone)]
pub enum AnySessionStore {
    Sqlite(SqliteStore),
    Postgres(PostgresStore),
}

impl AnySessionStore {
    /// Opens the store on its own small pool and creates its table.
    pub async fn open(db: &db::Db) -> anyhow::Result<AnySessionStore> {
        let store = match db.backend() {
            db::Backend::Sqlite => {
                let pool = sqlx::sqlite::SqlitePoolOptions::new().max_connections(4).connect(db.url()).await?;
                sqlx::query("PRAGMA journal_mode = WAL").execute(&pool).await?;
                AnySessionStore::Sqlite(SqliteStore::new(pool))
            }
            db::Backend::Postgres => {
                let pool = sqlx::postgres::PgPoolOptions::new().max_connections(4).connect(db.url()).await?;
                AnySessionStore::Postgres(PostgresStore::new(pool))
            }
        };
        match &store {
            AnySessionStore::Sqlite(s) => s.migrate().await?,
            AnySessionStore::Postgres(s) => s.migrate().await?,
        }
        Ok(store)
    }

    pub fn layer(self, config: &Config) -> SessionManagerLayer<AnySessionStore> {
        let idle = time::Duration::seconds(config.session_idle.as_secs() as i64);
        SessionManagerLayer::new(self)
            .with_name(cookie_name(config))
            .with_path("/")
            .with_http_only(true)
            // Lax, not Strict: SSO providers post back cross-site and must find the session.
            .with_same_site(SameSite::Lax)
            .with_secure(config.secure_cookies())
            .with_expiry(Expiry::OnInactivity(idle))
    }
}

#[async_trait]
impl SessionStore for AnySessionStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        match self {
            AnySessionStore::Sqlite(s) => s.create(record).await,
            AnySessionStore::Postgres(s) => s.create(record).await,
        }
    }
    async fn save(&self, record: &Record) -> session_store::Result<()> {
        match self {
            AnySessionStore::Sqlite(s) => s.save(record).await,
            AnySessionStore::Postgres(s) => s.save(record).await,
        }
    }
    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        match self {
            AnySessionStore::Sqlite(s) => s.load(id).await,
            AnySessionStore::Postgres(s) => s.load(id).await,
        }
    }
    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        match self {
            AnySessionStore::Sqlite(s) => s.delete(id).await,
            AnySessionStore::Postgres(s) => s.delete(id).await,
        }
    }
}

#[async_trait]
impl ExpiredDeletion for AnySessionStore {
    async fn delete_expired(&self) -> session_store::Result<()> {
        match self {
            AnySessionStore::Sqlite(s) => s.delete_expired().await,
            AnySessionStore::Postgres(s) => s.delete_expired().await,
        }
    }
}

/// Binds the browser to a new sign-in. The cookie id is rotated first, so an id planted before
/// login (session fixation) is worthless afterwards.
pub async fn establish(session: &Session, row: &db::sessions::SessionRow) -> Result<(), AppError> {
    session.cycle_id().await.map_err(internal)?;
    session.insert(AUTH_KEY, AuthRef { session_id: row.id, user_id: row.user_id }).await.map_err(internal)
}

/// Rotates the cookie id without changing who is signed in (after a password change).
pub async fn rotate(session: &Session) -> Result<(), AppError> {
    session.cycle_id().await.map_err(internal)
}

/// Forgets the sign-in in this browser: deletes the record and expires the cookie.
pub async fn clear(session: &Session) -> Result<(), AppError> {
    session.flush().await.map_err(internal)
}

/// The signed-in user of a browser session, if the sign-in is still live: not revoked, not idle
/// longer than allowed, not past its absolute lifetime.
/// A person signed in through a browser session (extracted from requests by `auth::principal`).
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub user: db::users::UserRow,
    pub session: db::sessions::SessionRow,
}

pub async fn signed_in(app: &AppState, session: &Session) -> Result<Option<SignedIn>, AppError> {
    let Some(auth) = session.get::<AuthRef>(AUTH_KEY).await.map_err(internal)? else {
        return Ok(None);
    };
    let pool = app.db.pool();
    let now = db::now();
    let idle = chrono::Duration::from_std(app.config.session_idle).unwrap_or_default();
    let live = db::sessions::by_id(pool, auth.session_id)
        .await?
        .filter(|row| row.user_id == auth.user_id && row.expires_at > now && now - row.last_seen_at <= idle);
    let Some(mut row) = live else {
        clear(session).await?;
        return Ok(None);
    };
    let Some(user) = db::users::by_id(pool, row.user_id).await? else {
        clear(session).await?;
        return Ok(None);
    };
    // At most one write a minute per session keeps "last seen" useful without a write per request
    // (more often only when the idle limit itself is shorter).
    let touch_every = chrono::Duration::seconds(60).min(idle / 2);
    if now - row.last_seen_at > touch_every {
        db::sessions::touch(pool, row.id, now).await?;
        row.last_seen_at = now;
    }
    Ok(Some(SignedIn { user, session: row }))
}
