//! Which connection an address signs in with: the one its verified domain routes to.
use crate::server::{
    db::{self, sso::ConnectionRow},
    state::AppState,
};
use crate::shared::{
    error::AppError,
    ids::{OrgId, SsoConnectionId},
    values::EmailAddress,
};

/// Where `/sso/start?email=` goes: the connection of the organization that verified the address's
/// domain and chose one for it.
pub async fn connection_for_email(app: &AppState, raw: &str) -> Result<Option<SsoConnectionId>, AppError> {
    let email = EmailAddress::parse(raw)?;
    let mut tx = app.db.begin_snapshot().await?;
    Ok(db::domains::sso_rule(&mut tx, email.domain()).await?.and_then(|rule| rule.connection_id))
}

/// For the domain PATCH: the connection must be this organization's.
pub async fn connection_in_org(tx: &mut db::Tx, org: OrgId, id: SsoConnectionId) -> Result<ConnectionRow, AppError> {
    db::sso::get(tx, org, id)
        .await?
        .ok_or_else(|| AppError::invalid_field("connection_id", "No SSO connection of this organization has that id."))
}
