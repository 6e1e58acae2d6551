//! Members of an organization as the API and dashboard show them.
use crate::shared::{
    accounts::SignInMethod,
    ids::UserId,
    roles::{Permission, Role},
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The answer to removing a member (or leaving).
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemberRemoved {
    /// The API keys they created here: these stopped working with the removal, until an Owner
    /// takes them over (`POST .../api-keys/{key}/reassign`) or revokes them.
    pub affected_api_keys: Vec<crate::shared::api_keys::KeyRef>,
}

#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema, sqlx::FromRow))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Member {
    pub user_id: UserId,
    pub name: String,
    pub email: String,
    pub role: Role,
    /// Extra grants on top of the role.
    #[cfg_attr(feature = "ssr", sqlx(try_from = "crate::shared::columns::Grants"))]
    pub permissions: Vec<Permission>,
    #[cfg_attr(feature = "ssr", sqlx(try_from = "crate::shared::columns::Millis"))]
    pub joined_at: DateTime<Utc>,
    /// How the member's most recent live session signed in (password, OIDC, SAML, LDAP).
    pub last_sign_in_method: Option<SignInMethod>,
}
