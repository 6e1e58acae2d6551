//! Who is making a request, as axum extractors. `SignedIn` fails with 401 when nobody is.
use crate::server::{db, state::AppState};
use crate::shared::error::AppError;
use axum::{
    extract::{ConnectInfo, FromRequestParts},
    http::{header::USER_AGENT, request::Parts},
};
use std::net::SocketAddr;
use tower_sessions::Session;

/// How a request to /api/v1 authenticated, as the API gate found it.
#[derive(Clone)]
pub enum Caller {
    Key(std::sync::Arc<db::api_keys::KeyAuth>),
    /// A browser session or nobody: `SignedIn` decides.
    Session,
}

/// A person signed in through a browser session.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub user: db::users::UserRow,
    pub session: db::sessions::SessionRow,
}

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        if let Some(Caller::Key(_)) = parts.extensions.get::<Caller>() {
            return Err(AppError::forbidden(
                "person_required",
                "API keys act on their organization's resources only; this endpoint needs a signed-in person.",
            ));
        }
        let session = browser_session(parts, state).await?;
        super::session::signed_in(state, &session).await?.ok_or_else(AppError::unauthenticated)
    }
}

pub async fn browser_session(parts: &mut Parts, state: &AppState) -> Result<Session, AppError> {
    Session::from_request_parts(parts, state)
        .await
        .map_err(|(_, why)| crate::server::error::internal(format!("session layer missing: {why}")))
}

/// Where a request came from, for throttling and the sessions list.
#[derive(Debug, Clone, Default)]
pub struct ClientMeta {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// The browser's device cookie (`auth::device`), for sign-in throttling.
    pub device: Option<String>,
}

impl ClientMeta {
    pub fn from_parts(parts: &Parts) -> ClientMeta {
        ClientMeta::from_head(&parts.headers, &parts.extensions)
    }

    /// From a request's headers and extensions (for middleware, which holds the whole request).
    pub fn from_head(headers: &axum::http::HeaderMap, extensions: &axum::http::Extensions) -> ClientMeta {
        let ip = extensions.get::<ConnectInfo<SocketAddr>>().map(|ConnectInfo(addr)| addr.ip().to_string());
        let user_agent = headers.get(USER_AGENT).and_then(|v| v.to_str().ok()).map(|ua| ua.chars().take(256).collect());
        ClientMeta { ip, user_agent, device: super::device::from_headers(headers) }
    }

    /// The throttling key for the client address ("unknown" shares one bucket, on purpose).
    pub fn ip_key(&self) -> &str {
        self.ip.as_deref().unwrap_or("unknown")
    }

    /// A request from this machine (operator-only pages: the dev outbox, metrics).
    pub fn is_loopback(&self) -> bool {
        self.ip.as_deref().and_then(|ip| ip.parse::<std::net::IpAddr>().ok()).is_some_and(|ip| ip.is_loopback())
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ClientMeta {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientMeta::from_parts(parts))
    }
}
