//! An organization's connections: create, list, read, change (refetching SAML metadata), remove
//! and test them. Every change is audited.
use super::{
    input::{
        check_grants, ldap_settings, oidc_settings, parse_default_role, parse_issuer, parse_ldap, parse_mapping,
        parse_name, required, secret_of, ConnectionPatch, NewConnection, NewLdap, TestCredentials, GOOGLE_ISSUER,
    },
    mapped_role, not_found, Refusal,
};
use super::{ldap, oidc, saml};
use crate::server::db::{self, sso::ConnectionRow};
use crate::server::service::prelude::*;
use crate::shared::{
    ids::SsoConnectionId,
    roles::Permission,
    sso::{ConnectionKind, ConnectionTest, OidcPreset, OidcSettings, SsoConnection},
};
use serde_json::json;

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
    audit::record(&mut tx, scope, change_event(Action::SsoConnectionCreated, &row)).await?;
    db::commit(tx).await?;
    view(app, &row)
}

pub(super) fn change_event(action: Action, row: &ConnectionRow) -> Event<'static> {
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

pub async fn list(app: &AppState, scope: &OrgScope, page: &PageRequest) -> Result<Page<SsoConnection>, AppError> {
    scope.require(Permission::SsoWrite)?;
    let rows = db::sso::list(app.db.pool(), scope.org_id(), page).await?;
    let Page { data: rows, next_cursor } = page.finish(rows, |c| (db::to_millis(c.created_at), c.id.to_string()));
    let data = rows.iter().map(|row| view(app, row)).collect::<Result<_, _>>()?;
    Ok(Page { data, next_cursor })
}

pub(super) async fn load(app: &AppState, scope: &OrgScope, id: SsoConnectionId) -> Result<ConnectionRow, AppError> {
    scope.require(Permission::SsoWrite)?;
    let mut tx = app.db.begin_snapshot().await?;
    db::sso::get(&mut tx, scope.org_id(), id).await?.ok_or_else(not_found)
}

pub async fn get(app: &AppState, scope: &OrgScope, id: SsoConnectionId) -> Result<SsoConnection, AppError> {
    view(app, &load(app, scope, id).await?)
}

impl ConnectionPatch {
    /// A field given that belongs to another kind of connection: refused rather than ignored.
    pub(super) fn check_kind(&self, kind: ConnectionKind) -> Result<(), AppError> {
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
                            ErrorCode::ConnectionChanged,
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
    let mut event = change_event(Action::SsoConnectionUpdated, &row);
    event.metadata["secret_changed"] = json!(patch.client_secret.is_some() || patch.bind_password.is_some());
    audit::record(&mut tx, scope, event).await?;
    db::commit(tx).await?;
    app.sso_metadata.remove(&row.id);
    view(app, &row)
}

/// Metadata fetched for a SAML patch (a new `idp_metadata_url`, or `refresh_metadata`).
pub(super) struct FetchedMetadata {
    from: String,
    xml: String,
}

/// Fetches the metadata a patch asks for before `update` opens its transaction, so that a slow
/// identity provider never holds the database's write lock (on SQLite, every writer's).
pub(super) async fn fetch_patched_metadata(
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
    let mut event = change_event(Action::SsoConnectionDeleted, &row);
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
