//! `Idempotency-Key` on POST /api/v1, with Stripe's semantics: the first request with a key runs
//! and its response is stored for 24 hours; a retry with the same key and the same request gets
//! that response again (`Idempotent-Replayed: true`); the same key with another request is 422;
//! while the first is still running, 409. Keys belong to the caller (API key or person), and
//! anonymous requests ignore the header (their responses may carry a new session). Stored bodies
//! are encrypted with the server's secret key: they may hold a new API key or webhook secret.
use crate::server::{
    auth::{principal::Caller, session},
    config::MAX_BODY_BYTES,
    db::{self, idempotency::Claim},
    state::AppState,
};
use crate::shared::error::{AppError, ErrorCode, ErrorKind};
use axum::{
    body::{to_bytes, Body},
    extract::{Request, State},
    http::{HeaderName, HeaderValue, Method, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
};
use chrono::Duration;
use sha2::{Digest, Sha256};
use tower_sessions::Session;

pub const HEADER: &str = "idempotency-key";
const MAX_KEY_LEN: usize = 255;
/// Response headers worth replaying (never cookies).
const KEPT_HEADERS: [&str; 2] = ["content-type", "location"];
/// How long a stored response is replayed.
const KEPT_FOR: Duration = Duration::hours(24);
/// A claim still without a response after this long belongs to a process that died mid-request
/// (no handler runs this long): the key may be used again rather than answering 409 for a day.
const ABANDONED_AFTER: Duration = Duration::minutes(10);

pub async fn idempotency(State(app): State<AppState>, req: Request, next: Next) -> Response {
    if req.method() != Method::POST {
        return next.run(req).await;
    }
    let Some(key) = req.headers().get(HEADER).map(|v| v.to_str().map(str::to_owned)) else {
        return next.run(req).await;
    };
    let key = match key {
        Ok(key) if !key.trim().is_empty() && key.len() <= MAX_KEY_LEN => key,
        _ => {
            return AppError::bad_request(
                ErrorCode::InvalidIdempotencyKey,
                "An Idempotency-Key is 1 to 255 visible characters.",
            )
            .into_response()
        }
    };
    let caller = req.extensions().get::<Caller>().cloned();
    let session = req.extensions().get::<Session>().cloned();
    let Some(principal) = principal(&app, caller, session).await else { return next.run(req).await };
    match run_once(&app, &principal, &key, req, next).await {
        Ok(response) | Err(response) => response,
    }
}

async fn principal(app: &AppState, caller: Option<Caller>, session: Option<Session>) -> Option<String> {
    match caller? {
        Caller::Key(key) => Some(format!("key:{}", key.id)),
        Caller::Session => {
            let who = session::signed_in(app, &session?).await.ok()??;
            Some(format!("user:{}", who.user.id))
        }
    }
}

async fn run_once(app: &AppState, principal: &str, key: &str, req: Request, next: Next) -> Result<Response, Response> {
    let (parts, body) = req.into_parts();
    let body =
        to_bytes(body, MAX_BODY_BYTES).await.map_err(|_| crate::server::error::payload_too_large().into_response())?;
    let mut hasher = Sha256::new();
    hasher.update(parts.method.as_str());
    hasher.update([0]);
    hasher.update(parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or_default());
    hasher.update([0]);
    hasher.update(&body);
    let request_hash: String = hasher.finalize().iter().map(|b| format!("{b:02x}")).collect();
    let now = db::now();
    let claim = db::idempotency::claim(
        app.db.pool(),
        principal,
        key,
        &request_hash,
        now,
        (now - KEPT_FOR, now - ABANDONED_AFTER),
    )
    .await
    .map_err(IntoResponse::into_response)?;
    match claim {
        Claim::New => {}
        Claim::Replay { status, headers, body } => {
            let body = app.secrets.open_bytes(&body).map_err(|e| {
                crate::server::error::internal(format!("opening a stored response: {e}")).into_response()
            })?;
            return Ok(replay(status, &headers, body));
        }
        Claim::Mismatch => {
            return Err(AppError::new(
                ErrorKind::Validation,
                ErrorCode::IdempotencyKeyReused,
                "This Idempotency-Key was used with a different request. Use a new key for a new request.",
            )
            .into_response())
        }
        Claim::InFlight => {
            return Err(AppError::conflict(
                ErrorCode::IdempotencyKeyInUse,
                "A request with this Idempotency-Key is still being processed. Retry when it has finished.",
            )
            .into_response())
        }
    }
    let response = next.run(Request::from_parts(parts, Body::from(body))).await;
    let (parts, body) = response.into_parts();
    let body = match to_bytes(body, usize::MAX).await {
        Ok(body) => body,
        Err(e) => {
            let _ = db::idempotency::release(app.db.pool(), principal, key).await.map_err(AppError::from);
            return Err(crate::server::error::internal(format!("reading a response to store: {e}")).into_response());
        }
    };
    // Server errors and rate limiting are not results: the same key may be retried.
    let storable = !parts.status.is_server_error() && parts.status != StatusCode::TOO_MANY_REQUESTS;
    let stored = if storable {
        let headers = KEPT_HEADERS
            .iter()
            .filter_map(|name| Some(format!("{name}: {}", parts.headers.get(*name)?.to_str().ok()?)))
            .collect::<Vec<_>>()
            .join("\n");
        let sealed = app.secrets.seal_bytes(&body);
        db::idempotency::complete(app.db.pool(), principal, key, parts.status.as_u16(), &headers, &sealed).await
    } else {
        db::idempotency::release(app.db.pool(), principal, key).await
    };
    if let Err(e) = stored {
        tracing::warn!("idempotency: could not store the response: {e}");
    }
    Ok(Response::from_parts(parts, Body::from(body)))
}

fn replay(status: u16, headers: &str, body: Vec<u8>) -> Response {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    for line in headers.lines() {
        if let Some((name, value)) = line.split_once(": ") {
            if let (Ok(name), Ok(value)) = (HeaderName::try_from(name), HeaderValue::try_from(value)) {
                response.headers_mut().insert(name, value);
            }
        }
    }
    response.headers_mut().insert("idempotent-replayed", HeaderValue::from_static("true"));
    response
}
