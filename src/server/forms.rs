//! Plain HTML form endpoints for what server functions cannot carry: file uploads. Like server
//! functions they are thin adapters that call one service function and redirect back.
use crate::server::{
    auth::principal::{ClientMeta, SignedIn},
    authz::authorize,
    error::AppPath,
    service::logo,
    state::AppState,
};
use crate::shared::{error::AppError, ids::OrgId, roles::Permission};
use axum::{
    extract::{Multipart, State},
    http::{header, HeaderValue},
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
    Router,
};

pub fn router() -> Router<AppState> {
    Router::new().route("/orgs/{org}/logo", post(logo_form)).route("/logos/{org}", get(logo_image))
}

/// `multipart/form-data` with a `logo` file, or a `remove` field to clear it. Errors come back to
/// the settings page as `?logo_error=...`.
async fn logo_form(
    State(app): State<AppState>,
    who: SignedIn,
    client: ClientMeta,
    AppPath(org): AppPath<OrgId>,
    form: Multipart,
) -> Result<Response, AppError> {
    let scope = authorize(&app.db, &who, &client, org, Permission::OrgRead).await?;
    let back = format!("/orgs/{org}/settings");
    let outcome = match read_logo_form(form).await {
        Ok(upload) => logo::set(&app, &scope, upload).await,
        Err(e) => Err(e),
    };
    Ok(match outcome {
        Ok(()) => Redirect::to(&format!("{back}?notice=logo_saved")).into_response(),
        Err(e) if e.status() < 500 => {
            let message: String = url::form_urlencoded::byte_serialize(e.message.as_bytes()).collect();
            Redirect::to(&format!("{back}?logo_error={message}")).into_response()
        }
        Err(e) => e.into_response(),
    })
}

async fn read_logo_form(mut form: Multipart) -> Result<Option<Vec<u8>>, AppError> {
    let bad = |_| AppError::invalid_field("logo", "The upload was incomplete. Try again.");
    let mut upload = None;
    while let Some(field) = form.next_field().await.map_err(bad)? {
        match field.name() {
            Some("remove") => return Ok(None),
            Some("logo") => upload = Some(field.bytes().await.map_err(bad)?.to_vec()),
            _ => {}
        }
    }
    upload.map(Some).ok_or_else(|| AppError::invalid_field("logo", "Choose an image file."))
}

/// Serves the stored PNG with headers that keep a browser from treating it as anything else.
async fn logo_image(State(app): State<AppState>, AppPath(org): AppPath<OrgId>) -> Result<Response, AppError> {
    let png = logo::get(&app, org).await?;
    let mut response = png.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("image/png"));
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("default-src 'none'; sandbox"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=86400"));
    Ok(response)
}
