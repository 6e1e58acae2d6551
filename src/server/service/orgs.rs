//! Organizations: create, list, read, update (settings, branding, plan), delete, statistics.
use crate::server::service::prelude::*;
use crate::server::{
    auth::principal::{ClientMeta, SignedIn},
    authz::{Actor, OrgScope},
    db::{self, orgs::OrgRow},
};
use crate::shared::{
    ids::OrgId,
    orgs::{parse_color, DayCount, Limits, OrgSlug, OrgStats, Organization, SubscriptionStatus, Tier},
    roles::{effective_permissions, Permission, Role},
    values::PersonName,
};
use serde_json::json;

pub fn to_dto(row: OrgRow, role: Role, permissions: Vec<Permission>) -> Organization {
    Organization {
        id: row.id,
        name: row.name,
        slug: row.slug,
        settings: row.settings,
        subscription: row.subscription,
        limits: row.limits,
        owner_id: row.owner_id,
        member_count: row.member_count,
        my_role: role,
        my_permissions: permissions,
        created_at: row.created_at,
        updated_at: row.updated_at,
    }
}

fn parse_name(raw: &str) -> Result<String, AppError> {
    // Organization names follow the same rules as person names, reported on the same field name.
    PersonName::parse(raw).map(String::from)
}

/// Creates an organization with the caller as its Owner.
pub async fn create(
    app: &AppState,
    who: &SignedIn,
    client: &ClientMeta,
    name: &str,
    slug: Option<&str>,
) -> Result<Organization, AppError> {
    let name = parse_name(name)?;
    let slug = match slug.map(str::trim).filter(|s| !s.is_empty()) {
        Some(s) => OrgSlug::parse(s)?,
        None => OrgSlug::parse(&OrgSlug::suggest(&name))?,
    };
    let id = OrgId::new();
    let now = db::now();
    let mut tx = app.db.begin_write().await?;
    let new = db::orgs::NewOrg { id, name: &name, slug: slug.as_str(), tier: Tier::Free, owner: who.user.id, now };
    if !db::orgs::insert(&mut tx, new).await? {
        return Err(AppError::conflict(ErrorCode::SlugTaken, "That slug is already used by another organization.")
            .with_detail("field", "slug"));
    }
    db::members::insert(&mut tx, id, who.user.id, Role::Owner, now).await?;
    let event = Event {
        action: Action::OrganizationCreated,
        resource_type: "organization",
        resource_id: Some(id.to_string()),
        metadata: json!({ "name": name, "slug": slug.as_str() }),
    };
    audit::append(&mut tx, &id.to_string(), Some(id), &Actor::user(who, client), event).await?;
    let row = db::orgs::by_id_tx(&mut tx, id).await?.ok_or_else(|| AppError::not_found("organization"))?;
    db::commit(tx).await?;
    Ok(to_dto(row, Role::Owner, effective_permissions(Role::Owner, &[])))
}

/// The caller's organizations.
pub async fn list_mine(app: &AppState, who: &SignedIn, page: &PageRequest) -> Result<Page<Organization>, AppError> {
    let rows = db::orgs::list_for_user(app.db.pool(), who.user.id, page).await?;
    let Page { data: rows, next_cursor } = page.finish(rows, |(org, mine)| (mine.joined_at, org.id.to_string()));
    let data = rows
        .into_iter()
        .map(|(org, mine)| to_dto(org, mine.role, effective_permissions(mine.role, &mine.grants)))
        .collect();
    Ok(Page { data, next_cursor })
}

pub async fn get(app: &AppState, scope: &OrgScope) -> Result<Organization, AppError> {
    scope.require(Permission::OrgRead)?;
    let row = match app.orgs.get(&scope.org_id()) {
        Some(row) => row,
        None => {
            let row = db::orgs::by_id(app.db.pool(), scope.org_id())
                .await?
                .ok_or_else(|| AppError::not_found("organization"))?;
            app.orgs.put(scope.org_id(), row.clone());
            row
        }
    };
    Ok(to_dto(row, scope.role(), scope.permissions()))
}

/// A partial update; each field is checked against the permission it needs.
#[derive(Debug, Default, Clone, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrgPatch {
    pub name: Option<String>,
    pub slug: Option<String>,
    /// `""` clears it.
    pub primary_color: Option<String>,
    pub sso_enabled: Option<bool>,
    pub api_enabled: Option<bool>,
    #[schema(value_type = Option<crate::shared::orgs::Tier>)]
    pub tier: Option<String>,
    #[schema(value_type = Option<crate::shared::orgs::SubscriptionStatus>)]
    pub subscription_status: Option<String>,
    pub max_users: Option<i64>,
    pub max_api_calls_per_hour: Option<i64>,
}

pub async fn update(app: &AppState, scope: &OrgScope, patch: OrgPatch) -> Result<Organization, AppError> {
    let settings_change = patch.name.is_some()
        || patch.slug.is_some()
        || patch.primary_color.is_some()
        || patch.sso_enabled.is_some()
        || patch.api_enabled.is_some();
    let billing_change = patch.tier.is_some()
        || patch.subscription_status.is_some()
        || patch.max_users.is_some()
        || patch.max_api_calls_per_hour.is_some();
    if !settings_change && !billing_change {
        scope.require(Permission::OrgRead)?;
    }
    if settings_change {
        scope.require(Permission::OrgWrite)?;
    }
    if billing_change {
        scope.require(Permission::BillingWrite)?;
    }
    let mut tx = app.db.begin_write().await?;
    db::orgs::lock(&mut tx, scope.org_id()).await?;
    let before =
        db::orgs::by_id_tx(&mut tx, scope.org_id()).await?.ok_or_else(|| AppError::not_found("organization"))?;
    let mut after = before.clone();
    if let Some(name) = &patch.name {
        after.name = parse_name(name)?;
    }
    if let Some(slug) = &patch.slug {
        after.slug = String::from(OrgSlug::parse(slug)?);
    }
    if let Some(color) = &patch.primary_color {
        after.settings.primary_color = if color.trim().is_empty() { None } else { Some(parse_color(color)?) };
    }
    if let Some(on) = patch.sso_enabled {
        after.settings.sso_enabled = on;
    }
    if let Some(on) = patch.api_enabled {
        after.settings.api_enabled = on;
    }
    if let Some(tier) = &patch.tier {
        let tier = Tier::parse(tier)
            .ok_or_else(|| AppError::invalid_field("tier", "Use free, premium, plus or enterprise."))?;
        if tier != after.subscription.tier {
            after.subscription.tier = tier;
            after.limits = tier.default_limits();
        }
    }
    if let Some(status) = &patch.subscription_status {
        after.subscription.status = SubscriptionStatus::parse(status).ok_or_else(|| {
            AppError::invalid_field("subscription_status", "Use active, trialing, past_due or canceled.")
        })?;
    }
    if patch.max_users.is_some() || patch.max_api_calls_per_hour.is_some() {
        if after.subscription.tier != Tier::Enterprise {
            return Err(AppError::invalid_field(
                "max_users",
                "Limits follow the tier; only Enterprise limits are set per organization.",
            ));
        }
        after.limits = Limits {
            max_users: check_limit("max_users", patch.max_users.unwrap_or(after.limits.max_users))?,
            max_api_calls_per_hour: check_limit(
                "max_api_calls_per_hour",
                patch.max_api_calls_per_hour.unwrap_or(after.limits.max_api_calls_per_hour),
            )?,
        };
    }
    if !db::orgs::update(&mut tx, &after, db::now()).await? {
        return Err(AppError::conflict(ErrorCode::SlugTaken, "That slug is already used by another organization.")
            .with_detail("field", "slug"));
    }
    let event = Event {
        action: Action::OrganizationUpdated,
        resource_type: "organization",
        resource_id: Some(scope.org_id().to_string()),
        metadata: json!({ "before": org_fields(&before), "after": org_fields(&after) }),
    };
    audit::record(&mut tx, scope, event).await?;
    let row = db::orgs::by_id_tx(&mut tx, scope.org_id()).await?.ok_or_else(|| AppError::not_found("organization"))?;
    db::commit(tx).await?;
    app.forget_org(scope.org_id());
    Ok(to_dto(row, scope.role(), scope.permissions()))
}

fn check_limit(field: &str, value: i64) -> Result<i64, AppError> {
    if (1..=10_000_000).contains(&value) {
        Ok(value)
    } else {
        Err(AppError::invalid_field(field, "Use a whole number from 1 to 10,000,000."))
    }
}

fn org_fields(row: &OrgRow) -> serde_json::Value {
    json!({
        "name": row.name, "slug": row.slug, "primary_color": row.settings.primary_color,
        "sso_enabled": row.settings.sso_enabled, "api_enabled": row.settings.api_enabled,
        "tier": row.subscription.tier, "subscription_status": row.subscription.status,
        "max_users": row.limits.max_users, "max_api_calls_per_hour": row.limits.max_api_calls_per_hour,
    })
}

/// Deletes the organization with everything in it, after the caller typed its slug. The final
/// record goes to the platform chain, which outlives the organization.
pub async fn delete(app: &AppState, scope: &OrgScope, confirm: &str) -> Result<(), AppError> {
    scope.require(Permission::OrgDelete)?;
    let mut tx = app.db.begin_write().await?;
    db::orgs::lock(&mut tx, scope.org_id()).await?;
    let org = db::orgs::by_id_tx(&mut tx, scope.org_id()).await?.ok_or_else(|| AppError::not_found("organization"))?;
    if confirm.trim() != org.slug {
        return Err(AppError::invalid_field("confirm", "Type the organization's slug exactly to confirm deletion."));
    }
    let metadata = json!({ "name": org.name, "slug": org.slug, "member_count": org.member_count });
    let event = |metadata| Event {
        action: Action::OrganizationDeleted,
        resource_type: "organization",
        resource_id: Some(org.id.to_string()),
        metadata,
    };
    audit::record(&mut tx, scope, event(metadata.clone())).await?;
    audit::append(&mut tx, audit::PLATFORM_CHAIN, Some(org.id), scope.actor(), event(metadata)).await?;
    db::orgs::delete(&mut tx, org.id).await?;
    db::commit(tx).await?;
    app.forget_org(org.id);
    Ok(())
}

pub async fn stats(app: &AppState, scope: &OrgScope) -> Result<OrgStats, AppError> {
    scope.require(Permission::OrgRead)?;
    let pool = app.db.pool();
    let org = db::orgs::by_id(pool, scope.org_id()).await?.ok_or_else(|| AppError::not_found("organization"))?;
    let now = db::now();
    let today = db::to_millis(now) / db::audit::DAY_MILLIS;
    let first_day = today - 29;
    let counts =
        db::audit::per_day(pool, &scope.org_id().to_string(), db::from_millis(first_day * db::audit::DAY_MILLIS))
            .await?;
    let audit_events_per_day = (first_day..=today)
        .map(|day| DayCount {
            day: db::from_millis(day * db::audit::DAY_MILLIS).format("%Y-%m-%d").to_string(),
            count: counts.iter().find(|(d, _)| *d == day).map_or(0, |(_, n)| *n),
        })
        .collect();
    Ok(OrgStats {
        member_count: org.member_count,
        members_by_role: db::members::count_by_role(pool, scope.org_id()).await?,
        pending_invitations: db::invitations::count_pending(pool, scope.org_id(), now).await?,
        limits: org.limits,
        audit_events_per_day,
    })
}
