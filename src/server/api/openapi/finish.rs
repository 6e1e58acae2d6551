//! What every operation gets from what its `#[utoipa::path]` states, so that no handler repeats it.
//!
//! A handler states its operation's own facts: the method, path, id, tag, its summary and
//! description (the doc comment), the query parameters and body it takes, its success answers and
//! the refusals only it gives. It states who may call it once, as `security(...)`:
//!
//! - nothing: public (sign-up, sign-in, the event catalogue);
//! - `security(("session" = []))`: a signed-in person, never an API key;
//! - `security(("api_key" = ["P"]))`: an organization operation needing the permission `P`, by a
//!   member's session or by an API key holding the scope `P`.
//!
//! From that, [`finish`] derives the rest: the security requirements (session, or an API key with
//! scope `P`), `x-required-permission`, the sentence "Requires `P`." (or "Requires a signed-in
//! session ...") at the end of the description, the path parameters named in [`PATH_PARAMS`], the
//! refusals every operation of its kind can give (401, 403, 404; 400/413/415 for a body, 422 for a
//! paginated list, 429), the headers every answer carries, deprecation, and `links` from each
//! create operation to the operations that take the new id. A refusal the handler also states
//! (e.g. 403 `insufficient_rank`) is merged: the shared sentence first, then the handler's.
use super::error_response;
use crate::server::api::caller::DEPRECATIONS;
use std::collections::BTreeMap;
use utoipa::openapi::{
    link::LinkBuilder,
    path::{Operation, ParameterBuilder, ParameterIn},
    request_body::RequestBody,
    security::SecurityRequirement,
    HeaderBuilder, ObjectBuilder, OpenApi, PathItem, Ref, RefOr, Required, Type,
};

/// Path parameters that mean the same everywhere they appear: a handler does not declare them.
/// (name, schema, description)
const PATH_PARAMS: [(&str, &str, &str); 8] = [
    ("org", "OrgId", "The organization's id."),
    ("user", "UserId", "The member's user id."),
    ("invitation", "InvitationId", "The invitation's id."),
    ("key", "ApiKeyId", "The key's id."),
    ("webhook", "WebhookId", "The endpoint's id."),
    ("delivery", "DeliveryId", "The delivery's id."),
    ("domain", "DomainId", "The domain's id."),
    ("connection", "SsoConnectionId", "The connection's id."),
];

/// Answers whose `id` other operations take besides 201 creates (whose collection is their own
/// path): (operation id, the collection its answer's `id` is an item of).
const PRODUCERS: [(&str, &str); 2] = [
    ("testWebhook", "/organizations/{org}/webhooks/{webhook}/deliveries"),
    ("retryWebhookDelivery", "/organizations/{org}/webhooks/{webhook}/deliveries"),
];

/// Headers on every /api/v1 response (see the versioning and rate-limits guides).
const COMMON_HEADERS: [(&str, &str); 3] = [
    ("API-Version", "The API's major version: `1`."),
    ("RateLimit-Policy", "Every limit applied to this request, e.g. `\"key\";q=1000;w=3600, \"org\";q=1000;w=3600`."),
    ("RateLimit", "The limit closest to running out: remaining requests and seconds until it is full again, e.g. `\"key\";r=998;t=4`."),
];

const RATE_LIMITED: &str = "Too many requests for the API key, the organization's hourly quota or the client \
     address (`rate_limited`, `details.retry_after` in seconds). See the rate-limits guide.";
const CROSS_SITE: &str = "a browser sent it from another site (`cross_site_request`)";
const BAD_PAGE: &str =
    "`limit` is out of range or `cursor` is not one this API returned (`validation_failed`, `details.field`).";

/// Who may call an operation, as its annotation states it.
enum Caller {
    Public,
    Person,
    Member(String),
}

impl Caller {
    fn of(operation: &Operation) -> Caller {
        let requirements = operation.security.iter().flatten();
        let values: Vec<serde_json::Value> =
            requirements.map(|r| serde_json::to_value(r).expect("a security requirement serializes")).collect();
        if let Some(scope) = values.iter().find_map(|v| v["api_key"][0].as_str()) {
            Caller::Member(scope.to_owned())
        } else if values.iter().any(|v| v.get("session").is_some()) {
            Caller::Person
        } else {
            Caller::Public
        }
    }
}

/// Completes the document collected from the handlers (see the module comment).
pub(in crate::server::api) fn finish(mut api: OpenApi) -> OpenApi {
    for (path, item) in api.paths.paths.iter_mut() {
        for (method, operation) in methods_mut(item) {
            path_parameters(path, operation);
            authentication(method, operation);
            bodies_and_pages(operation);
            // One list says what is deprecated: the gate sends the headers, the document marks it.
            let route = format!("/api/v1{path}");
            if DEPRECATIONS.iter().any(|d| d.method == method && d.route == route) {
                operation.deprecated = Some(utoipa::openapi::Deprecated::True);
            }
            every_answer(operation);
        }
    }
    links(&mut api);
    tagged_unions(&mut api);
    super::inputs::apply(&mut api);
    api
}

/// The parameters of [`PATH_PARAMS`] the path names and the handler did not declare, first, in
/// the path's order.
fn path_parameters(path: &str, operation: &mut Operation) {
    let declared = operation.parameters.get_or_insert_with(Vec::new);
    let names: Vec<String> = declared
        .iter()
        .filter_map(|p| match p {
            RefOr::T(p) => Some(p.name.clone()),
            RefOr::Ref(_) => None,
        })
        .collect();
    let mut added = Vec::new();
    for name in path.split('/').filter_map(|s| s.strip_prefix('{')?.strip_suffix('}')) {
        if names.iter().any(|n| n == name) {
            continue;
        }
        let (_, schema, description) = PATH_PARAMS
            .iter()
            .find(|(known, _, _)| *known == name)
            .unwrap_or_else(|| panic!("{path}: declare the path parameter `{name}` or add it to PATH_PARAMS"));
        let parameter = ParameterBuilder::new()
            .name(name)
            .parameter_in(ParameterIn::Path)
            .required(Required::True)
            .description(Some(*description))
            .schema(Some(Ref::from_schema_name(*schema)))
            .build();
        added.push(RefOr::T(parameter));
    }
    declared.splice(0..0, added);
    if declared.is_empty() {
        operation.parameters = None;
    }
}

/// Security requirements, `x-required-permission`, the "Requires" sentence and the refusals of
/// authentication and authorization.
fn authentication(method: &str, operation: &mut Operation) {
    let changes = !matches!(method, "GET" | "HEAD" | "OPTIONS");
    let bad_key = "an `Authorization` header that is not a valid API key: unknown, malformed, expired or revoked \
                   (`invalid_api_key`, `invalid_authorization`)";
    match Caller::of(operation) {
        Caller::Public => {
            refuse(operation, "401", &format!("Sent with {bad_key}; leave the header out."));
            if changes {
                refuse(operation, "403", "Sent by a browser from another site (`cross_site_request`).");
            }
        }
        Caller::Person => {
            operation.security = Some(vec![SecurityRequirement::new::<_, _, String>("session", [])]);
            append(&mut operation.description, "Requires a signed-in session; API keys are refused.");
            refuse(operation, "401", &format!("Not signed in (`unauthenticated`), or sent with {bad_key}."));
            let mut forbidden =
                "Sent with an API key: only a signed-in person may do this (`person_required`)".to_owned();
            if changes {
                forbidden.push_str(&format!("; or {CROSS_SITE}"));
            }
            refuse(operation, "403", &format!("{forbidden}."));
        }
        Caller::Member(permission) => {
            operation.security = Some(vec![
                SecurityRequirement::new::<_, _, String>("session", []),
                SecurityRequirement::new("api_key", [permission.as_str()]),
            ]);
            operation
                .extensions
                .get_or_insert_with(Default::default)
                .insert("x-required-permission".to_owned(), serde_json::json!(permission));
            append(&mut operation.description, &format!("Requires `{permission}`."));
            refuse(operation, "401", &format!("Not signed in (`unauthenticated`), or sent with {bad_key}."));
            let mut forbidden = format!(
                "The caller lacks `{permission}` (`permission_denied`, `details.required_permission`), or API \
                 access is turned off for this organization (`api_disabled`, API keys only)"
            );
            if changes {
                forbidden = forbidden.replacen(", or API", ", API", 1) + &format!(", or {CROSS_SITE}");
            }
            refuse(operation, "403", &format!("{forbidden}."));
            refuse(
                operation,
                "404",
                "No such organization or resource, or the caller is not a member of the organization \
                 (`not_found`): another organization's ids answer exactly like missing ones.",
            );
        }
    }
}

/// 400/413/415 for a request body (400 and 415 only for JSON, 415 only when it is required), 422
/// for a paginated list.
fn bodies_and_pages(operation: &mut Operation) {
    optional_body_is_absent(operation);
    if let Some(RefOr::T(RequestBody { content, required, .. })) = &operation.request_body {
        let json = content.contains_key("application/json");
        let required = matches!(required, Some(Required::True));
        if json {
            refuse(operation, "400", "The body is not valid JSON (`malformed_json`).");
        }
        refuse(operation, "413", "The body is larger than 1 MiB (`payload_too_large`).");
        if json && required {
            refuse(operation, "415", "The body is not sent as `application/json` (`unsupported_media_type`).");
        }
    }
    let paginated = operation.parameters.iter().flatten().any(|p| matches!(p, RefOr::T(p) if p.name == "limit"));
    if paginated {
        refuse(operation, "422", BAD_PAGE);
    }
}

/// An optional body (`request_body(content = Option<T>)`) may be left out; utoipa also lets it be
/// JSON `null`, which the server refuses like any other non-object. The schema becomes `T` alone.
fn optional_body_is_absent(operation: &mut Operation) {
    let Some(RefOr::T(body)) = operation.request_body.as_mut() else { return };
    if matches!(body.required, Some(Required::True)) {
        return;
    }
    for content in body.content.values_mut() {
        let RefOr::T(content) = content else { continue };
        let Some(schema) = content.schema.as_mut() else { continue };
        let value = serde_json::to_value(&*schema).expect("a schema serializes");
        let Some(branches) = value.get("oneOf").and_then(serde_json::Value::as_array) else { continue };
        let not_null: Vec<&serde_json::Value> = branches.iter().filter(|b| b["type"] != "null").collect();
        if let [only] = not_null[..] {
            *schema = serde_json::from_value(only.clone()).expect("a schema deserializes");
        }
    }
}

/// 429 on every operation, and the common headers on every answer.
fn every_answer(operation: &mut Operation) {
    operation.responses.responses.entry("429".to_owned()).or_insert_with(|| {
        let mut response = error_response(RATE_LIMITED);
        let retry_after = HeaderBuilder::new()
            .schema(Some(ObjectBuilder::new().schema_type(Type::Integer)))
            .description(Some("Seconds to wait before trying again."))
            .build();
        response.headers.insert("Retry-After".to_owned(), retry_after.into());
        response.into()
    });
    for response in operation.responses.responses.values_mut() {
        if let RefOr::T(response) = response {
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

/// Links from each answer carrying a new `id` (201 creates, and [`PRODUCERS`]) to every operation on
/// that item, so a client (or a fuzzer's stateful phase) can follow them: the item's parameter
/// from the answer's `id`, the other path parameters from the request.
fn links(api: &mut OpenApi) {
    let mut targets: Vec<(String, String)> = Vec::new();
    for (path, item) in api.paths.paths.iter_mut() {
        for (_, operation) in methods_mut(item) {
            targets.push((path.clone(), operation.operation_id.clone().unwrap_or_default()));
        }
    }
    for (path, item) in api.paths.paths.iter_mut() {
        for (_, operation) in methods_mut(item) {
            let id = operation.operation_id.clone().unwrap_or_default();
            let producer = PRODUCERS.iter().find(|(op, _)| *op == id).map(|(_, collection)| (*collection).to_owned());
            let produced = operation.responses.responses.iter_mut().find_map(|(status, response)| {
                let collection = match status.as_str() {
                    "201" => Some(path.clone()),
                    s if s.starts_with('2') => producer.clone(),
                    _ => None,
                }?;
                match response {
                    RefOr::T(response) => Some((collection, response)),
                    RefOr::Ref(_) => None,
                }
            });
            let Some((collection, response)) = produced else { continue };
            let mut links = BTreeMap::new();
            for (target_path, target_id) in &targets {
                let Some(rest) = target_path.strip_prefix(&format!("{collection}/{{")) else { continue };
                let item_param = rest.split('}').next().unwrap_or_default();
                let mut link = LinkBuilder::new()
                    .operation_id(target_id.as_str())
                    .parameter(item_param, "$response.body#/id")
                    .description(format!("`{item_param}` is the `id` in this answer."));
                for param in path.split('/').filter_map(|s| s.strip_prefix('{')?.strip_suffix('}')) {
                    link = link.parameter(param, format!("$request.path.{param}"));
                }
                links.insert(target_id.clone(), RefOr::T(link.build()));
            }
            response.links.extend(links);
        }
    }
}

/// An internally tagged enum (`#[serde(tag = "type")]`, e.g. `NewConnection`) comes out of utoipa
/// as `oneOf` of `allOf [variant, {type}]`, which no value satisfies when the variant refuses
/// unknown fields (`type` is one to it). Rewritten as the usual discriminated union: `oneOf` the
/// variants with `discriminator.propertyName`, each variant's schema declaring its `type` value.
/// The JSON the server accepts is unchanged: the tag and the variant's fields, side by side.
fn tagged_unions(api: &mut OpenApi) {
    use serde_json::{json, Value};
    let Some(components) = api.components.as_mut() else { return };
    let mut variants: Vec<(String, String, String)> = Vec::new(); // (variant schema, tag, value)
    for (name, schema) in components.schemas.iter_mut() {
        let mut value = serde_json::to_value(&*schema).expect("a schema serializes");
        let Some(branches) = value.get("oneOf").and_then(Value::as_array) else { continue };
        let mut tagged = Vec::new();
        for branch in branches {
            let parts = branch["allOf"].as_array().map(Vec::as_slice).unwrap_or_default();
            let [reference, tag] = parts else { break };
            let (Some(target), Some(properties)) = (reference["$ref"].as_str(), tag["properties"].as_object()) else {
                break;
            };
            let [(property, constant)] = properties.iter().collect::<Vec<_>>()[..] else { break };
            let Some(tag_value) = constant["enum"].get(0).and_then(Value::as_str) else { break };
            tagged.push((target.to_owned(), property.clone(), tag_value.to_owned()));
        }
        if tagged.is_empty() || tagged.len() != branches.len() {
            continue;
        }
        let property = tagged[0].1.clone();
        let mapping: serde_json::Map<String, Value> =
            tagged.iter().map(|(target, _, tag)| (tag.clone(), json!(target))).collect();
        value["oneOf"] = tagged.iter().map(|(target, _, _)| json!({ "$ref": target })).collect();
        value["discriminator"] = json!({ "propertyName": property, "mapping": mapping });
        *schema = serde_json::from_value(value).unwrap_or_else(|e| panic!("{name}: {e}"));
        for (target, property, tag) in tagged {
            let variant = target.trim_start_matches("#/components/schemas/").to_owned();
            variants.push((variant, property, tag));
        }
    }
    for (variant, property, tag) in variants {
        let Some(schema) = components.schemas.get_mut(&variant) else { continue };
        let mut value = serde_json::to_value(&*schema).expect("a schema serializes");
        value["properties"][&property] = json!({ "type": "string", "enum": [tag] });
        let required = value["required"].as_array_mut();
        match required {
            Some(required) => required.insert(0, json!(property)),
            None => value["required"] = json!([property]),
        }
        *schema = serde_json::from_value(value).unwrap_or_else(|e| panic!("{variant}: {e}"));
    }
}

/// Adds `base` as the answer for `status`; an answer the handler states keeps its own sentence,
/// after `base`.
fn refuse(operation: &mut Operation, status: &str, base: &str) {
    match operation.responses.responses.get_mut(status) {
        Some(RefOr::T(own)) => own.description = format!("{base} {}", own.description),
        _ => {
            operation.responses.responses.insert(status.to_owned(), error_response(base).into());
        }
    }
}

fn append(description: &mut Option<String>, sentence: &str) {
    match description {
        Some(text) if !text.trim().is_empty() => {
            text.push(' ');
            text.push_str(sentence);
        }
        _ => *description = Some(sentence.to_owned()),
    }
}

fn methods_mut(item: &mut PathItem) -> impl Iterator<Item = (&'static str, &mut Operation)> {
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
