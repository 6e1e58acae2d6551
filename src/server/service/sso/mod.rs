//! Single sign-on: an organization's connections to its identity providers (`oidc`, `ldap`), and
//! what happens once a provider vouches for someone (`complete`): find the user by their IdP
//! identity or create them (JIT), give them the mapped role, start a session. A refused sign-in
//! says why in plain words and leaves an `sso.login_failed` entry in the organization's audit log.
pub mod ldap;
pub mod linking;
pub mod oidc;
pub mod saml;

use crate::server::{
    auth::{principal::ClientMeta, throttle},
    authz::{Actor, OrgScope},
    db::{self, sessions::SessionRow, sso::ConnectionRow, users::UserRow},
    error::{internal, parse_json},
    pagination::PageRequest,
    service::audit::{self, Event},
    state::AppState,
};
use crate::shared::{
    accounts::{Page, SignInMethod},
    error::{AppError, ErrorKind},
    ids::{OrgId, SsoConnectionId},
    roles::{may_assign, Permission, Role},
    sso::{ConnectionKind, ConnectionTest, LdapSettings, OidcPreset, OidcSettings, RoleMapping, SsoConnection},
    values::EmailAddress,
};
use serde::Deserialize;
use serde_json::json;

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

/// What an identity provider said about the person signing in.
#[derive(Debug, Clone, Default)]
pub struct IdpIdentity {
    /// Stable at the provider (OIDC `sub`, LDAP entry DN).
    pub subject: String,
    pub email: Option<String>,
    /// Whether the provider vouches for the address (OIDC `email_verified`; LDAP: the directory's
    /// own data, trusted only on the organization's verified domains).
    pub email_verified: bool,
    pub name: Option<String>,
    pub groups: Vec<String>,
}

const MAX_NAME: usize = 100;
const MAX_MAPPINGS: usize = 100;
const GOOGLE_ISSUER: &str = "https://accounts.google.com";

fn not_found() -> AppError {
    AppError::not_found("sso_connection")
}

fn required(field: &str, value: &str, what: &str) -> Result<String, AppError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(AppError::invalid_field(field, &format!("Enter {what}.")));
    }
    if value.len() > 2048 {
        return Err(AppError::invalid_field(field, &format!("{what} is too long (2,048 characters at most).")));
    }
    Ok(value.to_owned())
}

fn parse_name(raw: &str) -> Result<String, AppError> {
    let name = required("name", raw, "a name for the connection")?;
    if name.chars().count() > MAX_NAME {
        return Err(AppError::invalid_field("name", "Use at most 100 characters."));
    }
    Ok(name)
}

fn parse_mapping(mapping: Vec<RoleMapping>) -> Result<Vec<RoleMapping>, AppError> {
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

fn parse_default_role(role: Option<Role>) -> Result<Role, AppError> {
    match role.unwrap_or(Role::Member) {
        Role::Owner => Err(AppError::invalid_field("default_role", "Single sign-on cannot make people owners.")),
        role => Ok(role),
    }
}

/// A connection hands out the roles it grants to whoever its IdP vouches for, so configuring one
/// follows the rank rules of invitations: only an Owner may configure a connection that grants
/// Admin (and nobody one that grants Owner, refused earlier).
fn check_grants(scope: &OrgScope, row: &ConnectionRow) -> Result<(), AppError> {
    let granted = std::iter::once(row.default_role).chain(row.role_mapping.iter().map(|m| m.role));
    match granted.filter(|role| !may_assign(scope.role(), None, *role)).max() {
        Some(role) => Err(AppError::forbidden(
            "insufficient_rank",
            format!(
                "Only an Owner can configure a connection that grants the {} role (its default role or a group mapping).",
                role.label()
            ),
        )
        .with_detail("field", if row.default_role == role { "default_role" } else { "role_mapping" })),
        None => Ok(()),
    }
}

fn parse_issuer(app: &AppState, raw: &str) -> Result<String, AppError> {
    let issuer = required("issuer", raw, "the provider's issuer URL")?;
    app.sso_http.check_url(&issuer).map_err(|why| AppError::invalid_field("issuer", &why))?;
    Ok(issuer.trim_end_matches('/').to_owned())
}

fn parse_ldap(app: &AppState, new: &NewLdap) -> Result<LdapSettings, AppError> {
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

/// The connection as the API shows it (no secret).
pub fn view(app: &AppState, row: &ConnectionRow) -> Result<SsoConnection, AppError> {
    let (oidc, ldap, saml) = match row.kind {
        ConnectionKind::Oidc => (Some(oidc_settings(row)?), None, None),
        ConnectionKind::Ldap => (None, Some(ldap_settings(row)?), None),
        ConnectionKind::Saml => (None, None, Some(saml::view(app, row)?)),
    };
    Ok(SsoConnection {
        id: row.id,
        organization_id: row.organization_id,
        kind: row.kind,
        name: row.name.clone(),
        enabled: row.enabled,
        default_role: row.default_role,
        role_mapping: row.role_mapping.clone(),
        redirect_uri: oidc.is_some().then(|| oidc::redirect_uri(app)),
        oidc,
        ldap,
        saml,
        sign_in_url: app.config.link(&format!("/sso/start?connection={}", row.id)),
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

pub async fn create(app: &AppState, scope: &OrgScope, new: NewConnection) -> Result<SsoConnection, AppError> {
    scope.require(Permission::SsoWrite)?;
    let now = db::now();
    let (kind, name, settings, secret, default_role, mapping, enabled) = match new {
        NewConnection::Oidc(new) => {
            let issuer = match (new.preset, new.issuer.as_deref()) {
                (Some(OidcPreset::Google), _) => GOOGLE_ISSUER.to_owned(),
                (Some(OidcPreset::Microsoft), _) => oidc::microsoft_issuer(new.tenant.as_deref())?,
                (None, Some(issuer)) => parse_issuer(app, issuer)?,
                (None, None) => return Err(AppError::invalid_field("issuer", "Enter the provider's issuer URL.")),
            };
            let settings = OidcSettings {
                issuer,
                client_id: required("client_id", &new.client_id, "the client id")?,
                preset: new.preset,
            };
            let secret = Some(required("client_secret", &new.client_secret, "the client secret")?);
            (ConnectionKind::Oidc, new.name, json!(settings), secret, new.default_role, new.role_mapping, new.enabled)
        }
        NewConnection::Ldap(new) => {
            let settings = parse_ldap(app, &new)?;
            let secret = Some(required("bind_password", &new.bind_password, "the service account's password")?);
            (ConnectionKind::Ldap, new.name, json!(settings), secret, new.default_role, new.role_mapping, new.enabled)
        }
        NewConnection::Saml(new) => {
            let allow = new.allow_idp_initiated.unwrap_or(false);
            let settings = match (new.idp_metadata_xml.as_deref(), new.idp_metadata_url.as_deref()) {
                (Some(xml), _) => saml::read_metadata("idp_metadata_xml", xml, None, allow)?,
                (None, Some(url)) => {
                    let (url, xml) = saml::fetch_metadata(app, url).await?;
                    saml::read_metadata("idp_metadata_url", &xml, Some(url), allow)?
                }
                (None, None) => {
                    return Err(AppError::invalid_field(
                        "idp_metadata_xml",
                        "Give the IdP's metadata (idp_metadata_xml) or where to fetch it (idp_metadata_url).",
                    ))
                }
            };
            (ConnectionKind::Saml, new.name, json!(settings), None, new.default_role, new.role_mapping, new.enabled)
        }
    };
    let row = ConnectionRow {
        id: SsoConnectionId::new(),
        organization_id: scope.org_id(),
        kind,
        name: parse_name(&name)?,
        enabled: enabled.unwrap_or(true),
        settings,
        sealed_secret: secret.map(|secret| app.secrets.seal(&secret)),
        default_role: parse_default_role(default_role)?,
        role_mapping: parse_mapping(mapping)?,
        created_at: now,
        updated_at: now,
    };
    check_grants(scope, &row)?;
    let mut tx = app.db.begin_write().await?;
    db::orgs::lock(&mut tx, scope.org_id()).await?;
    db::sso::insert(&mut tx, &row).await?;
    audit::record(&mut tx, scope, change_event("sso_connection.created", &row)).await?;
    db::commit(tx).await?;
    view(app, &row)
}

fn change_event<'a>(action: &'a str, row: &ConnectionRow) -> Event<'a> {
    Event {
        action,
        resource_type: "sso_connection",
        resource_id: Some(row.id.to_string()),
        metadata: json!({
            "type": row.kind.as_str(), "name": row.name, "enabled": row.enabled,
            "default_role": row.default_role, "role_mapping": row.role_mapping, "settings": row.settings,
        }),
    }
}

pub async fn list(
    app: &AppState,
    scope: &OrgScope,
    cursor: Option<&str>,
    limit: Option<i64>,
) -> Result<Page<SsoConnection>, AppError> {
    scope.require(Permission::SsoWrite)?;
    let page = PageRequest::parse(limit, cursor)?;
    let rows = db::sso::list(app.db.pool(), scope.org_id(), &page).await?;
    let Page { data: rows, next_cursor } = page.finish(rows, |c| (db::to_millis(c.created_at), c.id.to_string()));
    let data = rows.iter().map(|row| view(app, row)).collect::<Result<_, _>>()?;
    Ok(Page { data, next_cursor })
}

async fn load(app: &AppState, scope: &OrgScope, id: SsoConnectionId) -> Result<ConnectionRow, AppError> {
    scope.require(Permission::SsoWrite)?;
    let mut tx = app.db.begin_snapshot().await?;
    db::sso::get(&mut tx, scope.org_id(), id).await?.ok_or_else(not_found)
}

pub async fn get(app: &AppState, scope: &OrgScope, id: SsoConnectionId) -> Result<SsoConnection, AppError> {
    view(app, &load(app, scope, id).await?)
}

impl ConnectionPatch {
    /// A field given that belongs to another kind of connection: refused rather than ignored.
    fn check_kind(&self, kind: ConnectionKind) -> Result<(), AppError> {
        use ConnectionKind::{Ldap, Oidc, Saml};
        let fields = [
            ("issuer", self.issuer.is_some(), Oidc),
            ("client_id", self.client_id.is_some(), Oidc),
            ("client_secret", self.client_secret.is_some(), Oidc),
            ("url", self.url.is_some(), Ldap),
            ("bind_dn", self.bind_dn.is_some(), Ldap),
            ("bind_password", self.bind_password.is_some(), Ldap),
            ("base_dn", self.base_dn.is_some(), Ldap),
            ("user_filter", self.user_filter.is_some(), Ldap),
            ("group_attribute", self.group_attribute.is_some(), Ldap),
            ("idp_metadata_xml", self.idp_metadata_xml.is_some(), Saml),
            ("idp_metadata_url", self.idp_metadata_url.is_some(), Saml),
            ("allow_idp_initiated", self.allow_idp_initiated.is_some(), Saml),
            ("refresh_metadata", self.refresh_metadata.is_some(), Saml),
        ];
        match fields.into_iter().find(|(_, given, owner)| *given && *owner != kind) {
            Some((field, ..)) => Err(AppError::invalid_field(
                field,
                &format!("{field} does not apply to an {} connection.", kind.as_str().to_uppercase()),
            )),
            None => Ok(()),
        }
    }
}

pub async fn update(
    app: &AppState,
    scope: &OrgScope,
    id: SsoConnectionId,
    patch: ConnectionPatch,
) -> Result<SsoConnection, AppError> {
    scope.require(Permission::SsoWrite)?;
    let fetched = fetch_patched_metadata(app, scope, id, &patch).await?;
    let mut tx = app.db.begin_write().await?;
    db::orgs::lock(&mut tx, scope.org_id()).await?;
    let mut row = db::sso::get(&mut tx, scope.org_id(), id).await?.ok_or_else(not_found)?;
    patch.check_kind(row.kind)?;
    if let Some(name) = &patch.name {
        row.name = parse_name(name)?;
    }
    if let Some(enabled) = patch.enabled {
        row.enabled = enabled;
    }
    if let Some(role) = patch.default_role {
        row.default_role = parse_default_role(Some(role))?;
    }
    if let Some(mapping) = patch.role_mapping.clone() {
        row.role_mapping = parse_mapping(mapping)?;
    }
    let secret = match row.kind {
        ConnectionKind::Oidc => {
            let mut settings = oidc_settings(&row)?;
            if let Some(issuer) = &patch.issuer {
                settings.issuer = parse_issuer(app, issuer)?;
                settings.preset = None;
            }
            if let Some(client_id) = &patch.client_id {
                settings.client_id = required("client_id", client_id, "the client id")?;
            }
            row.settings = json!(settings);
            patch.client_secret.as_deref().map(|s| required("client_secret", s, "the client secret")).transpose()?
        }
        ConnectionKind::Ldap => {
            let settings = ldap_settings(&row)?;
            let merged = NewLdap {
                name: row.name.clone(),
                url: patch.url.clone().unwrap_or(settings.url),
                bind_dn: patch.bind_dn.clone().unwrap_or(settings.bind_dn),
                bind_password: String::new(),
                base_dn: patch.base_dn.clone().unwrap_or(settings.base_dn),
                user_filter: Some(patch.user_filter.clone().unwrap_or(settings.user_filter)),
                group_attribute: Some(patch.group_attribute.clone().unwrap_or(settings.group_attribute)),
                default_role: None,
                role_mapping: Vec::new(),
                enabled: None,
            };
            row.settings = json!(parse_ldap(app, &merged)?);
            patch
                .bind_password
                .as_deref()
                .map(|s| required("bind_password", s, "the service account's password"))
                .transpose()?
        }
        ConnectionKind::Saml => {
            let mut stored = saml::stored(&row)?;
            let allow = patch.allow_idp_initiated.unwrap_or(stored.allow_idp_initiated);
            stored = match (&patch.idp_metadata_xml, fetched) {
                (Some(xml), _) => saml::read_metadata("idp_metadata_xml", xml, None, allow)?,
                (None, Some(fetched)) => {
                    if patch.idp_metadata_url.is_none() && stored.idp_metadata_url != Some(fetched.from.clone()) {
                        return Err(AppError::conflict(
                            "connection_changed",
                            "The connection's metadata URL changed while its metadata was being refreshed; try again.",
                        ));
                    }
                    saml::read_metadata("idp_metadata_url", &fetched.xml, Some(fetched.from), allow)?
                }
                (None, None) => saml::StoredSaml { allow_idp_initiated: allow, ..stored },
            };
            row.settings = json!(stored);
            None
        }
    };
    if let Some(secret) = secret {
        row.sealed_secret = Some(app.secrets.seal(&secret));
    }
    // Checked on the connection as it would be after the change: editing any part of one that
    // grants Admin (its issuer, say) is editing who becomes Admin.
    check_grants(scope, &row)?;
    row.updated_at = db::now();
    db::sso::update(&mut tx, &row).await?;
    let mut event = change_event("sso_connection.updated", &row);
    event.metadata["secret_changed"] = json!(patch.client_secret.is_some() || patch.bind_password.is_some());
    audit::record(&mut tx, scope, event).await?;
    db::commit(tx).await?;
    app.sso_metadata.remove(&row.id);
    view(app, &row)
}

/// Metadata fetched for a SAML patch (a new `idp_metadata_url`, or `refresh_metadata`).
struct FetchedMetadata {
    from: String,
    xml: String,
}

/// Fetches the metadata a patch asks for before `update` opens its transaction, so that a slow
/// identity provider never holds the database's write lock (on SQLite, every writer's).
async fn fetch_patched_metadata(
    app: &AppState,
    scope: &OrgScope,
    id: SsoConnectionId,
    patch: &ConnectionPatch,
) -> Result<Option<FetchedMetadata>, AppError> {
    if patch.idp_metadata_xml.is_some() || (patch.idp_metadata_url.is_none() && patch.refresh_metadata != Some(true)) {
        return Ok(None);
    }
    let mut tx = app.db.begin_snapshot().await?;
    let row = db::sso::get(&mut tx, scope.org_id(), id).await?.ok_or_else(not_found)?;
    drop(tx);
    patch.check_kind(row.kind)?;
    let url = match &patch.idp_metadata_url {
        Some(url) => url.clone(),
        None => saml::stored(&row)?.idp_metadata_url.ok_or_else(|| {
            AppError::invalid_field("refresh_metadata", "This connection's metadata was not given by URL.")
        })?,
    };
    let (from, xml) = saml::fetch_metadata(app, &url).await?;
    Ok(Some(FetchedMetadata { from, xml }))
}

pub async fn remove(app: &AppState, scope: &OrgScope, id: SsoConnectionId) -> Result<(), AppError> {
    scope.require(Permission::SsoWrite)?;
    let mut tx = app.db.begin_write().await?;
    db::orgs::lock(&mut tx, scope.org_id()).await?;
    let row = db::sso::get(&mut tx, scope.org_id(), id).await?.ok_or_else(not_found)?;
    // Domains routed here stop requiring SSO: with nowhere to sign in, their people would be
    // locked out.
    let released = db::domains::release_connection(&mut tx, scope.org_id(), id).await?;
    db::sso::delete(&mut tx, scope.org_id(), id).await?;
    let mut event = change_event("sso_connection.deleted", &row);
    event.metadata["domains_no_longer_requiring_sso"] = json!(released);
    audit::record(&mut tx, scope, event).await?;
    db::commit(tx).await?;
    app.sso_metadata.remove(&id);
    Ok(())
}

/// **Test connection**: OIDC fetches discovery and the signing keys; LDAP binds as the service
/// account, and with `credentials` also finds and binds as that person (no session is made).
pub async fn test(
    app: &AppState,
    scope: &OrgScope,
    id: SsoConnectionId,
    credentials: TestCredentials,
) -> Result<ConnectionTest, AppError> {
    let row = load(app, scope, id).await?;
    let outcome = match row.kind {
        ConnectionKind::Oidc => {
            let settings = oidc_settings(&row)?;
            app.sso_metadata.remove(&row.id);
            oidc::provider(app, &row, &settings).await.map(|provider| {
                format!(
                    "Discovery and signing keys fetched from {} ({} key(s)). Sign in through {} to try a whole round trip.",
                    settings.issuer,
                    provider.jwks().keys().len(),
                    app.config.link(&format!("/sso/start?connection={}", row.id)),
                )
            })
        }
        ConnectionKind::Ldap => {
            let settings = ldap_settings(&row)?;
            let bind_password = secret_of(app, &row)?;
            match (credentials.username.as_deref(), credentials.password.as_deref()) {
                (Some(username), Some(password)) => {
                    ldap::authenticate(app, &settings, &bind_password, username, password).await.map(|who| {
                        format!(
                            "Signed in as {} (email {}, groups: {}); they would get the {} role.",
                            who.subject,
                            who.email.as_deref().unwrap_or("none"),
                            if who.groups.is_empty() { "none".to_owned() } else { who.groups.join(", ") },
                            mapped_role(&row, &who.groups).label(),
                        )
                    })
                }
                _ => ldap::check_service_bind(app, &settings, &bind_password).await,
            }
        }
        ConnectionKind::Saml => {
            let stored = saml::stored(&row)?;
            let fresh = match &stored.idp_metadata_url {
                Some(url) => match saml::fetch_metadata(app, url).await {
                    Ok((url, xml)) => {
                        saml::read_metadata("idp_metadata_url", &xml, Some(url), stored.allow_idp_initiated)
                            .map(|_| " The metadata URL answers with valid metadata.")
                            .map_err(|e| Refusal::upstream("bad_metadata", e.message))
                    }
                    Err(e) => Err(Refusal::upstream("bad_metadata", e.message)),
                },
                None => Ok(""),
            };
            fresh.map(|fresh| {
                format!(
                    "The IdP {} signs with a certificate from its metadata and takes sign-ins at {}.{fresh} Sign in through {} to try a whole round trip.",
                    stored.idp_entity_id,
                    stored.idp_sso_url,
                    app.config.link(&format!("/sso/start?connection={}", row.id)),
                )
            })
        }
    };
    Ok(match outcome {
        Ok(message) => ConnectionTest { ok: true, message },
        Err(refusal) => ConnectionTest { ok: false, message: refusal.message },
    })
}

/// The role for someone in `groups`: the highest mapped role, else the connection's default.
/// A group matches a mapping by its whole value or, for a DN, its first RDN value; case-insensitive.
pub fn mapped_role(row: &ConnectionRow, groups: &[String]) -> Role {
    let short = |group: &str| -> String {
        let first = group.split(',').next().unwrap_or(group);
        first.split_once('=').map_or(first, |(_, value)| value).trim().to_lowercase()
    };
    row.role_mapping
        .iter()
        .filter(|m| {
            let wanted = m.group.to_lowercase();
            groups.iter().any(|g| g.to_lowercase() == wanted || short(g) == wanted)
        })
        .map(|m| m.role)
        .max()
        .unwrap_or(row.default_role)
}

/// Why a sign-in was refused: a reason code for the audit log and a sentence for the person.
#[derive(Debug, Clone)]
pub struct Refusal {
    pub reason: &'static str,
    pub message: String,
    /// The provider or directory could not be reached or answered wrongly (502), rather than the
    /// person's sign-in being wrong (401/403).
    pub upstream: bool,
}

impl Refusal {
    pub fn new(reason: &'static str, message: impl Into<String>) -> Refusal {
        Refusal { reason, message: message.into(), upstream: false }
    }

    pub fn upstream(reason: &'static str, message: impl Into<String>) -> Refusal {
        Refusal { reason, message: message.into(), upstream: true }
    }

    pub fn into_error(self) -> AppError {
        match (self.upstream, self.reason) {
            (true, _) => AppError::new(ErrorKind::BadGateway, "sso_unavailable", self.message),
            (false, "invalid_credentials") => {
                AppError::new(ErrorKind::Unauthenticated, "invalid_credentials", self.message)
            }
            (false, "sso_domain_not_verified") => {
                AppError::new(ErrorKind::Forbidden, "sso_domain_not_verified", self.message)
            }
            _ => AppError::new(ErrorKind::Forbidden, "sso_refused", self.message),
        }
    }
}

/// The connection a sign-in goes through, if it may be used now: it exists, is enabled, and its
/// organization has SSO turned on. Anything else is one 404-like refusal, so connection ids
/// cannot be probed.
pub async fn usable_connection(app: &AppState, id: SsoConnectionId) -> Result<ConnectionRow, AppError> {
    let row = db::sso::connection_by_id(app.db.pool(), id).await?.ok_or_else(not_found)?;
    check_usable(app, &row).await?;
    Ok(row)
}

pub(super) async fn check_usable(app: &AppState, row: &ConnectionRow) -> Result<(), AppError> {
    let org = db::orgs::by_id(app.db.pool(), row.organization_id).await?.ok_or_else(not_found)?;
    if !row.enabled || !org.settings.sso_enabled {
        return Err(AppError::new(
            ErrorKind::Forbidden,
            "sso_disabled",
            "Single sign-on through this connection is turned off. Ask your organization's admin.",
        ));
    }
    Ok(())
}

/// Writes the `sso.login_failed` audit entry for a refused sign-in (in its own transaction: no
/// session exists to attach it to) and turns the refusal into the error to show.
pub async fn refuse(
    app: &AppState,
    row: &ConnectionRow,
    client: &ClientMeta,
    who: Option<&str>,
    refusal: Refusal,
) -> AppError {
    let org = row.organization_id;
    let actor = Actor {
        kind: "sso",
        id: None,
        name: who.unwrap_or("unknown").chars().take(200).collect(),
        ip: client.ip.clone(),
        user_agent: client.user_agent.clone(),
    };
    let event = Event {
        action: "sso.login_failed",
        resource_type: "sso_connection",
        resource_id: Some(row.id.to_string()),
        metadata: json!({ "type": row.kind.as_str(), "reason": refusal.reason, "message": refusal.message }),
    };
    let recorded = async {
        let mut tx = app.db.begin_write().await?;
        audit::append(&mut tx, &org.to_string(), Some(org), &actor, event).await?;
        Ok::<_, AppError>(db::commit(tx).await?)
    };
    if let Err(e) = recorded.await {
        tracing::error!(error = %e, "could not audit a refused SSO sign-in");
    }
    refusal.into_error()
}

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

/// Sign-in through an LDAP connection (the form and the JSON route). Blank fields are refused
/// before anything reaches the directory; failures count against the same throttles as password
/// sign-ins, per client address and per directory account.
pub async fn ldap_sign_in(
    app: &AppState,
    id: SsoConnectionId,
    username: &str,
    password: &str,
    client: &ClientMeta,
) -> Result<Finished, AppError> {
    if username.trim().is_empty() {
        return Err(AppError::invalid_field("username", "Enter your username."));
    }
    if password.is_empty() {
        return Err(AppError::invalid_field("password", "Enter your password."));
    }
    let row = usable_connection(app, id).await?;
    if row.kind != ConnectionKind::Ldap {
        return Err(not_found());
    }
    let pool = app.db.pool();
    let now = db::now();
    let rule = app.config.login_throttle;
    let ip_bucket = throttle::login_ip(client.ip_key());
    let account_bucket = throttle::login_account(&format!("ldap:{id}:{}", username.trim().to_lowercase()));
    let counted = throttle::reserve(&app.db, &[&ip_bucket, &account_bucket], rule, now).await?;
    let settings = ldap_settings(&row)?;
    let bind_password = secret_of(app, &row)?;
    match ldap::authenticate(app, &settings, &bind_password, username, password).await {
        Ok(identity) => {
            counted.refund(&app.db).await?;
            throttle::clear(pool, &account_bucket).await?;
            linking::complete(app, &row, identity, client, SignInMethod::Ldap, None).await
        }
        Err(refusal) => {
            if refusal.reason != "invalid_credentials" {
                counted.refund(&app.db).await?;
            }
            Err(refuse(app, &row, client, Some(username), refusal).await)
        }
    }
}

/// Where a browser goes to start signing in through a connection (the IdP for OIDC, the sign-in
/// form for LDAP), and for OIDC the sign-in to remember in the browser's session until it returns.
pub async fn start(
    app: &AppState,
    id: SsoConnectionId,
    return_to: Option<String>,
    client: &ClientMeta,
    browser: &saml::BrowserBinding,
) -> Result<(String, Option<oidc::PendingLogin>), AppError> {
    let row = usable_connection(app, id).await?;
    match row.kind {
        ConnectionKind::Ldap => Ok((format!("/sso/ldap/{id}/login"), None)),
        _ => begin(app, &row, return_to, false, client, browser).await,
    }
}

/// An admin's trial run of an OIDC or SAML connection: a real round trip through the IdP whose
/// result is shown on the SSO page instead of signing anyone in. It works before the connection
/// or the organization's SSO is turned on, which is when it is needed.
pub async fn start_trial(
    app: &AppState,
    scope: &OrgScope,
    id: SsoConnectionId,
    client: &ClientMeta,
    browser: &saml::BrowserBinding,
) -> Result<(String, Option<oidc::PendingLogin>), AppError> {
    let row = load(app, scope, id).await?;
    if row.kind == ConnectionKind::Ldap {
        return Err(AppError::invalid_field(
            "connection",
            "Try an LDAP connection with a username and password under Test connection.",
        ));
    }
    begin(app, &row, None, true, client, browser).await
}

async fn begin(
    app: &AppState,
    row: &ConnectionRow,
    return_to: Option<String>,
    trial: bool,
    client: &ClientMeta,
    browser: &saml::BrowserBinding,
) -> Result<(String, Option<oidc::PendingLogin>), AppError> {
    let begun = match row.kind {
        ConnectionKind::Oidc => oidc::begin(app, row, return_to, trial).await.map(|(url, p)| (url, Some(p))),
        _ => saml::begin(app, row, return_to, trial, browser).await.map(|url| (url, None)),
    };
    match begun {
        Ok(begun) => Ok(begun),
        Err(refusal) => Err(refuse(app, row, client, None, refusal).await),
    }
}

/// How a sign-in through a provider ended.
pub enum Finished {
    SignedIn {
        user: Box<UserRow>,
        session: SessionRow,
        org: OrgId,
        return_to: Option<String>,
    },
    /// The provider vouched for the address of an account that already exists: nobody is signed
    /// in until its holder confirms the link (`linking`). The browser keeps `token`.
    LinkPending {
        token: String,
    },
    /// A trial run: what the connection would do, to show on the SSO page.
    Trial {
        org: OrgId,
        connection: SsoConnectionId,
        outcome: ConnectionTest,
    },
}

/// Completes a sign-in, or reports a trial run.
async fn conclude(
    app: &AppState,
    row: &ConnectionRow,
    identity: Result<IdpIdentity, Refusal>,
    trial: bool,
    return_to: Option<String>,
    client: &ClientMeta,
    method: SignInMethod,
) -> Result<Finished, AppError> {
    let org = row.organization_id;
    match (identity, trial) {
        (Ok(identity), false) => {
            check_usable(app, row).await?;
            linking::complete(app, row, identity, client, method, return_to).await
        }
        (Ok(identity), true) => {
            let mut tx = app.db.begin_snapshot().await?;
            let outcome = match linking::vouched_address(&mut tx, org, &identity).await {
                Ok(email) => ConnectionTest {
                    ok: true,
                    message: format!(
                        "Round trip complete: the identity provider vouched for {} (subject {}, groups: {}). They would get the {} role. Nobody was signed in.",
                        email.as_str(),
                        identity.subject,
                        if identity.groups.is_empty() { "none".to_owned() } else { identity.groups.join(", ") },
                        mapped_role(row, &identity.groups).label(),
                    ),
                },
                Err(refusal) => ConnectionTest {
                    ok: false,
                    message: format!(
                        "The identity provider signed in {}, but the sign-in would be refused: {}",
                        identity.subject, refusal.message
                    ),
                },
            };
            Ok(Finished::Trial { org, connection: row.id, outcome })
        }
        (Err(refusal), true) => {
            let message = refuse(app, row, client, None, refusal).await.message;
            Ok(Finished::Trial { org, connection: row.id, outcome: ConnectionTest { ok: false, message } })
        }
        (Err(refusal), false) => Err(refuse(app, row, client, None, refusal).await),
    }
}

/// The OIDC callback: the sign-in `pending` (already matched by `state` and removed from the
/// browser's session, so a replay finds nothing) completes with `code`.
pub async fn oidc_callback(
    app: &AppState,
    pending: oidc::PendingLogin,
    outcome: Result<&str, String>,
    client: &ClientMeta,
) -> Result<Finished, AppError> {
    let row = db::sso::connection_by_id(app.db.pool(), pending.connection_id).await?.ok_or_else(not_found)?;
    let (trial, return_to) = (pending.trial, pending.return_to.clone());
    let age = db::to_millis(db::now()) - pending.started_at_ms;
    let identity = match outcome {
        Err(provider_error) => Err(Refusal::new("provider_error", provider_error)),
        Ok(_) if !(0..=oidc::PENDING_TTL_MS).contains(&age) => {
            Err(Refusal::new("sign_in_expired", "This sign-in took more than 10 minutes. Start again."))
        }
        Ok(code) => oidc::finish(app, &row, pending, code).await,
    };
    conclude(app, &row, identity, trial, return_to, client, SignInMethod::Oidc).await
}

/// The SAML ACS: a posted response for connection `id`. The user, their session, the organization
/// and where to land.
pub async fn saml_acs(
    app: &AppState,
    id: SsoConnectionId,
    encoded_response: &str,
    relay_state: Option<String>,
    client: &ClientMeta,
    browser: Option<&saml::BrowserBinding>,
) -> Result<Finished, AppError> {
    let row = db::sso::connection_by_id(app.db.pool(), id).await?.filter(|r| r.kind == ConnectionKind::Saml);
    let row = row.ok_or_else(not_found)?;
    match saml::finish(app, &row, encoded_response, relay_state, browser).await {
        Ok(answered) => {
            let saml::Answered { identity, return_to, trial } = answered;
            conclude(app, &row, Ok(identity), trial, return_to, client, SignInMethod::Saml).await
        }
        // Refused before the request was known: shown like a sign-in's refusal.
        Err(refusal) => conclude(app, &row, Err(refusal), false, None, client, SignInMethod::Saml).await,
    }
}

/// SAML metadata of a connection (public: the IdP's administrator loads it).
pub async fn saml_metadata(app: &AppState, id: SsoConnectionId) -> Result<String, AppError> {
    let row = db::sso::connection_by_id(app.db.pool(), id).await?.filter(|r| r.kind == ConnectionKind::Saml);
    saml::sp_metadata(app, &row.ok_or_else(not_found)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connection(default_role: Role, mapping: &[(&str, Role)]) -> ConnectionRow {
        let now = db::now();
        ConnectionRow {
            id: SsoConnectionId::new(),
            organization_id: OrgId::new(),
            kind: ConnectionKind::Ldap,
            name: "Directory".to_owned(),
            enabled: true,
            settings: json!({}),
            sealed_secret: None,
            default_role,
            role_mapping: mapping
                .iter()
                .map(|(group, role)| RoleMapping { group: (*group).to_owned(), role: *role })
                .collect(),
            created_at: now,
            updated_at: now,
        }
    }

    #[test]
    fn the_highest_mapped_role_wins_and_dns_match_by_their_first_value() {
        let row = connection(Role::Viewer, &[("staff", Role::Member), ("GH-Admins", Role::Admin)]);
        let groups = |names: &[&str]| names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>();
        assert_eq!(mapped_role(&row, &groups(&[])), Role::Viewer);
        assert_eq!(mapped_role(&row, &groups(&["staff"])), Role::Member);
        assert_eq!(mapped_role(&row, &groups(&["staff", "gh-admins"])), Role::Admin);
        assert_eq!(mapped_role(&row, &groups(&["cn=gh-admins,ou=groups,dc=example,dc=com"])), Role::Admin);
        assert_eq!(mapped_role(&row, &groups(&["cn=staff-old,ou=groups"])), Role::Viewer);
        assert_eq!(mapped_role(&row, &groups(&["gh-admins-extra"])), Role::Viewer);
    }

    #[test]
    fn nobody_becomes_owner_through_sso() {
        assert!(parse_default_role(Some(Role::Owner)).is_err());
        assert_eq!(parse_default_role(None).unwrap(), Role::Member);
        let owner = vec![RoleMapping { group: "boss".to_owned(), role: Role::Owner }];
        assert!(parse_mapping(owner).is_err());
        let blank = vec![RoleMapping { group: "  ".to_owned(), role: Role::Admin }];
        assert!(parse_mapping(blank).is_err());
    }

    #[test]
    fn patches_refuse_fields_of_another_kind() {
        let field = |patch: ConnectionPatch, kind| {
            patch
                .check_kind(kind)
                .err()
                .and_then(|e| e.details.get("field").and_then(|f| f.as_str()).map(str::to_owned))
        };
        let ldap = ConnectionPatch { bind_dn: Some("cn=x".to_owned()), ..Default::default() };
        assert_eq!(field(ldap.clone(), ConnectionKind::Oidc).as_deref(), Some("bind_dn"));
        assert_eq!(field(ldap, ConnectionKind::Ldap), None);
        let refresh = ConnectionPatch { refresh_metadata: Some(true), ..Default::default() };
        assert_eq!(field(refresh.clone(), ConnectionKind::Ldap).as_deref(), Some("refresh_metadata"));
        assert_eq!(field(refresh, ConnectionKind::Saml), None);
        let common = ConnectionPatch { name: Some("x".to_owned()), enabled: Some(false), ..Default::default() };
        for kind in [ConnectionKind::Oidc, ConnectionKind::Saml, ConnectionKind::Ldap] {
            assert_eq!(field(common.clone(), kind), None);
        }
    }

    #[test]
    fn connection_bodies_name_the_failing_field() {
        let field = |body: serde_json::Value| {
            let error = NewConnection::from_json(body).unwrap_err();
            error.details.get("field").and_then(|f| f.as_str()).map(str::to_owned)
        };
        let oidc = json!({"type": "oidc", "name": "x", "issuer": "https://idp.example", "client_id": "a",
            "client_secret": "b", "default_role": "emperor"});
        assert_eq!(field(oidc).as_deref(), Some("default_role"));
        assert_eq!(field(json!({"type": "kerberos"})).as_deref(), Some("type"));
        assert_eq!(field(json!({"type": "ldap", "name": "x"})).as_deref(), Some("url"));
    }
}
