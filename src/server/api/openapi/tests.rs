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
    let mut listed: Vec<(String, String)> =
        crate::server::api::caller::DEPRECATIONS.iter().map(|d| (d.method.to_owned(), d.route.to_owned())).collect();
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
        let name = target.strip_prefix("#/components/schemas/").unwrap_or_else(|| panic!("unexpected $ref {target}"));
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

/// Each create links to the operations on the new item, with the item's id from the answer and the
/// other path parameters from the request (schemathesis' stateful phase follows them).
#[test]
fn creates_link_to_their_items() {
    let spec = spec_json();
    let links = &spec["paths"]["/organizations/{org}/api-keys"]["post"]["responses"]["201"]["links"];
    assert_eq!(links["getApiKey"]["operationId"], "getApiKey");
    assert_eq!(links["getApiKey"]["parameters"]["key"], "$response.body#/id");
    assert_eq!(links["getApiKey"]["parameters"]["org"], "$request.path.org");
    assert!(links["revokeApiKey"].is_object() && links["rollApiKey"].is_object());
    let test = &spec["paths"]["/organizations/{org}/webhooks/{webhook}/test"]["post"]["responses"]["202"]["links"];
    assert_eq!(test["getWebhookDelivery"]["parameters"]["delivery"], "$response.body#/id");
    assert_eq!(test["getWebhookDelivery"]["parameters"]["webhook"], "$request.path.webhook");
}

/// `NewConnection` is a union a generator can satisfy: variants by `$ref`, told apart by `type`,
/// each variant declaring its `type` value.
#[test]
fn new_connection_is_a_discriminated_union() {
    let spec = spec_json();
    let schemas = &spec["components"]["schemas"];
    assert_eq!(schemas["NewConnection"]["discriminator"]["propertyName"], "type");
    assert_eq!(schemas["NewConnection"]["oneOf"].as_array().unwrap().len(), 3);
    for (variant, tag) in [("NewOidc", "oidc"), ("NewLdap", "ldap"), ("NewSaml", "saml")] {
        assert_eq!(schemas[variant]["properties"]["type"]["enum"][0], tag);
        assert!(schemas[variant]["required"].as_array().unwrap().contains(&Value::from("type")));
    }
}

/// What the annotations leave to `finish`: a person's operations refuse API keys in the
/// document as the server does, and every body and page can be refused as such.
#[test]
fn shared_refusals_are_derived() {
    let spec = spec_json();
    for path in ["/me", "/me/sessions", "/organizations"] {
        let forbidden = spec["paths"][path]["get"]["responses"]["403"]["description"].as_str().unwrap();
        assert!(forbidden.contains("`person_required`"), "{path}: {forbidden}");
    }
    let update = &spec["paths"]["/organizations/{org}/members/{user}"]["patch"];
    for status in ["400", "401", "403", "404", "409", "413", "415", "422", "429"] {
        assert!(update["responses"][status].is_object(), "updateMember {status}");
    }
    let forbidden = update["responses"]["403"]["description"].as_str().unwrap();
    assert!(forbidden.contains("`permission_denied`") && forbidden.contains("`insufficient_rank`"), "{forbidden}");
    assert_eq!(update["parameters"][1]["name"], "user");
    let members = &spec["paths"]["/organizations/{org}/members"]["get"]["responses"]["422"]["description"];
    assert!(members.as_str().unwrap().contains("`cursor`"));
}

/// Required strings a service refuses when empty are not empty in the schema either.
#[test]
fn required_strings_state_their_rules() {
    let spec = spec_json();
    let schemas = &spec["components"]["schemas"];
    for (schema, property) in
        [("SignupBody", "name"), ("SignupBody", "password"), ("TokenBody", "token"), ("NewKey", "name")]
    {
        let min = schemas[schema]["properties"][property]["minLength"].as_u64();
        assert!(min.is_some_and(|m| m >= 1), "{schema}.{property}");
    }
    assert_eq!(schemas["SignupBody"]["properties"]["email"]["format"], "email");
}
