//! Server functions for the organization pages: list, create, read, update and delete
//! organizations, and their statistics. Each authorizes membership of the organization (404
//! otherwise) and calls one service function, which checks the permission the operation needs.
use crate::shared::{accounts::Page, error::AppError, orgs::Organization};
use leptos::prelude::*;

// `org_stats` names its DTO in full: the server-function struct (`OrgStats`) takes that name in
// this module.

#[cfg(feature = "ssr")]
use {
    super::ssr::{client, given, go, in_org, page, respond, signed_in},
    crate::server::service::orgs,
};

#[server(prefix = "/rpc", endpoint = "my_orgs")]
pub async fn my_orgs(cursor: Option<String>) -> Result<Page<Organization>, AppError> {
    respond(
        async {
            let (app, who) = signed_in().await?;
            orgs::list_mine(&app, &who, &page(cursor)?).await
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "create_org")]
pub async fn create_org(name: String, slug: Option<String>) -> Result<(), AppError> {
    respond(
        async {
            let (app, who) = signed_in().await?;
            let org = orgs::create(&app, &who, &client().await?, &name, given(slug).as_deref()).await?;
            go(&format!("/orgs/{}?notice=org_created", org.id))
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "org")]
pub async fn org(org_id: String) -> Result<Organization, AppError> {
    in_org(&org_id, |app, scope| async move { orgs::get(&app, &scope).await }).await
}

#[server(prefix = "/rpc", endpoint = "org_stats")]
pub async fn org_stats(org_id: String) -> Result<crate::shared::orgs::OrgStats, AppError> {
    in_org(&org_id, |app, scope| async move { orgs::stats(&app, &scope).await }).await
}

/// Name, slug and primary colour (an empty colour goes back to the default).
#[server(prefix = "/rpc", endpoint = "update_org_settings")]
pub async fn update_org_settings(
    org_id: String,
    name: String,
    slug: String,
    primary_color: String,
) -> Result<(), AppError> {
    in_org(&org_id, |app, scope| async move {
        let org_id = scope.org_id();
        let patch = orgs::OrgPatch {
            name: Some(name),
            slug: Some(slug),
            primary_color: Some(primary_color),
            ..Default::default()
        };
        orgs::update(&app, &scope, patch).await?;
        go(&format!("/orgs/{org_id}/settings?notice=settings_saved"))
    })
    .await
}

#[server(prefix = "/rpc", endpoint = "delete_org")]
pub async fn delete_org(org_id: String, confirm: String) -> Result<(), AppError> {
    in_org(&org_id, |app, scope| async move {
        orgs::delete(&app, &scope, &confirm).await?;
        go("/orgs?notice=org_deleted")
    })
    .await
}
