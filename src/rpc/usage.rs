//! Server function for the usage page.
use crate::shared::{error::AppError, usage::UsageReport};
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use {super::ssr::in_org, crate::server::service::usage};

#[server(prefix = "/rpc", endpoint = "usage")]
pub async fn usage(org_id: String, hours: Option<i64>) -> Result<UsageReport, AppError> {
    in_org(&org_id, |app, scope| async move { usage::report(&app, &scope, hours).await }).await
}
