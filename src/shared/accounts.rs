//! What the account pages and `/api/v1/me` exchange.
use crate::shared::ids::{OrgId, SessionId, SsoConnectionId, UserId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The signed-in user as shown to themselves.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Me {
    pub id: UserId,
    pub email: String,
    pub name: String,
    pub email_verified: bool,
    pub created_at: DateTime<Utc>,
}

/// A sign-in method at an organization's identity provider, linked to the current user's account.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LinkedIdentity {
    pub id: String,
    /// The person's identifier at the provider (OIDC `sub`, SAML NameID, LDAP entry DN).
    pub subject: String,
    pub connection_id: SsoConnectionId,
    pub connection_name: String,
    /// `oidc`, `saml` or `ldap`.
    pub kind: String,
    pub organization_id: OrgId,
    pub organization_name: String,
    pub linked_at: DateTime<Utc>,
    pub last_used_at: DateTime<Utc>,
}

/// How a session signed in.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignInMethod {
    Password,
    Oidc,
    Saml,
    Ldap,
}

#[cfg(feature = "ssr")]
crate::shared::columns::text_column!(enums: SignInMethod);

impl SignInMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            SignInMethod::Password => "password",
            SignInMethod::Oidc => "oidc",
            SignInMethod::Saml => "saml",
            SignInMethod::Ldap => "ldap",
        }
    }

    pub fn parse(raw: &str) -> Option<SignInMethod> {
        [SignInMethod::Password, SignInMethod::Oidc, SignInMethod::Saml, SignInMethod::Ldap]
            .into_iter()
            .find(|m| m.as_str() == raw)
    }

    pub fn label(self) -> &'static str {
        match self {
            SignInMethod::Password => "Password",
            SignInMethod::Oidc => "OpenID Connect",
            SignInMethod::Saml => "SAML",
            SignInMethod::Ldap => "LDAP",
        }
    }
}

/// One active sign-in of the current user.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionInfo {
    pub id: SessionId,
    pub current: bool,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub method: SignInMethod,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// A page of results: `next_cursor` is opaque and absent on the last page.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Page<T> {
    pub data: Vec<T>,
    pub next_cursor: Option<String>,
}

/// A message in the development outbox (used when no SMTP server is configured).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct OutboxEmail {
    pub id: crate::shared::ids::EmailId,
    #[cfg_attr(feature = "ssr", sqlx(rename = "to_address"))]
    pub to: String,
    pub subject: String,
    #[cfg_attr(feature = "ssr", sqlx(rename = "body_text"))]
    pub body: String,
    #[cfg_attr(feature = "ssr", sqlx(try_from = "crate::shared::columns::Millis"))]
    pub created_at: DateTime<Utc>,
    #[cfg_attr(feature = "ssr", sqlx(try_from = "crate::shared::columns::MaybeMillis"))]
    pub sent_at: Option<DateTime<Utc>>,
    pub attempts: i64,
    pub last_error: Option<String>,
}
