//! Server functions for the single sign-on page's identity-provider connections (create, test,
//! enable or disable, refresh SAML metadata, delete; the organization's email domains are in
//! `domains`). Each authorizes membership and calls one service function, which checks `sso:write`.
// The create forms post each field as an argument; `#[server]` does not pass an item-level allow
// on to the function it generates for the browser.
#![allow(clippy::too_many_arguments)]
use crate::shared::{
    accounts::Page,
    error::AppError,
    sso::{ConnectionTest, SsoConnection},
};
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use {
    super::ssr::{given, id, in_org, page, scope},
    super::ssr::{go, respond},
    crate::server::service::{
        orgs,
        sso::{
            self,
            input::{NewConnection, NewLdap, NewOidc, NewSaml, TestCredentials},
        },
    },
    crate::shared::values::enc,
    crate::shared::{
        roles::Role,
        sso::{OidcPreset, RoleMapping},
    },
};

/// The most connections the domain form offers to choose from (the API's largest page).
#[cfg(feature = "ssr")]
const CHOICES: i64 = 200;

#[server(prefix = "/rpc", endpoint = "sso_connections")]
pub async fn sso_connections(org_id: String, cursor: Option<String>) -> Result<Page<SsoConnection>, AppError> {
    in_org(&org_id, |app, scope| async move { sso::connections::list(&app, &scope, &page(cursor)?).await }).await
}

/// The connections a domain can be routed to (one page of the largest size).
#[server(prefix = "/rpc", endpoint = "sso_connection_choices")]
pub async fn sso_connection_choices(org_id: String) -> Result<Vec<SsoConnection>, AppError> {
    in_org(&org_id, |app, scope| async move {
        Ok(sso::connections::list(&app, &scope, &crate::server::pagination::PageRequest::parse(Some(CHOICES), None)?)
            .await?
            .data)
    })
    .await
}

/// The redirect URI every OIDC connection registers at its provider.
#[server(prefix = "/rpc", endpoint = "oidc_redirect_uri")]
pub async fn oidc_redirect_uri(org_id: String) -> Result<String, AppError> {
    respond(
        async {
            let (app, _) = scope(&org_id).await?;
            Ok(sso::oidc::redirect_uri(&app))
        }
        .await,
    )
}

/// `preset` is empty for a generic issuer, `google` or `microsoft`; `role_mapping` holds one
/// `group = role` per line.
#[server(prefix = "/rpc", endpoint = "create_oidc_connection")]
pub async fn create_oidc_connection(
    org_id: String,
    name: String,
    preset: Option<String>,
    issuer: Option<String>,
    tenant: Option<String>,
    client_id: String,
    client_secret: String,
    default_role: String,
    role_mapping: Option<String>,
) -> Result<SsoConnection, AppError> {
    in_org(&org_id, |app, scope| async move {
        let org_id = scope.org_id();
        let new = NewOidc {
            name,
            preset: parse_preset(given(preset).as_deref())?,
            issuer: given(issuer),
            tenant: given(tenant),
            client_id,
            client_secret,
            default_role: Some(parse_role("default_role", &default_role)?),
            role_mapping: parse_mapping(role_mapping.as_deref().unwrap_or_default())?,
            enabled: None,
        };
        let created = sso::connections::create(&app, &scope, NewConnection::Oidc(new)).await?;
        go(&format!("/orgs/{org_id}/sso?notice=connection_created"))?;
        Ok(created)
    })
    .await
}

/// Empty `user_filter` and `group_attribute` take their defaults.
#[server(prefix = "/rpc", endpoint = "create_ldap_connection")]
pub async fn create_ldap_connection(
    org_id: String,
    name: String,
    url: String,
    bind_dn: String,
    bind_password: String,
    base_dn: String,
    user_filter: Option<String>,
    group_attribute: Option<String>,
    default_role: String,
    role_mapping: Option<String>,
) -> Result<SsoConnection, AppError> {
    in_org(&org_id, |app, scope| async move {
        let org_id = scope.org_id();
        let new = NewLdap {
            name,
            url,
            bind_dn,
            bind_password,
            base_dn,
            user_filter: given(user_filter),
            group_attribute: given(group_attribute),
            default_role: Some(parse_role("default_role", &default_role)?),
            role_mapping: parse_mapping(role_mapping.as_deref().unwrap_or_default())?,
            enabled: None,
        };
        let created = sso::connections::create(&app, &scope, NewConnection::Ldap(new)).await?;
        go(&format!("/orgs/{org_id}/sso?notice=connection_created"))?;
        Ok(created)
    })
    .await
}

/// A SAML connection from the IdP's metadata URL or pasted XML (the XML wins when both are given);
/// `allow_idp_initiated` is a checkbox ("on" when ticked).
#[server(prefix = "/rpc", endpoint = "create_saml_connection")]
pub async fn create_saml_connection(
    org_id: String,
    name: String,
    idp_metadata_url: Option<String>,
    idp_metadata_xml: Option<String>,
    allow_idp_initiated: Option<String>,
    default_role: String,
    role_mapping: Option<String>,
) -> Result<SsoConnection, AppError> {
    in_org(&org_id, |app, scope| async move {
        let org_id = scope.org_id();
        let new = NewSaml {
            name,
            idp_metadata_xml: given(idp_metadata_xml),
            idp_metadata_url: given(idp_metadata_url),
            allow_idp_initiated: Some(allow_idp_initiated.is_some()),
            default_role: Some(parse_role("default_role", &default_role)?),
            role_mapping: parse_mapping(role_mapping.as_deref().unwrap_or_default())?,
            enabled: None,
        };
        let created = sso::connections::create(&app, &scope, NewConnection::Saml(new)).await?;
        go(&format!("/orgs/{org_id}/sso?notice=connection_created"))?;
        Ok(created)
    })
    .await
}

/// Turns a connection on (`enabled` = "true") or off.
#[server(prefix = "/rpc", endpoint = "set_connection_enabled")]
pub async fn set_connection_enabled(
    org_id: String,
    connection_id: String,
    enabled: String,
) -> Result<SsoConnection, AppError> {
    in_org(&org_id, |app, scope| async move {
        let org_id = scope.org_id();
        let patch = sso::input::ConnectionPatch { enabled: Some(enabled == "true"), ..Default::default() };
        let changed = sso::connections::update(&app, &scope, id(&connection_id, "sso_connection")?, patch).await?;
        let notice = if changed.enabled { "connection_enabled" } else { "connection_disabled" };
        go(&format!("/orgs/{org_id}/sso?notice={notice}"))?;
        Ok(changed)
    })
    .await
}

/// **Refresh metadata** of a SAML connection given by URL: fetches it again (a rotated signing
/// certificate, a moved sign-in URL).
#[server(prefix = "/rpc", endpoint = "refresh_saml_metadata")]
pub async fn refresh_saml_metadata(org_id: String, connection_id: String) -> Result<SsoConnection, AppError> {
    in_org(&org_id, |app, scope| async move {
        let org_id = scope.org_id();
        let patch = sso::input::ConnectionPatch { refresh_metadata: Some(true), ..Default::default() };
        let refreshed = sso::connections::update(&app, &scope, id(&connection_id, "sso_connection")?, patch).await?;
        go(&format!("/orgs/{org_id}/sso?notice=metadata_refreshed"))?;
        Ok(refreshed)
    })
    .await
}

#[server(prefix = "/rpc", endpoint = "delete_connection")]
pub async fn delete_connection(org_id: String, connection_id: String) -> Result<(), AppError> {
    in_org(&org_id, |app, scope| async move {
        let org_id = scope.org_id();
        sso::connections::remove(&app, &scope, id(&connection_id, "sso_connection")?).await?;
        go(&format!("/orgs/{org_id}/sso?notice=connection_deleted"))
    })
    .await
}

/// **Test connection**. The outcome also travels in the address it sends the browser to, so the
/// page shows it without JavaScript (next to the connection tested).
#[server(prefix = "/rpc", endpoint = "test_connection")]
pub async fn test_connection(
    org_id: String,
    connection_id: String,
    username: Option<String>,
    password: Option<String>,
) -> Result<ConnectionTest, AppError> {
    in_org(&org_id, |app, scope| async move {
        let org_id = scope.org_id();
        let credentials = TestCredentials { username: given(username), password: given(password) };
        let tested = sso::connections::test(&app, &scope, id(&connection_id, "sso_connection")?, credentials).await?;
        let (ok, message) = (u8::from(tested.ok), enc(&tested.message));
        let connection = enc(&connection_id);
        go(&format!(
            "/orgs/{org_id}/sso?tested={connection}&test_ok={ok}&test_message={message}#connection-{connection}"
        ))?;
        Ok(tested)
    })
    .await
}

/// The organization's `sso_enabled` setting: sign-ins through its connections work only while on.
#[server(prefix = "/rpc", endpoint = "set_sso_enabled")]
pub async fn set_sso_enabled(org_id: String, enabled: String) -> Result<(), AppError> {
    in_org(&org_id, |app, scope| async move {
        let org_id = scope.org_id();
        let patch = orgs::OrgPatch { sso_enabled: Some(enabled == "true"), ..Default::default() };
        orgs::update(&app, &scope, patch).await?;
        go(&format!("/orgs/{org_id}/sso?notice=settings_saved"))
    })
    .await
}

#[cfg(feature = "ssr")]
fn parse_role(field: &str, raw: &str) -> Result<Role, AppError> {
    Role::parse(raw).ok_or_else(|| AppError::invalid_field(field, "Choose one of the roles offered."))
}

#[cfg(feature = "ssr")]
fn parse_preset(raw: Option<&str>) -> Result<Option<OidcPreset>, AppError> {
    match raw {
        None => Ok(None),
        Some("google") => Ok(Some(OidcPreset::Google)),
        Some("microsoft") => Ok(Some(OidcPreset::Microsoft)),
        Some(_) => Err(AppError::invalid_field("preset", "Choose one of the providers offered.")),
    }
}

/// One `group = role` per line; blank lines and lines starting with `#` are skipped. The role is
/// after the last `=`, so a group may be a DN (`cn=admins,ou=groups,dc=example,dc=com = admin`).
#[cfg(feature = "ssr")]
fn parse_mapping(raw: &str) -> Result<Vec<RoleMapping>, AppError> {
    raw.lines()
        .enumerate()
        .map(|(i, line)| (i + 1, line.trim()))
        .filter(|(_, line)| !line.is_empty() && !line.starts_with('#'))
        .map(|(number, line)| {
            let bad = || {
                AppError::invalid_field(
                    "role_mapping",
                    &format!("Line {number} (“{line}”): write group = role, with role viewer, member or admin."),
                )
            };
            let (group, role) = line.rsplit_once('=').ok_or_else(bad)?;
            let (group, role) = (group.trim(), Role::parse(role).ok_or_else(bad)?);
            if group.is_empty() {
                return Err(bad());
            }
            Ok(RoleMapping { group: group.to_owned(), role })
        })
        .collect()
}

#[cfg(all(test, feature = "ssr"))]
mod tests {
    use super::parse_mapping;
    use crate::shared::roles::Role;

    #[test]
    fn mappings_are_one_per_line() {
        let parsed =
            parse_mapping("gh-admins = admin\n\n# comment\n  cn=dev,ou=groups,dc=example = Member \n").unwrap();
        assert_eq!(parsed.len(), 2);
        assert_eq!((parsed[0].group.as_str(), parsed[0].role), ("gh-admins", Role::Admin));
        assert_eq!((parsed[1].group.as_str(), parsed[1].role), ("cn=dev,ou=groups,dc=example", Role::Member));
        assert!(parse_mapping("").unwrap().is_empty());
        for bad in ["admins", "admins = boss", " = admin", "a\nb = viewer"] {
            let error = parse_mapping(bad).unwrap_err();
            assert_eq!(error.field(), Some("role_mapping"), "{bad:?}");
        }
        assert!(parse_mapping("x = admin\nnope").unwrap_err().message.starts_with("Line 2"));
    }
}
