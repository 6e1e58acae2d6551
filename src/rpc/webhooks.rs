//! Server functions for the webhooks pages: endpoints, test events, secret rotation, the delivery
//! log and retries.
use crate::shared::{
    accounts::Page,
    error::AppError,
    webhooks::{Delivery, DeliveryDetail, IssuedWebhook, OutcomeHour, RotatedSecret, Webhook},
};
use leptos::prelude::*;
use std::collections::HashMap;

#[cfg(feature = "ssr")]
use {
    super::ssr::{given, id, in_org, page, scope},
    super::ssr::{go, respond},
    crate::server::{authz::OrgScope, service::webhooks::endpoints as webhooks, state::AppState},
};

#[server(prefix = "/rpc", endpoint = "webhooks")]
pub async fn webhooks(org_id: String, cursor: Option<String>) -> Result<Page<Webhook>, AppError> {
    in_org(&org_id, |app, scope| async move { webhooks::list(&app, &scope, &page(cursor)?).await }).await
}

/// Creates an endpoint. `events` comes from checkboxes named `events[member.added]`.
#[server(prefix = "/rpc", endpoint = "create_webhook")]
pub async fn create_webhook(
    org_id: String,
    url: String,
    description: Option<String>,
    events: Option<HashMap<String, String>>,
) -> Result<IssuedWebhook, AppError> {
    respond(
        async {
            let (app, scope) = scope(&org_id).await?;
            let issued = CreateWebhook { org_id, url, description, events }.run(&app, &scope).await?;
            go(&format!("/orgs/{}/webhooks?notice=webhook_created", scope.org_id()))?;
            Ok(issued)
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "get_webhook")]
pub async fn get_webhook(org_id: String, webhook_id: String) -> Result<Webhook, AppError> {
    in_org(&org_id, |app, scope| async move { webhooks::get(&app, &scope, id(&webhook_id, "webhook")?).await }).await
}

/// Turns an endpoint on (`active` = "true") or off.
#[server(prefix = "/rpc", endpoint = "set_webhook_active")]
pub async fn set_webhook_active(org_id: String, webhook_id: String, active: String) -> Result<Webhook, AppError> {
    in_org(&org_id, |app, scope| async move {
        let org_id = scope.org_id();
        let patch = webhooks::WebhookPatch { active: Some(active == "true"), ..Default::default() };
        let changed = webhooks::update(&app, &scope, id(&webhook_id, "webhook")?, patch).await?;
        go(&format!("/orgs/{org_id}/webhooks/{webhook_id}"))?;
        Ok(changed)
    })
    .await
}

#[server(prefix = "/rpc", endpoint = "rotate_webhook_secret")]
pub async fn rotate_webhook_secret(org_id: String, webhook_id: String) -> Result<RotatedSecret, AppError> {
    in_org(&org_id, |app, scope| async move {
        let org_id = scope.org_id();
        let rotated = webhooks::rotate_secret(&app, &scope, id(&webhook_id, "webhook")?).await?;
        go(&format!("/orgs/{org_id}/webhooks/{webhook_id}?notice=webhook_secret_rotated"))?;
        Ok(rotated)
    })
    .await
}

/// The form's fields to the service call, shared with the no-JavaScript twin in
/// `server::endpoints::forms` (which shows the signing secret in its answer).
#[cfg(feature = "ssr")]
impl CreateWebhook {
    pub(crate) async fn run(self, app: &AppState, scope: &OrgScope) -> Result<IssuedWebhook, AppError> {
        let mut events: Vec<String> = self.events.unwrap_or_default().into_keys().collect();
        events.sort();
        let new = webhooks::NewWebhook { url: self.url, description: self.description.unwrap_or_default(), events };
        webhooks::create(app, scope, new).await
    }
}

#[server(prefix = "/rpc", endpoint = "delete_webhook")]
pub async fn delete_webhook(org_id: String, webhook_id: String) -> Result<(), AppError> {
    in_org(&org_id, |app, scope| async move {
        let org_id = scope.org_id();
        webhooks::delete(&app, &scope, id(&webhook_id, "webhook")?).await?;
        go(&format!("/orgs/{org_id}/webhooks?notice=webhook_deleted"))
    })
    .await
}

#[server(prefix = "/rpc", endpoint = "test_webhook")]
pub async fn test_webhook(org_id: String, webhook_id: String) -> Result<Delivery, AppError> {
    in_org(&org_id, |app, scope| async move {
        let org_id = scope.org_id();
        let delivery = webhooks::send_test(&app, &scope, id(&webhook_id, "webhook")?).await?;
        go(&format!("/orgs/{org_id}/webhooks/{webhook_id}?notice=webhook_test_sent"))?;
        Ok(delivery)
    })
    .await
}

#[server(prefix = "/rpc", endpoint = "webhook_deliveries")]
pub async fn webhook_deliveries(
    org_id: String,
    webhook_id: String,
    status: Option<String>,
    cursor: Option<String>,
) -> Result<Page<Delivery>, AppError> {
    in_org(&org_id, |app, scope| async move {
        let query =
            webhooks::DeliveryQuery { status: given(status), event_type: None, cursor: given(cursor), limit: None };
        webhooks::deliveries(&app, &scope, id(&webhook_id, "webhook")?, query).await
    })
    .await
}

#[server(prefix = "/rpc", endpoint = "webhook_delivery")]
pub async fn webhook_delivery(
    org_id: String,
    webhook_id: String,
    delivery_id: String,
) -> Result<DeliveryDetail, AppError> {
    in_org(&org_id, |app, scope| async move {
        webhooks::delivery(&app, &scope, id(&webhook_id, "webhook")?, id(&delivery_id, "delivery")?).await
    })
    .await
}

#[server(prefix = "/rpc", endpoint = "retry_webhook_delivery")]
pub async fn retry_webhook_delivery(
    org_id: String,
    webhook_id: String,
    delivery_id: String,
) -> Result<Delivery, AppError> {
    in_org(&org_id, |app, scope| async move {
        let org_id = scope.org_id();
        let delivery = id(&delivery_id, "delivery")?;
        let queued = webhooks::retry(&app, &scope, id(&webhook_id, "webhook")?, delivery).await?;
        go(&format!("/orgs/{org_id}/webhooks/{webhook_id}/deliveries/{delivery_id}?notice=delivery_retried"))?;
        Ok(queued)
    })
    .await
}

#[server(prefix = "/rpc", endpoint = "webhook_outcomes")]
pub async fn webhook_outcomes(org_id: String, webhook_id: String) -> Result<Vec<OutcomeHour>, AppError> {
    in_org(&org_id, |app, scope| async move { webhooks::outcomes(&app, &scope, id(&webhook_id, "webhook")?).await })
        .await
}
