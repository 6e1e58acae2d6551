//! The tamper-evident audit log: one hash chain per organization (and one for the platform).
//! Every change is recorded inside the transaction that makes it, so neither exists alone.
use crate::server::{
    authz::{Actor, OrgScope},
    db::{self, audit::StoredRow, Tx},
    pagination::PageRequest,
};
use crate::shared::{
    accounts::Page,
    audit::Action,
    audit::{AuditEntry, ChainStatus},
    error::AppError,
    ids::{AuditId, OrgId},
    roles::Permission,
};
use chrono::{DateTime, Utc};
use serde_json::Value;
use sha2::{Digest, Sha256};

pub const PLATFORM_CHAIN: &str = "platform";

/// What happened, to which resource, with before/after or other context in `metadata`.
pub struct Event<'a> {
    pub action: Action,
    pub resource_type: &'a str,
    pub resource_id: Option<String>,
    pub metadata: Value,
}

/// Appends to the organization's chain, as the scope's actor.
pub async fn record(tx: &mut Tx, scope: &OrgScope, event: Event<'_>) -> Result<(), AppError> {
    append(tx, &scope.org_id().to_string(), Some(scope.org_id()), scope.actor(), event).await
}

/// Appends to any chain: an organization's (for events outside a scope, like sign-ins) or
/// `PLATFORM_CHAIN`.
pub async fn append(
    tx: &mut Tx,
    chain: &str,
    org: Option<OrgId>,
    actor: &Actor,
    event: Event<'_>,
) -> Result<(), AppError> {
    let action = event.action;
    let (seq, prev_hash) = db::audit::next_position(tx, chain).await?;
    let mut row = StoredRow {
        id: AuditId::new(),
        chain_id: chain.to_owned(),
        seq,
        organization_id: org.map(|o| o.to_string()),
        actor_type: actor.kind.to_owned(),
        actor_id: actor.id.clone(),
        actor_name: actor.name.clone(),
        action: action.as_str().to_owned(),
        resource_type: event.resource_type.to_owned(),
        resource_id: event.resource_id,
        ip: actor.ip.clone(),
        user_agent: actor.user_agent.clone(),
        metadata: event.metadata.to_string(),
        created_at: db::now(),
        prev_hash,
        hash: String::new(),
    };
    row.hash = hash_of(&row);
    db::audit::insert(tx, &row).await?;
    // Webhook events of an organization come from its own chain (not the platform's copy).
    match org {
        Some(org) if chain == org.to_string() => {
            super::webhooks::outbox::enqueue_for_audit(tx, org, action, &row).await
        }
        _ => Ok(()),
    }
}

/// SHA-256 over the previous hash and the row's own content, in a fixed order. The stored text of
/// `metadata` is hashed as is, so verification never depends on how JSON is re-serialised.
fn hash_of(row: &StoredRow) -> String {
    let content = serde_json::json!([
        row.id.to_string(),
        row.chain_id,
        row.seq,
        row.organization_id,
        row.actor_type,
        row.actor_id,
        row.actor_name,
        row.action,
        row.resource_type,
        row.resource_id,
        row.ip,
        row.user_agent,
        row.metadata,
        db::to_millis(row.created_at),
    ]);
    let mut hasher = Sha256::new();
    hasher.update(row.prev_hash.as_bytes());
    hasher.update(b"\n");
    hasher.update(content.to_string().as_bytes());
    hasher.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Walks a chain from the start: every row must follow its predecessor (position and hash) and
/// hash to what it stores, and the last must be the recorded head (so rows cut off the end show).
pub async fn verify_chain(pool: &sqlx::AnyPool, chain: &str) -> Result<ChainStatus, AppError> {
    const BATCH: i64 = 1000;
    let mut expected_prev = db::audit::GENESIS.to_owned();
    let mut position = 0;
    let broken = |id: AuditId, checked: i64, reason: &str| ChainStatus {
        ok: false,
        checked,
        first_broken: Some(id),
        reason: Some(reason.to_owned()),
    };
    loop {
        let rows = db::audit::chain_page(pool, chain, position, BATCH).await?;
        for row in &rows {
            if row.seq != position + 1 {
                return Ok(broken(row.id, position, "a row before this one is missing"));
            }
            if row.prev_hash != expected_prev {
                return Ok(broken(row.id, position, "this row does not follow the previous one"));
            }
            if hash_of(row) != row.hash {
                return Ok(broken(row.id, position, "this row's content was changed after it was written"));
            }
            expected_prev = row.hash.clone();
            position = row.seq;
        }
        if (rows.len() as i64) < BATCH {
            break;
        }
    }
    let head = db::audit::chain_head(pool, chain).await?;
    let ends_well = head.as_ref().is_none_or(|(seq, hash)| *seq == position && *hash == expected_prev);
    if !ends_well {
        return Ok(ChainStatus {
            ok: false,
            checked: position,
            first_broken: None,
            reason: Some("rows at the end of the log are missing".to_owned()),
        });
    }
    Ok(ChainStatus { ok: true, checked: position, first_broken: None, reason: None })
}

pub async fn verify(pool: &sqlx::AnyPool, scope: &OrgScope) -> Result<ChainStatus, AppError> {
    scope.require(Permission::AuditRead)?;
    verify_chain(pool, &scope.org_id().to_string()).await
}

#[derive(Debug, Default, Clone)]
pub struct Query {
    pub actor: Option<String>,
    pub action: Option<String>,
    pub resource_type: Option<String>,
    pub resource_id: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub cursor: Option<String>,
    pub limit: Option<i64>,
}

pub async fn list(pool: &sqlx::AnyPool, scope: &OrgScope, query: &Query) -> Result<Page<AuditEntry>, AppError> {
    scope.require(Permission::AuditRead)?;
    let page = PageRequest::parse(query.limit, query.cursor.as_deref())?;
    let filter = db::audit::Filter {
        actor_id: query.actor.clone(),
        action: query.action.clone(),
        resource_type: query.resource_type.clone(),
        resource_id: query.resource_id.clone(),
        from: query.from,
        to: query.to,
    };
    let rows = db::audit::list(pool, &scope.org_id().to_string(), &filter, &page).await?;
    let Page { data: rows, next_cursor } = page.finish(rows, |r| (db::to_millis(r.created_at), r.id.to_string()));
    Ok(Page { data: rows.iter().map(StoredRow::to_entry).collect(), next_cursor })
}

/// One CSV line per entry (RFC 4180 quoting), with a header line first when `header` is set.
pub fn csv_lines(entries: &[AuditEntry], header: bool) -> String {
    let mut out = String::new();
    if header {
        out.push_str("id,created_at,actor_type,actor_id,actor_name,action,resource_type,resource_id,ip,user_agent,metadata,hash\r\n");
    }
    for e in entries {
        let fields = [
            e.id.to_string(),
            e.created_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            e.actor_type.clone(),
            e.actor_id.clone().unwrap_or_default(),
            e.actor_name.clone(),
            e.action.clone(),
            e.resource_type.clone(),
            e.resource_id.clone().unwrap_or_default(),
            e.ip.clone().unwrap_or_default(),
            e.user_agent.clone().unwrap_or_default(),
            e.metadata.to_string(),
            e.hash.clone(),
        ];
        let quoted: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
        out.push_str(&quoted.join(","));
        out.push_str("\r\n");
    }
    out
}

fn csv_field(value: &str) -> String {
    // A leading = + - @ would be run as a formula by spreadsheets.
    let value = if value.starts_with(['=', '+', '-', '@']) { format!("'{value}") } else { value.to_owned() };
    if value.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value
    }
}

#[cfg(test)]
mod tests {
    use super::csv_field;

    #[test]
    fn csv_fields_are_quoted_and_defused() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=cmd()"), "'=cmd()");
    }
}
