//! Webhook endpoints (create, change, rotate the secret, test) and their delivery log.
use super::outbox::enqueue;
use crate::server::service::prelude::*;
use crate::shared::{
    error::{AppError, ErrorCode, ErrorKind},
    ids::{DeliveryId, WebhookId},
    roles::Permission,
    webhooks::{
        Delivery, DeliveryDetail, DeliveryStatus, IssuedWebhook, OutcomeHour, RotatedSecret, Webhook, WebhookEvent,
        PING,
    },
};
use base64::{engine::general_purpose::STANDARD, Engine};
use chrono::Duration;
use rand::RngCore;
use serde::Deserialize;
use serde_json::{json, Value};

/// Both secrets sign deliveries this long after a rotation.
const ROTATION_OVERLAP_HOURS: i64 = 24;

/// `whsec_` + base64 of 32 random bytes.
fn generate_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    format!("whsec_{}", STANDARD.encode(bytes))
}

// ---- endpoints -------------------------------------------------------------------------------

#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewWebhook {
    /// Where to POST events: https (http only if the operator allows it).
    pub url: String,
    #[serde(default)]
    pub description: String,
    /// Event types to receive (see `GET /webhook-event-types`), at least one.
    pub events: Vec<String>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct WebhookPatch {
    pub url: Option<String>,
    pub description: Option<String>,
    pub events: Option<Vec<String>>,
    /// Turning an endpoint on again clears `disabled_reason` and its failure streak.
    pub active: Option<bool>,
}

fn parse_url(app: &AppState, raw: &str) -> Result<String, AppError> {
    if raw.len() > 2000 {
        return Err(AppError::invalid_field("url", "Use a URL of at most 2,000 characters."));
    }
    app.outbound.check_url(raw).map(String::from).map_err(|reason| AppError::invalid_field("url", &reason))
}

fn parse_description(raw: &str) -> Result<String, AppError> {
    let description = raw.trim();
    if description.chars().count() > 500 {
        return Err(AppError::invalid_field("description", "Keep the description under 500 characters."));
    }
    Ok(description.to_owned())
}

fn parse_events(raw: &[String]) -> Result<String, AppError> {
    if raw.is_empty() {
        return Err(AppError::invalid_field("events", "Choose at least one event type."));
    }
    let mut events: Vec<&str> = Vec::new();
    for name in raw {
        let name = name.trim();
        if WebhookEvent::parse(name).is_none() {
            return Err(AppError::invalid_field("events", &format!("Unknown event type {name:?}."))
                .with_detail("allowed", WebhookEvent::ALL.iter().map(|e| e.as_str()).collect::<Vec<_>>()));
        }
        if !events.contains(&name) {
            events.push(name);
        }
    }
    Ok(events.join(" "))
}

async fn endpoint(tx: &mut Tx, scope: &OrgScope, id: WebhookId) -> Result<db::webhooks::EndpointRow, AppError> {
    db::webhooks::get_endpoint(tx, scope.org_id(), id).await?.ok_or_else(|| AppError::not_found("webhook"))
}

fn webhook_event(action: Action, webhook: &Webhook, metadata: Value) -> Event<'static> {
    let mut metadata = metadata;
    if let Value::Object(map) = &mut metadata {
        map.insert("url".to_owned(), json!(webhook.url));
    }
    Event { action, resource_type: "webhook", resource_id: Some(webhook.id.to_string()), metadata }
}

pub async fn create(app: &AppState, scope: &OrgScope, new: NewWebhook) -> Result<IssuedWebhook, AppError> {
    scope.require(Permission::WebhooksWrite)?;
    let url = parse_url(app, &new.url)?;
    let description = parse_description(&new.description)?;
    let events = parse_events(&new.events)?;
    let secret = generate_secret();
    let id = WebhookId::new();
    let mut tx = app.db.begin_write().await?;
    let sealed = app.secrets.seal(&secret);
    let row = db::webhooks::NewEndpoint {
        id,
        org: scope.org_id(),
        url: &url,
        description: &description,
        events: &events,
        sealed_secret: &sealed,
        now: db::now(),
    };
    db::webhooks::insert_endpoint(&mut tx, row).await?;
    let webhook = endpoint(&mut tx, scope, id).await?.webhook;
    audit::record(&mut tx, scope, webhook_event(Action::WebhookCreated, &webhook, json!({ "events": webhook.events })))
        .await?;
    db::commit(tx).await?;
    Ok(IssuedWebhook { webhook, secret })
}

pub async fn list(app: &AppState, scope: &OrgScope, page: &PageRequest) -> Result<Page<Webhook>, AppError> {
    scope.require(Permission::WebhooksWrite)?;
    let rows = db::webhooks::list_endpoints(app.db.pool(), scope.org_id(), page).await?;
    Ok(page.finish(rows, |w| (db::to_millis(w.created_at), w.id.to_string())))
}

pub async fn get(app: &AppState, scope: &OrgScope, id: WebhookId) -> Result<Webhook, AppError> {
    scope.require(Permission::WebhooksWrite)?;
    read_endpoint(app, scope, id).await
}

/// The endpoint as the API shows it, outside any write (404 when it is not this organization's).
async fn read_endpoint(app: &AppState, scope: &OrgScope, id: WebhookId) -> Result<Webhook, AppError> {
    let mut tx = app.db.begin().await?;
    Ok(endpoint(&mut tx, scope, id).await?.webhook)
}

pub async fn update(app: &AppState, scope: &OrgScope, id: WebhookId, patch: WebhookPatch) -> Result<Webhook, AppError> {
    scope.require(Permission::WebhooksWrite)?;
    let url = patch.url.as_deref().map(|u| parse_url(app, u)).transpose()?;
    let description = patch.description.as_deref().map(parse_description).transpose()?;
    let events = patch.events.as_deref().map(parse_events).transpose()?;
    let mut tx = app.db.begin_write().await?;
    let before = endpoint(&mut tx, scope, id).await?.webhook;
    let changes = db::webhooks::EndpointChanges {
        url: url.as_deref().unwrap_or(&before.url),
        description: description.as_deref().unwrap_or(&before.description),
        events: &events.unwrap_or_else(|| before.events.join(" ")),
        active: patch.active.unwrap_or(before.active),
        now: db::now(),
    };
    db::webhooks::update_endpoint(&mut tx, id, changes).await?;
    let after = endpoint(&mut tx, scope, id).await?.webhook;
    let fields =
        |w: &Webhook| json!({ "url": w.url, "description": w.description, "events": w.events, "active": w.active });
    let metadata = json!({ "before": fields(&before), "after": fields(&after) });
    audit::record(&mut tx, scope, webhook_event(Action::WebhookUpdated, &after, metadata)).await?;
    db::commit(tx).await?;
    Ok(after)
}

/// Deletes the endpoint with its delivery log; nothing more is sent to it.
pub async fn delete(app: &AppState, scope: &OrgScope, id: WebhookId) -> Result<(), AppError> {
    scope.require(Permission::WebhooksWrite)?;
    let mut tx = app.db.begin_write().await?;
    let webhook = endpoint(&mut tx, scope, id).await?.webhook;
    db::webhooks::delete_endpoint(&mut tx, id).await?;
    audit::record(&mut tx, scope, webhook_event(Action::WebhookDeleted, &webhook, json!({ "events": webhook.events })))
        .await?;
    Ok(db::commit(tx).await?)
}

/// A new secret; deliveries carry signatures by both for 24 hours so receivers can switch over.
pub async fn rotate_secret(app: &AppState, scope: &OrgScope, id: WebhookId) -> Result<RotatedSecret, AppError> {
    scope.require(Permission::WebhooksWrite)?;
    let secret = generate_secret();
    let until = db::now() + Duration::hours(ROTATION_OVERLAP_HOURS);
    let mut tx = app.db.begin_write().await?;
    let current = endpoint(&mut tx, scope, id).await?;
    db::webhooks::rotate_secret(&mut tx, id, &app.secrets.seal(&secret), &current.secret, until).await?;
    let metadata = json!({ "previous_secret_expires_at": until });
    audit::record(&mut tx, scope, webhook_event(Action::WebhookSecretRotated, &current.webhook, metadata)).await?;
    db::commit(tx).await?;
    Ok(RotatedSecret { secret, previous_secret_expires_at: until })
}

fn disabled_conflict() -> AppError {
    AppError::new(ErrorKind::Conflict, ErrorCode::WebhookDisabled, "This endpoint is disabled: enable it first.")
}

/// Sends a `ping` to this endpoint only (whatever it subscribes to); returns the queued delivery.
pub async fn send_test(app: &AppState, scope: &OrgScope, id: WebhookId) -> Result<Delivery, AppError> {
    scope.require(Permission::WebhooksWrite)?;
    let mut tx = app.db.begin_write().await?;
    let webhook = endpoint(&mut tx, scope, id).await?.webhook;
    if !webhook.active {
        return Err(disabled_conflict());
    }
    let now = db::now();
    let data = json!({ "webhook_id": webhook.id, "message": "A test event sent from Gatehouse." });
    let delivery = enqueue(&mut tx, scope.org_id(), PING, data, &[webhook.id], now).await?.remove(0);
    audit::record(&mut tx, scope, webhook_event(Action::WebhookTestSent, &webhook, json!({}))).await?;
    let queued = db::webhooks::get_delivery(&mut tx, scope.org_id(), id, delivery).await?;
    db::commit(tx).await?;
    app.webhook_wakeup.notify_one();
    queued.ok_or_else(|| AppError::not_found("delivery"))
}

// ---- delivery log ----------------------------------------------------------------------------

pub struct DeliveryQuery {
    pub status: Option<String>,
    pub event_type: Option<String>,
    pub cursor: Option<String>,
    pub limit: Option<i64>,
}

pub async fn deliveries(
    app: &AppState,
    scope: &OrgScope,
    id: WebhookId,
    query: DeliveryQuery,
) -> Result<Page<Delivery>, AppError> {
    scope.require(Permission::WebhooksWrite)?;
    let page = PageRequest::parse(query.limit, query.cursor.as_deref())?;
    let status = match query.status.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(raw) => Some(DeliveryStatus::parse(raw).ok_or_else(|| {
            AppError::invalid_field("status", "Use pending, succeeded or failed.")
                .with_detail("allowed", ["pending", "succeeded", "failed"].to_vec())
        })?),
    };
    let event_type = query.event_type.as_deref().filter(|s| !s.is_empty());
    if let Some(name) = event_type.filter(|n| WebhookEvent::parse(n).is_none() && *n != PING) {
        return Err(AppError::invalid_field("event_type", &format!("Unknown event type {name:?}.")));
    }
    read_endpoint(app, scope, id).await?;
    let filter = db::webhooks::DeliveryFilter { status, event_type };
    let rows = db::webhooks::list_deliveries(app.db.pool(), scope.org_id(), id, filter, &page).await?;
    Ok(page.finish(rows, |d| (db::to_millis(d.created_at), d.id.to_string())))
}

pub async fn delivery(
    app: &AppState,
    scope: &OrgScope,
    id: WebhookId,
    delivery: DeliveryId,
) -> Result<DeliveryDetail, AppError> {
    scope.require(Permission::WebhooksWrite)?;
    let mut tx = app.db.begin_snapshot().await?;
    let found = db::webhooks::get_delivery(&mut tx, scope.org_id(), id, delivery).await?;
    let delivery = found.ok_or_else(|| AppError::not_found("delivery"))?;
    let attempts = db::webhooks::attempts(&mut tx, delivery.id).await?;
    Ok(DeliveryDetail { delivery, attempts })
}

/// Queues a delivery again for an attempt now (after a fix on the receiver's side, say).
pub async fn retry(
    app: &AppState,
    scope: &OrgScope,
    id: WebhookId,
    delivery: DeliveryId,
) -> Result<Delivery, AppError> {
    scope.require(Permission::WebhooksWrite)?;
    let mut tx = app.db.begin_write().await?;
    let webhook = endpoint(&mut tx, scope, id).await?.webhook;
    let found = db::webhooks::get_delivery(&mut tx, scope.org_id(), id, delivery).await?;
    let found = found.ok_or_else(|| AppError::not_found("delivery"))?;
    if !webhook.active {
        return Err(disabled_conflict());
    }
    if found.status == DeliveryStatus::Pending {
        return Err(AppError::new(
            ErrorKind::Conflict,
            ErrorCode::DeliveryPending,
            "This delivery is still being attempted; wait for it to succeed or fail.",
        ));
    }
    db::webhooks::requeue(&mut tx, delivery, db::now()).await?;
    let metadata = json!({ "delivery_id": delivery, "event_type": found.event_type });
    audit::record(&mut tx, scope, webhook_event(Action::WebhookDeliveryRetried, &webhook, metadata)).await?;
    let queued = db::webhooks::get_delivery(&mut tx, scope.org_id(), id, delivery).await?;
    db::commit(tx).await?;
    app.webhook_wakeup.notify_one();
    queued.ok_or_else(|| AppError::not_found("delivery"))
}

/// Attempts per hour over the last 24 hours, every hour present (for the success-rate chart).
pub async fn outcomes(app: &AppState, scope: &OrgScope, id: WebhookId) -> Result<Vec<OutcomeHour>, AppError> {
    scope.require(Permission::WebhooksWrite)?;
    read_endpoint(app, scope, id).await?;
    let this_hour = db::to_millis(db::now()) / 3_600_000;
    let first = this_hour - 23;
    let found = db::webhooks::outcomes_per_hour(app.db.pool(), id, db::from_millis(first * 3_600_000)).await?;
    Ok((first..=this_hour)
        .map(|h| {
            let hour = db::from_millis(h * 3_600_000);
            found.iter().find(|o| o.hour == hour).cloned().unwrap_or(OutcomeHour { hour, successes: 0, failures: 0 })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_prefixed_base64_of_32_bytes() {
        let secret = generate_secret();
        let raw = STANDARD.decode(secret.strip_prefix("whsec_").unwrap()).unwrap();
        assert_eq!(raw.len(), 32);
        assert_ne!(secret, generate_secret());
    }
}
