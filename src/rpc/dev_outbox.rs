//! Server function for the development outbox page.
use crate::shared::{
    accounts::{OutboxEmail, Page},
    error::AppError,
};
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use super::ssr::{app, client, respond};

/// The development outbox: only while no SMTP server is configured, and only to this machine.
#[server(prefix = "/rpc", endpoint = "dev_outbox")]
pub async fn dev_outbox(cursor: Option<String>) -> Result<Page<OutboxEmail>, AppError> {
    respond(
        async {
            let app = app()?;
            crate::server::service::outbox::list(&app, &client().await?, cursor.as_deref().filter(|c| !c.is_empty()))
                .await
        }
        .await,
    )
}
