//! Single sign-on connections as the API and the pages show them. Secrets (OIDC client secrets,
//! LDAP bind passwords) are write-only: no type here carries one.
use crate::shared::{
    ids::{OrgId, SsoConnectionId},
    roles::Role,
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ConnectionKind {
    Oidc,
    Saml,
    Ldap,
}

impl ConnectionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectionKind::Oidc => "oidc",
            ConnectionKind::Saml => "saml",
            ConnectionKind::Ldap => "ldap",
        }
    }

    pub fn parse(raw: &str) -> Option<ConnectionKind> {
        [ConnectionKind::Oidc, ConnectionKind::Saml, ConnectionKind::Ldap].into_iter().find(|k| k.as_str() == raw)
    }
}

/// People in `group` at the identity provider get `role`; the highest matching role wins.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RoleMapping {
    /// A group name as the identity provider sends it (an OIDC `groups` value, or an LDAP group
    /// DN or its first RDN value, e.g. `gh-admins` for `cn=gh-admins,ou=groups,dc=example,dc=com`).
    pub group: String,
    pub role: Role,
}

/// Well-known OIDC providers whose issuer Gatehouse knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum OidcPreset {
    /// `https://accounts.google.com`.
    Google,
    /// Microsoft Entra ID; multi-tenant unless a tenant id is given (the issuer is then checked
    /// against the token's `tid` claim).
    Microsoft,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct OidcSettings {
    /// The provider's issuer; its discovery document is `{issuer}/.well-known/openid-configuration`.
    pub issuer: String,
    pub client_id: String,
    pub preset: Option<OidcPreset>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct LdapSettings {
    /// `ldaps://host[:port]`, or `ldap://host[:port]` (upgraded with StartTLS unless the operator
    /// allows plain connections to private addresses).
    pub url: String,
    /// The service account that searches for users.
    pub bind_dn: String,
    pub base_dn: String,
    /// A filter with `{username}` where the typed name goes (escaped), e.g. `(uid={username})`.
    pub user_filter: String,
    /// The user attribute listing their groups, e.g. `memberOf`.
    pub group_attribute: String,
}

/// A SAML connection: the IdP's values (from its metadata) and ours, to give the IdP.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SamlSettings {
    pub idp_entity_id: String,
    /// Where sign-ins are sent (HTTP-Redirect binding).
    pub idp_sso_url: String,
    /// Where the metadata was fetched from, if it was given by URL (refresh fetches it again).
    pub idp_metadata_url: Option<String>,
    /// Accept responses the IdP sends unasked (off by default).
    pub allow_idp_initiated: bool,
    /// Our entity id (the Audience the IdP must name), which is also our metadata's URL.
    pub sp_entity_id: String,
    /// Our Assertion Consumer Service (HTTP-POST binding): the Recipient and Destination.
    pub acs_url: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SsoConnection {
    #[cfg_attr(feature = "ssr", schema(value_type = String, format = Uuid))]
    pub id: SsoConnectionId,
    #[cfg_attr(feature = "ssr", schema(value_type = String, format = Uuid))]
    pub organization_id: OrgId,
    #[serde(rename = "type")]
    pub kind: ConnectionKind,
    pub name: String,
    /// Sign-ins through a disabled connection are refused.
    pub enabled: bool,
    /// The role of people no mapping matches.
    pub default_role: Role,
    pub role_mapping: Vec<RoleMapping>,
    pub oidc: Option<OidcSettings>,
    pub ldap: Option<LdapSettings>,
    pub saml: Option<SamlSettings>,
    /// For OIDC: the redirect URI to register at the provider.
    pub redirect_uri: Option<String>,
    /// Where a browser starts a sign-in through this connection.
    pub sign_in_url: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The result of **Test connection**, in plain words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ConnectionTest {
    pub ok: bool,
    pub message: String,
}
