//! The event types an organization can subscribe to, their payload schemas, and which audit
//! actions emit them.
use crate::shared::webhooks::{EventType, WebhookEvent, PING};
use serde_json::{json, Map, Value};

// ---- the event catalogue ---------------------------------------------------------------------

/// Fields of each event's `data` besides `actor` (name, JSON type), as the services record them.
fn data_fields(event_type: Option<WebhookEvent>) -> &'static [(&'static str, &'static str)] {
    use WebhookEvent::*;
    match event_type {
        Some(OrganizationUpdated) => &[("before", "object"), ("after", "object")],
        Some(OrganizationDeleted) => &[("name", "string"), ("slug", "string"), ("member_count", "integer")],
        Some(MemberAdded | InvitationAccepted) => {
            &[("invitation_id", "string"), ("user_id", "string"), ("email", "string"), ("role", "string")]
        }
        Some(MemberRemoved) => {
            &[("user_id", "string"), ("email", "string"), ("role", "string"), ("affected_api_keys", "array")]
        }
        Some(MemberRoleChanged) => &[("user_id", "string"), ("before", "object"), ("after", "object")],
        Some(InvitationCreated) => {
            &[("invitation_id", "string"), ("email", "string"), ("role", "string"), ("expires_at", "string")]
        }
        Some(InvitationRevoked) => &[("invitation_id", "string"), ("email", "string"), ("role", "string")],
        Some(ApiKeyCreated) => &[
            ("api_key_id", "string"),
            ("name", "string"),
            ("scopes", "array"),
            ("key_prefix", "string"),
            ("expires_at", "string"),
            ("rate_limit_per_hour", "integer"),
        ],
        Some(ApiKeyRevoked) => &[("api_key_id", "string"), ("name", "string"), ("key_prefix", "string")],
        Some(WebhookDisabled) => &[("webhook_id", "string"), ("url", "string"), ("reason", "string")],
        Some(AuditEvent) => &[
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
        // `ping`
        None => &[("webhook_id", "string"), ("message", "string")],
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
    for (field, kind) in data_fields(WebhookEvent::parse(event_type)) {
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
    WebhookEvent::ALL
        .iter()
        .map(|event| (event.as_str(), event.description()))
        .chain([(PING, "A test event, sent by `POST .../webhooks/{id}/test` to one endpoint.")])
        .map(|(name, description)| EventType {
            name: name.to_owned(),
            description: description.to_owned(),
            schema: schema(name),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_type_is_emitted_and_described_by_its_schema() {
        use crate::shared::audit::Action;
        for &event in WebhookEvent::ALL {
            assert_eq!(schema(event.as_str())["properties"]["type"]["const"], event.as_str());
            let emitted = Action::ALL.iter().any(|action| action.webhook_events().contains(&event));
            assert!(emitted || event == WebhookEvent::AuditEvent, "no action emits {event}");
        }
        assert_eq!(
            Action::InvitationAccepted.webhook_events(),
            [WebhookEvent::InvitationAccepted, WebhookEvent::MemberAdded]
        );
        assert_eq!(Action::MemberLeft.webhook_events(), [WebhookEvent::MemberRemoved]);
        assert!(Action::UserSignedIn.webhook_events().is_empty());
    }
}
