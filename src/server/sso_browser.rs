//! The browser side of single sign-on: `/sso/start` (by connection, or by email through the
//! verified domain), the one OIDC redirect URI `/sso/oidc/callback`, and the LDAP sign-in form.
//! Thin adapters over `service::sso`; refusals are pages that say why, with the right status.
use crate::server::{
    auth::{principal::ClientMeta, session},
    authz::authorize,
    db,
    error::internal,
    forms::document,
    service::sso::{self, oidc::PendingLogin},
    state::AppState,
};
use crate::shared::{
    error::{AppError, ErrorKind},
    ids::SsoConnectionId,
    roles::Permission,
    values::is_local_path,
};
use axum::{
    extract::{Path, Query, State},
    http::{header, HeaderValue, StatusCode},
    response::{Html, IntoResponse, Redirect, Response},
    routing::{get, post},
    Form, Router,
};
use leptos::prelude::*;
use serde::Deserialize;
use subtle::ConstantTimeEq;
use tower_sessions::Session;

/// Sign-ins on their way through a provider, in the browser's session (a few tabs at most).
const PENDING_KEY: &str = "sso_pending";
const MAX_PENDING: usize = 5;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/sso/start", get(start))
        .route("/sso/oidc/callback", get(oidc_callback))
        .route("/sso/ldap/{connection}/login", get(ldap_form).post(ldap_submit))
        .route("/sso/saml/{connection}/metadata", get(saml_metadata))
        .route("/sso/saml/{connection}/acs", post(saml_acs))
}

#[derive(Deserialize)]
struct StartQuery {
    connection: Option<String>,
    email: Option<String>,
    return_to: Option<String>,
    /// `1`: an admin's trial run of the connection (signed in, with `sso:write` in its organization).
    trial: Option<String>,
}

fn local_path(raw: Option<String>) -> Option<String> {
    raw.filter(|p| is_local_path(p))
}

async fn start(
    State(app): State<AppState>,
    client: ClientMeta,
    browser: Session,
    Query(query): Query<StartQuery>,
) -> Response {
    let id = match (query.connection.as_deref(), query.email.as_deref()) {
        (Some(raw), _) => raw.parse::<SsoConnectionId>().map_err(|_| AppError::not_found("sso_connection")),
        (None, Some(email)) => match sso::connection_for_email(&app, email).await {
            Ok(Some(id)) => Ok(id),
            // No single sign-on for this address: the password form, with the address filled in.
            Ok(None) => {
                let email: String = url::form_urlencoded::byte_serialize(email.trim().as_bytes()).collect();
                return Redirect::to(&format!("/login?email={email}&password=1")).into_response();
            }
            Err(e) => Err(e),
        },
        (None, None) => Err(AppError::invalid_field("email", "Enter your work email address.")),
    };
    let started = match id {
        Ok(id) if query.trial.as_deref() == Some("1") => trial(&app, &browser, id, &client).await,
        Ok(id) => sso::start(&app, id, local_path(query.return_to), &client).await,
        Err(e) => Err(e),
    };
    match started {
        Ok((url, pending)) => {
            if let Some(pending) = pending {
                if let Err(e) = remember(&browser, pending).await {
                    return refusal_page(e);
                }
            }
            Redirect::to(&url).into_response()
        }
        Err(e) => refusal_page(e),
    }
}

async fn trial(
    app: &AppState,
    browser: &Session,
    id: SsoConnectionId,
    client: &ClientMeta,
) -> Result<(String, Option<PendingLogin>), AppError> {
    let who = session::signed_in(app, browser).await?.ok_or_else(|| {
        AppError::new(ErrorKind::Unauthenticated, "unauthenticated", "Sign in as an admin of the organization first.")
    })?;
    let org = db::sso::connection_by_id(app.db.pool(), id)
        .await?
        .ok_or_else(|| AppError::not_found("sso_connection"))?
        .organization_id;
    let scope = authorize(&app.db, &who, client, org, Permission::SsoWrite).await?;
    sso::start_trial(app, &scope, id, client).await
}

async fn remember(browser: &Session, pending: PendingLogin) -> Result<(), AppError> {
    let mut list: Vec<PendingLogin> = browser.get(PENDING_KEY).await.map_err(internal)?.unwrap_or_default();
    list.push(pending);
    let excess = list.len().saturating_sub(MAX_PENDING);
    list.drain(..excess);
    browser.insert(PENDING_KEY, list).await.map_err(internal)
}

/// Takes the sign-in whose state matches out of the session: it can complete once.
async fn take(browser: &Session, state: &str) -> Result<Option<PendingLogin>, AppError> {
    let mut list: Vec<PendingLogin> = browser.get(PENDING_KEY).await.map_err(internal)?.unwrap_or_default();
    let Some(index) = list.iter().position(|p| bool::from(p.state.as_bytes().ct_eq(state.as_bytes()))) else {
        return Ok(None);
    };
    let pending = list.remove(index);
    browser.insert(PENDING_KEY, list).await.map_err(internal)?;
    Ok(Some(pending))
}

#[derive(Deserialize)]
struct CallbackQuery {
    state: Option<String>,
    code: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

async fn oidc_callback(
    State(app): State<AppState>,
    client: ClientMeta,
    browser: Session,
    Query(query): Query<CallbackQuery>,
) -> Response {
    let pending = match take(&browser, query.state.as_deref().unwrap_or_default()).await {
        Ok(Some(pending)) => pending,
        Ok(None) => {
            return refusal_page(AppError::bad_request(
                "sso_state_mismatch",
                "This sign-in is unknown to this browser or was already used (its state does not match). Start again from the sign-in page.",
            ))
        }
        Err(e) => return refusal_page(e),
    };
    let outcome = match (query.code.as_deref(), query.error) {
        (_, Some(error)) => Err(format!(
            "The identity provider refused the sign-in: {error}{}",
            query.error_description.map(|d| format!(" ({d})")).unwrap_or_default()
        )),
        (Some(code), None) => Ok(code),
        (None, None) => Err("The identity provider sent no sign-in code.".to_owned()),
    };
    finished(&browser, sso::oidc_callback(&app, pending, outcome, &client).await).await
}

/// After the provider: a signed-in browser lands where it was going (303, which also turns the
/// IdP's POST into a GET of ours); a trial run goes back to the SSO page with its result, the way
/// **Test connection** shows one.
async fn finished(browser: &Session, outcome: Result<sso::Finished, AppError>) -> Response {
    match outcome {
        Ok(sso::Finished::SignedIn { session: row, org, return_to }) => match session::establish(browser, &row).await {
            // Checked again here: a return_to stored before a sign-in began may predate today's rule.
            Ok(()) => Redirect::to(&return_to.filter(|p| is_local_path(p)).unwrap_or_else(|| format!("/orgs/{org}")))
                .into_response(),
            Err(e) => refusal_page(e),
        },
        Ok(sso::Finished::Trial { org, connection, outcome }) => {
            let message: String = url::form_urlencoded::byte_serialize(outcome.message.as_bytes()).collect();
            let ok = u8::from(outcome.ok);
            Redirect::to(&format!(
                "/orgs/{org}/sso?tested={connection}&test_ok={ok}&test_message={message}#connection-{connection}"
            ))
            .into_response()
        }
        Err(e) => refusal_page(e),
    }
}

/// Our SAML metadata for the IdP's administrator (entity id, ACS URL).
async fn saml_metadata(State(app): State<AppState>, Path(connection): Path<String>) -> Response {
    let Ok(id) = connection.parse::<SsoConnectionId>() else {
        return AppError::not_found("sso_connection").into_response();
    };
    match sso::saml_metadata(&app, id).await {
        Ok(xml) => {
            ([(header::CONTENT_TYPE, HeaderValue::from_static("application/samlmetadata+xml"))], xml).into_response()
        }
        Err(e) => e.into_response(),
    }
}

#[derive(Deserialize)]
struct AcsForm {
    #[serde(rename = "SAMLResponse")]
    saml_response: String,
    #[serde(rename = "RelayState")]
    relay_state: Option<String>,
}

/// The IdP's browser posts here from the IdP's site: the signed response is the credential (the
/// same-site guard lets this one path through; see `router`).
async fn saml_acs(
    State(app): State<AppState>,
    client: ClientMeta,
    browser: Session,
    Path(connection): Path<String>,
    Form(form): Form<AcsForm>,
) -> Response {
    let Ok(id) = connection.parse::<SsoConnectionId>() else {
        return refusal_page(AppError::not_found("sso_connection"));
    };
    let relay_state = form.relay_state.filter(|r| !r.is_empty());
    finished(&browser, sso::saml_acs(&app, id, &form.saml_response, relay_state, &client).await).await
}

#[derive(Deserialize)]
struct LdapForm {
    username: String,
    password: String,
}

async fn ldap_form(Path(connection): Path<String>) -> Response {
    ldap_page(&connection, "", None, StatusCode::OK)
}

async fn ldap_submit(
    State(app): State<AppState>,
    client: ClientMeta,
    browser: Session,
    Path(connection): Path<String>,
    Form(form): Form<LdapForm>,
) -> Response {
    let Ok(id) = connection.parse::<SsoConnectionId>() else {
        return refusal_page(AppError::not_found("sso_connection"));
    };
    match sso::ldap_sign_in(&app, id, &form.username, &form.password, &client).await {
        Ok((_, session, org)) => {
            finished(&browser, Ok(sso::Finished::SignedIn { session, org, return_to: None })).await
        }
        Err(e) => {
            let status = StatusCode::from_u16(e.kind.status()).unwrap_or(StatusCode::BAD_REQUEST);
            ldap_page(&connection, &form.username, Some(e.message), status)
        }
    }
}

/// The directory sign-in form; works without JavaScript.
fn ldap_page(connection: &str, username: &str, error: Option<String>, status: StatusCode) -> Response {
    let action = format!("/sso/ldap/{connection}/login");
    let username = username.to_owned();
    let body = Owner::new().with(|| {
        view! {
            <main id="main" class="container narrow">
                <section class="card" aria-labelledby="ldap-heading">
                    <h1 id="ldap-heading">"Sign in with your directory account"</h1>
                    {error.map(|message| view! { <p class="alert" role="alert">{message}</p> })}
                    <form method="post" action=action>
                        <div class="field">
                            <label for="ldap-username">"Username"</label>
                            <input id="ldap-username" name="username" type="text" autocomplete="username" required value=username autofocus/>
                        </div>
                        <div class="field">
                            <label for="ldap-password">"Password"</label>
                            <input id="ldap-password" name="password" type="password" autocomplete="current-password" required/>
                        </div>
                        <button type="submit" class="button">"Sign in"</button>
                    </form>
                    <p><a href="/login">"Use another way to sign in"</a></p>
                </section>
            </main>
        }
        .to_html()
    });
    page(status, "Directory sign-in", &body)
}

/// A refused sign-in: what went wrong, in the words the service chose, and a way back.
fn refusal_page(error: AppError) -> Response {
    if error.kind.status() >= 500 && error.kind != crate::shared::error::ErrorKind::BadGateway {
        tracing::error!(error = %error.message, "single sign-on failed");
    }
    let status = StatusCode::from_u16(error.kind.status()).unwrap_or(StatusCode::BAD_REQUEST);
    let message = error.message;
    let body = Owner::new().with(|| {
        view! {
            <main id="main" class="container narrow">
                <section class="card" aria-labelledby="sso-error-heading">
                    <h1 id="sso-error-heading">"Single sign-on did not work"</h1>
                    <p class="alert" role="alert" id="sso-error">{message}</p>
                    <p><a class="button" href="/login">"Back to sign in"</a></p>
                </section>
            </main>
        }
        .to_html()
    });
    page(status, "Sign-in failed", &body)
}

fn page(status: StatusCode, heading: &str, body: &str) -> Response {
    let mut response = (status, Html(document(heading, body))).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
