//! The development outbox: while no SMTP server is configured (and the public URL is not https),
//! sent mail stays readable at /dev/outbox — but only from this machine, directly (not through a
//! proxy), since it holds sign-in links.
use crate::server::{auth::principal::ClientMeta, db, pagination, state::AppState};
use crate::shared::{
    accounts::{OutboxEmail, Page},
    error::AppError,
};

pub async fn list(app: &AppState, client: &ClientMeta, cursor: Option<&str>) -> Result<Page<OutboxEmail>, AppError> {
    if !app.config.dev_outbox() || !client.is_loopback() {
        return Err(AppError::not_found("page"));
    }
    let limit = pagination::DEFAULT_LIMIT;
    let before = cursor.map(pagination::decode).transpose()?;
    let mut rows = db::emails::list_recent(app.db.pool(), before, limit + 1).await?;
    let next_cursor = pagination::finish(&mut rows, limit, |m| (db::to_millis(m.created_at), m.id.to_string()));
    Ok(Page { data: rows, next_cursor })
}
