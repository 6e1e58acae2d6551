//! `/api/v1/auth/*`: sign up, sign in and out, email verification and password reset.
use super::openapi::{EndedSessions, ErrorBody};
use crate::server::{
    auth::{
        device,
        principal::{ClientMeta, SignedIn},
        session,
    },
    error::AppJson,
    service::accounts,
    state::AppState,
};
use crate::shared::{accounts::Me, error::AppError};
use axum::{
    extract::State,
    http::{header::SET_COOKIE, HeaderName, HeaderValue, StatusCode},
    response::AppendHeaders,
    Json,
};
use serde::Deserialize;
use tower_sessions::Session;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(signup))
        .routes(routes!(login))
        .routes(routes!(logout))
        .routes(routes!(logout_all))
        .routes(routes!(verify_email))
        .routes(routes!(resend_verification))
        .routes(routes!(forgot_password))
        .routes(routes!(reset_password))
}

#[derive(Deserialize, ToSchema)]
struct SignupBody {
    name: String,
    email: String,
    password: String,
}

/// Create an account
///
/// Creates the account, mails a verification link (valid 24 h) and signs the new user in: the
/// response sets the `gatehouse_session` cookie. Needs no authentication. Limited per client
/// address (429 with `Retry-After`).
#[utoipa::path(post, path = "/auth/signup", operation_id = "signup", tag = "auth",
    request_body = SignupBody,
    responses(
        (status = 201, description = "Account created and signed in; sets the session cookie.", body = Me),
        (status = 409, description = "An account with this email exists (`email_taken`, `details.field` = `email`).", body = ErrorBody),
        (status = 422, description = "A field is missing or invalid, e.g. a guessable password (`validation_failed`, `details.field`).", body = ErrorBody),
    )
)]
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

#[derive(Deserialize, ToSchema)]
struct LoginBody {
    email: String,
    password: String,
}

/// Sign in with email and password
///
/// Starts a session and sets the `gatehouse_session` cookie. A wrong email and a wrong password
/// get the same answer. More than 10 failures in 15 minutes per account or per client address
/// answer 429 with `Retry-After`. Needs no authentication.
#[utoipa::path(post, path = "/auth/login", operation_id = "login", tag = "auth",
    request_body = LoginBody,
    responses(
        (status = 200, description = "Signed in; sets the session cookie, and a device cookie that keeps this browser's own sign-in budget when the account is being throttled.", body = Me),
        (status = 401, description = "Wrong email or password (`invalid_credentials`).", body = ErrorBody),
        (status = 422, description = "A field is missing (`validation_failed`, `details.field`).", body = ErrorBody),
    )
)]
async fn login(
    State(app): State<AppState>,
    client: ClientMeta,
    browser: Session,
    AppJson(body): AppJson<LoginBody>,
) -> Result<(AppendHeaders<[(HeaderName, HeaderValue); 1]>, Json<Me>), AppError> {
    let (user, row) = accounts::login(&app, &body.email, &body.password, &client).await?;
    session::establish(&browser, &row).await?;
    let device = device::set_cookie(&app.secrets, &app.config, &user.email);
    Ok((AppendHeaders([(SET_COOKIE, device)]), Json(user.to_me())))
}

/// Sign out this session
///
/// Ends the session the cookie belongs to and clears the cookie.
#[utoipa::path(post, path = "/auth/logout", operation_id = "logout", tag = "auth",
    security(("session" = [])),
    responses((status = 204, description = "Signed out; the cookie is cleared."))
)]
async fn logout(State(app): State<AppState>, who: SignedIn, browser: Session) -> Result<StatusCode, AppError> {
    accounts::logout(&app, &who).await?;
    session::clear(&browser).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Sign out everywhere
///
/// Ends every session of the signed-in user, this one included.
#[utoipa::path(post, path = "/auth/logout-all", operation_id = "logoutAll", tag = "auth",
    security(("session" = [])),
    responses((status = 200, description = "Every session ended; the count is returned.", body = EndedSessions))
)]
async fn logout_all(
    State(app): State<AppState>,
    who: SignedIn,
    browser: Session,
) -> Result<Json<serde_json::Value>, AppError> {
    let ended = accounts::logout_everywhere(&app, &who).await?;
    session::clear(&browser).await?;
    Ok(Json(serde_json::json!({ "ended_sessions": ended })))
}

#[derive(Deserialize, ToSchema)]
struct TokenBody {
    token: String,
}

/// Verify an email address
///
/// Consumes the single-use token from the verification link (valid 24 h). Needs no
/// authentication.
#[utoipa::path(post, path = "/auth/verify-email", operation_id = "verifyEmail", tag = "auth",
    request_body = TokenBody,
    responses(
        (status = 204, description = "The address is verified."),
        (status = 400, description = "Or the token is unknown, used or expired (`invalid_token`).", body = ErrorBody),
        (status = 422, description = "The `token` field is missing (`validation_failed`).", body = ErrorBody),
    )
)]
async fn verify_email(State(app): State<AppState>, AppJson(body): AppJson<TokenBody>) -> Result<StatusCode, AppError> {
    accounts::verify_email(&app, &body.token).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Resend the verification email
///
/// Mails a fresh verification link to the signed-in user.
#[utoipa::path(post, path = "/auth/resend-verification", operation_id = "resendVerification", tag = "auth",
    security(("session" = [])),
    responses(
        (status = 202, description = "A new link is on its way."),
        (status = 409, description = "The address is already verified (`already_verified`).", body = ErrorBody),
    )
)]
async fn resend_verification(State(app): State<AppState>, who: SignedIn) -> Result<StatusCode, AppError> {
    accounts::resend_verification(&app, &who).await?;
    Ok(StatusCode::ACCEPTED)
}

#[derive(Deserialize, ToSchema)]
struct EmailBody {
    email: String,
}

/// Request a password reset link
///
/// Always answers 202, whether or not the account exists; a single-use link (valid 1 h) is mailed
/// only when it does. Needs no authentication. Limited per client address.
#[utoipa::path(post, path = "/auth/forgot-password", operation_id = "forgotPassword", tag = "auth",
    request_body = EmailBody,
    responses(
        (status = 202, description = "Accepted (the same answer for every address)."),
        (status = 422, description = "The `email` field is missing (`validation_failed`).", body = ErrorBody),
    )
)]
async fn forgot_password(
    State(app): State<AppState>,
    client: ClientMeta,
    AppJson(body): AppJson<EmailBody>,
) -> Result<StatusCode, AppError> {
    accounts::forgot_password(&app, &body.email, &client).await?;
    Ok(StatusCode::ACCEPTED)
}

#[derive(Deserialize, ToSchema)]
struct ResetBody {
    token: String,
    password: String,
}

/// Reset the password
///
/// Sets a new password with the single-use token from the reset link, ends every session of the
/// account and marks the address verified. Needs no authentication.
#[utoipa::path(post, path = "/auth/reset-password", operation_id = "resetPassword", tag = "auth",
    request_body = ResetBody,
    responses(
        (status = 204, description = "The password is changed; every session has ended."),
        (status = 400, description = "Or the token is unknown, used or expired (`invalid_token`).", body = ErrorBody),
        (status = 422, description = "The new password is too short, too long or guessable (`validation_failed`, `details.field` = `password`).", body = ErrorBody),
    )
)]
async fn reset_password(
    State(app): State<AppState>,
    AppJson(body): AppJson<ResetBody>,
) -> Result<StatusCode, AppError> {
    accounts::reset_password(&app, &body.token, &body.password).await?;
    Ok(StatusCode::NO_CONTENT)
}
