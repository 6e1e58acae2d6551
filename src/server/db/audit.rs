//! The `audit_chains` and `audit_logs` tables. Rows are only ever inserted; each stores the hash of
//! the previous row of its chain and a hash over its own content, so editing or deleting any row
//! breaks the chain from there on.
use super::{to_millis, DbResult, Tx};
use crate::server::pagination::{PageRequest, NEWEST_FIRST};
use crate::shared::columns::Millis;
use crate::shared::{audit::AuditEntry, ids::AuditId};
use chrono::{DateTime, Utc};
use sqlx::{AnyPool, FromRow};

pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Reserves the next position of a chain, creating the chain on first use. The UPDATE holds the
/// chain row's lock until the transaction ends, so concurrent writers queue here.
pub async fn next_position(tx: &mut Tx, chain: &str) -> DbResult<(i64, String)> {
    sqlx::query("INSERT INTO audit_chains (chain_id, seq, head) VALUES ($1, 0, $2) ON CONFLICT (chain_id) DO NOTHING")
        .bind(chain)
        .bind(GENESIS)
        .execute(&mut **tx)
        .await?;
    Ok(sqlx::query_as("UPDATE audit_chains SET seq = seq + 1 WHERE chain_id = $1 RETURNING seq, head")
        .bind(chain)
        .fetch_one(&mut **tx)
        .await?)
}

pub async fn insert(tx: &mut Tx, row: &StoredRow) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO audit_logs (id, chain_id, seq, organization_id, actor_type, actor_id, actor_name, action, resource_type,
             resource_id, ip, user_agent, metadata, created_at, prev_hash, hash)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
    )
    .bind(row.id.to_string())
    .bind(&row.chain_id)
    .bind(row.seq)
    .bind(row.organization_id.as_deref())
    .bind(&row.actor_type)
    .bind(row.actor_id.as_deref())
    .bind(&row.actor_name)
    .bind(&row.action)
    .bind(&row.resource_type)
    .bind(row.resource_id.as_deref())
    .bind(row.ip.as_deref())
    .bind(row.user_agent.as_deref())
    .bind(&row.metadata)
    .bind(to_millis(row.created_at))
    .bind(&row.prev_hash)
    .bind(&row.hash)
    .execute(&mut **tx)
    .await?;
    execute!(tx, "UPDATE audit_chains SET head = $1 WHERE chain_id = $2", &row.hash, &row.chain_id)
}

/// A row exactly as stored: what the hash covers.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StoredRow {
    pub id: AuditId,
    pub chain_id: String,
    pub seq: i64,
    pub organization_id: Option<String>,
    pub actor_type: String,
    pub actor_id: Option<String>,
    pub actor_name: String,
    pub action: String,
    pub resource_type: String,
    pub resource_id: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub metadata: String,
    #[sqlx(try_from = "Millis")]
    pub created_at: DateTime<Utc>,
    pub prev_hash: String,
    pub hash: String,
}

impl StoredRow {
    pub fn to_entry(&self) -> AuditEntry {
        AuditEntry {
            id: self.id,
            organization_id: self.organization_id.as_deref().and_then(|o| o.parse().ok()),
            seq: self.seq,
            actor_type: self.actor_type.clone(),
            actor_id: self.actor_id.clone(),
            actor_name: self.actor_name.clone(),
            action: self.action.clone(),
            resource_type: self.resource_type.clone(),
            resource_id: self.resource_id.clone(),
            ip: self.ip.clone(),
            user_agent: self.user_agent.clone(),
            metadata: serde_json::from_str(&self.metadata).unwrap_or(serde_json::Value::Null),
            created_at: self.created_at,
            hash: self.hash.clone(),
        }
    }
}

const COLUMNS: &str = "id, chain_id, seq, organization_id, actor_type, actor_id, actor_name, action, resource_type, resource_id, ip, user_agent, metadata, created_at, prev_hash, hash";

/// One chain in order, `limit` rows after position `after_seq`.
pub async fn chain_page(pool: &AnyPool, chain: &str, after_seq: i64, limit: i64) -> DbResult<Vec<StoredRow>> {
    let sql = format!("SELECT {COLUMNS} FROM audit_logs WHERE chain_id = $1 AND seq > $2 ORDER BY seq LIMIT $3");
    let rows = sqlx::query(&sql).bind(chain).bind(after_seq).bind(limit).fetch_all(pool).await?;
    Ok(rows.iter().map(StoredRow::from_row).collect::<Result<_, _>>()?)
}

pub async fn chains(pool: &AnyPool) -> DbResult<Vec<String>> {
    Ok(sqlx::query_scalar("SELECT chain_id FROM audit_chains ORDER BY chain_id").fetch_all(pool).await?)
}

pub async fn chain_head(pool: &AnyPool, chain: &str) -> DbResult<Option<(i64, String)>> {
    Ok(sqlx::query_as("SELECT seq, head FROM audit_chains WHERE chain_id = $1")
        .bind(chain)
        .fetch_optional(pool)
        .await?)
}

#[derive(Debug, Default, Clone)]
pub struct Filter {
    pub actor_id: Option<String>,
    pub action: Option<String>,
    pub resource_type: Option<String>,
    pub resource_id: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

enum Bind {
    Text(String),
    Int(i64),
}

/// An organization's rows, newest first, filtered, keyset-paginated on (created_at, id).
pub async fn list(pool: &AnyPool, org: &str, filter: &Filter, page: &PageRequest) -> DbResult<Vec<StoredRow>> {
    let mut sql = format!("SELECT {COLUMNS} FROM audit_logs WHERE organization_id = $1");
    let mut binds = vec![Bind::Text(org.to_owned())];
    let mut condition = |sql: &mut String, clause: &str, values: Vec<Bind>| {
        let mut clause = clause.to_owned();
        for value in values {
            binds.push(value);
            clause = clause.replacen('?', &format!("${}", binds.len()), 1);
        }
        sql.push_str(" AND ");
        sql.push_str(&clause);
    };
    let text_filters = [
        ("actor_id = ?", &filter.actor_id),
        ("action = ?", &filter.action),
        ("resource_type = ?", &filter.resource_type),
        ("resource_id = ?", &filter.resource_id),
    ];
    for (clause, value) in text_filters {
        if let Some(value) = value {
            condition(&mut sql, clause, vec![Bind::Text(value.clone())]);
        }
    }
    if let Some(from) = filter.from {
        condition(&mut sql, "created_at >= ?", vec![Bind::Int(to_millis(from))]);
    }
    if let Some(to) = filter.to {
        condition(&mut sql, "created_at < ?", vec![Bind::Int(to_millis(to))]);
    }
    sql.push_str(&NEWEST_FIRST.page_sql(page, binds.len()));
    let mut query = sqlx::query(&sql);
    for bind in binds {
        query = match bind {
            Bind::Text(t) => query.bind(t),
            Bind::Int(n) => query.bind(n),
        };
    }
    let rows = page.bind(query).fetch_all(pool).await?;
    Ok(rows.iter().map(StoredRow::from_row).collect::<Result<_, _>>()?)
}

pub const DAY_MILLIS: i64 = 86_400_000;

/// (day number since the epoch, rows) for one organization since `since`.
pub async fn per_day(pool: &AnyPool, org: &str, since: DateTime<Utc>) -> DbResult<Vec<(i64, i64)>> {
    Ok(sqlx::query_as(
        "SELECT created_at / 86400000 AS day, COUNT(*) AS n FROM audit_logs
         WHERE organization_id = $1 AND created_at >= $2 GROUP BY created_at / 86400000",
    )
    .bind(org)
    .bind(to_millis(since))
    .fetch_all(pool)
    .await?)
}
