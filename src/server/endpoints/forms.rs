//! Plain HTML form endpoints for what server functions cannot carry: file uploads, and secrets
//! shown once to a browser without JavaScript. Like server functions they are thin adapters that
//! call one service function.
use crate::rpc::{
    api_keys::{CreateApiKey, RollApiKey},
    webhooks::{CreateWebhook, RotateWebhookSecret},
};
use crate::server::{
    auth::principal::{ClientMeta, SignedIn},
    authz::authorize,
    error::AppPath,
    service::{logo, webhooks::endpoints as webhooks},
    state::AppState,
};
use crate::shared::{
    api_keys::IssuedApiKey,
    error::{AppError, ErrorCode},
    ids::OrgId,
    roles::Permission,
};
use axum::{
    body::Bytes,
    extract::{Multipart, State},
    http::{header, HeaderValue},
    response::{Html, IntoResponse, Redirect, Response},
    routing::{get, post},
    Router,
};
use leptos::prelude::*;
use leptos::server_fn::{error::ServerFnUrlError, ServerFn};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/orgs/{org}/logo", post(logo_form))
        .route("/logos/{org}", get(logo_image))
        .route("/orgs/{org}/reveal/{operation}", post(reveal_form))
}

/// A secret to show once, and where to go afterwards.
struct Revealed {
    heading: &'static str,
    /// What the secret belongs to, in the sentence asking to copy it.
    owner: String,
    label: &'static str,
    secret: String,
    back: String,
}

/// The no-JavaScript twin of the server functions whose answer carries a secret shown once
/// (`create_api_key`, `roll_api_key`, `create_webhook`, `rotate_webhook_secret`): their forms
/// name this route in the submit button's `formaction`, so a browser without scripts posts the
/// same fields here. Success answers with a page showing the secret, never stored and never in a
/// URL; an error goes back to the form the way a server function's error does (`?__err=`).
async fn reveal_form(
    State(app): State<AppState>,
    who: SignedIn,
    client: ClientMeta,
    AppPath((org, operation)): AppPath<(OrgId, String)>,
    body: Bytes,
) -> Result<Response, AppError> {
    let scope = authorize(&app.db, &who, &client, org, Permission::OrgRead).await?;
    let (keys, hooks) = (format!("/orgs/{org}/api-keys"), format!("/orgs/{org}/webhooks"));
    // The server function whose form this is, and the page that form is on.
    let (path, form_page) = match operation.as_str() {
        "create_api_key" => (CreateApiKey::PATH, keys.clone()),
        "roll_api_key" => (RollApiKey::PATH, keys.clone()),
        "create_webhook" => (CreateWebhook::PATH, hooks.clone()),
        "rotate_webhook_secret" => {
            let webhook = fields::<RotateWebhookSecret>(&body).map(|f| f.webhook_id).unwrap_or_default();
            (RotateWebhookSecret::PATH, format!("{hooks}/{webhook}"))
        }
        _ => return Err(AppError::not_found("form")),
    };
    let key = |heading, label, issued: IssuedApiKey| Revealed {
        heading,
        owner: format!("“{}”", issued.key.name),
        label,
        secret: issued.secret,
        back: keys.clone(),
    };
    let outcome = async {
        Ok::<_, AppError>(match operation.as_str() {
            "create_api_key" => {
                key("API key created", "API key secret", fields::<CreateApiKey>(&body)?.run(&app, &scope).await?)
            }
            "roll_api_key" => {
                key("API key rolled", "New API key secret", fields::<RollApiKey>(&body)?.run(&app, &scope).await?)
            }
            "create_webhook" => {
                let issued = fields::<CreateWebhook>(&body)?.run(&app, &scope).await?;
                Revealed {
                    heading: "Webhook endpoint added",
                    back: format!("{hooks}/{}", issued.webhook.id),
                    owner: issued.webhook.url,
                    label: "Signing secret",
                    secret: issued.secret,
                }
            }
            _ => {
                let id = fields::<RotateWebhookSecret>(&body)?.webhook_id;
                let id = id.parse().map_err(|_| AppError::not_found("webhook"))?;
                let rotated = webhooks::rotate_secret(&app, &scope, id).await?;
                Revealed {
                    heading: "Signing secret rotated",
                    owner: "this endpoint".to_owned(),
                    label: "New signing secret",
                    secret: rotated.secret,
                    back: form_page.clone(),
                }
            }
        })
    };
    Ok(match outcome.await {
        Ok(revealed) => secret_page(revealed),
        Err(e) if e.status() < 500 => {
            let url = ServerFnUrlError::new(path, e)
                .to_url(&app.config.link(&form_page))
                .map_err(|e| crate::server::error::internal(format!("redirect after a form error: {e}")))?;
            Redirect::to(url.as_str()).into_response()
        }
        Err(e) => e.into_response(),
    })
}

/// The form's fields, named as the server function names them (`scopes[org:read]=on` and so on).
fn fields<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, AppError> {
    serde_qs::Config::new(5, false)
        .deserialize_bytes(body)
        .map_err(|e| AppError::bad_request(ErrorCode::InvalidForm, format!("The form could not be read: {e}")))
}

/// A page of its own (no scripts, nothing to hydrate) with the secret in a read-only field, kept
/// out of caches and history.
fn secret_page(revealed: Revealed) -> Response {
    let Revealed { heading, owner, label, secret, back } = revealed;
    let body = Owner::new().with(|| {
        view! {
            <main id="main" class="container">
                <section class="card" aria-labelledby="revealed-heading">
                <h1 id="revealed-heading">{heading}</h1>
                <div class="issued" role="status">
                    <p><strong>{format!("Copy the secret of {owner} now.")}</strong>
                        " It is not stored and will not be shown again."</p>
                    <div class="copy-row">
                        <label for="revealed-secret" class="visually-hidden">{label}</label>
                        <input id="revealed-secret" type="text" readonly value=secret autofocus/>
                    </div>
                </div>
                <p><a class="button" href=back>"I have copied it"</a></p>
                </section>
            </main>
        }
        .to_html()
    });
    let mut response = Html(document(heading, &body)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}

/// A whole page around server-rendered `body` (no scripts, nothing to hydrate), for the few
/// answers that are not Leptos routes.
pub(crate) fn document(heading: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"/>\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\
         <title>{} · Gatehouse</title><link rel=\"stylesheet\" href=\"/pkg/gatehouse.css\"/></head>\
         <body>{body}</body></html>",
        heading.replace('&', "&amp;").replace('<', "&lt;")
    )
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
