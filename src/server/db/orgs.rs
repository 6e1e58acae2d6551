//! The `organizations` table.
use super::{get_id, get_time, to_millis, DbResult, OnDuplicate, Tx};
use crate::server::pagination::{Keyset, PageRequest};
use crate::shared::columns::parse_grants;
use crate::shared::{
    ids::{OrgId, UserId},
    orgs::{Limits, Settings, Subscription, SubscriptionStatus, Tier},
    roles::{Permission, Role},
};
use chrono::{DateTime, Utc};
use sqlx::{any::AnyRow, AnyPool, Row};

#[derive(Debug, Clone)]
pub struct OrgRow {
    pub id: OrgId,
    pub name: String,
    pub slug: String,
    pub settings: Settings,
    pub subscription: Subscription,
    pub limits: Limits,
    pub owner_id: UserId,
    pub member_count: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl OrgRow {
    fn from_row(row: &AnyRow) -> Result<Self, sqlx::Error> {
        let bad = |what: &str| sqlx::Error::Decode(format!("bad {what} in organizations").into());
        let tier: String = row.try_get("tier")?;
        let status: String = row.try_get("subscription_status")?;
        Ok(OrgRow {
            id: get_id(row, "id")?,
            name: row.try_get("name")?,
            slug: row.try_get("slug")?,
            settings: Settings {
                primary_color: row.try_get("primary_color")?,
                logo_url: row.try_get("logo_url")?,
                sso_enabled: row.try_get::<i64, _>("sso_enabled")? != 0,
                api_enabled: row.try_get::<i64, _>("api_enabled")? != 0,
            },
            subscription: Subscription {
                tier: Tier::parse(&tier).ok_or_else(|| bad("tier"))?,
                status: SubscriptionStatus::parse(&status).ok_or_else(|| bad("status"))?,
            },
            limits: Limits {
                max_users: row.try_get("max_users")?,
                max_api_calls_per_hour: row.try_get("max_api_calls_per_hour")?,
            },
            owner_id: get_id(row, "owner_id")?,
            member_count: row.try_get("member_count")?,
            created_at: get_time(row, "created_at")?,
            updated_at: get_time(row, "updated_at")?,
        })
    }
}

const SELECT: &str = "SELECT o.id, o.name, o.slug, o.primary_color, o.logo_url, o.sso_enabled, o.api_enabled, o.tier,
    o.subscription_status, o.max_users, o.max_api_calls_per_hour, o.owner_id, o.created_at, o.updated_at,
    (SELECT COUNT(*) FROM memberships m WHERE m.organization_id = o.id) AS member_count
    FROM organizations o";

pub struct NewOrg<'a> {
    pub id: OrgId,
    pub name: &'a str,
    pub slug: &'a str,
    pub tier: Tier,
    pub owner: UserId,
    pub now: DateTime<Utc>,
}

/// Inserts an organization; `Ok(false)` when the slug is taken.
pub async fn insert(tx: &mut Tx, org: NewOrg<'_>) -> DbResult<bool> {
    let limits = org.tier.default_limits();
    sqlx::query(
        "INSERT INTO organizations (id, name, slug, tier, max_users, max_api_calls_per_hour, owner_id, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
    )
    .bind(org.id.to_string())
    .bind(org.name)
    .bind(org.slug)
    .bind(org.tier.as_str())
    .bind(limits.max_users)
    .bind(limits.max_api_calls_per_hour)
    .bind(org.owner.to_string())
    .bind(to_millis(org.now))
    .execute(&mut **tx)
    .await
        .map(|_| true)
        .on_duplicate(false)
}

pub async fn by_id(pool: &AnyPool, id: OrgId) -> DbResult<Option<OrgRow>> {
    let sql = format!("{SELECT} WHERE o.id = $1");
    let row = sqlx::query(&sql).bind(id.to_string()).fetch_optional(pool).await?;
    Ok(row.as_ref().map(OrgRow::from_row).transpose()?)
}

pub async fn by_id_tx(tx: &mut Tx, id: OrgId) -> DbResult<Option<OrgRow>> {
    let sql = format!("{SELECT} WHERE o.id = $1");
    let row = sqlx::query(&sql).bind(id.to_string()).fetch_optional(&mut **tx).await?;
    Ok(row.as_ref().map(OrgRow::from_row).transpose()?)
}

/// Takes the organization's row lock for the rest of the transaction (Postgres; SQLite's
/// `BEGIN IMMEDIATE` already serialises writers), so checks like "at least one owner" or
/// "within max_users" cannot be raced by another transaction on the same organization.
pub async fn lock(tx: &mut Tx, id: OrgId) -> DbResult<bool> {
    let done = sqlx::query("UPDATE organizations SET updated_at = updated_at WHERE id = $1")
        .bind(id.to_string())
        .execute(&mut **tx)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// The user's own membership, listed beside each of their organizations.
pub struct MyMembership {
    pub role: Role,
    pub grants: Vec<Permission>,
    pub joined_at: i64,
}

/// Organizations of a user (oldest membership first), keyset-paginated on (joined_at, id).
pub async fn list_for_user(pool: &AnyPool, user: UserId, page: &PageRequest) -> DbResult<Vec<(OrgRow, MyMembership)>> {
    let select = SELECT.replace(
        "FROM organizations o",
        ", me.role AS my_role, me.permissions AS my_grants, me.joined_at AS my_joined_at FROM organizations o",
    );
    let keyset = Keyset::oldest_first("me.joined_at", "o.id");
    let sql = format!(
        "{select} JOIN memberships me ON me.organization_id = o.id WHERE me.user_id = $1{}",
        keyset.page_sql(page, 1)
    );
    let rows = page.bind(sqlx::query(&sql).bind(user.to_string())).fetch_all(pool).await?;
    Ok(rows
        .iter()
        .map(|r| {
            let role: String = r.try_get("my_role")?;
            let mine = MyMembership {
                role: Role::parse(&role).ok_or_else(|| sqlx::Error::Decode(format!("bad role {role:?}").into()))?,
                grants: parse_grants(&r.try_get::<String, _>("my_grants")?),
                joined_at: r.try_get("my_joined_at")?,
            };
            Ok((OrgRow::from_row(r)?, mine))
        })
        .collect::<Result<_, sqlx::Error>>()?)
}

/// Writes every editable column from `org` (the caller changed what it meant to change).
pub async fn update(tx: &mut Tx, org: &OrgRow, now: DateTime<Utc>) -> DbResult<bool> {
    sqlx::query(
        "UPDATE organizations SET name = $1, slug = $2, primary_color = $3, logo_url = $4, sso_enabled = $5, api_enabled = $6,
             tier = $7, subscription_status = $8, max_users = $9, max_api_calls_per_hour = $10, owner_id = $11, updated_at = $12
         WHERE id = $13",
    )
    .bind(&org.name)
    .bind(&org.slug)
    .bind(org.settings.primary_color.as_deref())
    .bind(org.settings.logo_url.as_deref())
    .bind(org.settings.sso_enabled as i64)
    .bind(org.settings.api_enabled as i64)
    .bind(org.subscription.tier.as_str())
    .bind(org.subscription.status.as_str())
    .bind(org.limits.max_users)
    .bind(org.limits.max_api_calls_per_hour)
    .bind(org.owner_id.to_string())
    .bind(to_millis(now))
    .bind(org.id.to_string())
    .execute(&mut **tx)
    .await
        .map(|_| true)
        .on_duplicate(false)
}

pub async fn set_logo(
    tx: &mut Tx,
    id: OrgId,
    png: Option<&[u8]>,
    url: Option<&str>,
    now: DateTime<Utc>,
) -> DbResult<()> {
    execute!(
        tx,
        "UPDATE organizations SET logo_png = $1, logo_url = $2, updated_at = $3 WHERE id = $4",
        png.map(<[u8]>::to_vec),
        url,
        to_millis(now),
        id.to_string()
    )
}

pub async fn logo(pool: &AnyPool, id: OrgId) -> DbResult<Option<Vec<u8>>> {
    let png: Option<Option<Vec<u8>>> = sqlx::query_scalar("SELECT logo_png FROM organizations WHERE id = $1")
        .bind(id.to_string())
        .fetch_optional(pool)
        .await?;
    Ok(png.flatten())
}

pub async fn delete(tx: &mut Tx, id: OrgId) -> DbResult<()> {
    // Memberships and invitations go with it (ON DELETE CASCADE); audit rows stay.
    execute!(tx, "DELETE FROM organizations WHERE id = $1", id.to_string())
}

/// The organization's `max_api_calls_per_hour` (0 when it does not exist).
pub async fn api_limit(pool: &AnyPool, id: OrgId) -> DbResult<i64> {
    let limit: Option<i64> = sqlx::query_scalar("SELECT max_api_calls_per_hour FROM organizations WHERE id = $1")
        .bind(id.to_string())
        .fetch_optional(pool)
        .await?;
    Ok(limit.unwrap_or_default())
}
