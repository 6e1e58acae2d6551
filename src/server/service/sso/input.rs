//! What an administrator sends to create or change a connection, and its parsing: names, role
//! mappings within the caller's rank, issuers, directory settings.
use super::ldap;
use crate::server::{
    authz::OrgScope,
    db::sso::ConnectionRow,
    error::{internal, parse_json},
    state::AppState,
};
use crate::shared::{
    error::{AppError, ErrorCode},
    roles::{may_assign, Role},
    sso::{LdapSettings, OidcPreset, OidcSettings, RoleMapping},
};
use serde::Deserialize;

/// A new connection; the body's `type` picks the variant.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum NewConnection {
    Oidc(NewOidc),
    Ldap(NewLdap),
    Saml(NewSaml),
}

impl NewConnection {
    /// Reads `type`, then the body as that kind. (serde's internally tagged enums lose the path of
    /// a failing field, so an invalid `default_role` could not be named in `details.field`.)
    pub fn from_json(mut body: serde_json::Value) -> Result<NewConnection, AppError> {
        let kind = body.get("type").and_then(|t| t.as_str()).unwrap_or_default().to_owned();
        if let Some(fields) = body.as_object_mut() {
            fields.remove("type");
        }
        let bytes = serde_json::to_vec(&body).map_err(internal)?;
        match kind.as_str() {
            "oidc" => parse_json(&bytes).map(NewConnection::Oidc),
            "ldap" => parse_json(&bytes).map(NewConnection::Ldap),
            "saml" => parse_json(&bytes).map(NewConnection::Saml),
            _ => Err(AppError::invalid_field("type", "Set type to oidc, saml or ldap.")),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewOidc {
    pub name: String,
    /// `google` or `microsoft` fill in the issuer; otherwise give `issuer`.
    pub preset: Option<OidcPreset>,
    pub issuer: Option<String>,
    /// Microsoft only: a tenant id or domain to accept only that tenant (default: any work account).
    pub tenant: Option<String>,
    pub client_id: String,
    /// Stored encrypted; never returned.
    pub client_secret: String,
    pub default_role: Option<Role>,
    #[serde(default)]
    pub role_mapping: Vec<RoleMapping>,
    pub enabled: Option<bool>,
}

#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewLdap {
    pub name: String,
    pub url: String,
    pub bind_dn: String,
    /// Stored encrypted; never returned.
    pub bind_password: String,
    pub base_dn: String,
    /// Default `(uid={username})`.
    pub user_filter: Option<String>,
    /// Default `memberOf`.
    pub group_attribute: Option<String>,
    pub default_role: Option<Role>,
    #[serde(default)]
    pub role_mapping: Vec<RoleMapping>,
    pub enabled: Option<bool>,
}

#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewSaml {
    pub name: String,
    /// The IdP's metadata document (give this or `idp_metadata_url`). It must hold a signing
    /// certificate and an HTTP-Redirect SingleSignOnService.
    pub idp_metadata_xml: Option<String>,
    /// Where to fetch the metadata (https; fetched now and on `refresh_metadata`).
    pub idp_metadata_url: Option<String>,
    /// Accept responses the IdP sends unasked. Off by default: only answers to our requests count.
    pub allow_idp_initiated: Option<bool>,
    pub default_role: Option<Role>,
    #[serde(default)]
    pub role_mapping: Vec<RoleMapping>,
    pub enabled: Option<bool>,
}

/// Changes to a connection; absent fields stay. Fields of the other kind are refused.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ConnectionPatch {
    pub name: Option<String>,
    pub enabled: Option<bool>,
    pub default_role: Option<Role>,
    pub role_mapping: Option<Vec<RoleMapping>>,
    pub issuer: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub url: Option<String>,
    pub bind_dn: Option<String>,
    pub bind_password: Option<String>,
    pub base_dn: Option<String>,
    pub user_filter: Option<String>,
    pub group_attribute: Option<String>,
    pub idp_metadata_xml: Option<String>,
    pub idp_metadata_url: Option<String>,
    pub allow_idp_initiated: Option<bool>,
    /// SAML: fetch the metadata again from `idp_metadata_url` (new certificates, endpoints).
    pub refresh_metadata: Option<bool>,
}

/// For **Test connection** on an LDAP connection: also try this person's credentials.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct TestCredentials {
    pub username: Option<String>,
    pub password: Option<String>,
}

pub(super) const MAX_NAME: usize = 100;
pub(super) const MAX_MAPPINGS: usize = 100;
pub(super) const GOOGLE_ISSUER: &str = "https://accounts.google.com";

pub(super) fn required(field: &str, value: &str, what: &str) -> Result<String, AppError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(AppError::invalid_field(field, &format!("Enter {what}.")));
    }
    if value.len() > 2048 {
        return Err(AppError::invalid_field(field, &format!("{what} is too long (2,048 characters at most).")));
    }
    Ok(value.to_owned())
}

pub(super) fn parse_name(raw: &str) -> Result<String, AppError> {
    let name = required("name", raw, "a name for the connection")?;
    if name.chars().count() > MAX_NAME {
        return Err(AppError::invalid_field("name", "Use at most 100 characters."));
    }
    Ok(name)
}

pub(super) fn parse_mapping(mapping: Vec<RoleMapping>) -> Result<Vec<RoleMapping>, AppError> {
    if mapping.len() > MAX_MAPPINGS {
        return Err(AppError::invalid_field("role_mapping", "Use at most 100 mappings."));
    }
    mapping
        .into_iter()
        .map(|m| {
            if m.role == Role::Owner {
                return Err(AppError::invalid_field(
                    "role_mapping",
                    "A group cannot make people owners; transfer ownership instead.",
                ));
            }
            Ok(RoleMapping { group: required("role_mapping", &m.group, "a group name")?, role: m.role })
        })
        .collect()
}

pub(super) fn parse_default_role(role: Option<Role>) -> Result<Role, AppError> {
    match role.unwrap_or(Role::Member) {
        Role::Owner => Err(AppError::invalid_field("default_role", "Single sign-on cannot make people owners.")),
        role => Ok(role),
    }
}

/// A connection hands out the roles it grants to whoever its IdP vouches for, so configuring one
/// follows the rank rules of invitations: only an Owner may configure a connection that grants
/// Admin (and nobody one that grants Owner, refused earlier).
pub(super) fn check_grants(scope: &OrgScope, row: &ConnectionRow) -> Result<(), AppError> {
    let granted = std::iter::once(row.default_role).chain(row.role_mapping.iter().map(|m| m.role));
    match granted.filter(|role| !may_assign(scope.role(), None, *role)).max() {
        Some(role) => Err(AppError::forbidden(
            ErrorCode::InsufficientRank,
            format!(
                "Only an Owner can configure a connection that grants the {} role (its default role or a group mapping).",
                role.label()
            ),
        )
        .with_detail("field", if row.default_role == role { "default_role" } else { "role_mapping" })),
        None => Ok(()),
    }
}

pub(super) fn parse_issuer(app: &AppState, raw: &str) -> Result<String, AppError> {
    let issuer = required("issuer", raw, "the provider's issuer URL")?;
    app.sso_http.check_url(&issuer).map_err(|why| AppError::invalid_field("issuer", &why))?;
    Ok(issuer.trim_end_matches('/').to_owned())
}

pub(super) fn parse_ldap(app: &AppState, new: &NewLdap) -> Result<LdapSettings, AppError> {
    let user_filter = new.user_filter.as_deref().unwrap_or("(uid={username})");
    Ok(LdapSettings {
        url: ldap::parse_url(app, &new.url)?,
        bind_dn: required("bind_dn", &new.bind_dn, "the service account's DN")?,
        base_dn: required("base_dn", &new.base_dn, "the base DN to search")?,
        user_filter: ldap::parse_filter(user_filter)?,
        group_attribute: required(
            "group_attribute",
            new.group_attribute.as_deref().unwrap_or("memberOf"),
            "the group attribute",
        )?,
    })
}

pub(crate) fn oidc_settings(row: &ConnectionRow) -> Result<OidcSettings, AppError> {
    serde_json::from_value(row.settings.clone()).map_err(|e| internal(format!("stored OIDC settings: {e}")))
}

pub(crate) fn ldap_settings(row: &ConnectionRow) -> Result<LdapSettings, AppError> {
    serde_json::from_value(row.settings.clone()).map_err(|e| internal(format!("stored LDAP settings: {e}")))
}

/// The client secret or bind password.
pub(crate) fn secret_of(app: &AppState, row: &ConnectionRow) -> Result<String, AppError> {
    let sealed = row.sealed_secret.as_deref().ok_or_else(|| internal("connection without a secret"))?;
    app.secrets.open(sealed).map_err(|e| internal(format!("cannot decrypt a connection secret: {e}")))
}
