//! The browser side of single sign-on: `/sso/start` (by connection, or by email through the
//! verified domain), the one OIDC redirect URI `/sso/oidc/callback`, the SAML ACS, the LDAP sign-in
//! form, and the "link this sign-in method" pages (`/sso/link`) where an existing account's holder
//! confirms a new IdP identity. Thin adapters over `service::sso`; refusals are pages that say why,
//! with the right status.
use super::forms::document;
use crate::server::{
    auth::{principal::ClientMeta, session},
    authz::authorize,
    db,
    error::internal,
    service::sso::{self, linking, oidc::PendingLogin, saml::BrowserBinding},
    state::AppState,
};
use crate::shared::{
    error::{AppError, ErrorCode, ErrorKind},
    ids::SsoConnectionId,
    roles::Permission,
    values::is_local_path,
};
use axum::{
    extract::{Path, Query, State},
    http::{header, HeaderMap, HeaderValue, StatusCode},
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
        .route("/sso/link", get(link_page).post(link_submit))
        .route("/sso/link/confirm", get(link_confirm_page).post(link_confirm))
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

/// The browser's SAML binding, read from its cookie, if it has one.
fn binding_of(headers: &HeaderMap) -> Option<BrowserBinding> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == BrowserBinding::COOKIE)
        .and_then(|(_, value)| BrowserBinding::from_cookie(value))
}

/// SameSite=None so that the IdP's cross-site POST to the ACS carries it (Secure, as browsers
/// require for that; they accept it on http://localhost too); scoped to `/sso` and ten minutes.
fn binding_cookie(binding: &BrowserBinding) -> HeaderValue {
    let cookie = format!(
        "{}={}; Path=/sso; Max-Age=600; HttpOnly; Secure; SameSite=None",
        BrowserBinding::COOKIE,
        binding.secret()
    );
    HeaderValue::from_str(&cookie).unwrap_or_else(|_| HeaderValue::from_static(""))
}

async fn start(
    State(app): State<AppState>,
    client: ClientMeta,
    browser: Session,
    headers: HeaderMap,
    Query(query): Query<StartQuery>,
) -> Response {
    let binding = binding_of(&headers).unwrap_or_else(BrowserBinding::generate);
    let id = match (query.connection.as_deref(), query.email.as_deref()) {
        (Some(raw), _) => raw.parse::<SsoConnectionId>().map_err(|_| AppError::not_found("sso_connection")),
        (None, Some(email)) => match sso::routing::connection_for_email(&app, email).await {
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
        Ok(id) if query.trial.as_deref() == Some("1") => trial(&app, &browser, id, &client, &binding).await,
        Ok(id) => sso::sign_in::start(&app, id, local_path(query.return_to), &client, &binding).await,
        Err(e) => Err(e),
    };
    match started {
        Ok((url, pending)) => {
            if let Some(pending) = pending {
                if let Err(e) = remember(&browser, pending).await {
                    return refusal_page(e);
                }
            }
            let mut response = Redirect::to(&url).into_response();
            response.headers_mut().append(header::SET_COOKIE, binding_cookie(&binding));
            response
        }
        Err(e) => refusal_page(e),
    }
}

async fn trial(
    app: &AppState,
    browser: &Session,
    id: SsoConnectionId,
    client: &ClientMeta,
    binding: &BrowserBinding,
) -> Result<(String, Option<PendingLogin>), AppError> {
    let who = session::signed_in(app, browser).await?.ok_or_else(|| {
        AppError::new(
            ErrorKind::Unauthenticated,
            ErrorCode::Unauthenticated,
            "Sign in as an admin of the organization first.",
        )
    })?;
    let org = db::sso::connection_by_id(app.db.pool(), id)
        .await?
        .ok_or_else(|| AppError::not_found("sso_connection"))?
        .organization_id;
    let scope = authorize(&app.db, &who, client, org, Permission::SsoWrite).await?;
    sso::sign_in::start_trial(app, &scope, id, client, binding).await
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
                ErrorCode::SsoStateMismatch,
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
    finished(&browser, sso::sign_in::oidc_callback(&app, pending, outcome, &client).await).await
}

/// After the provider: a signed-in browser lands where it was going (303, which also turns the
/// IdP's POST into a GET of ours); a trial run goes back to the SSO page with its result, the way
/// **Test connection** shows one.
async fn finished(browser: &Session, outcome: Result<sso::Finished, AppError>) -> Response {
    match outcome {
        Ok(sso::Finished::SignedIn { session: row, org, return_to, .. }) => {
            match session::establish(browser, &row).await {
                // Checked again here: a return_to stored before a sign-in began may predate today's rule.
                Ok(()) => {
                    Redirect::to(&return_to.filter(|p| is_local_path(p)).unwrap_or_else(|| format!("/orgs/{org}")))
                        .into_response()
                }
                Err(e) => refusal_page(e),
            }
        }
        Ok(sso::Finished::LinkPending { token }) => match browser.insert(linking::SESSION_KEY, token).await {
            Ok(()) => Redirect::to("/sso/link").into_response(),
            Err(e) => refusal_page(internal(e)),
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
    match sso::sign_in::saml_metadata(&app, id).await {
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
    headers: HeaderMap,
    Path(connection): Path<String>,
    Form(form): Form<AcsForm>,
) -> Response {
    let Ok(id) = connection.parse::<SsoConnectionId>() else {
        return refusal_page(AppError::not_found("sso_connection"));
    };
    let relay_state = form.relay_state.filter(|r| !r.is_empty());
    let binding = binding_of(&headers);
    finished(
        &browser,
        sso::sign_in::saml_acs(&app, id, &form.saml_response, relay_state, &client, binding.as_ref()).await,
    )
    .await
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
    match sso::sign_in::ldap_sign_in(&app, id, &form.username, &form.password, &client).await {
        Ok(done) => finished(&browser, Ok(done)).await,
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

/// The secret of the sign-in this browser holds for the account holder's consent.
async fn held_link(browser: &Session) -> Result<String, AppError> {
    browser.get::<String>(linking::SESSION_KEY).await.map_err(internal)?.ok_or_else(|| {
        AppError::bad_request(
            ErrorCode::SsoLinkExpired,
            "No sign-in is waiting to be linked in this browser. Start again from the sign-in page.",
        )
    })
}

fn status_of(error: &AppError) -> StatusCode {
    StatusCode::from_u16(error.kind.status()).unwrap_or(StatusCode::BAD_REQUEST)
}

async fn link_page(State(app): State<AppState>, browser: Session) -> Response {
    let prompt = match held_link(&browser).await {
        Ok(secret) => linking::prompt(&app, &secret).await,
        Err(e) => Err(e),
    };
    match prompt {
        Ok(prompt) => link_view(&prompt, None, StatusCode::OK),
        Err(e) => refusal_page(e),
    }
}

#[derive(Deserialize)]
struct LinkForm {
    /// `password`, `email` or `cancel`.
    action: String,
    password: Option<String>,
}

async fn link_submit(
    State(app): State<AppState>,
    client: ClientMeta,
    browser: Session,
    Form(form): Form<LinkForm>,
) -> Response {
    let secret = match held_link(&browser).await {
        Ok(secret) => secret,
        Err(e) => return refusal_page(e),
    };
    match form.action.as_str() {
        "password" => {
            let attempt = form.password.unwrap_or_default();
            match linking::confirm_with_password(&app, &secret, &attempt, &client).await {
                Ok(done) => {
                    if let Err(e) = browser.remove::<String>(linking::SESSION_KEY).await {
                        return refusal_page(internal(e));
                    }
                    finished(&browser, Ok(done)).await
                }
                Err(e) if e.code == ErrorCode::SsoLinkExpired => refusal_page(e),
                Err(e) => match linking::prompt(&app, &secret).await {
                    Ok(prompt) => link_view(&prompt, Some(e.message.clone()), status_of(&e)),
                    Err(e) => refusal_page(e),
                },
            }
        }
        "email" => match linking::mail_confirmation(&app, &secret, &client).await {
            Ok(email) => notice_page(
                "Check your mail",
                format!(
                    "We sent a confirmation link to {email}. Open it to link the sign-in method and sign in; it works once and expires in 30 minutes."
                ),
            ),
            Err(e) => refusal_page(e),
        },
        _ => {
            let cancelled = linking::cancel(&app, &secret).await;
            let forgotten = browser.remove::<String>(linking::SESSION_KEY).await.map_err(internal);
            match cancelled.and(forgotten) {
                Ok(_) => Redirect::to("/login").into_response(),
                Err(e) => refusal_page(e),
            }
        }
    }
}

/// "Link this sign-in method": who is asking, and the two ways its holder can confirm. Works
/// without JavaScript.
fn link_view(prompt: &linking::LinkPrompt, error: Option<String>, status: StatusCode) -> Response {
    let linking::LinkPrompt { email, connection_name, organization_name, has_password } = prompt;
    let (email, connection_name, organization_name, has_password) =
        (email.clone(), connection_name.clone(), organization_name.clone(), *has_password);
    let body = Owner::new().with(|| {
        view! {
            <main id="main" class="container narrow">
                <section class="card" aria-labelledby="link-heading">
                    <h1 id="link-heading">"Link this sign-in method"</h1>
                    {error.map(|message| view! { <p class="alert" role="alert" id="link-error">{message}</p> })}
                    <p>
                        "You signed in through " <strong>{connection_name}</strong> ", the identity provider of "
                        <strong>{organization_name}</strong> ", as " <strong>{email.clone()}</strong>
                        ". An account with this address already exists. Confirm that it is yours to link this sign-in method to it; until then nobody is signed in."
                    </p>
                    {has_password.then(|| view! {
                        <form method="post" action="/sso/link">
                            <input type="hidden" name="action" value="password"/>
                            <input type="hidden" name="username" value=email.clone() autocomplete="username"/>
                            <div class="field">
                                <label for="link-password">"Your Gatehouse password"</label>
                                <input id="link-password" name="password" type="password" autocomplete="current-password" required autofocus/>
                            </div>
                            <button type="submit" class="button">"Link and sign in"</button>
                        </form>
                    })}
                    <form method="post" action="/sso/link">
                        <input type="hidden" name="action" value="email"/>
                        <button type="submit" class="button secondary">"Email me a confirmation link"</button>
                    </form>
                    <form method="post" action="/sso/link">
                        <input type="hidden" name="action" value="cancel"/>
                        <button type="submit" class="button secondary">"Cancel"</button>
                    </form>
                </section>
            </main>
        }
        .to_html()
    });
    page(status, "Link this sign-in method", &body)
}

#[derive(Deserialize)]
struct MailedLink {
    token: Option<String>,
}

/// The mailed link shows a button rather than acting on GET, so mail scanners that follow links
/// cannot use it up.
async fn link_confirm_page(Query(query): Query<MailedLink>) -> Response {
    let token = query.token.unwrap_or_default();
    let body = Owner::new().with(|| {
        view! {
            <main id="main" class="container narrow">
                <section class="card" aria-labelledby="confirm-heading">
                    <h1 id="confirm-heading">"Confirm the new sign-in method"</h1>
                    <p>"Linking lets this single sign-on identity sign in to your account. Continue only if you just tried to sign in through it."</p>
                    <form method="post" action="/sso/link/confirm">
                        <input type="hidden" name="token" value=token/>
                        <button type="submit" class="button">"Link and sign in"</button>
                    </form>
                </section>
            </main>
        }
        .to_html()
    });
    page(StatusCode::OK, "Confirm the new sign-in method", &body)
}

async fn link_confirm(
    State(app): State<AppState>,
    client: ClientMeta,
    browser: Session,
    Form(form): Form<MailedLink>,
) -> Response {
    let token = form.token.unwrap_or_default();
    finished(&browser, linking::confirm_with_mail(&app, &token, &client).await).await
}

fn notice_page(heading: &'static str, message: String) -> Response {
    let body = Owner::new().with(|| {
        view! {
            <main id="main" class="container narrow">
                <section class="card" aria-labelledby="notice-heading">
                    <h1 id="notice-heading">{heading}</h1>
                    <p role="status" id="notice">{message}</p>
                </section>
            </main>
        }
        .to_html()
    });
    page(StatusCode::OK, heading, &body)
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
