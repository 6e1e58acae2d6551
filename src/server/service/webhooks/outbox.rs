//! The event outbox: each audited change of an organization becomes an event and one delivery
//! per subscribed endpoint, in the same transaction.
use crate::server::db::{self, audit::StoredRow, Tx};
use crate::shared::{
    audit::Action,
    error::AppError,
    ids::{DeliveryId, OrgId, WebhookEventId, WebhookId},
    webhooks::WebhookEvent,
};
use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

// ---- the outbox ------------------------------------------------------------------------------

/// `data` of a typed event: who acted, the resource's id under a telling name, and what the
/// audit row recorded.
fn typed_data(row: &StoredRow) -> Value {
    let mut data = match serde_json::from_str::<Value>(&row.metadata) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    };
    data.insert("actor".to_owned(), json!({ "type": row.actor_type, "id": row.actor_id, "name": row.actor_name }));
    let id_field = match row.resource_type.as_str() {
        "member" => Some("user_id"),
        "invitation" => Some("invitation_id"),
        "api_key" => Some("api_key_id"),
        "webhook" => Some("webhook_id"),
        _ => None,
    };
    if let (Some(field), Some(id)) = (id_field, &row.resource_id) {
        data.insert(field.to_owned(), json!(id));
    }
    Value::Object(data)
}

fn audit_data(row: &StoredRow) -> Value {
    json!({
        "id": row.id, "seq": row.seq, "action": row.action, "actor_type": row.actor_type, "actor_id": row.actor_id,
        "actor_name": row.actor_name, "resource_type": row.resource_type, "resource_id": row.resource_id,
        "ip": row.ip, "user_agent": row.user_agent,
        "metadata": serde_json::from_str::<Value>(&row.metadata).unwrap_or(Value::Null),
        "created_at": row.created_at, "hash": row.hash,
    })
}

/// Called by `audit::append` for every row of an organization's chain, in its transaction.
pub async fn enqueue_for_audit(tx: &mut Tx, org: OrgId, action: Action, row: &StoredRow) -> Result<(), AppError> {
    let subscriptions = db::webhooks::subscriptions(tx, org).await?;
    if subscriptions.is_empty() {
        return Ok(());
    }
    let subscribed = |event_type: WebhookEvent| -> Vec<WebhookId> {
        subscriptions
            .iter()
            .filter(|(_, events)| events.split_whitespace().any(|e| e == event_type.as_str()))
            .map(|(id, _)| *id)
            .collect()
    };
    for &event_type in action.webhook_events() {
        let endpoints = subscribed(event_type);
        if !endpoints.is_empty() {
            enqueue(tx, org, event_type.as_str(), typed_data(row), &endpoints, row.created_at).await?;
        }
    }
    let endpoints = subscribed(WebhookEvent::AuditEvent);
    if !endpoints.is_empty() {
        let name = WebhookEvent::AuditEvent.as_str();
        enqueue(tx, org, name, audit_data(row), &endpoints, row.created_at).await?;
    }
    Ok(())
}

/// Writes the event (its envelope exactly as it will be sent) and one delivery per endpoint.
pub(super) async fn enqueue(
    tx: &mut Tx,
    org: OrgId,
    event_type: &str,
    data: Value,
    endpoints: &[WebhookId],
    now: DateTime<Utc>,
) -> Result<Vec<DeliveryId>, AppError> {
    let id = WebhookEventId::new();
    let envelope = json!({
        "id": id, "type": event_type, "timestamp": now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "organization_id": org, "data": data,
    });
    db::webhooks::insert_event(tx, id, org, event_type, &envelope.to_string(), now).await?;
    let mut deliveries = Vec::with_capacity(endpoints.len());
    for endpoint in endpoints {
        deliveries.push(db::webhooks::insert_delivery(tx, org, *endpoint, id, event_type, now).await?);
    }
    Ok(deliveries)
}
