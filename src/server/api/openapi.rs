//! The OpenAPI 3.1 document of `/api/v1`. The paths come from the router itself: every handler is
//! registered with `routes!(...)` on a `utoipa_axum::router::OpenApiRouter`, which records its
//! `#[utoipa::path]` at the same time, so the document cannot list a route that is not served or
//! miss one that is. This file adds what is not per-handler: the info block, servers, tags, the
//! two security schemes, the error schema and the 429 answer every operation can give.
//!
//! `docs/openapi.json` is this document, committed; `make openapi` regenerates it and a test below
//! fails when it is stale.
use serde::{Deserialize, Serialize};
use utoipa::{
    openapi::{
        path::Operation,
        response::ResponseBuilder,
        security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme},
        ContentBuilder, HeaderBuilder, ObjectBuilder, Ref, Type,
    },
    Modify, OpenApi, ToSchema,
};

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

/// What applies to every operation rather than to one handler: the API rate limits answer 429.
pub(super) fn finish(mut api: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    for (path, item) in api.paths.paths.iter_mut() {
        for (method, operation) in methods_mut(item) {
            // One list says what is deprecated: the gate sends the headers, the document marks it.
            let route = format!("/api/v1{path}");
            if super::caller::DEPRECATIONS.iter().any(|d| d.method == method && d.route == route) {
                operation.deprecated = Some(utoipa::openapi::Deprecated::True);
            }
            operation.responses.responses.entry("429".to_owned()).or_insert_with(|| {
                let mut response = error_response(
                    "Too many requests for the API key, the organization's hourly quota or the client \
                     address (`rate_limited`, `details.retry_after` in seconds). See the rate-limits guide.",
                );
                let retry_after = HeaderBuilder::new()
                    .schema(Some(ObjectBuilder::new().schema_type(Type::Integer)))
                    .description(Some("Seconds to wait before trying again."))
                    .build();
                response.headers.insert("Retry-After".to_owned(), retry_after.into());
                response.into()
            });
            for response in operation.responses.responses.values_mut() {
                if let utoipa::openapi::RefOr::T(response) = response {
                    for (name, description) in COMMON_HEADERS {
                        let header = HeaderBuilder::new()
                            .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
                            .description(Some(description))
                            .build();
                        response.headers.entry(name.to_owned()).or_insert(header.into());
                    }
                }
            }
        }
    }
    api
}

/// An error answer: `description` and the `ErrorBody` schema.
pub fn error_response(description: &str) -> utoipa::openapi::Response {
    ResponseBuilder::new()
        .description(description)
        .content("application/json", ContentBuilder::new().schema(Some(Ref::from_schema_name("ErrorBody"))).build())
        .build()
}

/// The answers every operation on an organization's resources can give besides its own (webhooks,
/// domains), in a handler's `responses(...)`.
pub struct OrgRefusals;

impl utoipa::IntoResponses for OrgRefusals {
    fn responses() -> std::collections::BTreeMap<String, utoipa::openapi::RefOr<utoipa::openapi::Response>> {
        [
            ("401", "Not signed in, or the API key is unknown, malformed, expired or revoked (`unauthenticated`, `invalid_api_key`)."),
            ("403", "The caller lacks the permission the operation names (`permission_denied`, `details.required_permission`), API access is off (`api_disabled`), or a browser sent it from another site (`cross_site_request`)."),
            ("404", "No such organization or resource here, or the caller is not a member (`not_found`)."),
        ]
        .into_iter()
        .map(|(status, description)| (status.to_owned(), error_response(description).into()))
        .collect()
    }
}

/// Headers on every /api/v1 response (see the versioning and rate-limits guides).
const COMMON_HEADERS: [(&str, &str); 3] = [
    ("API-Version", "The API's major version: `1`."),
    ("RateLimit-Policy", "Every limit applied to this request, e.g. `\"key\";q=1000;w=3600, \"org\";q=1000;w=3600`."),
    ("RateLimit", "The limit closest to running out: remaining requests and seconds until it is full again, e.g. `\"key\";r=998;t=4`."),
];

fn methods_mut(item: &mut utoipa::openapi::PathItem) -> impl Iterator<Item = (&'static str, &mut Operation)> {
    [
        ("GET", item.get.as_mut()),
        ("PUT", item.put.as_mut()),
        ("POST", item.post.as_mut()),
        ("DELETE", item.delete.as_mut()),
        ("OPTIONS", item.options.as_mut()),
        ("HEAD", item.head.as_mut()),
        ("PATCH", item.patch.as_mut()),
        ("TRACE", item.trace.as_mut()),
    ]
    .into_iter()
    .filter_map(|(method, operation)| Some((method, operation?)))
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
mod tests {
    use super::*;
    use crate::shared::error::AppError;
    use serde_json::Value;

    const COMMITTED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/openapi.json");

    fn spec_json() -> Value {
        serde_json::to_value(spec()).unwrap()
    }

    /// Every deprecation names a real operation (a typo would silently deprecate nothing), and
    /// the document marks exactly those.
    #[test]
    fn deprecations_name_real_operations() {
        let spec = spec_json();
        let mut marked: Vec<(String, String)> = operations(&spec)
            .into_iter()
            .filter(|(_, _, op)| op["deprecated"] == true)
            .map(|(method, path, _)| (method.to_uppercase(), format!("/api/v1{path}")))
            .collect();
        let mut listed: Vec<(String, String)> = crate::server::api::caller::DEPRECATIONS
            .iter()
            .map(|d| (d.method.to_owned(), d.route.to_owned()))
            .collect();
        marked.sort();
        listed.sort();
        assert!(!listed.is_empty());
        assert_eq!(marked, listed);
    }

    fn operations(spec: &Value) -> Vec<(String, String, Value)> {
        let mut all = Vec::new();
        for (path, item) in spec["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                if ["get", "put", "post", "delete", "patch", "head", "options", "trace"].contains(&method.as_str()) {
                    all.push((method.clone(), path.clone(), operation.clone()));
                }
            }
        }
        all
    }

    #[test]
    fn committed_spec_is_current() {
        let committed = std::fs::read_to_string(COMMITTED).unwrap_or_default();
        let current = to_pretty_json(&spec());
        assert!(
            committed == current,
            "docs/openapi.json is out of date with the handlers' #[utoipa::path] annotations: run `make openapi` \
             and commit the result"
        );
    }

    #[test]
    fn document_basics() {
        let spec = spec_json();
        assert_eq!(spec["openapi"], "3.1.0");
        assert_eq!(spec["info"]["title"], "Gatehouse API");
        assert_eq!(spec["info"]["version"], "1");
        assert_eq!(spec["info"]["license"]["identifier"], "Apache-2.0");
        assert_eq!(spec["servers"][0]["url"], "/api/v1");
        let schemes = &spec["components"]["securitySchemes"];
        assert_eq!(schemes["session"]["type"], "apiKey");
        assert_eq!(schemes["session"]["in"], "cookie");
        assert_eq!(schemes["session"]["name"], "gatehouse_session");
        assert_eq!(schemes["api_key"]["type"], "http");
        assert_eq!(schemes["api_key"]["scheme"], "bearer");
        assert!(operations(&spec).len() >= 30);
    }

    /// Every `details` key the server sends (through `with_detail` anywhere in src/) is a
    /// declared property of `ErrorDetails`, so generated SDKs do not drop it.
    #[test]
    fn every_error_detail_is_declared() {
        fn sent_keys(dir: &std::path::Path, out: &mut std::collections::BTreeSet<String>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    sent_keys(&path, out);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    let text = std::fs::read_to_string(&path).unwrap();
                    for rest in text.split(".with_detail(\"").skip(1) {
                        out.insert(rest.split('"').next().unwrap().to_owned());
                    }
                }
            }
        }
        let mut sent = std::collections::BTreeSet::new();
        sent_keys(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &mut sent);
        assert!(sent.len() >= 5, "{sent:?}");
        let spec = spec_json();
        let declared = spec["components"]["schemas"]["ErrorDetails"]["properties"].as_object().unwrap();
        for key in sent {
            assert!(declared.contains_key(&key), "error detail `{key}` is sent but not declared in ErrorDetails");
        }
    }

    /// Every `$ref` points at a schema the document defines (SDK generators refuse dangling ones).
    #[test]
    fn every_ref_resolves() {
        fn refs(value: &Value, out: &mut Vec<String>) {
            match value {
                Value::Object(map) => {
                    for (key, child) in map {
                        match (key.as_str(), child) {
                            ("$ref", Value::String(target)) => out.push(target.clone()),
                            _ => refs(child, out),
                        }
                    }
                }
                Value::Array(items) => items.iter().for_each(|item| refs(item, out)),
                _ => {}
            }
        }
        let spec = spec_json();
        let mut all = Vec::new();
        refs(&spec, &mut all);
        assert!(!all.is_empty());
        for target in all {
            let name =
                target.strip_prefix("#/components/schemas/").unwrap_or_else(|| panic!("unexpected $ref {target}"));
            assert!(spec["components"]["schemas"][name].is_object(), "$ref {target} does not resolve");
        }
    }

    /// Every response is described; every error response uses the error schema.
    #[test]
    fn every_response_is_described() {
        let spec = spec_json();
        for (method, path, operation) in operations(&spec) {
            let id = operation["operationId"].as_str().unwrap_or_default();
            assert!(!id.is_empty(), "{method} {path}: no operationId");
            assert!(operation["summary"].as_str().is_some_and(|s| !s.is_empty()), "{method} {path}: no summary");
            assert!(operation["tags"].as_array().is_some_and(|t| !t.is_empty()), "{method} {path}: no tag");
            let responses = operation["responses"].as_object().unwrap();
            assert!(responses.keys().any(|s| s.starts_with('2')), "{method} {path}: no success response");
            assert!(responses.contains_key("429"), "{method} {path}: no 429");
            for (status, response) in responses {
                let description = response["description"].as_str().unwrap_or_default();
                assert!(!description.trim().is_empty(), "{method} {path} {status}: no description");
                if status.starts_with('4') || status.starts_with('5') {
                    assert_eq!(
                        response["content"]["application/json"]["schema"]["$ref"], "#/components/schemas/ErrorBody",
                        "{method} {path} {status}: error responses use the ErrorBody schema"
                    );
                }
            }
        }
    }

    /// Sign-up, sign-in and the token links need no authentication; account operations need the
    /// session cookie; every organization operation accepts the session or an API key with the
    /// one scope it needs, stated in the description and in `x-required-permission`.
    #[test]
    fn every_operation_declares_its_authentication() {
        const PUBLIC: [&str; 7] =
            ["signup", "login", "ldapLogin", "verifyEmail", "forgotPassword", "resetPassword", "listWebhookEventTypes"];
        let spec = spec_json();
        let permissions: Vec<String> =
            crate::shared::roles::Permission::ALL.iter().map(|p| p.as_str().to_owned()).collect();
        let mut org_operations = 0;
        for (method, path, operation) in operations(&spec) {
            let id = operation["operationId"].as_str().unwrap();
            let security = operation["security"].as_array().cloned().unwrap_or_default();
            if PUBLIC.contains(&id) {
                assert!(security.is_empty(), "{id}: a public operation declares security");
                continue;
            }
            assert_eq!(security.first(), Some(&serde_json::json!({"session": []})), "{method} {path}: session");
            if !path.starts_with("/organizations/{org}") {
                assert_eq!(security.len(), 1, "{method} {path}: account operations take the session only");
                continue;
            }
            org_operations += 1;
            let scopes = security.iter().find_map(|s| s["api_key"].as_array()).unwrap_or_else(|| {
                panic!("{method} {path}: an organization operation must declare the api_key scope it needs")
            });
            assert_eq!(scopes.len(), 1, "{method} {path}: exactly one scope");
            let scope = scopes[0].as_str().unwrap();
            assert!(permissions.iter().any(|p| p == scope), "{method} {path}: {scope} is not a permission");
            assert_eq!(operation["x-required-permission"], scope, "{method} {path}: x-required-permission");
            let description = operation["description"].as_str().unwrap_or_default();
            assert!(
                description.contains(&format!("Requires `{scope}`")),
                "{method} {path}: the description must say \"Requires `{scope}`\""
            );
        }
        assert!(org_operations >= 17, "found only {org_operations} organization operations");
    }

    /// The schema and the real error body cannot drift apart: the body parses as `ErrorBody`
    /// (which refuses unknown fields at its two top levels).
    #[test]
    fn error_schema_matches_the_real_body() {
        for error in [
            AppError::invalid_field("email", "Enter your email address."),
            AppError::rate_limited(30),
            AppError::internal_reference("abc"),
            AppError::not_found("organization"),
        ] {
            let body: ErrorBody = serde_json::from_value(error.to_json_body()).unwrap();
            assert_eq!(body.error.code, error.code.as_str());
        }
    }
}
