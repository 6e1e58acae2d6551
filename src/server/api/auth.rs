//! `/api/v1/auth/*`: sign up, sign in and out, email verification and password reset.
use crate::server::{
    auth::{
        principal::{ClientMeta, SignedIn},
        session,
    },
    error::AppJson,
    service::accounts,
    state::AppState,
};
use crate::shared::{account::Me, error::AppError};
use axum::{extract::State, http::StatusCode, routing::post, Json, Router};
use serde::Deserialize;
use tower_sessions::Session;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/auth/signup", post(signup))
        .route("/auth/login", post(login))
        .route("/auth/logout", post(logout))
        .route("/auth/logout-all", post(logout_all))
        .route("/auth/verify-email", post(verify_email))
        .route("/auth/resend-verification", post(resend_verification))
        .route("/auth/forgot-password", post(forgot_password))
        .route("/auth/reset-password", post(reset_password))
}

#[derive(Deserialize)]
struct SignupBody {
    name: String,
    email: String,
    password: String,
}

async fn signup(
    State(app): State<AppState>,
    client: ClientMeta,
    browser: Session,
    AppJson(body): AppJson<SignupBody>,
) -> Result<(StatusCode, Json<Me>), AppError> {
    let input = accounts::Signup { name: body.name, email: body.email, password: body.password };
    let (user, row) = accounts::signup(&app, input, &client).await?;
    session::establish(&browser, &row).await?;
    Ok((StatusCode::CREATED, Json(user.to_me())))
}

#[derive(Deserialize)]
struct LoginBody {
    email: String,
    password: String,
}

async fn login(
    State(app): State<AppState>,
    client: ClientMeta,
    browser: Session,
    AppJson(body): AppJson<LoginBody>,
) -> Result<Json<Me>, AppError> {
    let (user, row) = accounts::login(&app, &body.email, &body.password, &client).await?;
    session::establish(&browser, &row).await?;
    Ok(Json(user.to_me()))
}

async fn logout(State(app): State<AppState>, who: SignedIn, browser: Session) -> Result<StatusCode, AppError> {
    accounts::logout(&app, &who).await?;
    session::clear(&browser).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn logout_all(
    State(app): State<AppState>,
    who: SignedIn,
    browser: Session,
) -> Result<Json<serde_json::Value>, AppError> {
    let ended = accounts::logout_everywhere(&app, &who).await?;
    session::clear(&browser).await?;
    Ok(Json(serde_json::json!({ "ended_sessions": ended })))
}

#[derive(Deserialize)]
struct TokenBody {
    token: String,
}

async fn verify_email(State(app): State<AppState>, AppJson(body): AppJson<TokenBody>) -> Result<StatusCode, AppError> {
    accounts::verify_email(&app, &body.token).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn resend_verification(State(app): State<AppState>, who: SignedIn) -> Result<StatusCode, AppError> {
    accounts::resend_verification(&app, &who).await?;
    Ok(StatusCode::ACCEPTED)
}

#[derive(Deserialize)]
struct EmailBody {
    email: String,
}

async fn forgot_password(
    State(app): State<AppState>,
    client: ClientMeta,
    AppJson(body): AppJson<EmailBody>,
) -> Result<StatusCode, AppError> {
    accounts::forgot_password(&app, &body.email, &client).await?;
    Ok(StatusCode::ACCEPTED)
}

#[derive(Deserialize)]
struct ResetBody {
    token: String,
    password: String,
}

async fn reset_password(
    State(app): State<AppState>,
    AppJson(body): AppJson<ResetBody>,
) -> Result<StatusCode, AppError> {
    accounts::reset_password(&app, &body.token, &body.password).await?;
    Ok(StatusCode::NO_CONTENT)
}
