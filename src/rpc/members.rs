//! Server functions for the members page: list, change and remove members, transfer ownership
//! and leave. Each authorizes membership of the organization (404 otherwise) and calls one service
//! function, which checks the permission the operation needs.
use crate::shared::{accounts::Page, error::AppError, members::Member};
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use {
    super::ssr::{given, go, id, in_org, page, role},
    crate::server::service::members,
};

#[server(prefix = "/rpc", endpoint = "members")]
pub async fn members(org_id: String, search: Option<String>, cursor: Option<String>) -> Result<Page<Member>, AppError> {
    in_org(
        &org_id,
        |app, scope| async move { members::list(&app, &scope, given(search).as_deref(), &page(cursor)?).await },
    )
    .await
}

#[server(prefix = "/rpc", endpoint = "change_member_role")]
pub async fn change_member_role(org_id: String, user_id: String, role: String) -> Result<(), AppError> {
    in_org(&org_id, |app, scope| async move {
        let org_id = scope.org_id();
        members::change(&app, &scope, id(&user_id, "member")?, Some(self::role(&role)?), None).await?;
        go(&format!("/orgs/{org_id}/members?notice=role_changed"))
    })
    .await
}

#[server(prefix = "/rpc", endpoint = "remove_member")]
pub async fn remove_member(org_id: String, user_id: String) -> Result<(), AppError> {
    in_org(&org_id, |app, scope| async move {
        let org_id = scope.org_id();
        members::remove(&app, &scope, id(&user_id, "member")?).await?;
        go(&format!("/orgs/{org_id}/members?notice=member_removed"))
    })
    .await
}

#[server(prefix = "/rpc", endpoint = "transfer_ownership")]
pub async fn transfer_ownership(org_id: String, user_id: String) -> Result<(), AppError> {
    in_org(&org_id, |app, scope| async move {
        let org_id = scope.org_id();
        members::transfer_ownership(&app, &scope, id(&user_id, "member")?).await?;
        go(&format!("/orgs/{org_id}/members?notice=ownership_transferred"))
    })
    .await
}

#[server(prefix = "/rpc", endpoint = "leave_org")]
pub async fn leave_org(org_id: String) -> Result<(), AppError> {
    in_org(&org_id, |app, scope| async move {
        members::leave(&app, &scope).await?;
        go("/orgs?notice=left")
    })
    .await
}
