//! Who is calling `/api/v1` and how much they may: the `gate` middleware authenticates API keys
//! (`Authorization: Bearer gk_live_...`), applies the rate limits, stamps the `RateLimit*` and
//! `API-Version` headers and meters usage; `InOrg` turns the caller into an `OrgScope` for the
//! organization in the path.
use crate::server::{
    auth::principal::{Caller, ClientMeta, SignedIn},
    authz::{authorize, authorize_key, OrgScope},
    db,
    error::AppPath,
    ratelimit::{Decision, Quota},
    service::api_keys,
    state::AppState,
};
use crate::shared::{
    error::{AppError, ErrorCode, ErrorKind},
    ids::OrgId,
    roles::Permission,
};
use axum::{
    extract::{FromRequestParts, Request, State},
    http::{header, request::Parts, HeaderMap, HeaderValue},
    middleware::Next,
    response::{IntoResponse, Response},
};
use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

/// The major version every response names in `API-Version`.
pub const API_VERSION: &str = "1";

/// An operation on its way out: answers carry `Deprecation` (RFC 9745), `Sunset` (RFC 8594) and
/// a `Link` to the versioning guide. Mark its handler `deprecated` in the OpenAPI document too (a
/// test checks both lists agree).
pub struct Deprecation {
    pub method: &'static str,
    /// The route as axum matched it, under /api/v1.
    pub route: &'static str,
    /// When it was deprecated, Unix seconds.
    pub since: i64,
    /// When it stops working, as an HTTP date.
    pub sunset: &'static str,
}

pub const DEPRECATIONS: &[Deprecation] = &[Deprecation {
    method: "POST",
    route: "/api/v1/organizations/{org}/invite",
    since: 1_764_547_200, // 2025-12-01
    sunset: "Tue, 01 Jun 2027 00:00:00 GMT",
}];

fn deprecation_of(method: &axum::http::Method, route: &str) -> Option<&'static Deprecation> {
    DEPRECATIONS.iter().find(|d| d.method == method.as_str() && d.route == route)
}

/// The limits checked for one request, filled by the gate and by `InOrg`, read back when the
/// response leaves so it can carry the `RateLimit` headers.
#[derive(Clone, Default)]
struct Limits(Arc<Mutex<Vec<Checked>>>);

/// One limit applied: its name in the headers, the quota, and what it decided.
type Checked = (&'static str, Quota, Decision);

/// The organization a signed-in person's request counted against, for metering.
#[derive(Clone, Default)]
struct MeteredOrg(Arc<Mutex<Option<OrgId>>>);

impl Limits {
    fn push(&self, name: &'static str, quota: Quota, decision: Decision) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).push((name, quota, decision));
    }
}

/// Endpoints that anyone can call and that guess or create secrets: tighter per-IP limits.
fn is_sensitive(path: &str) -> bool {
    matches!(
        path,
        "/auth/login" | "/auth/signup" | "/auth/forgot-password" | "/auth/reset-password" | "/invitations/accept"
    ) || (path.starts_with("/auth/ldap/") && path.ends_with("/login"))
}

/// The dashboard's server functions for the same operations share the `"auth"` budget.
const SENSITIVE_RPC: [&str; 5] =
    ["/rpc/signup", "/rpc/login", "/rpc/forgot_password", "/rpc/reset_password", "/rpc/accept_invitation"];

/// Outside /api/v1: those server functions, starting a single sign-on (it stores a pending
/// sign-in and may call the identity provider) and the LDAP sign-in form (it tries a password).
fn is_sensitive_page(path: &str) -> bool {
    SENSITIVE_RPC.contains(&path)
        || path == "/sso/start"
        || (path.starts_with("/sso/ldap/") && path.ends_with("/login"))
}

/// The per-IP `"auth"` limit for the dashboard's sign-in, sign-up, reset and invitation server
/// functions and the SSO entry points (their /api/v1 twins are limited by `gate`).
pub async fn dashboard_auth_limit(State(app): State<AppState>, req: Request, next: Next) -> Response {
    if is_sensitive_page(req.uri().path()) {
        let client = ClientMeta::from_head(req.headers(), req.extensions());
        let decision = app.limiter.check(&format!("ip-auth:{}", client.ip_key()), app.config.auth_ip_quota).await;
        if !decision.allowed {
            return rate_limited(decision).into_response();
        }
    }
    next.run(req).await
}

fn hourly(limit: i64) -> Quota {
    Quota::per_hour(limit.clamp(1, u32::MAX as i64) as u32)
}

pub async fn gate(State(app): State<AppState>, mut req: Request, next: Next) -> Response {
    let limits = Limits::default();
    let metered = MeteredOrg::default();
    let client = ClientMeta::from_head(req.headers(), req.extensions());
    let caller = match bearer(req.headers()) {
        Ok(None) => Caller::Session,
        Ok(Some(presented)) => match api_keys::authenticate(&app, presented).await {
            Ok(key) => Caller::Key(Arc::new(key)),
            Err(e) => return finish(e.into_response(), &limits),
        },
        Err(e) => return finish(e.into_response(), &limits),
    };
    let checks: Vec<(&'static str, String, Quota)> = match &caller {
        Caller::Key(key) => {
            let org_quota = hourly(key.org_limit_per_hour);
            let key_quota =
                hourly(key.rate_limit_per_hour.unwrap_or(key.org_limit_per_hour).min(key.org_limit_per_hour));
            vec![("key", format!("key:{}", key.id), key_quota), ("org", format!("org:{}", key.org), org_quota)]
        }
        Caller::Session => {
            let ip = client.ip_key().to_owned();
            let mut checks = vec![("ip", format!("ip:{ip}"), app.config.api_ip_quota)];
            if is_sensitive(req.uri().path()) {
                checks.push(("auth", format!("ip-auth:{ip}"), app.config.auth_ip_quota));
            }
            checks
        }
    };
    let buckets: Vec<(&str, Quota)> = checks.iter().map(|(_, bucket, quota)| (bucket.as_str(), *quota)).collect();
    for ((name, _, quota), decision) in checks.iter().zip(app.limiter.check_all(&buckets).await) {
        limits.push(name, *quota, decision);
        if !decision.allowed {
            let response = rate_limited(decision).into_response();
            meter(&app, &caller, &metered, response.status().as_u16());
            return finish(response, &limits);
        }
    }
    let deprecation = req
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .and_then(|route| deprecation_of(req.method(), route.as_str()));
    req.extensions_mut().insert(caller.clone());
    req.extensions_mut().insert(limits.clone());
    req.extensions_mut().insert(metered.clone());
    let mut response = next.run(req).await;
    meter(&app, &caller, &metered, response.status().as_u16());
    if let Some(deprecation) = deprecation {
        let headers = response.headers_mut();
        headers.insert("deprecation", HeaderValue::from_str(&format!("@{}", deprecation.since)).expect("ascii"));
        headers.insert("sunset", HeaderValue::from_static(deprecation.sunset));
        let link = format!("<{}>; rel=\"deprecation\"", app.config.link("/docs/guides/versioning"));
        if let Ok(link) = HeaderValue::from_str(&link) {
            headers.insert(header::LINK, link);
        }
    }
    finish(response, &limits)
}

fn meter(app: &AppState, caller: &Caller, metered: &MeteredOrg, status: u16) {
    match caller {
        Caller::Key(key) => app.usage.record(key.org, Some(key.id), status),
        Caller::Session => {
            if let Some(org) = *metered.0.lock().unwrap_or_else(|e| e.into_inner()) {
                app.usage.record(org, None, status);
            }
        }
    }
}

/// `Authorization: Bearer <key>`; another scheme is refused rather than silently ignored.
fn bearer(headers: &HeaderMap) -> Result<Option<&str>, AppError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else { return Ok(None) };
    let value = value.to_str().unwrap_or_default();
    match value.split_once(' ') {
        Some((scheme, key)) if scheme.eq_ignore_ascii_case("bearer") => Ok(Some(key.trim())),
        _ => Err(AppError::new(
            ErrorKind::Unauthenticated,
            ErrorCode::InvalidAuthorization,
            "Send an API key as `Authorization: Bearer <key>`.",
        )),
    }
}

/// 429 `rate_limited` with `Retry-After` in whole seconds (at least 1).
fn rate_limited(decision: Decision) -> AppError {
    AppError::rate_limited(ceil_secs(decision.retry_after.unwrap_or_default()).max(1))
}

/// Adds `API-Version`, and the IETF draft `RateLimit-Policy` (every limit applied) and
/// `RateLimit` (the one closest to running out) headers.
fn finish(mut response: Response, limits: &Limits) -> Response {
    let headers = response.headers_mut();
    headers.insert("api-version", HeaderValue::from_static(API_VERSION));
    let limits = limits.0.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((name, _, tightest)) =
        limits.iter().min_by_key(|(_, quota, d)| (d.allowed, d.remaining as u64 * 1000 / quota.limit.max(1) as u64))
    {
        let policy = limits
            .iter()
            .map(|(name, quota, _)| format!("\"{name}\";q={};w={}", quota.limit, quota.period.as_secs()))
            .collect::<Vec<_>>()
            .join(", ");
        let current = format!("\"{name}\";r={};t={}", tightest.remaining, ceil_secs(tightest.reset));
        for (header, value) in [("ratelimit-policy", policy), ("ratelimit", current)] {
            if let Ok(value) = HeaderValue::from_str(&value) {
                headers.insert(header, value);
            }
        }
    }
    response
}

fn ceil_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

/// The caller's authorized access to the organization named by `{org}` in the path (not a
/// member, another organization's key, or not an id → 404); what the caller may do there is the
/// service's to check. A signed-in person's requests count against the organization's limit.
pub struct InOrg(pub OrgScope);

impl FromRequestParts<AppState> for InOrg {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, Self::Rejection> {
        let AppPath(params) = AppPath::<HashMap<String, String>>::from_request_parts(parts, app).await?;
        let org: OrgId =
            params.get("org").and_then(|id| id.parse().ok()).ok_or_else(|| AppError::not_found("organization"))?;
        let client = ClientMeta::from_parts(parts);
        if let Some(Caller::Key(key)) = parts.extensions.get::<Caller>() {
            return Ok(InOrg(authorize_key(key, &client, org)?));
        }
        let who = SignedIn::from_request_parts(parts, app).await?;
        let scope = authorize(&app.db, &who, &client, org, Permission::OrgRead).await?;
        if let Some(limits) = parts.extensions.get::<Limits>() {
            let quota = hourly(db::orgs::api_limit(app.db.pool(), org).await?);
            let decision = app.limiter.check(&format!("org:{org}"), quota).await;
            limits.push("org", quota, decision);
            if let Some(metered) = parts.extensions.get::<MeteredOrg>() {
                *metered.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(org);
            }
            if !decision.allowed {
                return Err(rate_limited(decision));
            }
        }
        Ok(InOrg(scope))
    }
}
