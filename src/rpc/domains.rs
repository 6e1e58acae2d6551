//! Server functions for the organization's email domains on the single sign-on page: add, verify,
//! route to a connection, remove. Each authorizes membership and calls one service function, which
//! checks `sso:write`.
use crate::shared::{accounts::Page, domains::Domain, error::AppError};
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use {
    super::ssr::{given, go, id, in_org, page},
    crate::server::service::domains::{self, DomainPatch, NewDomain},
};

#[server(prefix = "/rpc", endpoint = "sso_domains")]
pub async fn sso_domains(org_id: String, cursor: Option<String>) -> Result<Page<Domain>, AppError> {
    in_org(&org_id, |app, scope| async move { domains::list(&app, &scope, &page(cursor)?).await }).await
}

#[server(prefix = "/rpc", endpoint = "add_domain")]
pub async fn add_domain(org_id: String, domain: String) -> Result<Domain, AppError> {
    in_org(&org_id, |app, scope| async move {
        let org_id = scope.org_id();
        let added = domains::create(&app, &scope, NewDomain { domain }).await?;
        go(&format!("/orgs/{org_id}/sso?notice=domain_added"))?;
        Ok(added)
    })
    .await
}

/// Looks the TXT record up now; when DNS does not have it the error says what DNS answered.
#[server(prefix = "/rpc", endpoint = "verify_domain")]
pub async fn verify_domain(org_id: String, domain_id: String) -> Result<Domain, AppError> {
    in_org(&org_id, |app, scope| async move {
        let org_id = scope.org_id();
        let verified = domains::verify(&app, &scope, id(&domain_id, "domain")?).await?;
        go(&format!("/orgs/{org_id}/sso?notice=domain_verified"))?;
        Ok(verified)
    })
    .await
}

/// Where a verified domain's sign-ins go: `connection_id` empty means none; the checkbox
/// `require_sso` is present only when ticked.
#[server(prefix = "/rpc", endpoint = "route_domain")]
pub async fn route_domain(
    org_id: String,
    domain_id: String,
    connection_id: Option<String>,
    require_sso: Option<String>,
) -> Result<Domain, AppError> {
    in_org(&org_id, |app, scope| async move {
        let org_id = scope.org_id();
        let connection = given(connection_id).map(|c| id(&c, "sso_connection")).transpose()?;
        let patch = DomainPatch { require_sso: Some(require_sso.is_some()), connection_id: Some(connection) };
        let routed = domains::update(&app, &scope, id(&domain_id, "domain")?, patch).await?;
        go(&format!("/orgs/{org_id}/sso?notice=domain_saved"))?;
        Ok(routed)
    })
    .await
}

#[server(prefix = "/rpc", endpoint = "remove_domain")]
pub async fn remove_domain(org_id: String, domain_id: String) -> Result<(), AppError> {
    in_org(&org_id, |app, scope| async move {
        let org_id = scope.org_id();
        domains::remove(&app, &scope, id(&domain_id, "domain")?).await?;
        go(&format!("/orgs/{org_id}/sso?notice=domain_removed"))
    })
    .await
}
