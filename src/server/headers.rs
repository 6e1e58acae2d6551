//! The response headers that depend on the answer or the deployment, set in one place: the
//! Content-Security-Policy of every HTML page (its inline scripts need this response's nonce),
//! `Cache-Control: no-store` on pages and JSON (they may carry personal data), and HSTS when
//! people reach us over https.
use crate::server::{auth::token, state::AppState};
use axum::{
    extract::{Request, State},
    http::{header, request::Parts, HeaderValue},
    middleware::Next,
    response::Response,
};
use leptos::prelude::{provide_context, use_context};
use std::sync::Arc;

/// The nonce this response's inline scripts carry, made before the handler runs so that the page
/// and the header agree.
#[derive(Debug, Clone)]
pub struct CspNonce(Arc<str>);

/// Scripts only from this site or carrying the nonce (Leptos's hydration script), never inline
/// ones an injection could add; WebAssembly may compile (the dashboard is wasm). Inline styles
/// stay allowed: pages and Swagger UI set `style` attributes, and styles cannot run code.
fn policy(nonce: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; \
         connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
    )
}

const HSTS: &str = "max-age=31536000";

pub async fn security_headers(State(app): State<AppState>, mut req: Request, next: Next) -> Response {
    let nonce = CspNonce(token::generate().into());
    req.extensions_mut().insert(nonce.clone());
    let mut response = next.run(req).await;
    let headers = response.headers_mut();
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let html = content_type.starts_with("text/html");
    let dynamic = html || content_type.starts_with("application/json");
    if html && !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        if let Ok(value) = HeaderValue::from_str(&policy(&nonce.0)) {
            headers.insert(header::CONTENT_SECURITY_POLICY, value);
        }
    }
    if dynamic && !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if app.config.secure_cookies() {
        headers.insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static(HSTS));
    }
    response
}

/// Gives Leptos this request's nonce in place of the one it made itself, so that the hydration
/// script it renders carries the nonce the header allows. (Called in the app's context, where the
/// request parts are; a static file has none and needs none.)
pub fn provide_leptos_nonce() {
    if let Some(CspNonce(nonce)) = use_context::<Parts>().and_then(|parts| parts.extensions.get::<CspNonce>().cloned())
    {
        provide_context(leptos::nonce::Nonce::from_value(nonce));
    }
}
