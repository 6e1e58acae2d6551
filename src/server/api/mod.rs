//! `/api/v1`: JSON adapters over `server::service`, one module per feature. Handlers only extract,
//! call one service function and shape the response.
//!
//! Each module's `router()` returns a `utoipa_axum` `OpenApiRouter` and registers its handlers with
//! `.routes(routes!(handler, ...))`, so the OpenAPI document (`openapi/`) is collected from the
//! same router that serves the requests.
mod accounts;
mod api_keys;
mod audit;
mod auth;
pub mod caller;
mod domains;
pub mod idempotency;
mod invitations;
mod members;
pub mod openapi;
mod orgs;
mod sso;
mod usage;
mod webhooks;

use crate::server::state::AppState;
use crate::shared::error::{AppError, ErrorCode};
use axum::{
    http::{header, HeaderValue},
    routing::get,
    Router,
};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

/// Every API route with its OpenAPI operation (paths relative to `/api/v1`).
fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .merge(auth::router())
        .merge(accounts::router())
        .merge(orgs::router())
        .merge(members::router())
        .merge(invitations::router())
        .merge(audit::router())
        .merge(api_keys::router())
        .merge(usage::router())
        .merge(webhooks::router())
        .merge(domains::router())
        .merge(sso::router())
}

pub fn router() -> Router<AppState> {
    let (router, api) = routes().split_for_parts();
    let document = axum::body::Bytes::from(openapi::to_pretty_json(&openapi::finish(api)));
    router
        .route(
            "/openapi.json",
            get(move || {
                let document = document.clone();
                async move { ([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], document) }
            }),
        )
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
}

async fn method_not_allowed() -> AppError {
    AppError::new(
        crate::shared::error::ErrorKind::MethodNotAllowed,
        ErrorCode::MethodNotAllowed,
        "This route does not accept that HTTP method.",
    )
}

async fn not_found() -> AppError {
    AppError::new(
        crate::shared::error::ErrorKind::NotFound,
        ErrorCode::RouteNotFound,
        "No such API route. See the API reference at /docs/api.",
    )
}

/// A JSON body that may be left out entirely (no body means every field's default).
fn optional_json<T: serde::de::DeserializeOwned + Default>(body: &[u8]) -> Result<T, AppError> {
    if body.is_empty() {
        return Ok(T::default());
    }
    crate::server::error::refuse_arrays(body)?;
    serde_json::from_slice(body)
        .or_else(|e| crate::server::error::whole_numbers(body).ok_or(e))
        .map_err(|e| AppError::bad_request(ErrorCode::MalformedJson, e.to_string()))
}

#[cfg(test)]
mod tests {
    #[derive(serde::Deserialize, Default, Debug, PartialEq)]
    struct Body {
        days: Option<i64>,
    }

    /// JSON Schema calls `20.0` an integer, so the API takes it where an integer is expected.
    #[test]
    fn whole_numbers_are_integers() {
        assert_eq!(super::optional_json::<Body>(br#"{"days": 20.0}"#).unwrap(), Body { days: Some(20) });
        assert_eq!(crate::server::error::parse_json::<Body>(br#"{"days": 7.0}"#).unwrap(), Body { days: Some(7) });
        assert_eq!(crate::server::error::parse_json::<Body>(br#"{"days": 7.5}"#).unwrap_err().status(), 422);
        assert_eq!(super::optional_json::<Body>(b"").unwrap(), Body::default());
        assert_eq!(super::optional_json::<Body>(b" [null]").unwrap_err().status(), 422);
        assert_eq!(crate::server::error::parse_json::<Body>(b"[7]").unwrap_err().status(), 422);
    }
}
