//! Server functions for the audit log page: the entries and the verification of their hash chain.
//! Each authorizes membership of the organization (404 otherwise) and calls one service function,
//! which checks the permission the operation needs.
use crate::shared::{
    accounts::Page,
    audit::{AuditEntry, ChainStatus},
    error::AppError,
};
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use {
    super::ssr::{given, in_org},
    crate::server::service::audit,
};

#[server(prefix = "/rpc", endpoint = "audit_logs")]
pub async fn audit_logs(
    org_id: String,
    action: Option<String>,
    cursor: Option<String>,
) -> Result<Page<AuditEntry>, AppError> {
    in_org(&org_id, |app, scope| async move {
        let query = audit::Query { action: given(action), cursor: given(cursor), ..Default::default() };
        audit::list(app.db.pool(), &scope, &query).await
    })
    .await
}

#[server(prefix = "/rpc", endpoint = "verify_audit")]
pub async fn verify_audit(org_id: String) -> Result<ChainStatus, AppError> {
    in_org(&org_id, |app, scope| async move { audit::verify(app.db.pool(), &scope).await }).await
}
