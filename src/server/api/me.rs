//! `/api/v1/me`: the signed-in user's profile, password and sessions.
use crate::server::{
    auth::{principal::SignedIn, session},
    error::{AppJson, AppPath, AppQuery},
    service::accounts,
    state::AppState,
};
use crate::shared::{
    account::{Me, Page, SessionInfo},
    error::AppError,
    ids::SessionId,
};
use axum::{
    extract::State,
    http::StatusCode,
    routing::{delete, get, post},
    Json, Router,
};
use serde::Deserialize;
use tower_sessions::Session;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/me", get(me).patch(update_me))
        .route("/me/password", post(change_password))
        .route("/me/sessions", get(sessions))
        .route("/me/sessions/{session_id}", delete(revoke_session))
}

async fn me(who: SignedIn) -> Json<Me> {
    Json(who.user.to_me())
}

#[derive(Deserialize)]
struct ProfileBody {
    name: String,
}

async fn update_me(
    State(app): State<AppState>,
    who: SignedIn,
    AppJson(body): AppJson<ProfileBody>,
) -> Result<Json<Me>, AppError> {
    Ok(Json(accounts::update_profile(&app, &who, &body.name).await?.to_me()))
}

#[derive(Deserialize)]
struct PasswordBody {
    current_password: String,
    new_password: String,
}

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

#[derive(Deserialize)]
struct ListQuery {
    limit: Option<i64>,
    cursor: Option<String>,
}

async fn sessions(
    State(app): State<AppState>,
    who: SignedIn,
    AppQuery(q): AppQuery<ListQuery>,
) -> Result<Json<Page<SessionInfo>>, AppError> {
    Ok(Json(accounts::list_sessions(&app, &who, q.cursor.as_deref(), q.limit).await?))
}

async fn revoke_session(
    State(app): State<AppState>,
    who: SignedIn,
    AppPath(id): AppPath<SessionId>,
) -> Result<StatusCode, AppError> {
    accounts::revoke_session(&app, &who, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
