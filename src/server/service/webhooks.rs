//! Webhooks: endpoints (create, change, rotate the secret, test), the event outbox fed by the
//! audit log, delivery attempts with Standard Webhooks signatures, retries, and the delivery log.
//!
//! Events come from `audit::append`: every change is audited in its own transaction, so writing
//! the event rows there puts each event in the same transaction as the change that causes it,
//! with no second call to forget in each service.
use crate::server::{
    authz::{Actor, OrgScope},
    db::{self, audit::StoredRow, webhooks::Job, Tx},
    outbound::{Answer, Failure, BODY_CAP},
    pagination::PageRequest,
    service::{
        audit::{self, Event},
        mail,
    },
    state::AppState,
};
use crate::shared::{
    accounts::Page,
    error::{AppError, ErrorKind},
    ids::{DeliveryId, OrgId, WebhookEventId, WebhookId},
    roles::Permission,
    webhooks::{
        is_event_type, Delivery, DeliveryDetail, DeliveryStatus, EventType, IssuedWebhook, OutcomeHour, RotatedSecret,
        Webhook, EVENT_TYPES, PING,
    },
};
use base64::{engine::general_purpose::STANDARD, Engine};
use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, Mac};
use rand::{Rng, RngCore};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use sha2::Sha256;
use std::time::Duration as StdDuration;

/// Waits after each failed attempt (Standard Webhooks / Svix schedule); then the delivery fails.
pub const RETRY_SCHEDULE: [StdDuration; 7] = [
    StdDuration::from_secs(5),
    StdDuration::from_secs(5 * 60),
    StdDuration::from_secs(30 * 60),
    StdDuration::from_secs(2 * 3600),
    StdDuration::from_secs(5 * 3600),
    StdDuration::from_secs(10 * 3600),
    StdDuration::from_secs(10 * 3600),
];
/// The longest `Retry-After` honoured.
const MAX_RETRY_AFTER: StdDuration = StdDuration::from_secs(24 * 3600);
/// Both secrets sign deliveries this long after a rotation.
const ROTATION_OVERLAP_HOURS: i64 = 24;

// ---- signing ---------------------------------------------------------------------------------

/// `whsec_` + base64 of 32 random bytes.
fn generate_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    format!("whsec_{}", STANDARD.encode(bytes))
}

/// `v1,<base64 HMAC-SHA256(key, "{id}.{timestamp}.{body}")>` where the key is the base64 part
/// of the secret (Standard Webhooks).
pub fn sign(secret: &str, id: &str, timestamp: i64, body: &str) -> String {
    let key = STANDARD.decode(secret.trim_start_matches("whsec_")).unwrap_or_default();
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("HMAC takes keys of any length");
    mac.update(format!("{id}.{timestamp}.{body}").as_bytes());
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
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
        if !is_event_type(name) {
            return Err(AppError::invalid_field("events", &format!("Unknown event type {name:?}."))
                .with_detail("allowed", EVENT_TYPES.iter().map(|(n, _)| *n).collect::<Vec<_>>()));
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

fn webhook_event(action: &'static str, webhook: &Webhook, metadata: Value) -> Event<'static> {
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
    audit::record(&mut tx, scope, webhook_event("webhook.created", &webhook, json!({ "events": webhook.events })))
        .await?;
    db::commit(tx).await?;
    Ok(IssuedWebhook { webhook, secret })
}

pub async fn list(
    app: &AppState,
    scope: &OrgScope,
    cursor: Option<&str>,
    limit: Option<i64>,
) -> Result<Page<Webhook>, AppError> {
    scope.require(Permission::WebhooksWrite)?;
    let page = PageRequest::parse(limit, cursor)?;
    let rows = db::webhooks::list_endpoints(app.db.pool(), scope.org_id(), &page).await?;
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
    audit::record(&mut tx, scope, webhook_event("webhook.updated", &after, metadata)).await?;
    db::commit(tx).await?;
    Ok(after)
}

/// Deletes the endpoint with its delivery log; nothing more is sent to it.
pub async fn delete(app: &AppState, scope: &OrgScope, id: WebhookId) -> Result<(), AppError> {
    scope.require(Permission::WebhooksWrite)?;
    let mut tx = app.db.begin_write().await?;
    let webhook = endpoint(&mut tx, scope, id).await?.webhook;
    db::webhooks::delete_endpoint(&mut tx, id).await?;
    audit::record(&mut tx, scope, webhook_event("webhook.deleted", &webhook, json!({ "events": webhook.events })))
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
    audit::record(&mut tx, scope, webhook_event("webhook.secret_rotated", &current.webhook, metadata)).await?;
    db::commit(tx).await?;
    Ok(RotatedSecret { secret, previous_secret_expires_at: until })
}

fn disabled_conflict() -> AppError {
    AppError::new(ErrorKind::Conflict, "webhook_disabled", "This endpoint is disabled: enable it first.")
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
    audit::record(&mut tx, scope, webhook_event("webhook.test_sent", &webhook, json!({}))).await?;
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
    if let Some(name) = event_type.filter(|n| !is_event_type(n) && *n != PING) {
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
            "delivery_pending",
            "This delivery is still being attempted; wait for it to succeed or fail.",
        ));
    }
    db::webhooks::requeue(&mut tx, delivery, db::now()).await?;
    let metadata = json!({ "delivery_id": delivery, "event_type": found.event_type });
    audit::record(&mut tx, scope, webhook_event("webhook.delivery_retried", &webhook, metadata)).await?;
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

// ---- the outbox ------------------------------------------------------------------------------

/// The event types an audit action emits besides `audit.event`.
fn emitted_types(action: &str) -> Vec<&'static str> {
    match action {
        "invitation.accepted" => vec!["invitation.accepted", "member.added"],
        "member.left" => vec!["member.removed"],
        other => {
            EVENT_TYPES.iter().map(|(name, _)| *name).filter(|name| *name == other && *name != "audit.event").collect()
        }
    }
}

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
pub async fn enqueue_for_audit(tx: &mut Tx, org: OrgId, row: &StoredRow) -> Result<(), AppError> {
    let subscriptions = db::webhooks::subscriptions(tx, org).await?;
    if subscriptions.is_empty() {
        return Ok(());
    }
    let subscribed = |event_type: &str| -> Vec<WebhookId> {
        subscriptions
            .iter()
            .filter(|(_, events)| events.split_whitespace().any(|e| e == event_type))
            .map(|(id, _)| *id)
            .collect()
    };
    for event_type in emitted_types(&row.action) {
        let endpoints = subscribed(event_type);
        if !endpoints.is_empty() {
            enqueue(tx, org, event_type, typed_data(row), &endpoints, row.created_at).await?;
        }
    }
    let endpoints = subscribed("audit.event");
    if !endpoints.is_empty() {
        enqueue(tx, org, "audit.event", audit_data(row), &endpoints, row.created_at).await?;
    }
    Ok(())
}

/// Writes the event (its envelope exactly as it will be sent) and one delivery per endpoint.
async fn enqueue(
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

// ---- attempts --------------------------------------------------------------------------------

/// One finished attempt, waiting to be recorded.
pub struct Outcome {
    pub job: Job,
    pub at: DateTime<Utc>,
    pub result: Result<Answer, Failure>,
}

impl Outcome {
    /// Only a 2xx answer is a success.
    pub fn succeeded(&self) -> bool {
        matches!(&self.result, Ok(answer) if (200..300).contains(&answer.status))
    }
}

/// The Standard Webhooks headers: both signatures while a rotation's overlap runs.
fn signed_headers(app: &AppState, job: &Job, at: DateTime<Utc>) -> Result<http::HeaderMap, String> {
    let timestamp = at.timestamp();
    let id = job.event.to_string();
    let secret = app.secrets.open(&job.secret).map_err(|e| e.to_string())?;
    let mut signatures = sign(&secret, &id, timestamp, &job.payload);
    if let (Some(previous), Some(until)) = (&job.previous_secret, job.previous_secret_expires_at) {
        if until > at {
            let previous = app.secrets.open(previous).map_err(|e| e.to_string())?;
            signatures = format!("{signatures} {}", sign(&previous, &id, timestamp, &job.payload));
        }
    }
    let mut headers = http::HeaderMap::new();
    let mut put = |name: &'static str, value: String| {
        if let Ok(value) = http::HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    };
    put("content-type", "application/json".to_owned());
    put("webhook-id", id);
    put("webhook-timestamp", timestamp.to_string());
    put("webhook-signature", signatures);
    Ok(headers)
}

pub async fn attempt(app: &AppState, job: Job) -> Outcome {
    let at = db::now();
    let result = match signed_headers(app, &job, at) {
        Ok(headers) => app.outbound.post(&job.url, headers, job.payload.clone().into_bytes()).await,
        Err(error) => Err(Failure { error: format!("cannot sign: {error}"), latency: StdDuration::ZERO }),
    };
    Outcome { job, at, result }
}

/// When to try again after failed attempt number `attempt` (1-based), or `None` to give up:
/// the schedule with ±10% jitter, never sooner than the receiver's `Retry-After` (capped).
pub fn next_delay(attempt: i64, retry_after: Option<StdDuration>, rng: &mut impl Rng) -> Option<StdDuration> {
    let index = usize::try_from(attempt).ok()?.checked_sub(1)?;
    let scheduled = *RETRY_SCHEDULE.get(index)?;
    let jittered = scheduled.mul_f64(rng.gen_range(0.9..=1.1));
    Some(retry_after.map_or(jittered, |wait| jittered.max(wait.min(MAX_RETRY_AFTER))))
}

fn capped_text(bytes: &[u8]) -> String {
    let cut = &bytes[..bytes.len().min(BODY_CAP)];
    String::from_utf8_lossy(cut).into_owned()
}

/// What one attempt came to, in the words of the log.
struct Logged {
    status: Option<i64>,
    /// `None` for a 2xx.
    error: Option<String>,
    response: Option<String>,
    retry_after: Option<StdDuration>,
    latency: StdDuration,
}

impl Logged {
    fn of(result: &Result<Answer, Failure>) -> Logged {
        match result {
            Ok(answer) => Logged {
                status: Some(i64::from(answer.status)),
                error: (!(200..300).contains(&answer.status)).then(|| match answer.status {
                    300..=399 => format!("HTTP {} (redirects are not followed)", answer.status),
                    code => format!("HTTP {code}"),
                }),
                response: Some(capped_text(&answer.body)),
                retry_after: answer.retry_after,
                latency: answer.latency,
            },
            Err(failure) => Logged {
                status: None,
                error: Some(failure.error.clone()),
                response: None,
                retry_after: None,
                latency: failure.latency,
            },
        }
    }
}

/// Records finished attempts in one transaction, retried if the database refuses it (a
/// deadlock, a lost connection): if it never succeeds, the leases lapse and the deliveries are
/// attempted again — at least once, never lost.
pub async fn record(app: &AppState, outcomes: &[Outcome]) -> Result<(), AppError> {
    let mut tries = 0;
    loop {
        tries += 1;
        match record_once(app, outcomes).await {
            Err(e) if tries < 3 => tracing::warn!("webhooks: recording attempts, try {tries}: {e}"),
            done => return done,
        }
    }
}

/// Endpoint counters first, in id order, so that concurrent recorders (other replicas) queue on
/// the same locks in the same order instead of deadlocking; then the attempt log and each
/// delivery's next state; then disabling endpoints that answered 410 or failed for too long.
async fn record_once(app: &AppState, outcomes: &[Outcome]) -> Result<(), AppError> {
    let logged: Vec<Logged> = outcomes.iter().map(|o| Logged::of(&o.result)).collect();
    let mut tx = app.db.begin_write().await?;
    let mut endpoints: Vec<WebhookId> = outcomes.iter().map(|o| o.job.endpoint).collect();
    endpoints.sort();
    endpoints.dedup();
    for endpoint in &endpoints {
        let mut tally = db::webhooks::Tally::default();
        for (outcome, log) in outcomes.iter().zip(&logged).filter(|(o, _)| o.job.endpoint == *endpoint) {
            tally.add(log.error.is_none(), outcome.at);
        }
        db::webhooks::count_attempts(&mut tx, *endpoint, &tally).await?;
    }
    let disable_after = Duration::from_std(app.config.webhook_disable_after).unwrap_or(Duration::days(5));
    let mut to_disable: Vec<(&Job, String)> = Vec::new();
    for (outcome, log) in outcomes.iter().zip(&logged) {
        let job = &outcome.job;
        let request_body = capped_text(job.payload.as_bytes());
        let attempt = db::webhooks::NewAttempt {
            delivery: job.delivery,
            endpoint: job.endpoint,
            at: outcome.at,
            status: log.status,
            latency_ms: i64::try_from(log.latency.as_millis()).unwrap_or(i64::MAX),
            error: log.error.as_deref(),
            request_body: &request_body,
            response_body: log.response.as_deref(),
        };
        db::webhooks::insert_attempt(&mut tx, &attempt).await?;
        let (state, next) = if log.error.is_none() {
            (DeliveryStatus::Succeeded, None)
        } else if log.status == Some(410) {
            to_disable.push((job, "The endpoint answered 410 Gone.".to_owned()));
            (DeliveryStatus::Failed, None)
        } else {
            let next = next_delay(job.attempt, log.retry_after, &mut rand::thread_rng())
                .and_then(|d| Duration::from_std(d).ok())
                .map(|d| outcome.at + d);
            (if next.is_some() { DeliveryStatus::Pending } else { DeliveryStatus::Failed }, next)
        };
        db::webhooks::finish_attempt(&mut tx, &attempt, state, next).await?;
        if log.error.is_some() && log.status != Some(410) {
            if let Some(since) = db::webhooks::failing_since(&mut tx, job.endpoint).await? {
                if outcome.at - since >= disable_after {
                    let days = disable_after.num_hours() as f64 / 24.0;
                    to_disable.push((job, format!("Every delivery failed for {days} days.")));
                }
            }
        }
    }
    for (job, reason) in to_disable {
        disable(app, &mut tx, job, &reason).await?;
    }
    Ok(db::commit(tx).await?)
}

/// Turns the endpoint off, audits it (which emits `webhook.disabled` to the org's other
/// endpoints) and emails the organization's owners and admins.
async fn disable(app: &AppState, tx: &mut Tx, job: &Job, reason: &str) -> Result<(), AppError> {
    let now = db::now();
    if !db::webhooks::disable(tx, job.endpoint, reason, now).await? {
        return Ok(());
    }
    let event = Event {
        action: "webhook.disabled",
        resource_type: "webhook",
        resource_id: Some(job.endpoint.to_string()),
        metadata: json!({ "url": job.url, "reason": reason }),
    };
    audit::append(tx, &job.org.to_string(), Some(job.org), &Actor::system(), event).await?;
    let link = app.config.link(&format!("/orgs/{}/webhooks/{}", job.org, job.endpoint));
    let text = format!(
        "Gatehouse disabled the webhook endpoint {url}.\n\nReason: {reason}\n\nEvents are no longer sent to it. \
         Once the endpoint works again, enable it and retry failed deliveries from the delivery log:\n{link}",
        url = job.url
    );
    for to in db::members::admin_emails(tx, job.org).await? {
        mail::send(tx, &to, "A webhook endpoint was disabled", &text, now).await?;
    }
    Ok(())
}

/// Deletes delivery logs older than the retention period (30 days by default).
pub async fn purge_old(app: &AppState) -> Result<u64, AppError> {
    let keep = Duration::from_std(app.config.webhook_retention).unwrap_or(Duration::days(30));
    Ok(db::webhooks::purge(app.db.pool(), db::now() - keep).await?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{rngs::StdRng, SeedableRng};

    #[test]
    fn signature_matches_the_standard_webhooks_vector() {
        // The example from the Standard Webhooks specification and its reference libraries.
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let body = r#"{"test": 2432232314}"#;
        assert_eq!(
            sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn secrets_are_prefixed_base64_of_32_bytes() {
        let secret = generate_secret();
        let raw = STANDARD.decode(secret.strip_prefix("whsec_").unwrap()).unwrap();
        assert_eq!(raw.len(), 32);
        assert_ne!(secret, generate_secret());
    }

    #[test]
    fn retry_schedule_with_jitter_retry_after_and_an_end() {
        let mut rng = StdRng::seed_from_u64(7);
        for (i, base) in RETRY_SCHEDULE.iter().enumerate() {
            let delay = next_delay(i as i64 + 1, None, &mut rng).unwrap();
            assert!(delay >= base.mul_f64(0.9) && delay <= base.mul_f64(1.1), "attempt {}: {delay:?}", i + 1);
        }
        assert_eq!(next_delay(8, None, &mut rng), None, "seven retries, then the delivery fails");
        assert_eq!(next_delay(0, None, &mut rng), None);
        let waited = next_delay(1, Some(StdDuration::from_secs(600)), &mut rng).unwrap();
        assert_eq!(waited, StdDuration::from_secs(600), "never sooner than Retry-After");
        let capped = next_delay(1, Some(StdDuration::from_secs(7 * 24 * 3600)), &mut rng).unwrap();
        assert_eq!(capped, MAX_RETRY_AFTER);
        let short = next_delay(2, Some(StdDuration::from_secs(1)), &mut rng).unwrap();
        assert!(short >= StdDuration::from_secs(270), "a short Retry-After does not hurry the schedule");
    }

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
