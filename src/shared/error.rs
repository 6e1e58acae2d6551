//! The one error type. Services return it, REST handlers render it as
//! `{"error":{"code","message","details"}}`, server functions ship it to the browser as JSON.
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// What kind of failure this is; decides the HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    BadRequest,
    Validation,
    Unauthenticated,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    Conflict,
    Gone,
    PayloadTooLarge,
    UnsupportedMediaType,
    RateLimited,
    Internal,
    /// A peer we depend on (an identity provider, a directory) failed or could not be reached.
    BadGateway,
    /// This server cannot answer for now (its database is unreachable); try again later.
    Unavailable,
}

impl ErrorKind {
    pub fn status(self) -> u16 {
        match self {
            ErrorKind::BadRequest => 400,
            ErrorKind::Unauthenticated => 401,
            ErrorKind::Forbidden => 403,
            ErrorKind::NotFound => 404,
            ErrorKind::MethodNotAllowed => 405,
            ErrorKind::Conflict => 409,
            ErrorKind::Gone => 410,
            ErrorKind::PayloadTooLarge => 413,
            ErrorKind::UnsupportedMediaType => 415,
            ErrorKind::Validation => 422,
            ErrorKind::RateLimited => 429,
            ErrorKind::Internal => 500,
            ErrorKind::BadGateway => 502,
            ErrorKind::Unavailable => 503,
        }
    }
}

string_enum! {
    /// Every stable, machine-readable error code the server answers with (`error.code`). Clients
    /// match on these strings; a new failure gets a new variant here, so a typo cannot compile.
    pub enum ErrorCode {
        AlreadyMember = "already_member",
        AlreadyVerified = "already_verified",
        ApiDisabled = "api_disabled",
        ApiKeyRevoked = "api_key_revoked",
        BadRequest = "bad_request",
        ConnectionChanged = "connection_changed",
        CrossSiteRequest = "cross_site_request",
        DatabaseUnreachable = "database_unreachable",
        DeliveryPending = "delivery_pending",
        DomainClaimed = "domain_claimed",
        DomainNotVerified = "domain_not_verified",
        DomainTaken = "domain_taken",
        EmailTaken = "email_taken",
        IdempotencyKeyInUse = "idempotency_key_in_use",
        IdempotencyKeyReused = "idempotency_key_reused",
        InsufficientRank = "insufficient_rank",
        InternalError = "internal_error",
        InvalidApiKey = "invalid_api_key",
        InvalidArguments = "invalid_arguments",
        InvalidAuthorization = "invalid_authorization",
        InvalidCredentials = "invalid_credentials",
        InvalidForm = "invalid_form",
        InvalidIdempotencyKey = "invalid_idempotency_key",
        InvalidToken = "invalid_token",
        InvitationAccepted = "invitation_accepted",
        InvitationEmailMismatch = "invitation_email_mismatch",
        InvitationExpired = "invitation_expired",
        InvitationPending = "invitation_pending",
        InvitationRevoked = "invitation_revoked",
        InvitationUsed = "invitation_used",
        LastOwner = "last_owner",
        LimitExceeded = "limit_exceeded",
        MalformedJson = "malformed_json",
        MethodNotAllowed = "method_not_allowed",
        NetworkError = "network_error",
        NotAPerson = "not_a_person",
        NotFound = "not_found",
        PayloadTooLarge = "payload_too_large",
        PermissionDenied = "permission_denied",
        PersonRequired = "person_required",
        RateLimited = "rate_limited",
        RequestFailed = "request_failed",
        RequestTimeout = "request_timeout",
        RoleChanged = "role_changed",
        RouteNotFound = "route_not_found",
        ScopeNotHeld = "scope_not_held",
        SlugTaken = "slug_taken",
        SsoDisabled = "sso_disabled",
        SsoDomainNotVerified = "sso_domain_not_verified",
        SsoLinkExpired = "sso_link_expired",
        SsoLinkRequired = "sso_link_required",
        SsoRefused = "sso_refused",
        SsoRequired = "sso_required",
        SsoStateMismatch = "sso_state_mismatch",
        SsoUnavailable = "sso_unavailable",
        Unauthenticated = "unauthenticated",
        UnsupportedMediaType = "unsupported_media_type",
        ValidationFailed = "validation_failed",
        WebhookDisabled = "webhook_disabled",
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
pub struct AppError {
    pub kind: ErrorKind,
    /// Stable, machine-readable code, e.g. `validation_failed`, `invalid_credentials`.
    pub code: ErrorCode,
    /// A sentence a person can act on.
    pub message: String,
    /// Structured extras: `field` for validation errors, `retry_after` seconds for 429s.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub details: Map<String, Value>,
}

impl AppError {
    pub fn new(kind: ErrorKind, code: ErrorCode, message: impl Into<String>) -> Self {
        Self { kind, code, message: message.into(), details: Map::new() }
    }

    pub fn with_detail(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.details.insert(key.to_owned(), value.into());
        self
    }

    /// A 422 naming the offending field.
    pub fn invalid_field(field: &str, message: &str) -> Self {
        Self::new(ErrorKind::Validation, ErrorCode::ValidationFailed, message).with_detail("field", field)
    }

    pub fn bad_request(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::BadRequest, code, message)
    }

    pub fn unauthenticated() -> Self {
        Self::new(ErrorKind::Unauthenticated, ErrorCode::Unauthenticated, "Sign in to continue.")
    }

    pub fn forbidden(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Forbidden, code, message)
    }

    /// `what` names the kind of resource ("session", "user"): never whether it exists elsewhere.
    pub fn not_found(what: &str) -> Self {
        Self::new(ErrorKind::NotFound, ErrorCode::NotFound, format!("No such {what}."))
    }

    pub fn conflict(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Conflict, code, message)
    }

    pub fn rate_limited(retry_after_secs: u64) -> Self {
        Self::new(
            ErrorKind::RateLimited,
            ErrorCode::RateLimited,
            format!("Too many attempts. Try again in {}.", human_duration(retry_after_secs)),
        )
        .with_detail("retry_after", retry_after_secs)
    }

    /// A 500 whose message shows only a reference id; the cause is logged by the server.
    pub fn internal_reference(reference: &str) -> Self {
        Self::new(
            ErrorKind::Internal,
            ErrorCode::InternalError,
            format!("Something went wrong on our side. Reference: {reference}"),
        )
        .with_detail("request_id", reference)
    }

    pub fn status(&self) -> u16 {
        self.kind.status()
    }

    /// The field a validation error is about, if any.
    pub fn field(&self) -> Option<&str> {
        self.details.get("field").and_then(Value::as_str)
    }

    pub fn retry_after(&self) -> Option<u64> {
        self.details.get("retry_after").and_then(Value::as_u64)
    }

    /// The REST body: `{"error":{"code","message","details"}}`.
    pub fn to_json_body(&self) -> Value {
        serde_json::json!({
            "error": { "code": self.code.as_str(), "message": self.message, "details": self.details }
        })
    }
}

fn human_duration(secs: u64) -> String {
    match secs {
        0..=59 => format!("{secs} s"),
        60..=3599 => format!("{} min", secs.div_ceil(60)),
        _ => format!("{} h", secs.div_ceil(3600)),
    }
}

/// Failures of the server-function transport itself (bad arguments, network) become `AppError`s
/// so the dashboard has one error type to show.
impl leptos::server_fn::error::FromServerFnError for AppError {
    type Encoder = leptos::server_fn::codec::JsonEncoding;

    fn from_server_fn_error(value: leptos::server_fn::error::ServerFnErrorErr) -> Self {
        use leptos::server_fn::error::ServerFnErrorErr as E;
        match value {
            E::Args(why) | E::MissingArg(why) => {
                AppError::bad_request(ErrorCode::InvalidArguments, format!("The form was incomplete: {why}"))
            }
            E::Request(_) => AppError::new(
                ErrorKind::Internal,
                ErrorCode::NetworkError,
                "Could not reach the server. Check your connection and try again.",
            ),
            other => AppError::new(ErrorKind::Internal, ErrorCode::RequestFailed, other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_errors_guide_lists_every_code() {
        let guide = include_str!("../../docs/guides/errors.md");
        for code in ErrorCode::ALL {
            assert!(guide.contains(&format!("`{code}`")), "docs/guides/errors.md does not list `{code}`");
        }
    }

    #[test]
    fn json_body_has_the_documented_shape() {
        let body = AppError::invalid_field("email", "Enter your email address.").to_json_body();
        assert_eq!(body["error"]["code"], "validation_failed");
        assert_eq!(body["error"]["details"]["field"], "email");
        assert_eq!(AppError::rate_limited(90).retry_after(), Some(90));
        assert_eq!(AppError::rate_limited(90).status(), 429);
    }
}
