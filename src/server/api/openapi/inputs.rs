//! The input rules the services enforce, stated in the document as JSON Schema, so that what the
//! schema allows the server accepts (and a client can check before sending). One table: request
//! body schemas are spread over `api/`, `service/` and `shared/`, and the rules live in the
//! functions named beside each entry; a unit test checks that every entry names a property the
//! document has.
use serde_json::{json, Value};
use utoipa::openapi::OpenApi;

/// `PersonName::parse` (people and organizations): trimmed, 1–100 characters, no control
/// characters.
fn name() -> Value {
    json!({
        "minLength": 1,
        "maxLength": 100,
        "pattern": "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$"
    })
}

/// `EmailAddress::parse`: a dot-atom address, at most 254 characters.
fn email() -> Value {
    json!({ "format": "email", "minLength": 3, "maxLength": 254 })
}

/// `check_password_length`: 10–1024 characters (and not guessable, which no schema can say).
fn new_password() -> Value {
    json!({ "minLength": crate::shared::values::PASSWORD_MIN_CHARS, "maxLength": crate::shared::values::PASSWORD_MAX_CHARS })
}

/// A value the server looks up or compares (a token, a password to check): never empty.
fn given() -> Value {
    json!({ "minLength": 1 })
}

/// A value the server trims and then requires (`sso::sign_in::ldap`'s username): not blank. Python's
/// `\S` (what schemathesis generates from) counts more characters as space than Rust's `trim`.
fn not_blank() -> Value {
    json!({ "minLength": 1, "pattern": "\\S" })
}

/// A trimmed free-text field that may not be blank (`api_keys::parse_name`, SSO connection names).
fn label(max: u32) -> Value {
    let mut rule = not_blank();
    rule["maxLength"] = json!(max);
    rule
}

/// `domains::parse_domain`: at least two labels of 1–63 letters, digits and inner hyphens, the last
/// not all digits (here: starting with a letter), at most 253 characters.
fn domain() -> Value {
    json!({
        "maxLength": 253,
        "pattern": "^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\\.[A-Za-z]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$"
    })
}

/// Every permission, for a list of scopes (`api_keys::parse_scopes`).
fn scopes() -> Value {
    let all: Vec<&str> = crate::shared::roles::Permission::ALL.iter().map(|p| p.as_str()).collect();
    json!({ "items": { "type": "string", "enum": all } })
}

/// Every event type one can subscribe to (`webhooks::endpoints::parse_events`).
fn events() -> Value {
    let all: Vec<&str> = crate::shared::webhooks::WebhookEvent::ALL.iter().map(|e| e.as_str()).collect();
    json!({ "minItems": 1, "items": { "type": "string", "enum": all } })
}

/// (schema, property, rule)
fn rules() -> Vec<(&'static str, &'static str, Value)> {
    vec![
        ("SignupBody", "name", name()),
        ("SignupBody", "email", email()),
        ("SignupBody", "password", new_password()),
        ("LoginBody", "email", email()),
        ("LoginBody", "password", given()),
        ("EmailBody", "email", email()),
        ("TokenBody", "token", given()),
        ("ResetBody", "token", given()),
        ("ResetBody", "password", new_password()),
        ("AcceptBody", "token", given()),
        ("ProfileBody", "name", name()),
        ("PasswordBody", "current_password", given()),
        ("PasswordBody", "new_password", new_password()),
        ("CreateBody", "name", name()),
        ("OrgPatch", "name", name()),
        ("DeleteBody", "confirm", given()),
        ("LdapLoginBody", "username", not_blank()),
        ("LdapLoginBody", "password", given()),
        ("InviteBody", "email", email()),
        ("NewKey", "name", label(100)),
        ("NewKey", "scopes", json!({ "minItems": 1 })),
        ("NewKey", "scopes", scopes()),
        ("KeyPatch", "scopes", scopes()),
        ("NewDomain", "domain", domain()),
        ("NewWebhook", "events", events()),
        ("WebhookPatch", "events", events()),
        ("NewOidc", "name", label(100)),
        ("NewLdap", "name", label(100)),
        ("NewSaml", "name", label(100)),
    ]
}

/// Query parameters: (operation id, parameter, rule for its schema).
fn parameter_rules() -> Vec<(&'static str, &'static str, Value)> {
    let all: Vec<&str> = crate::shared::webhooks::WebhookEvent::ALL.iter().map(|e| e.as_str()).collect();
    vec![
        ("listWebhookDeliveries", "event_type", json!({ "enum": all })),
        ("listWebhookDeliveries", "status", json!({ "enum": ["pending", "succeeded", "failed"] })),
    ]
}

/// Merges each rule into its property's (or parameter's) schema.
pub(super) fn apply(api: &mut OpenApi) {
    for (operation_id, name, rule) in parameter_rules() {
        let operation = api
            .paths
            .paths
            .values_mut()
            .flat_map(|item| [&mut item.get, &mut item.post, &mut item.put, &mut item.patch, &mut item.delete])
            .flatten()
            .find(|op| op.operation_id.as_deref() == Some(operation_id))
            .unwrap_or_else(|| panic!("inputs: no operation {operation_id}"));
        let parameter = operation
            .parameters
            .iter_mut()
            .flatten()
            .find_map(|p| match p {
                utoipa::openapi::RefOr::T(p) if p.name == name => Some(p),
                _ => None,
            })
            .unwrap_or_else(|| panic!("inputs: {operation_id} has no parameter {name}"));
        let mut schema = serde_json::to_value(&parameter.schema).expect("a schema serializes");
        if let (Value::Object(schema), Value::Object(rule)) = (&mut schema, rule) {
            schema.extend(rule);
        }
        parameter.schema = serde_json::from_value(schema).unwrap_or_else(|e| panic!("{operation_id}: {e}"));
    }
    let Some(components) = api.components.as_mut() else { return };
    for (schema, property, rule) in rules() {
        let Some(target) = components.schemas.get_mut(schema) else { panic!("inputs: no schema {schema}") };
        let mut value = serde_json::to_value(&*target).expect("a schema serializes");
        let Some(Value::Object(field)) = value.get_mut("properties").and_then(|p| p.get_mut(property)) else {
            panic!("inputs: {schema} has no property {property}")
        };
        if let Value::Object(rule) = rule {
            field.extend(rule);
        }
        *target = serde_json::from_value(value).unwrap_or_else(|e| panic!("{schema}: {e}"));
    }
}
