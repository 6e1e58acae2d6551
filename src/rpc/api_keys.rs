//! Server functions for the API keys page.
use crate::shared::{
    accounts::Page,
    api_keys::{ApiKey, IssuedApiKey},
    error::AppError,
};
use leptos::prelude::*;
use std::collections::HashMap;

#[cfg(feature = "ssr")]
use {
    super::ssr::{given, id, in_org, page, scope},
    super::ssr::{go, respond},
    crate::server::{authz::OrgScope, service::api_keys, state::AppState},
};

#[server(prefix = "/rpc", endpoint = "api_keys")]
pub async fn api_keys(org_id: String, cursor: Option<String>) -> Result<Page<ApiKey>, AppError> {
    in_org(&org_id, |app, scope| async move { api_keys::list(&app, &scope, &page(cursor)?).await }).await
}

/// A number typed in a form; empty means "not set".
#[cfg(feature = "ssr")]
fn optional_number(raw: Option<String>, field: &str) -> Result<Option<i64>, AppError> {
    given(raw)
        .map(|v| v.trim().parse().map_err(|_| AppError::invalid_field(field, "Enter a whole number.")))
        .transpose()
}

/// Issues a key. `scopes` comes from checkboxes named `scopes[org:read]`; `expires_on` is a date
/// (`YYYY-MM-DD`, the key stops at the start of that day, UTC).
#[server(prefix = "/rpc", endpoint = "create_api_key")]
pub async fn create_api_key(
    org_id: String,
    name: String,
    scopes: Option<HashMap<String, String>>,
    expires_on: Option<String>,
    rate_limit_per_hour: Option<String>,
) -> Result<IssuedApiKey, AppError> {
    respond(
        async {
            let (app, scope) = scope(&org_id).await?;
            let form = CreateApiKey { org_id, name, scopes, expires_on, rate_limit_per_hour };
            let issued = form.run(&app, &scope).await?;
            go(&format!("/orgs/{}/api-keys?notice=api_key_created", scope.org_id()))?;
            Ok(issued)
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "roll_api_key")]
pub async fn roll_api_key(org_id: String, key_id: String, grace_hours: String) -> Result<IssuedApiKey, AppError> {
    respond(
        async {
            let (app, scope) = scope(&org_id).await?;
            let issued = RollApiKey { org_id, key_id, grace_hours }.run(&app, &scope).await?;
            go(&format!("/orgs/{}/api-keys?notice=api_key_rolled", scope.org_id()))?;
            Ok(issued)
        }
        .await,
    )
}

/// The form's fields to the service call, shared with the no-JavaScript twin in
/// `server::endpoints::forms` (which shows the secret in its answer).
#[cfg(feature = "ssr")]
impl CreateApiKey {
    pub(crate) async fn run(self, app: &AppState, scope: &OrgScope) -> Result<IssuedApiKey, AppError> {
        let expires_at = given(self.expires_on)
            .map(|day| {
                chrono::NaiveDate::parse_from_str(day.trim(), "%Y-%m-%d")
                    .map(|d| d.and_time(chrono::NaiveTime::MIN).and_utc())
                    .map_err(|_| AppError::invalid_field("expires_on", "Enter a date as YYYY-MM-DD."))
            })
            .transpose()?;
        let mut scopes: Vec<String> = self.scopes.unwrap_or_default().into_keys().collect();
        scopes.sort();
        let new = api_keys::NewKey {
            name: self.name,
            scopes,
            expires_at,
            rate_limit_per_hour: optional_number(self.rate_limit_per_hour, "rate_limit_per_hour")?,
        };
        api_keys::create(app, scope, new).await
    }
}

#[cfg(feature = "ssr")]
impl RollApiKey {
    pub(crate) async fn run(self, app: &AppState, scope: &OrgScope) -> Result<IssuedApiKey, AppError> {
        let grace = optional_number(Some(self.grace_hours), "grace_period_hours")?;
        api_keys::roll(app, scope, id(&self.key_id, "API key")?, grace).await
    }
}

#[server(prefix = "/rpc", endpoint = "revoke_api_key")]
pub async fn revoke_api_key(org_id: String, key_id: String) -> Result<(), AppError> {
    in_org(&org_id, |app, scope| async move {
        let org_id = scope.org_id();
        api_keys::revoke(&app, &scope, id(&key_id, "API key")?).await?;
        go(&format!("/orgs/{org_id}/api-keys?notice=api_key_revoked"))
    })
    .await
}

#[server(prefix = "/rpc", endpoint = "reassign_api_key")]
pub async fn reassign_api_key(org_id: String, key_id: String) -> Result<(), AppError> {
    in_org(&org_id, |app, scope| async move {
        let org_id = scope.org_id();
        api_keys::reassign(&app, &scope, id(&key_id, "API key")?).await?;
        go(&format!("/orgs/{org_id}/api-keys?notice=api_key_reassigned"))
    })
    .await
}
