//! Server function for the usage page.
use crate::shared::{error::AppError, usage::UsageReport};
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use {
    super::ssr::{respond, scope},
    crate::server::service::usage,
};

#[server(prefix = "/rpc", endpoint = "usage")]
pub async fn usage(org_id: String, hours: Option<i64>) -> Result<UsageReport, AppError> {
    respond(
        async {
            let (app, scope) = scope(&org_id).await?;
            usage::report(&app, &scope, hours).await
        }
        .await,
    )
}
