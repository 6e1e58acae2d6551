//! `/api/v1/organizations/{org}/sso-connections`: an organization's identity-provider connections
//! (create, list, read, change, delete, test), and `/api/v1/auth/ldap/{connection}/login`, the
//! JSON sign-in through an LDAP connection.
use super::{caller::InOrg, openapi::ErrorBody};
use crate::server::{
    auth::{principal::ClientMeta, session},
    error::{parse_json, AppJson, AppPath},
    pagination::{PageParams, PageRequest},
    service::sso,
    state::AppState,
};
use crate::shared::{
    accounts::{Me, Page},
    error::{AppError, ErrorCode},
    ids::{OrgId, SsoConnectionId},
    sso::{ConnectionTest, SsoConnection},
};
use axum::{body::Bytes, extract::State, http::StatusCode, Json};
use serde::Deserialize;
use tower_sessions::Session;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create, list))
        .routes(routes!(read, update, remove))
        .routes(routes!(test))
        .routes(routes!(ldap_login))
}

type ConnectionPath = AppPath<(OrgId, SsoConnectionId)>;

/// Add an SSO connection
///
/// `type` picks the kind: `oidc` (with `issuer`, or `preset` `google` / `microsoft`) or `ldap`.
/// Secrets are stored encrypted and never returned.
#[utoipa::path(post, path = "/organizations/{org}/sso-connections", operation_id = "createSsoConnection", tag = "sso",
    security(("api_key" = ["sso:write"])), request_body = sso::input::NewConnection,
    responses(
        (status = 201, description = "The connection (without its secret).", body = SsoConnection),
        (status = 422, description = "A field is missing or invalid (`validation_failed`, `details.field`).", body = ErrorBody),
    )
)]
async fn create(
    State(app): State<AppState>,
    InOrg(scope): InOrg,
    AppJson(body): AppJson<serde_json::Value>,
) -> Result<(StatusCode, Json<SsoConnection>), AppError> {
    let new = sso::input::NewConnection::from_json(body)?;
    Ok((StatusCode::CREATED, Json(sso::connections::create(&app, &scope, new).await?)))
}

/// List SSO connections
///
/// Newest first.
#[utoipa::path(get, path = "/organizations/{org}/sso-connections", operation_id = "listSsoConnections", tag = "sso",
    security(("api_key" = ["sso:write"])), params(PageParams),
    responses((status = 200, description = "A page of connections.", body = Page<SsoConnection>))
)]
async fn list(
    State(app): State<AppState>,
    InOrg(scope): InOrg,
    page: PageRequest,
) -> Result<Json<Page<SsoConnection>>, AppError> {
    Ok(Json(sso::connections::list(&app, &scope, &page).await?))
}

/// Read an SSO connection
#[utoipa::path(get, path = "/organizations/{org}/sso-connections/{connection}", operation_id = "getSsoConnection", tag = "sso",
    security(("api_key" = ["sso:write"])),
    responses((status = 200, description = "The connection.", body = SsoConnection))
)]
async fn read(
    State(app): State<AppState>,
    InOrg(scope): InOrg,
    AppPath((_, id)): ConnectionPath,
) -> Result<Json<SsoConnection>, AppError> {
    Ok(Json(sso::connections::get(&app, &scope, id).await?))
}

/// Change an SSO connection
///
/// Absent fields stay as they are; a new secret replaces the stored one.
#[utoipa::path(patch, path = "/organizations/{org}/sso-connections/{connection}", operation_id = "updateSsoConnection", tag = "sso",
    security(("api_key" = ["sso:write"])), request_body = sso::input::ConnectionPatch,
    responses(
        (status = 200, description = "The changed connection.", body = SsoConnection),
        (status = 409, description = "The metadata URL changed while `refresh_metadata` fetched from the old one (`connection_changed`); try again.", body = ErrorBody),
        (status = 422, description = "A field is invalid or belongs to another kind of connection (`validation_failed`, `details.field`).", body = ErrorBody),
    )
)]
async fn update(
    State(app): State<AppState>,
    InOrg(scope): InOrg,
    AppPath((_, id)): ConnectionPath,
    AppJson(body): AppJson<sso::input::ConnectionPatch>,
) -> Result<Json<SsoConnection>, AppError> {
    Ok(Json(sso::connections::update(&app, &scope, id, body).await?))
}

/// Delete an SSO connection
///
/// People it signed in keep their accounts and memberships.
#[utoipa::path(delete, path = "/organizations/{org}/sso-connections/{connection}", operation_id = "deleteSsoConnection", tag = "sso",
    security(("api_key" = ["sso:write"])),
    responses((status = 204, description = "Deleted."))
)]
async fn remove(
    State(app): State<AppState>,
    InOrg(scope): InOrg,
    AppPath((_, id)): ConnectionPath,
) -> Result<StatusCode, AppError> {
    sso::connections::remove(&app, &scope, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Test an SSO connection
///
/// OIDC: fetches discovery and the signing keys. LDAP: binds as the service account and, given
/// `username` and `password`, finds and binds as that person (no session is made). The answer says
/// what worked or what failed in plain words.
#[utoipa::path(post, path = "/organizations/{org}/sso-connections/{connection}/test", operation_id = "testSsoConnection", tag = "sso",
    security(("api_key" = ["sso:write"])),
    request_body(content = Option<sso::input::TestCredentials>, description = "LDAP only: a person's credentials to try."),
    responses(
        (status = 200, description = "The outcome (`ok` false says why).", body = ConnectionTest),
        (status = 422, description = "The body is not an object of `username` and `password` (`validation_failed`).", body = ErrorBody),
    )
)]
async fn test(
    State(app): State<AppState>,
    InOrg(scope): InOrg,
    AppPath((_, id)): ConnectionPath,
    body: Bytes,
) -> Result<Json<ConnectionTest>, AppError> {
    // The body is optional: none at all tests the connection alone.
    let credentials = if body.iter().all(u8::is_ascii_whitespace) {
        sso::input::TestCredentials::default()
    } else {
        parse_json(&body)?
    };
    Ok(Json(sso::connections::test(&app, &scope, id, credentials).await?))
}

#[derive(Deserialize, ToSchema)]
struct LdapLoginBody {
    username: String,
    password: String,
}

/// Sign in through an LDAP connection
///
/// Checks the username and password against the organization's directory, creates the account
/// and membership on first sign-in (role from the group mapping), and starts a session: the
/// response sets the `gatehouse_session` cookie. Needs no authentication; throttled like
/// `/auth/login`.
#[utoipa::path(post, path = "/auth/ldap/{connection}/login", operation_id = "ldapLogin", tag = "auth",
    params(("connection" = SsoConnectionId, Path, description = "The LDAP connection's id.")),
    request_body = LdapLoginBody,
    responses(
        (status = 200, description = "Signed in; sets the session cookie.", body = Me),
        (status = 401, description = "Wrong username or password (`invalid_credentials`).", body = ErrorBody),
        (status = 403, description = "SSO is off for the organization or connection (`sso_disabled`), the address is not at one of the organization's verified domains (`sso_domain_not_verified`), or the sign-in was refused (`sso_refused`, the message says why).", body = ErrorBody),
        (status = 404, description = "No such LDAP connection (`not_found`).", body = ErrorBody),
        (status = 409, description = "An account with this address already exists and its holder has not yet linked this directory account (`sso_link_required`, `details.confirm_url`).", body = ErrorBody),
        (status = 422, description = "A field is empty (`validation_failed`, `details.field`).", body = ErrorBody),
        (status = 429, description = "Too many failed sign-ins (`rate_limited`, `Retry-After`).", body = ErrorBody),
        (status = 502, description = "The directory could not be reached or refused the service account (`sso_unavailable`).", body = ErrorBody),
    )
)]
async fn ldap_login(
    State(app): State<AppState>,
    client: ClientMeta,
    browser: Session,
    AppPath(id): AppPath<SsoConnectionId>,
    AppJson(body): AppJson<LdapLoginBody>,
) -> Result<Json<Me>, AppError> {
    match sso::sign_in::ldap_sign_in(&app, id, &body.username, &body.password, &client).await? {
        sso::Finished::SignedIn { user, session: row, .. } => {
            session::establish(&browser, &row).await?;
            Ok(Json(user.to_me()))
        }
        // The held sign-in is kept in this client's session: the browser pages at `/sso/link`
        // confirm it.
        sso::Finished::LinkPending { token } => {
            browser.insert(sso::linking::SESSION_KEY, token).await.map_err(crate::server::error::internal)?;
            Err(AppError::conflict(
                ErrorCode::SsoLinkRequired,
                "An account with this address already exists. Its holder must confirm linking this directory account once, at the confirm_url, with their password or a mailed link.",
            )
            .with_detail("confirm_url", app.config.link("/sso/link")))
        }
        sso::Finished::Trial { .. } => Err(crate::server::error::internal("an LDAP sign-in ended as a trial run")),
    }
}
