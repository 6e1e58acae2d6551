//! The event types an organization can subscribe to, their payload schemas, and which audit
//! actions emit them.
use crate::shared::webhooks::{EventType, EVENT_TYPES, PING};
use serde_json::{json, Map, Value};

// ---- the event catalogue ---------------------------------------------------------------------

/// Fields of each event's `data` besides `actor` (name, JSON type), as the services record them.
fn data_fields(event_type: &str) -> &'static [(&'static str, &'static str)] {
    match event_type {
        "organization.updated" => &[("before", "object"), ("after", "object")],
        "organization.deleted" => &[("name", "string"), ("slug", "string"), ("member_count", "integer")],
        "member.added" | "invitation.accepted" => {
            &[("invitation_id", "string"), ("user_id", "string"), ("email", "string"), ("role", "string")]
        }
        "member.removed" => {
            &[("user_id", "string"), ("email", "string"), ("role", "string"), ("affected_api_keys", "array")]
        }
        "member.role_changed" => &[("user_id", "string"), ("before", "object"), ("after", "object")],
        "invitation.created" => {
            &[("invitation_id", "string"), ("email", "string"), ("role", "string"), ("expires_at", "string")]
        }
        "invitation.revoked" => &[("invitation_id", "string"), ("email", "string"), ("role", "string")],
        "api_key.created" => &[
            ("api_key_id", "string"),
            ("name", "string"),
            ("scopes", "array"),
            ("key_prefix", "string"),
            ("expires_at", "string"),
            ("rate_limit_per_hour", "integer"),
        ],
        "api_key.revoked" => &[("api_key_id", "string"), ("name", "string"), ("key_prefix", "string")],
        "webhook.disabled" => &[("webhook_id", "string"), ("url", "string"), ("reason", "string")],
        "audit.event" => &[
            ("id", "string"),
            ("seq", "integer"),
            ("action", "string"),
            ("actor_type", "string"),
            ("actor_id", "string"),
            ("actor_name", "string"),
            ("resource_type", "string"),
            ("resource_id", "string"),
            ("ip", "string"),
            ("user_agent", "string"),
            ("metadata", "object"),
            ("created_at", "string"),
            ("hash", "string"),
        ],
        _ => &[("webhook_id", "string"), ("message", "string")],
    }
}

/// The JSON Schema (2020-12) of one event type's envelope.
pub fn schema(event_type: &str) -> Value {
    let mut properties = Map::new();
    if event_type != "audit.event" {
        properties.insert(
            "actor".to_owned(),
            json!({ "type": "object", "properties": {
                "type": { "enum": ["user", "api_key", "system"] }, "id": { "type": ["string", "null"] }, "name": { "type": "string" } } }),
        );
    }
    for (field, kind) in data_fields(event_type) {
        // Optional values (an expiry, an IP...) may be null.
        properties.insert((*field).to_owned(), json!({ "type": [kind, "null"] }));
    }
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": event_type,
        "type": "object",
        "required": ["id", "type", "timestamp", "organization_id", "data"],
        "properties": {
            "id": { "type": "string", "description": "Unique per event; the `webhook-id` header. Deduplicate on it." },
            "type": { "const": event_type },
            "timestamp": { "type": "string", "format": "date-time" },
            "organization_id": { "type": "string" },
            "data": { "type": "object", "properties": properties },
        },
    })
}

pub fn event_types() -> Vec<EventType> {
    EVENT_TYPES
        .iter()
        .chain([(PING, "A test event, sent by `POST .../webhooks/{id}/test` to one endpoint.")].iter())
        .map(|(name, description)| EventType {
            name: (*name).to_owned(),
            description: (*description).to_owned(),
            schema: schema(name),
        })
        .collect()
}

/// The event types an audit action emits besides `audit.event`.
pub(super) fn emitted_types(action: &str) -> Vec<&'static str> {
    match action {
        "invitation.accepted" => vec!["invitation.accepted", "member.added"],
        "member.left" => vec!["member.removed"],
        other => {
            EVENT_TYPES.iter().map(|(name, _)| *name).filter(|name| *name == other && *name != "audit.event").collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_map_to_event_types() {
        assert_eq!(emitted_types("invitation.accepted"), ["invitation.accepted", "member.added"]);
        assert_eq!(emitted_types("member.left"), ["member.removed"]);
        assert_eq!(emitted_types("member.role_changed"), ["member.role_changed"]);
        assert_eq!(emitted_types("webhook.disabled"), ["webhook.disabled"]);
        assert!(emitted_types("user.signed_in").is_empty());
        assert!(emitted_types("audit.event").is_empty(), "audit.event is added for every row separately");
        for (name, _) in EVENT_TYPES {
            assert_eq!(schema(name)["properties"]["type"]["const"], *name);
        }
    }
}
