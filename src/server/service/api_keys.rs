//! API keys: issue (the secret is shown once), list, change, roll with a grace period, revoke, and
//! authenticate a presented key. Keys act only in their own organization, with their scopes.
use crate::server::service::prelude::*;
use crate::server::{
    auth::{api_key, token},
    db::{self, api_keys::KeyAuth},
};
use crate::shared::{
    api_keys::{ApiKey, IssuedApiKey},
    error::{AppError, ErrorCode, ErrorKind},
    ids::ApiKeyId,
    roles::Permission,
};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Deserializer};
use serde_json::json;

pub const DEFAULT_GRACE_HOURS: i64 = 24;
const MAX_GRACE_HOURS: i64 = 7 * 24;

#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewKey {
    pub name: String,
    /// Permissions the key gets, each one the creator has (e.g. `["org:read", "members:read"]`).
    pub scopes: Vec<String>,
    /// When the key stops working; never when absent.
    pub expires_at: Option<DateTime<Utc>>,
    /// Requests per hour for this key; at most (and by default) the organization's tier limit.
    pub rate_limit_per_hour: Option<i64>,
}

/// A partial update; `null` clears `expires_at` and `rate_limit_per_hour`.
#[derive(Debug, Default, Clone, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct KeyPatch {
    pub name: Option<String>,
    pub scopes: Option<Vec<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[cfg_attr(feature = "ssr", schema(value_type = Option<DateTime<Utc>>))]
    pub expires_at: Option<Option<DateTime<Utc>>>,
    #[serde(default, deserialize_with = "nullable")]
    #[cfg_attr(feature = "ssr", schema(value_type = Option<i64>))]
    pub rate_limit_per_hour: Option<Option<i64>>,
}

/// Tells an absent field (`None`) from an explicit `null` (`Some(None)`).
fn nullable<'de, T: Deserialize<'de>, D: Deserializer<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

fn parse_name(raw: &str) -> Result<String, AppError> {
    let name = raw.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(AppError::invalid_field("name", "Give the key a name of 1 to 100 characters."));
    }
    Ok(name.to_owned())
}

/// Scopes must be known permissions the caller holds: a key never gets more than its creator.
fn parse_scopes(scope: &OrgScope, raw: &[String]) -> Result<Vec<Permission>, AppError> {
    if raw.is_empty() {
        return Err(AppError::invalid_field("scopes", "Choose at least one scope."));
    }
    let mut scopes = Vec::new();
    for name in raw {
        let permission = Permission::parse(name).ok_or_else(|| {
            AppError::invalid_field("scopes", &format!("Unknown scope {name:?}."))
                .with_detail("allowed", Permission::ALL.map(|p| p.as_str()).to_vec())
        })?;
        if !scope.can(permission) {
            return Err(AppError::forbidden(
                ErrorCode::ScopeNotHeld,
                format!("A key cannot get {permission}: you do not have it yourself."),
            )
            .with_detail("scope", permission.as_str()));
        }
        if !scopes.contains(&permission) {
            scopes.push(permission);
        }
    }
    scopes.sort();
    Ok(scopes)
}

fn check_expiry(expires_at: Option<DateTime<Utc>>) -> Result<(), AppError> {
    match expires_at {
        Some(at) if at <= db::now() => Err(AppError::invalid_field("expires_at", "The expiry must be in the future.")),
        _ => Ok(()),
    }
}

/// A key that manages keys cannot give one a longer life than its own: otherwise a short-lived key
/// could renew itself forever through the keys it makes.
async fn check_outlives_acting_key(
    tx: &mut db::Tx,
    scope: &OrgScope,
    expires_at: Option<DateTime<Utc>>,
) -> Result<(), AppError> {
    let Some(acting) = scope.api_key() else { return Ok(()) };
    let Some(limit) = fetch(tx, scope, acting).await?.expires_at else { return Ok(()) };
    if expires_at.is_none_or(|at| at > limit) {
        return Err(AppError::invalid_field(
            "expires_at",
            &format!("A key cannot outlive the key that sets it: choose an expiry no later than {limit}."),
        )
        .with_detail("max", limit.to_rfc3339()));
    }
    Ok(())
}

fn check_rate_limit(limit: Option<i64>, org_limit: i64) -> Result<(), AppError> {
    match limit {
        Some(n) if n < 1 || n > org_limit => Err(AppError::invalid_field(
            "rate_limit_per_hour",
            &format!("A key's limit is from 1 to the organization's {org_limit} requests per hour."),
        )
        .with_detail("max", org_limit)),
        _ => Ok(()),
    }
}

async fn org_limit(tx: &mut db::Tx, scope: &OrgScope) -> Result<i64, AppError> {
    let org = db::orgs::by_id_tx(tx, scope.org_id()).await?.ok_or_else(|| AppError::not_found("organization"))?;
    Ok(org.limits.max_api_calls_per_hour)
}

pub async fn create(app: &AppState, scope: &OrgScope, new: NewKey) -> Result<IssuedApiKey, AppError> {
    scope.require(Permission::ApiKeysWrite)?;
    let name = parse_name(&new.name)?;
    let scopes = parse_scopes(scope, &new.scopes)?;
    check_expiry(new.expires_at)?;
    let now = db::now();
    let mut tx = app.db.begin_write().await?;
    db::orgs::lock(&mut tx, scope.org_id()).await?;
    check_outlives_acting_key(&mut tx, scope, new.expires_at).await?;
    check_rate_limit(new.rate_limit_per_hour, org_limit(&mut tx, scope).await?)?;
    let secret = api_key::generate();
    let id = ApiKeyId::new();
    let row = db::api_keys::NewApiKey {
        id,
        org: scope.org_id(),
        name: &name,
        key_prefix: &secret.display_prefix,
        secret_hash: &secret.hash,
        scopes: &db::members::grants_text(&scopes),
        role: scope.role(),
        rate_limit_per_hour: new.rate_limit_per_hour,
        created_by: Some(scope.on_behalf_of()),
        now,
        expires_at: new.expires_at,
    };
    db::api_keys::insert(&mut tx, row).await?;
    let key = fetch(&mut tx, scope, id).await?;
    let event = Event {
        action: Action::ApiKeyCreated,
        resource_type: "api_key",
        resource_id: Some(id.to_string()),
        metadata: json!({ "name": name, "scopes": scopes, "key_prefix": key.key_prefix, "expires_at": key.expires_at,
            "rate_limit_per_hour": key.rate_limit_per_hour }),
    };
    audit::record(&mut tx, scope, event).await?;
    db::commit(tx).await?;
    Ok(IssuedApiKey { key, secret: secret.secret })
}

async fn fetch(tx: &mut db::Tx, scope: &OrgScope, id: ApiKeyId) -> Result<ApiKey, AppError> {
    db::api_keys::get(tx, scope.org_id(), id, db::now()).await?.ok_or_else(|| AppError::not_found("API key"))
}

pub async fn list(app: &AppState, scope: &OrgScope, page: &PageRequest) -> Result<Page<ApiKey>, AppError> {
    scope.require(Permission::ApiKeysWrite)?;
    let rows = db::api_keys::list(app.db.pool(), scope.org_id(), page, db::now()).await?;
    Ok(page.finish(rows, |k| (db::to_millis(k.created_at), k.id.to_string())))
}

pub async fn get(app: &AppState, scope: &OrgScope, id: ApiKeyId) -> Result<ApiKey, AppError> {
    scope.require(Permission::ApiKeysWrite)?;
    let mut tx = app.db.begin().await?;
    fetch(&mut tx, scope, id).await
}

/// A revoked key cannot be changed or rolled (it is gone for good).
async fn live_key(tx: &mut db::Tx, scope: &OrgScope, id: ApiKeyId) -> Result<ApiKey, AppError> {
    let key = fetch(tx, scope, id).await?;
    if key.status == crate::shared::api_keys::ApiKeyStatus::Revoked {
        return Err(AppError::new(ErrorKind::Gone, ErrorCode::ApiKeyRevoked, "This key was revoked."));
    }
    Ok(key)
}

pub async fn update(app: &AppState, scope: &OrgScope, id: ApiKeyId, patch: KeyPatch) -> Result<ApiKey, AppError> {
    scope.require(Permission::ApiKeysWrite)?;
    let name = patch.name.as_deref().map(parse_name).transpose()?;
    let scopes = patch.scopes.as_deref().map(|s| parse_scopes(scope, s)).transpose()?;
    if let Some(expires_at) = patch.expires_at {
        check_expiry(expires_at)?;
    }
    let mut tx = app.db.begin_write().await?;
    db::orgs::lock(&mut tx, scope.org_id()).await?;
    let before = live_key(&mut tx, scope, id).await?;
    if let Some(expires_at) = patch.expires_at {
        check_outlives_acting_key(&mut tx, scope, expires_at).await?;
    }
    if let Some(limit) = patch.rate_limit_per_hour {
        check_rate_limit(limit, org_limit(&mut tx, scope).await?)?;
    }
    let changes = db::api_keys::KeyChanges {
        name: name.as_deref().unwrap_or(&before.name),
        scopes: &db::members::grants_text(scopes.as_deref().unwrap_or(&before.scopes)),
        rate_limit_per_hour: patch.rate_limit_per_hour.unwrap_or(before.rate_limit_per_hour),
        expires_at: patch.expires_at.unwrap_or(before.expires_at),
    };
    db::api_keys::update(&mut tx, id, changes).await?;
    let after = fetch(&mut tx, scope, id).await?;
    let event = Event {
        action: Action::ApiKeyUpdated,
        resource_type: "api_key",
        resource_id: Some(id.to_string()),
        metadata: json!({
            "before": { "name": before.name, "scopes": before.scopes, "expires_at": before.expires_at, "rate_limit_per_hour": before.rate_limit_per_hour },
            "after": { "name": after.name, "scopes": after.scopes, "expires_at": after.expires_at, "rate_limit_per_hour": after.rate_limit_per_hour },
        }),
    };
    audit::record(&mut tx, scope, event).await?;
    db::commit(tx).await?;
    app.api_keys.forget(id);
    Ok(after)
}

/// Issues a new secret; the old one keeps working for `grace_hours` (0 ends it now).
pub async fn roll(
    app: &AppState,
    scope: &OrgScope,
    id: ApiKeyId,
    grace_hours: Option<i64>,
) -> Result<IssuedApiKey, AppError> {
    scope.require(Permission::ApiKeysWrite)?;
    let grace = grace_hours.unwrap_or(DEFAULT_GRACE_HOURS);
    if !(0..=MAX_GRACE_HOURS).contains(&grace) {
        return Err(AppError::invalid_field(
            "grace_period_hours",
            "The old secret can keep working from 0 to 168 hours (7 days).",
        ));
    }
    let now = db::now();
    let mut tx = app.db.begin_write().await?;
    db::orgs::lock(&mut tx, scope.org_id()).await?;
    live_key(&mut tx, scope, id).await?;
    let secret = api_key::generate();
    db::api_keys::roll(&mut tx, id, &secret.hash, now, now + Duration::hours(grace)).await?;
    let key = fetch(&mut tx, scope, id).await?;
    let event = Event {
        action: Action::ApiKeyRolled,
        resource_type: "api_key",
        resource_id: Some(id.to_string()),
        metadata: json!({ "name": key.name, "grace_period_hours": grace }),
    };
    audit::record(&mut tx, scope, event).await?;
    db::commit(tx).await?;
    app.api_keys.forget(id);
    Ok(IssuedApiKey { key, secret: secret.secret })
}

pub async fn revoke(app: &AppState, scope: &OrgScope, id: ApiKeyId) -> Result<(), AppError> {
    scope.require(Permission::ApiKeysWrite)?;
    let mut tx = app.db.begin_write().await?;
    db::orgs::lock(&mut tx, scope.org_id()).await?;
    let key = live_key(&mut tx, scope, id).await?;
    db::api_keys::revoke(&mut tx, id, db::now()).await?;
    let event = Event {
        action: Action::ApiKeyRevoked,
        resource_type: "api_key",
        resource_id: Some(id.to_string()),
        metadata: json!({ "name": key.name, "key_prefix": key.key_prefix }),
    };
    audit::record(&mut tx, scope, event).await?;
    db::commit(tx).await?;
    app.api_keys.forget(id);
    Ok(())
}

/// An Owner takes over a key whose creator left (or any other key): it then acts with the Owner's
/// permissions, within its scopes.
pub async fn reassign(app: &AppState, scope: &OrgScope, id: ApiKeyId) -> Result<ApiKey, AppError> {
    scope.require(Permission::OwnershipTransfer)?;
    let me = scope
        .user_id()
        .ok_or_else(|| AppError::forbidden(ErrorCode::NotAPerson, "Only an Owner can take over a key."))?;
    let mut tx = app.db.begin_write().await?;
    db::orgs::lock(&mut tx, scope.org_id()).await?;
    let before = live_key(&mut tx, scope, id).await?;
    db::api_keys::set_creator(&mut tx, id, me).await?;
    let after = fetch(&mut tx, scope, id).await?;
    let event = Event {
        action: Action::ApiKeyReassigned,
        resource_type: "api_key",
        resource_id: Some(id.to_string()),
        metadata: json!({ "name": after.name, "key_prefix": after.key_prefix, "from": before.created_by, "to": me }),
    };
    audit::record(&mut tx, scope, event).await?;
    db::commit(tx).await?;
    app.api_keys.forget(id);
    Ok(after)
}

/// A key whose creator is no longer a member has no permissions left: it is refused like a
/// revoked one.
fn usable(key: &KeyAuth, now: DateTime<Utc>) -> bool {
    !key.revoked && key.creator.is_some() && key.usable_until.is_none_or(|until| until > now)
}

fn invalid_key() -> AppError {
    AppError::new(ErrorKind::Unauthenticated, ErrorCode::InvalidApiKey, "The API key is not valid.")
}

/// The key presented as `Authorization: Bearer <key>`. Unknown, malformed, expired and revoked
/// keys all get the same 401; a key of an organization that turned API access off gets 403.
pub async fn authenticate(app: &AppState, presented: &str) -> Result<KeyAuth, AppError> {
    if !api_key::well_formed(presented) {
        return Err(invalid_key());
    }
    let hash = token::hash(presented);
    let now = db::now();
    let key = match app.api_keys.get(&hash).filter(|key| usable(key, now)) {
        Some(key) => key,
        None => {
            let key = db::api_keys::authenticate(app.db.pool(), &hash).await?;
            let key = key.filter(|k| usable(k, now)).ok_or_else(invalid_key)?;
            app.api_keys.put(hash, key.clone());
            key
        }
    };
    if !key.api_enabled {
        return Err(AppError::forbidden(ErrorCode::ApiDisabled, "API access is turned off for this organization."));
    }
    Ok(key)
}
