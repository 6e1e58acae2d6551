//! `/api/v1/organizations` and its members, invitations and audit log. Every handler authorizes
//! membership of the organization in the path (404 otherwise); the service checks the permission.
use super::caller::InOrg;
use crate::server::{
    auth::principal::{ClientMeta, SignedIn},
    authz::{authorize, OrgScope},
    error::{AppJson, AppPath, AppQuery},
    service::{audit, invitations, logo, members, orgs},
    state::AppState,
};
use crate::shared::{
    account::Page,
    error::AppError,
    ids::{InvitationId, OrgId, UserId},
    org::{AuditEntry, ChainStatus, Invitation, IssuedInvitation, Member, OrgStats, Organization},
    roles::{Permission, Role},
};
use axum::{
    body::Body,
    extract::State,
    http::{header, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, patch, post},
    Json, Router,
};
use futures::StreamExt;
use serde::Deserialize;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/organizations", post(create).get(list_mine))
        .route("/organizations/{org}", get(read).patch(update).delete(delete))
        .route("/organizations/{org}/stats", get(stats))
        .route("/organizations/{org}/logo", axum::routing::put(upload_logo).delete(remove_logo))
        .route("/organizations/{org}/members", get(list_members))
        .route("/organizations/{org}/members/{user}", patch(change_member).delete(remove_member))
        .route("/organizations/{org}/transfer-ownership", post(transfer_ownership))
        .route("/organizations/{org}/leave", post(leave))
        .route("/organizations/{org}/invite", post(invite))
        .route("/organizations/{org}/invitations", get(list_invitations))
        .route("/organizations/{org}/invitations/{invitation}", axum::routing::delete(revoke_invitation))
        .route("/organizations/{org}/invitations/{invitation}/resend", post(resend_invitation))
        .route("/invitations/accept", post(accept_invitation))
        .route("/organizations/{org}/audit-logs", get(audit_logs))
        .route("/organizations/{org}/audit-logs/verify", get(verify_audit))
}

#[derive(Deserialize)]
struct CreateBody {
    name: String,
    slug: Option<String>,
}

async fn create(
    State(app): State<AppState>,
    who: SignedIn,
    client: ClientMeta,
    AppJson(body): AppJson<CreateBody>,
) -> Result<(StatusCode, Json<Organization>), AppError> {
    let org = orgs::create(&app, &who, &client, &body.name, body.slug.as_deref()).await?;
    Ok((StatusCode::CREATED, Json(org)))
}

#[derive(Deserialize)]
struct ListQuery {
    limit: Option<i64>,
    cursor: Option<String>,
    search: Option<String>,
}

async fn list_mine(
    State(app): State<AppState>,
    who: SignedIn,
    AppQuery(q): AppQuery<ListQuery>,
) -> Result<Json<Page<Organization>>, AppError> {
    Ok(Json(orgs::list_mine(&app, &who, q.cursor.as_deref(), q.limit).await?))
}

async fn read(State(app): State<AppState>, InOrg(scope): InOrg) -> Result<Json<Organization>, AppError> {
    Ok(Json(orgs::get(&app, &scope).await?))
}

async fn update(
    State(app): State<AppState>,
    InOrg(scope): InOrg,
    AppJson(patch): AppJson<orgs::OrgPatch>,
) -> Result<Json<Organization>, AppError> {
    Ok(Json(orgs::update(&app, &scope, patch).await?))
}

#[derive(Deserialize)]
struct DeleteBody {
    confirm: String,
}

async fn delete(
    State(app): State<AppState>,
    InOrg(scope): InOrg,
    AppJson(body): AppJson<DeleteBody>,
) -> Result<StatusCode, AppError> {
    orgs::delete(&app, &scope, &body.confirm).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn stats(State(app): State<AppState>, InOrg(scope): InOrg) -> Result<Json<OrgStats>, AppError> {
    Ok(Json(orgs::stats(&app, &scope).await?))
}

/// The body is the image itself (PNG, JPEG or WebP, at most 512 KB).
async fn upload_logo(
    State(app): State<AppState>,
    InOrg(scope): InOrg,
    body: axum::body::Bytes,
) -> Result<StatusCode, AppError> {
    logo::set(&app, &scope, Some(body.to_vec())).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn remove_logo(State(app): State<AppState>, InOrg(scope): InOrg) -> Result<StatusCode, AppError> {
    logo::set(&app, &scope, None).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn list_members(
    State(app): State<AppState>,
    InOrg(scope): InOrg,
    AppQuery(q): AppQuery<ListQuery>,
) -> Result<Json<Page<Member>>, AppError> {
    Ok(Json(members::list(&app, &scope, q.search.as_deref(), q.cursor.as_deref(), q.limit).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MemberBody {
    role: Option<Role>,
    permissions: Option<Vec<Permission>>,
}

async fn change_member(
    State(app): State<AppState>,
    InOrg(scope): InOrg,
    AppPath((_, user)): AppPath<(OrgId, UserId)>,
    AppJson(body): AppJson<MemberBody>,
) -> Result<Json<Member>, AppError> {
    Ok(Json(members::change(&app, &scope, user, body.role, body.permissions).await?))
}

async fn remove_member(
    State(app): State<AppState>,
    InOrg(scope): InOrg,
    AppPath((_, user)): AppPath<(OrgId, UserId)>,
) -> Result<StatusCode, AppError> {
    members::remove(&app, &scope, user).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
struct TransferBody {
    user_id: UserId,
}

async fn transfer_ownership(
    State(app): State<AppState>,
    InOrg(scope): InOrg,
    AppJson(body): AppJson<TransferBody>,
) -> Result<StatusCode, AppError> {
    members::transfer_ownership(&app, &scope, body.user_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn leave(State(app): State<AppState>, InOrg(scope): InOrg) -> Result<StatusCode, AppError> {
    members::leave(&app, &scope).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InviteBody {
    email: String,
    role: Option<Role>,
    expires_in_days: Option<i64>,
}

async fn invite(
    State(app): State<AppState>,
    InOrg(scope): InOrg,
    AppJson(body): AppJson<InviteBody>,
) -> Result<(StatusCode, Json<IssuedInvitation>), AppError> {
    let issued = invitations::invite(&app, &scope, &body.email, body.role, body.expires_in_days).await?;
    Ok((StatusCode::CREATED, Json(issued)))
}

async fn list_invitations(
    State(app): State<AppState>,
    InOrg(scope): InOrg,
    AppQuery(q): AppQuery<ListQuery>,
) -> Result<Json<Page<Invitation>>, AppError> {
    Ok(Json(invitations::list(&app, &scope, q.cursor.as_deref(), q.limit).await?))
}

async fn revoke_invitation(
    State(app): State<AppState>,
    InOrg(scope): InOrg,
    AppPath((_, id)): AppPath<(OrgId, InvitationId)>,
) -> Result<StatusCode, AppError> {
    invitations::revoke(&app, &scope, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, Default)]
struct ResendBody {
    expires_in_days: Option<i64>,
}

async fn resend_invitation(
    State(app): State<AppState>,
    InOrg(scope): InOrg,
    AppPath((_, id)): AppPath<(OrgId, InvitationId)>,
    body: axum::body::Bytes,
) -> Result<Json<IssuedInvitation>, AppError> {
    // The body is optional: `{}`, `{"expires_in_days": N}` or nothing at all.
    let body: ResendBody = super::optional_json(&body)?;
    let days = body.expires_in_days;
    Ok(Json(invitations::resend(&app, &scope, id, days).await?))
}

#[derive(Deserialize)]
struct AcceptBody {
    token: String,
}

async fn accept_invitation(
    State(app): State<AppState>,
    who: SignedIn,
    client: ClientMeta,
    AppJson(body): AppJson<AcceptBody>,
) -> Result<Json<Organization>, AppError> {
    let org = invitations::accept(&app, &who, &client, &body.token).await?;
    let scope = authorize(&app.db, &who, &client, org, Permission::OrgRead).await?;
    Ok(Json(orgs::get(&app, &scope).await?))
}

#[derive(Deserialize)]
struct AuditQuery {
    actor: Option<String>,
    action: Option<String>,
    resource_type: Option<String>,
    resource_id: Option<String>,
    from: Option<chrono::DateTime<chrono::Utc>>,
    to: Option<chrono::DateTime<chrono::Utc>>,
    cursor: Option<String>,
    limit: Option<i64>,
    format: Option<String>,
}

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
        Some("csv") => csv_download(app, scope, query).await,
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

async fn verify_audit(State(app): State<AppState>, InOrg(scope): InOrg) -> Result<Json<ChainStatus>, AppError> {
    Ok(Json(audit::verify(app.db.pool(), &scope).await?))
}
