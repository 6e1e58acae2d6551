//! The development outbox: while no SMTP server is configured (and the public URL is not https),
//! sent mail stays readable at /dev/outbox — but only from this machine, directly (not through a
//! proxy), since it holds sign-in links.
use crate::server::{auth::principal::ClientMeta, db, pagination::PageRequest, state::AppState};
use crate::shared::{
    accounts::{OutboxEmail, Page},
    error::AppError,
};

pub async fn list(app: &AppState, client: &ClientMeta, cursor: Option<&str>) -> Result<Page<OutboxEmail>, AppError> {
    if !app.config.dev_outbox() || !client.is_loopback() {
        return Err(AppError::not_found("page"));
    }
    let page = PageRequest::parse(None, cursor)?;
    let rows = db::emails::list_recent(app.db.pool(), &page).await?;
    Ok(page.finish(rows, |m| (db::to_millis(m.created_at), m.id.to_string())))
}
