//! `/api/v1/organizations/{org}/audit-logs`: the audit log (JSON pages or a streamed CSV) and the
//! verification of its hash chain. Every handler authorizes membership of the organization in the
//! path (404 otherwise); the service checks the permission.
use super::caller::InOrg;
use super::openapi::ErrorBody;
use crate::server::{authz::OrgScope, error::AppQuery, service::audit, state::AppState};
use crate::shared::{
    accounts::Page,
    audit::{AuditEntry, ChainStatus},
    error::AppError,
};
use axum::{
    body::Body,
    extract::State,
    http::header,
    response::{IntoResponse, Response},
    Json,
};
use futures::StreamExt;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(audit_logs)).routes(routes!(verify_audit))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct AuditQuery {
    /// Only entries by this actor (its `actor_id`, e.g. a user id).
    actor: Option<String>,
    /// Only this action, e.g. `member.role_changed`.
    action: Option<String>,
    /// Only entries about this kind of resource, e.g. `member`.
    resource_type: Option<String>,
    /// Only entries about this resource id.
    resource_id: Option<String>,
    /// Only entries at or after this time (RFC 3339).
    from: Option<chrono::DateTime<chrono::Utc>>,
    /// Only entries before this time (RFC 3339).
    to: Option<chrono::DateTime<chrono::Utc>>,
    /// The `next_cursor` of the previous page; omit it for the first page.
    cursor: Option<String>,
    /// How many entries to return, 1–200 (default 50). CSV streams every entry (the value is still
    /// checked).
    #[param(minimum = 1, maximum = 200, default = 50)]
    limit: Option<i64>,
    /// `json` (default) or `csv` (every matching entry as a streamed download).
    #[param(pattern = "^(json|csv)$")]
    format: Option<String>,
}

/// List audit log entries
///
/// The organization's audit log, newest first, filtered by the query. With `format=csv` every
/// matching entry is streamed as a CSV download.
#[utoipa::path(get, path = "/organizations/{org}/audit-logs", operation_id = "listAuditLogs", tag = "audit",
    security(("api_key" = ["audit:read"])), params(AuditQuery),
    responses(
        (status = 200, description = "A page of entries (JSON), or all matching entries (CSV).", content(
            (Page<AuditEntry> = "application/json"),
            (String = "text/csv")
        )),
        (status = 422, description = "Or a filter is invalid, e.g. `format` or `from` (`validation_failed`, `details.field`).", body = ErrorBody),
    )
)]
async fn audit_logs(
    State(app): State<AppState>,
    InOrg(scope): InOrg,
    AppQuery(q): AppQuery<AuditQuery>,
) -> Result<Response, AppError> {
    let query = audit::Query {
        actor: q.actor,
        action: q.action,
        resource_type: q.resource_type,
        resource_id: q.resource_id,
        from: q.from,
        to: q.to,
        cursor: q.cursor,
        limit: q.limit,
    };
    match q.format.as_deref() {
        None | Some("json") => {
            Ok(Json::<Page<AuditEntry>>(audit::list(app.db.pool(), &scope, &query).await?).into_response())
        }
        Some("csv") => {
            // The CSV streams every page, but `limit` and `cursor` are checked as for JSON: the
            // document states one rule for both.
            crate::server::pagination::PageRequest::parse(query.limit, query.cursor.as_deref())?;
            csv_download(app, scope, query).await
        }
        Some(_) => Err(AppError::invalid_field("format", "Use json or csv.")),
    }
}

const CSV_PAGE: i64 = crate::server::pagination::MAX_LIMIT;

/// Streams every matching row as CSV, a page at a time, so a large log never sits in memory.
async fn csv_download(app: AppState, scope: OrgScope, query: audit::Query) -> Result<Response, AppError> {
    let first = audit::list(app.db.pool(), &scope, &audit::Query { limit: Some(CSV_PAGE), ..query.clone() }).await?;
    let state = Some((first, true));
    let stream = futures::stream::unfold(state, move |state| {
        let (app, scope, query) = (app.clone(), scope.clone(), query.clone());
        async move {
            let (page, header) = state?;
            let chunk = audit::csv_lines(&page.data, header);
            let next = match page.next_cursor {
                Some(cursor) => match audit::list(
                    app.db.pool(),
                    &scope,
                    &audit::Query { cursor: Some(cursor), limit: Some(CSV_PAGE), ..query },
                )
                .await
                {
                    Ok(next) => Some((next, false)),
                    Err(e) => return Some((Err(std::io::Error::other(e.message)), None)),
                },
                None => None,
            };
            Some((Ok::<_, std::io::Error>(chunk), next))
        }
    });
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (header::CONTENT_DISPOSITION, "attachment; filename=\"audit-log.csv\""),
        ],
        // Fused: the compression layer may poll again after the end, which `unfold` forbids.
        Body::from_stream(stream.fuse()),
    )
        .into_response())
}

/// Verify the audit log's hash chain
///
/// Recomputes every entry's hash: an edited, deleted or reordered row is reported as the first
/// broken one.
#[utoipa::path(get, path = "/organizations/{org}/audit-logs/verify", operation_id = "verifyAuditLog", tag = "audit",
    security(("api_key" = ["audit:read"])),
    responses((status = 200, description = "The chain's status.", body = ChainStatus))
)]
async fn verify_audit(State(app): State<AppState>, InOrg(scope): InOrg) -> Result<Json<ChainStatus>, AppError> {
    Ok(Json(audit::verify(app.db.pool(), &scope).await?))
}
