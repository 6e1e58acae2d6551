//! Plain HTTP endpoints that are neither server functions (`rpc/`) nor `/api/v1`: no-JavaScript
//! form posts whose answer is a secret or that carry a file (`forms`), the browser side of single
//! sign-on (`sso`), the documentation pages (`docs`) and Prometheus' `/metrics` (`metrics`). Each handler is a thin
//! adapter over `server::service`, like the other two front ends.
pub mod docs;
pub mod forms;
pub mod metrics;
pub mod sso;

use crate::server::state::AppState;
use axum::Router;

/// Every browser route (merged beside the Leptos routes in `server::router`).
pub fn router() -> Router<AppState> {
    Router::new().merge(forms::router()).merge(sso::router()).merge(docs::router())
}
