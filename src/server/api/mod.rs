//! `/api/v1`: JSON adapters over `server::service`, one module per feature. Handlers only extract,
//! call one service function and shape the response.
mod api_keys;
mod auth;
pub mod caller;
pub mod idempotency;
mod me;
mod orgs;

use crate::server::state::AppState;
use crate::shared::error::AppError;
use axum::Router;

pub fn router() -> Router<AppState> {
    Router::new()
        .merge(auth::router())
        .merge(me::router())
        .merge(orgs::router())
        .merge(api_keys::router())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
}

async fn method_not_allowed() -> AppError {
    AppError::new(
        crate::shared::error::ErrorKind::MethodNotAllowed,
        "method_not_allowed",
        "This route does not accept that HTTP method.",
    )
}

async fn not_found() -> AppError {
    AppError::new(
        crate::shared::error::ErrorKind::NotFound,
        "route_not_found",
        "No such API route. See /api/v1 reference in the docs.",
    )
}

/// A JSON body that may be left out entirely (no body means every field's default).
fn optional_json<T: serde::de::DeserializeOwned + Default>(body: &[u8]) -> Result<T, AppError> {
    if body.is_empty() {
        return Ok(T::default());
    }
    serde_json::from_slice(body).map_err(|e| AppError::bad_request("malformed_json", e.to_string()))
}
