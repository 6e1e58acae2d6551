//! The OpenAPI 3.1 document of `/api/v1`. The paths come from the router itself: every handler is
//! registered with `routes!(...)` on a `utoipa_axum::router::OpenApiRouter`, which records its
//! `#[utoipa::path]` at the same time, so the document cannot list a route that is not served or
//! miss one that is. This file adds what is not per-handler: the info block, servers, tags, the
//! two security schemes and the error schema; `finish.rs` derives what each operation's annotation
//! implies (security and "Requires" text from the one permission it states, the shared refusals,
//! common path parameters, headers, links).
//!
//! `docs/openapi.json` is this document, committed; `make openapi` regenerates it and a test in
//! `tests.rs` fails when it is stale.
use serde::{Deserialize, Serialize};
use utoipa::{
    openapi::{
        response::ResponseBuilder,
        security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme},
        ContentBuilder, Ref,
    },
    Modify, OpenApi, ToSchema,
};

mod finish;
mod inputs;
pub(super) use finish::finish;

/// Everything but the paths, which `super::routes()` collects from the handlers.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Gatehouse API",
        version = "1",
        description = "Organizations, members, invitations and audit logs as JSON. Authenticate with the \
            session cookie of a signed-in browser or with an API key (`Authorization: Bearer gk_live_...`). \
            Guides: [authentication](/docs/guides/authentication), [pagination](/docs/guides/pagination), \
            [errors](/docs/guides/errors), [rate limits](/docs/guides/rate-limits), \
            [versioning](/docs/guides/versioning), [idempotency](/docs/guides/idempotency), \
            [webhooks](/docs/guides/webhooks).",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    servers((url = "/api/v1", description = "This server, API version 1")),
    tags(
        (name = "auth", description = "Sign up, sign in and out, email verification and password reset."),
        (name = "me", description = "The signed-in user's profile, password and sessions (session cookie only)."),
        (name = "organizations", description = "Organizations: create, read, settings, plan and limits, logo, statistics."),
        (name = "members", description = "Members of an organization: roles, extra grants, removal, ownership."),
        (name = "invitations", description = "Invitations by email with single-use links, and accepting them."),
        (name = "audit", description = "The tamper-evident audit log of an organization and its hash-chain check."),
        (name = "api-keys", description = "API keys of an organization: issue (the secret is shown once), scopes, roll with a grace period, revoke."),
        (name = "usage", description = "API calls of an organization per hour, by key and status class, against its tier limit."),
        (name = "webhooks", description = "Signed webhook endpoints (Standard Webhooks), the event catalogue, delivery logs and retries."),
        (name = "domains", description = "Email domains an organization proves it owns with a DNS TXT record, for single sign-on."),
        (name = "sso", description = "Connections to an organization's identity providers: OpenID Connect (any provider, Google, Microsoft) and LDAP."),
    ),
    // `ApiKeyId` appears only as a path parameter, and utoipa collects schemas from bodies only:
    // without it here the key operations' `$ref` would dangle (generators refuse such a document).
    components(schemas(
        ErrorBody,
        ErrorObject,
        ErrorDetails,
        crate::shared::ids::ApiKeyId,
        crate::shared::ids::WebhookId,
        crate::shared::ids::DeliveryId,
        crate::shared::ids::DomainId,
        crate::shared::ids::SsoConnectionId
    )),
    modifiers(&SecuritySchemes),
)]
pub struct ApiDoc;

/// The complete document: [`ApiDoc`] plus every operation registered on the API router.
pub fn spec() -> utoipa::openapi::OpenApi {
    let (_, api) = super::routes().split_for_parts();
    finish(api)
}

/// The document as committed in `docs/openapi.json` and served at `/api/v1/openapi.json`:
/// pretty-printed, object keys sorted, trailing newline.
pub fn to_pretty_json(api: &utoipa::openapi::OpenApi) -> String {
    let value = sort_keys(serde_json::to_value(api).expect("the OpenAPI document serializes"));
    let mut text = serde_json::to_string_pretty(&value).expect("a JSON value serializes");
    text.push('\n');
    text
}

fn sort_keys(value: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::Object(map) => {
            let mut entries: Vec<_> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(entries.into_iter().map(|(k, v)| (k, sort_keys(v))).collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sort_keys).collect()),
        other => other,
    }
}

/// An error answer: `description` and the `ErrorBody` schema.
pub fn error_response(description: &str) -> utoipa::openapi::Response {
    ResponseBuilder::new()
        .description(description)
        .content("application/json", ContentBuilder::new().schema(Some(Ref::from_schema_name("ErrorBody"))).build())
        .build()
}

/// The two ways to authenticate: the browser's session cookie, or an API key as a bearer token
/// whose scopes are the permissions it carries.
struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                "gatehouse_session",
                "The session cookie a browser gets from signing in (`POST /auth/login` or the dashboard). \
                 HttpOnly: in this page, requests carry it automatically when you are signed in.",
            ))),
        );
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("gk_live_<43 base62 characters><6-character base62 CRC32 checksum>")
                    .description(Some(
                        "An organization API key: `Authorization: Bearer gk_live_...`. Its scopes are permissions \
                         (`members:read`, ...); each operation lists the one it needs. A key reaches only its own \
                         organization.",
                    ))
                    .build(),
            ),
        );
    }
}

/// The body of every error response.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"error": {"code": "validation_failed", "message": "Enter your email address.", "details": {"field": "email"}}}))]
pub struct ErrorBody {
    pub error: ErrorObject,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ErrorObject {
    /// Stable, machine-readable code, e.g. `validation_failed`, `not_found`, `rate_limited`.
    pub code: String,
    /// A sentence a person can act on. Do not parse it; it may change.
    pub message: String,
    /// Structured extras; which keys appear depends on the code (always an object, often empty).
    pub details: ErrorDetails,
}

/// Extras of an error; which keys appear depends on the code. A unit test checks that every key
/// the server sends is declared here.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
pub struct ErrorDetails {
    /// The values the field accepts (an unknown scope, event type or status filter).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed: Option<Vec<String>>,
    /// The largest value allowed (a key's rate limit above the organization's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<i64>,
    /// The plan's user limit (`limit_exceeded`), counting members and pending invitations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_users: Option<i64>,
    /// The permission the caller lacks (`permission_denied`), e.g. `members:write`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required_permission: Option<String>,
    /// The scope a key may not grant because its creator does not hold it (`scope_not_held`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// The request field the error is about (validation errors and some conflicts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Seconds to wait before retrying (429s; also sent as `Retry-After`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
    /// The request id to quote to support (500s; every response also carries `x-request-id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// Where to sign in instead (`sso_required`): the single sign-on start for the address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sign_in_url: Option<String>,
    /// Where the account's holder confirms linking a new sign-in method (`sso_link_required`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirm_url: Option<String>,
}

/// How many sessions an operation ended.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EndedSessions {
    pub ended_sessions: u64,
}

#[cfg(test)]
mod tests;
