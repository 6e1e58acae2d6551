//! The `api_keys` and `api_key_secrets` tables. A key has one secret, or two while a roll's grace
//! period runs; "expired" is not stored (a key past `expires_at` is expired).
use super::{get_id, get_opt_time, get_time, to_millis, DbResult, Tx};
use crate::server::pagination::{Keyset, PageRequest};
use crate::shared::columns::parse_grants;
use crate::shared::{
    api_keys::{ApiKey, ApiKeyStatus, KeyRef},
    ids::{ApiKeyId, OrgId, UserId},
    roles::{Permission, Role},
};
use chrono::{DateTime, Utc};
use sqlx::{any::AnyRow, AnyPool, Row};

fn from_row(row: &AnyRow, now: DateTime<Utc>) -> Result<ApiKey, sqlx::Error> {
    let expires_at = get_opt_time(row, "expires_at")?;
    let status = if get_opt_time(row, "revoked_at")?.is_some() {
        ApiKeyStatus::Revoked
    } else if expires_at.is_some_and(|at| at <= now) {
        ApiKeyStatus::Expired
    } else if row.try_get::<i64, _>("creator_is_member")? == 0 {
        ApiKeyStatus::CreatorRemoved
    } else {
        ApiKeyStatus::Active
    };
    Ok(ApiKey {
        id: get_id(row, "id")?,
        organization_id: get_id(row, "organization_id")?,
        name: row.try_get("name")?,
        key_prefix: row.try_get("key_prefix")?,
        scopes: parse_grants(&row.try_get::<String, _>("scopes")?),
        rate_limit_per_hour: row.try_get("rate_limit_per_hour")?,
        status,
        created_by: row.try_get::<Option<String>, _>("created_by")?.and_then(|id| id.parse().ok()),
        created_at: get_time(row, "created_at")?,
        expires_at,
        previous_secret_expires_at: get_opt_time(row, "previous_secret_expires_at")?,
        last_used_at: get_opt_time(row, "last_used_at")?,
        total_requests: row.try_get("total_requests")?,
    })
}

/// `$1` is "now": the grace secret shows only while it still works.
const SELECT: &str = "SELECT k.id, k.organization_id, k.name, k.key_prefix, k.scopes, k.rate_limit_per_hour,
    k.created_by, k.created_at, k.expires_at, k.revoked_at, k.last_used_at, k.total_requests,
    (SELECT MAX(s.expires_at) FROM api_key_secrets s WHERE s.key_id = k.id AND s.expires_at > $1)
        AS previous_secret_expires_at,
    (SELECT COUNT(*) FROM memberships m WHERE m.organization_id = k.organization_id AND m.user_id = k.created_by)
        AS creator_is_member
    FROM api_keys k";

pub struct NewApiKey<'a> {
    pub id: ApiKeyId,
    pub org: OrgId,
    pub name: &'a str,
    pub key_prefix: &'a str,
    pub secret_hash: &'a str,
    pub scopes: &'a str,
    pub role: Role,
    pub rate_limit_per_hour: Option<i64>,
    pub created_by: Option<UserId>,
    pub now: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
}

pub async fn insert(tx: &mut Tx, key: NewApiKey<'_>) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO api_keys (id, organization_id, name, key_prefix, scopes, role, rate_limit_per_hour, created_by, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(key.id.to_string())
    .bind(key.org.to_string())
    .bind(key.name)
    .bind(key.key_prefix)
    .bind(key.scopes)
    .bind(key.role.as_str())
    .bind(key.rate_limit_per_hour)
    .bind(key.created_by.map(|u| u.to_string()))
    .bind(to_millis(key.now))
    .bind(key.expires_at.map(to_millis))
    .execute(&mut **tx)
    .await?;
    insert_secret(tx, key.id, key.secret_hash, key.now).await
}

async fn insert_secret(tx: &mut Tx, id: ApiKeyId, hash: &str, now: DateTime<Utc>) -> DbResult<()> {
    execute!(
        tx,
        "INSERT INTO api_key_secrets (secret_hash, key_id, created_at) VALUES ($1, $2, $3)",
        hash,
        id.to_string(),
        to_millis(now)
    )
}

pub async fn get(tx: &mut Tx, org: OrgId, id: ApiKeyId, now: DateTime<Utc>) -> DbResult<Option<ApiKey>> {
    let sql = format!("{SELECT} WHERE k.id = $2 AND k.organization_id = $3");
    let row = sqlx::query(&sql)
        .bind(to_millis(now))
        .bind(id.to_string())
        .bind(org.to_string())
        .fetch_optional(&mut **tx)
        .await?;
    Ok(row.map(|r| from_row(&r, now)).transpose()?)
}

/// Newest first, keyset-paginated on (created_at, id).
pub async fn list(pool: &AnyPool, org: OrgId, page: &PageRequest, now: DateTime<Utc>) -> DbResult<Vec<ApiKey>> {
    let keyset = Keyset::newest_first("k.created_at", "k.id");
    let sql = format!("{SELECT} WHERE k.organization_id = $2{}", keyset.page_sql(page, 2));
    let rows = page.bind(sqlx::query(&sql).bind(to_millis(now)).bind(org.to_string())).fetch_all(pool).await?;
    Ok(rows.iter().map(|r| from_row(r, now)).collect::<Result<_, _>>()?)
}

pub struct KeyChanges<'a> {
    pub name: &'a str,
    pub scopes: &'a str,
    pub rate_limit_per_hour: Option<i64>,
    pub expires_at: Option<DateTime<Utc>>,
}

pub async fn update(tx: &mut Tx, id: ApiKeyId, changes: KeyChanges<'_>) -> DbResult<()> {
    execute!(
        tx,
        "UPDATE api_keys SET name = $1, scopes = $2, rate_limit_per_hour = $3, expires_at = $4 WHERE id = $5",
        changes.name,
        changes.scopes,
        changes.rate_limit_per_hour,
        changes.expires_at.map(to_millis),
        id.to_string()
    )
}

/// Live (not revoked) keys `user` created in `org`: the ones that stop working when they leave.
pub async fn live_by_creator(tx: &mut Tx, org: OrgId, user: UserId) -> DbResult<Vec<KeyRef>> {
    let rows = sqlx::query(
        "SELECT id, name, key_prefix FROM api_keys
         WHERE organization_id = $1 AND created_by = $2 AND revoked_at IS NULL ORDER BY created_at, id",
    )
    .bind(org.to_string())
    .bind(user.to_string())
    .fetch_all(&mut **tx)
    .await?;
    let parse = |row: &AnyRow| -> Result<KeyRef, sqlx::Error> {
        Ok(KeyRef { id: get_id(row, "id")?, name: row.try_get("name")?, key_prefix: row.try_get("key_prefix")? })
    };
    Ok(rows.iter().map(parse).collect::<Result<_, _>>()?)
}

pub async fn set_creator(tx: &mut Tx, id: ApiKeyId, user: UserId) -> DbResult<()> {
    execute!(tx, "UPDATE api_keys SET created_by = $1 WHERE id = $2", user.to_string(), id.to_string())
}

/// Revokes the key and forgets its secrets, so no lookup can find it again.
pub async fn revoke(tx: &mut Tx, id: ApiKeyId, now: DateTime<Utc>) -> DbResult<()> {
    sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
        .bind(to_millis(now))
        .bind(id.to_string())
        .execute(&mut **tx)
        .await?;
    execute!(tx, "DELETE FROM api_key_secrets WHERE key_id = $1", id.to_string())
}

/// Adds `hash` as the key's secret; the secrets it had keep working until `old_until` at most.
pub async fn roll(tx: &mut Tx, id: ApiKeyId, hash: &str, now: DateTime<Utc>, old_until: DateTime<Utc>) -> DbResult<()> {
    sqlx::query("DELETE FROM api_key_secrets WHERE key_id = $1 AND (expires_at <= $2 OR $3 <= $2)")
        .bind(id.to_string())
        .bind(to_millis(now))
        .bind(to_millis(old_until))
        .execute(&mut **tx)
        .await?;
    sqlx::query(
        "UPDATE api_key_secrets SET expires_at = $1 WHERE key_id = $2 AND (expires_at IS NULL OR expires_at > $1)",
    )
    .bind(to_millis(old_until))
    .bind(id.to_string())
    .execute(&mut **tx)
    .await?;
    insert_secret(tx, id, hash, now).await
}

/// What authenticating with a key needs, in one lookup by secret hash.
#[derive(Debug, Clone)]
pub struct KeyAuth {
    pub id: ApiKeyId,
    pub org: OrgId,
    pub name: String,
    pub scopes: Vec<Permission>,
    pub rate_limit_per_hour: Option<i64>,
    pub org_limit_per_hour: i64,
    pub api_enabled: bool,
    /// Revoked, expired, or only an old secret past its grace period.
    pub usable_until: Option<DateTime<Utc>>,
    pub revoked: bool,
    /// The creator's current membership; `None` once they left the organization (or were deleted).
    pub creator: Option<KeyCreator>,
}

/// Who a key acts for, as of now: its permissions bound the key's.
#[derive(Debug, Clone)]
pub struct KeyCreator {
    pub id: UserId,
    pub role: Role,
    pub grants: Vec<Permission>,
}

pub async fn authenticate(pool: &AnyPool, hash: &str) -> DbResult<Option<KeyAuth>> {
    let row = sqlx::query(
        "SELECT k.id, k.organization_id, k.name, k.scopes, k.rate_limit_per_hour, k.expires_at, k.revoked_at,
                s.expires_at AS secret_expires_at, o.api_enabled, o.max_api_calls_per_hour,
                m.user_id AS creator_id, m.role AS creator_role, m.permissions AS creator_grants
         FROM api_key_secrets s JOIN api_keys k ON k.id = s.key_id JOIN organizations o ON o.id = k.organization_id
         LEFT JOIN memberships m ON m.organization_id = k.organization_id AND m.user_id = k.created_by
         WHERE s.secret_hash = $1",
    )
    .bind(hash)
    .fetch_optional(pool)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let parse = || -> Result<KeyAuth, sqlx::Error> {
        let creator = match row.try_get::<Option<String>, _>("creator_role")? {
            Some(role) => Some(KeyCreator {
                id: get_id(&row, "creator_id")?,
                role: Role::parse(&role).ok_or_else(|| sqlx::Error::Decode(format!("bad role {role:?}").into()))?,
                grants: parse_grants(&row.try_get::<String, _>("creator_grants")?),
            }),
            None => None,
        };
        let ends = [get_opt_time(&row, "expires_at")?, get_opt_time(&row, "secret_expires_at")?];
        Ok(KeyAuth {
            id: get_id(&row, "id")?,
            org: get_id(&row, "organization_id")?,
            name: row.try_get("name")?,
            scopes: parse_grants(&row.try_get::<String, _>("scopes")?),
            rate_limit_per_hour: row.try_get("rate_limit_per_hour")?,
            org_limit_per_hour: row.try_get("max_api_calls_per_hour")?,
            api_enabled: row.try_get::<i64, _>("api_enabled")? != 0,
            usable_until: ends.into_iter().flatten().min(),
            revoked: get_opt_time(&row, "revoked_at")?.is_some(),
            creator,
        })
    };
    Ok(parse().map(Some)?)
}

/// Adds batched usage to the keys' counters.
pub async fn add_usage(tx: &mut Tx, id: ApiKeyId, requests: i64, last_used: DateTime<Utc>) -> DbResult<()> {
    execute!(
        tx,
        "UPDATE api_keys SET total_requests = total_requests + $1,
            last_used_at = CASE WHEN last_used_at IS NULL OR last_used_at < $2 THEN $2 ELSE last_used_at END
         WHERE id = $3",
        requests,
        to_millis(last_used),
        id.to_string()
    )
}
