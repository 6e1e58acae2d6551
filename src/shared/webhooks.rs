//! Webhook endpoints, deliveries and the event catalogue as the API and the dashboard show them.
//! A signing secret appears only in `IssuedWebhook` and `RotatedSecret`, once.
use crate::shared::ids::{DeliveryId, OrgId, WebhookEventId, WebhookId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

string_enum! {
    /// Every event type an endpoint can subscribe to. Each has a JSON Schema at
    /// `GET /api/v1/webhook-event-types`; which audit actions emit which is `Action::webhook_events`.
    pub enum WebhookEvent {
        OrganizationUpdated = "organization.updated",
        OrganizationDeleted = "organization.deleted",
        MemberAdded = "member.added",
        MemberRemoved = "member.removed",
        MemberRoleChanged = "member.role_changed",
        InvitationCreated = "invitation.created",
        InvitationAccepted = "invitation.accepted",
        InvitationRevoked = "invitation.revoked",
        ApiKeyCreated = "api_key.created",
        ApiKeyRevoked = "api_key.revoked",
        WebhookDisabled = "webhook.disabled",
        AuditEvent = "audit.event",
    }
}

impl WebhookEvent {
    pub fn description(self) -> &'static str {
        match self {
            WebhookEvent::OrganizationUpdated => {
                "The organization's name, slug, colour, settings, plan or limits changed."
            }
            WebhookEvent::OrganizationDeleted => "The organization was deleted (the last event its endpoints receive).",
            WebhookEvent::MemberAdded => "Someone joined the organization by accepting an invitation.",
            WebhookEvent::MemberRemoved => "A member was removed or left.",
            WebhookEvent::MemberRoleChanged => "A member's role changed.",
            WebhookEvent::InvitationCreated => "An invitation was sent.",
            WebhookEvent::InvitationAccepted => "An invitation was accepted.",
            WebhookEvent::InvitationRevoked => "An invitation was revoked.",
            WebhookEvent::ApiKeyCreated => "An API key was created.",
            WebhookEvent::ApiKeyRevoked => "An API key was revoked.",
            WebhookEvent::WebhookDisabled => {
                "A webhook endpoint was disabled after failing (410 Gone or 5 days of failures)."
            }
            WebhookEvent::AuditEvent => "Every audit log row of the organization, as written (for SIEM ingestion).",
        }
    }
}

/// The event sent by `POST .../webhooks/{id}/test`; every endpoint receives it whatever it subscribes to.
pub const PING: &str = "ping";

/// Counters over the endpoint's whole life.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct EndpointStats {
    /// Attempts made (each retry counts).
    pub total_deliveries: i64,
    pub successes: i64,
    pub failures: i64,
    pub last_success_at: Option<DateTime<Utc>>,
    pub last_failure_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Webhook {
    #[cfg_attr(feature = "ssr", schema(value_type = String, format = Uuid))]
    pub id: WebhookId,
    #[cfg_attr(feature = "ssr", schema(value_type = String, format = Uuid))]
    pub organization_id: OrgId,
    pub url: String,
    pub description: String,
    /// Subscribed event types (see `GET /webhook-event-types`).
    pub events: Vec<String>,
    /// Inactive endpoints receive nothing; Gatehouse turns an endpoint off after a 410 or 5 days of failures.
    pub active: bool,
    /// Why Gatehouse disabled it, if it did.
    pub disabled_reason: Option<String>,
    /// After a rotation, deliveries are also signed with the previous secret until then.
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub stats: EndpointStats,
}

/// A new endpoint: `secret` (`whsec_...`) verifies its signatures and is shown only here.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct IssuedWebhook {
    #[serde(flatten)]
    pub webhook: Webhook,
    pub secret: String,
}

/// A rotated secret: deliveries carry signatures by both secrets until `previous_secret_expires_at`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct RotatedSecret {
    pub secret: String,
    pub previous_secret_expires_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Waiting for its next attempt (or being attempted).
    Pending,
    Succeeded,
    /// Given up: retries exhausted or the endpoint was disabled. A manual retry starts it again.
    Failed,
}

#[cfg(feature = "ssr")]
crate::shared::columns::text_column!(enums: DeliveryStatus);

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Succeeded => "succeeded",
            DeliveryStatus::Failed => "failed",
        }
    }

    pub fn parse(raw: &str) -> Option<DeliveryStatus> {
        [DeliveryStatus::Pending, DeliveryStatus::Succeeded, DeliveryStatus::Failed]
            .into_iter()
            .find(|s| s.as_str() == raw)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema, sqlx::FromRow))]
pub struct Delivery {
    #[cfg_attr(feature = "ssr", schema(value_type = String, format = Uuid))]
    pub id: DeliveryId,
    #[cfg_attr(feature = "ssr", schema(value_type = String, format = Uuid))]
    pub webhook_id: WebhookId,
    /// The `webhook-id` header and the envelope's `id`.
    #[cfg_attr(feature = "ssr", schema(value_type = String, format = Uuid))]
    pub event_id: WebhookEventId,
    pub event_type: String,
    pub status: DeliveryStatus,
    /// Attempts started so far (the detail lists them in `attempts`).
    pub attempt_count: i64,
    #[cfg_attr(feature = "ssr", sqlx(try_from = "crate::shared::columns::MaybeMillis"))]
    pub next_attempt_at: Option<DateTime<Utc>>,
    #[cfg_attr(feature = "ssr", sqlx(try_from = "crate::shared::columns::Millis"))]
    pub created_at: DateTime<Utc>,
    #[cfg_attr(feature = "ssr", sqlx(try_from = "crate::shared::columns::MaybeMillis"))]
    pub last_attempt_at: Option<DateTime<Utc>>,
    /// The last HTTP status received, if any answer came.
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
}

/// One HTTP attempt. Bodies are kept up to 64 KB.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct DeliveryAttempt {
    pub attempted_at: DateTime<Utc>,
    /// `null` when no HTTP answer came (refused address, timeout, connection error).
    pub status: Option<i64>,
    pub latency_ms: i64,
    pub error: Option<String>,
    pub request_body: String,
    pub response_body: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct DeliveryDetail {
    #[serde(flatten)]
    pub delivery: Delivery,
    /// Oldest first.
    pub attempts: Vec<DeliveryAttempt>,
}

/// One event type of the catalogue with the JSON Schema of its envelope.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct EventType {
    pub name: String,
    pub description: String,
    #[cfg_attr(feature = "ssr", schema(value_type = Object))]
    pub schema: serde_json::Value,
}

/// Attempts in one hour, for the success-rate chart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutcomeHour {
    pub hour: DateTime<Utc>,
    pub successes: i64,
    pub failures: i64,
}
