//! `/api/v1/me`: the signed-in user's profile, password, sessions and linked sign-in methods.
use super::openapi::{EndedSessions, ErrorBody};
use crate::server::pagination::{PageParams, PageRequest};
use crate::server::{
    auth::{
        principal::{ClientMeta, SignedIn},
        session,
    },
    error::{AppJson, AppPath},
    service::{accounts, sso::linking},
    state::AppState,
};
use crate::shared::{
    accounts::{LinkedIdentity, Me, Page, SessionInfo},
    error::AppError,
    ids::SessionId,
};
use axum::{extract::State, http::StatusCode, Json};
use serde::Deserialize;
use tower_sessions::Session;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(me, update_me))
        .routes(routes!(change_password))
        .routes(routes!(sessions))
        .routes(routes!(revoke_session))
        .routes(routes!(identities))
        .routes(routes!(unlink_identity))
}

/// The signed-in user
#[utoipa::path(get, path = "/me", operation_id = "getMe", tag = "me",
    security(("session" = [])),
    responses((status = 200, description = "The signed-in user.", body = Me))
)]
async fn me(who: SignedIn) -> Json<Me> {
    Json(who.user.to_me())
}

#[derive(Deserialize, ToSchema)]
struct ProfileBody {
    name: String,
}

/// Update the profile
///
/// Changes the signed-in user's display name.
#[utoipa::path(patch, path = "/me", operation_id = "updateMe", tag = "me",
    security(("session" = [])), request_body = ProfileBody,
    responses(
        (status = 200, description = "The updated user.", body = Me),
        (status = 422, description = "The name is missing, empty or too long (`validation_failed`, `details.field` = `name`).", body = ErrorBody),
    )
)]
async fn update_me(
    State(app): State<AppState>,
    who: SignedIn,
    AppJson(body): AppJson<ProfileBody>,
) -> Result<Json<Me>, AppError> {
    Ok(Json(accounts::update_profile(&app, &who, &body.name).await?.to_me()))
}

#[derive(Deserialize, ToSchema)]
struct PasswordBody {
    current_password: String,
    new_password: String,
}

/// Change the password
///
/// Needs the current password. Ends every other session of the user (this one stays, with a new id)
/// and mails a notice.
#[utoipa::path(post, path = "/me/password", operation_id = "changePassword", tag = "me",
    security(("session" = [])), request_body = PasswordBody,
    responses(
        (status = 200, description = "Changed; how many other sessions were ended.", body = EndedSessions),
        (status = 422, description = "The current password is wrong, or the new one is guessable or unchanged (`validation_failed`, `details.field` = `current_password` or `new_password`).", body = ErrorBody),
    )
)]
async fn change_password(
    State(app): State<AppState>,
    who: SignedIn,
    browser: Session,
    AppJson(body): AppJson<PasswordBody>,
) -> Result<Json<serde_json::Value>, AppError> {
    let ended = accounts::change_password(&app, &who, &body.current_password, &body.new_password).await?;
    session::rotate(&browser).await?;
    Ok(Json(serde_json::json!({ "ended_sessions": ended })))
}

/// List my sessions
///
/// The signed-in user's active sessions, newest first; `current` marks the one making this request.
#[utoipa::path(get, path = "/me/sessions", operation_id = "listSessions", tag = "me",
    security(("session" = [])), params(PageParams),
    responses((status = 200, description = "A page of sessions.", body = Page<SessionInfo>))
)]
async fn sessions(
    State(app): State<AppState>,
    who: SignedIn,
    page: PageRequest,
) -> Result<Json<Page<SessionInfo>>, AppError> {
    Ok(Json(accounts::list_sessions(&app, &who, &page).await?))
}

/// Sign out one session
///
/// Ends one of the signed-in user's own sessions.
#[utoipa::path(delete, path = "/me/sessions/{session_id}", operation_id = "revokeSession", tag = "me",
    security(("session" = [])),
    params(("session_id" = SessionId, Path, description = "The session to end (an `id` from `GET /me/sessions`).")),
    responses(
        (status = 204, description = "The session has ended."),
        (status = 404, description = "No such session of yours (`not_found`).", body = ErrorBody),
    )
)]
async fn revoke_session(
    State(app): State<AppState>,
    who: SignedIn,
    AppPath(id): AppPath<SessionId>,
) -> Result<StatusCode, AppError> {
    accounts::revoke_session(&app, &who, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// List my linked sign-in methods
///
/// The single sign-on identities (OIDC, SAML, LDAP) that can sign in to the signed-in user's
/// account, newest first (at most 200).
#[utoipa::path(get, path = "/me/identities", operation_id = "listLinkedIdentities", tag = "me",
    security(("session" = [])),
    responses((status = 200, description = "The linked identities.", body = Vec<LinkedIdentity>))
)]
async fn identities(State(app): State<AppState>, who: SignedIn) -> Result<Json<Vec<LinkedIdentity>>, AppError> {
    Ok(Json(linking::identities(&app, who.user.id).await?))
}

/// Unlink a sign-in method
///
/// The identity can no longer sign in to this account (a later sign-in through it must be confirmed
/// again). Audited in the identity provider's organization.
#[utoipa::path(delete, path = "/me/identities/{identity_id}", operation_id = "unlinkIdentity", tag = "me",
    security(("session" = [])),
    params(("identity_id" = String, Path, description = "An `id` from `GET /me/identities`.")),
    responses(
        (status = 204, description = "Unlinked."),
        (status = 404, description = "No such identity linked to you (`not_found`).", body = ErrorBody),
    )
)]
async fn unlink_identity(
    State(app): State<AppState>,
    who: SignedIn,
    client: ClientMeta,
    AppPath(id): AppPath<String>,
) -> Result<StatusCode, AppError> {
    linking::unlink(&app, &who.user, &id, &client).await?;
    Ok(StatusCode::NO_CONTENT)
}
