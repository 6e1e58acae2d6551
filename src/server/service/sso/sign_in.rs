//! Signing in through a connection: start (and the administrator's trial run), the provider's
//! answer (`oidc_callback`, `saml_acs`, `ldap_sign_in`), the mapped role, refusals that say why
//! and are audited, and the session at the end (`conclude`).
use super::{
    check_usable,
    connections::load,
    input::{ldap_settings, secret_of},
    mapped_role, not_found, refuse, usable_connection, Finished, IdpIdentity, Refusal,
};
use super::{ldap, linking, oidc, saml};
use crate::server::{
    auth::{principal::ClientMeta, throttle},
    authz::OrgScope,
    db::{self, sso::ConnectionRow},
    state::AppState,
};
use crate::shared::{
    accounts::SignInMethod,
    error::AppError,
    ids::SsoConnectionId,
    sso::{ConnectionKind, ConnectionTest},
};

/// sign-ins, per client address and per directory account.
/// Sign-in through an LDAP connection (the form and the JSON route). Blank fields are refused
pub async fn ldap_sign_in(
    app: &AppState,
    id: SsoConnectionId,
    username: &str,
    password: &str,
    client: &ClientMeta,
) -> Result<Finished, AppError> {
    if username.trim().is_empty() {
        return Err(AppError::invalid_field("username", "Enter your username."));
    }
    if password.is_empty() {
        return Err(AppError::invalid_field("password", "Enter your password."));
    }
    let row = usable_connection(app, id).await?;
    if row.kind != ConnectionKind::Ldap {
        return Err(not_found());
    }
    let pool = app.db.pool();
    let now = db::now();
    let rule = app.config.login_throttle;
    let ip_bucket = throttle::login_ip(client.ip_key());
    let account_bucket = throttle::login_account(&format!("ldap:{id}:{}", username.trim().to_lowercase()));
    let counted = throttle::reserve(&app.db, &[&ip_bucket, &account_bucket], rule, now).await?;
    let settings = ldap_settings(&row)?;
    let bind_password = secret_of(app, &row)?;
    match ldap::authenticate(app, &settings, &bind_password, username, password).await {
        Ok(identity) => {
            counted.refund(&app.db).await?;
            throttle::clear(pool, &account_bucket).await?;
            linking::complete(app, &row, identity, client, SignInMethod::Ldap, None).await
        }
        Err(refusal) => {
            if refusal.reason != "invalid_credentials" {
                counted.refund(&app.db).await?;
            }
            Err(refuse(app, &row, client, Some(username), refusal).await)
        }
    }
}

/// Where a browser goes to start signing in through a connection (the IdP for OIDC, the sign-in
/// form for LDAP), and for OIDC the sign-in to remember in the browser's session until it returns.
pub async fn start(
    app: &AppState,
    id: SsoConnectionId,
    return_to: Option<String>,
    client: &ClientMeta,
    browser: &saml::BrowserBinding,
) -> Result<(String, Option<oidc::PendingLogin>), AppError> {
    let row = usable_connection(app, id).await?;
    match row.kind {
        ConnectionKind::Ldap => Ok((format!("/sso/ldap/{id}/login"), None)),
        _ => begin(app, &row, return_to, false, client, browser).await,
    }
}

/// An admin's trial run of an OIDC or SAML connection: a real round trip through the IdP whose
/// result is shown on the SSO page instead of signing anyone in. It works before the connection
/// or the organization's SSO is turned on, which is when it is needed.
pub async fn start_trial(
    app: &AppState,
    scope: &OrgScope,
    id: SsoConnectionId,
    client: &ClientMeta,
    browser: &saml::BrowserBinding,
) -> Result<(String, Option<oidc::PendingLogin>), AppError> {
    let row = load(app, scope, id).await?;
    if row.kind == ConnectionKind::Ldap {
        return Err(AppError::invalid_field(
            "connection",
            "Try an LDAP connection with a username and password under Test connection.",
        ));
    }
    begin(app, &row, None, true, client, browser).await
}

pub(super) async fn begin(
    app: &AppState,
    row: &ConnectionRow,
    return_to: Option<String>,
    trial: bool,
    client: &ClientMeta,
    browser: &saml::BrowserBinding,
) -> Result<(String, Option<oidc::PendingLogin>), AppError> {
    let begun = match row.kind {
        ConnectionKind::Oidc => oidc::begin(app, row, return_to, trial).await.map(|(url, p)| (url, Some(p))),
        _ => saml::begin(app, row, return_to, trial, browser).await.map(|url| (url, None)),
    };
    match begun {
        Ok(begun) => Ok(begun),
        Err(refusal) => Err(refuse(app, row, client, None, refusal).await),
    }
}

/// Completes a sign-in, or reports a trial run.
pub(super) async fn conclude(
    app: &AppState,
    row: &ConnectionRow,
    identity: Result<IdpIdentity, Refusal>,
    trial: bool,
    return_to: Option<String>,
    client: &ClientMeta,
    method: SignInMethod,
) -> Result<Finished, AppError> {
    let org = row.organization_id;
    match (identity, trial) {
        (Ok(identity), false) => {
            check_usable(app, row).await?;
            linking::complete(app, row, identity, client, method, return_to).await
        }
        (Ok(identity), true) => {
            let mut tx = app.db.begin_snapshot().await?;
            let outcome = match linking::vouched_address(&mut tx, org, &identity).await {
                Ok(email) => ConnectionTest {
                    ok: true,
                    message: format!(
                        "Round trip complete: the identity provider vouched for {} (subject {}, groups: {}). They would get the {} role. Nobody was signed in.",
                        email.as_str(),
                        identity.subject,
                        if identity.groups.is_empty() { "none".to_owned() } else { identity.groups.join(", ") },
                        mapped_role(row, &identity.groups).label(),
                    ),
                },
                Err(refusal) => ConnectionTest {
                    ok: false,
                    message: format!(
                        "The identity provider signed in {}, but the sign-in would be refused: {}",
                        identity.subject, refusal.message
                    ),
                },
            };
            Ok(Finished::Trial { org, connection: row.id, outcome })
        }
        (Err(refusal), true) => {
            let message = refuse(app, row, client, None, refusal).await.message;
            Ok(Finished::Trial { org, connection: row.id, outcome: ConnectionTest { ok: false, message } })
        }
        (Err(refusal), false) => Err(refuse(app, row, client, None, refusal).await),
    }
}

/// The OIDC callback: the sign-in `pending` (already matched by `state` and removed from the
/// browser's session, so a replay finds nothing) completes with `code`.
pub async fn oidc_callback(
    app: &AppState,
    pending: oidc::PendingLogin,
    outcome: Result<&str, String>,
    client: &ClientMeta,
) -> Result<Finished, AppError> {
    let row = db::sso::connection_by_id(app.db.pool(), pending.connection_id).await?.ok_or_else(not_found)?;
    let (trial, return_to) = (pending.trial, pending.return_to.clone());
    let age = db::to_millis(db::now()) - pending.started_at_ms;
    let identity = match outcome {
        Err(provider_error) => Err(Refusal::new("provider_error", provider_error)),
        Ok(_) if !(0..=oidc::PENDING_TTL_MS).contains(&age) => {
            Err(Refusal::new("sign_in_expired", "This sign-in took more than 10 minutes. Start again."))
        }
        Ok(code) => oidc::finish(app, &row, pending, code).await,
    };
    conclude(app, &row, identity, trial, return_to, client, SignInMethod::Oidc).await
}

/// The SAML ACS: a posted response for connection `id`. The user, their session, the organization
/// and where to land.
pub async fn saml_acs(
    app: &AppState,
    id: SsoConnectionId,
    encoded_response: &str,
    relay_state: Option<String>,
    client: &ClientMeta,
    browser: Option<&saml::BrowserBinding>,
) -> Result<Finished, AppError> {
    let row = db::sso::connection_by_id(app.db.pool(), id).await?.filter(|r| r.kind == ConnectionKind::Saml);
    let row = row.ok_or_else(not_found)?;
    match saml::finish(app, &row, encoded_response, relay_state, browser).await {
        Ok(answered) => {
            let saml::Answered { identity, return_to, trial } = answered;
            conclude(app, &row, Ok(identity), trial, return_to, client, SignInMethod::Saml).await
        }
        // Refused before the request was known: shown like a sign-in's refusal.
        Err(refusal) => conclude(app, &row, Err(refusal), false, None, client, SignInMethod::Saml).await,
    }
}

/// SAML metadata of a connection (public: the IdP's administrator loads it).
pub async fn saml_metadata(app: &AppState, id: SsoConnectionId) -> Result<String, AppError> {
    let row = db::sso::connection_by_id(app.db.pool(), id).await?.filter(|r| r.kind == ConnectionKind::Saml);
    saml::sp_metadata(app, &row.ok_or_else(not_found)?)
}
