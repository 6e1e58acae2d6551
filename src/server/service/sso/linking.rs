//! What happens once a provider vouches for someone. The address must be at one of the
//! organization's verified domains (an IdP vouches for nothing else). The person is then found by
//! their IdP identity, or created (JIT); when an account with the address already exists, the
//! sign-in is held, with no session, until that account's holder confirms the link once — with
//! their password, or through a single-use mailed link. Then the mapped role and a session.
use super::{mapped_role, refuse, Finished, IdpIdentity, Refusal};
use crate::server::{
    auth::{password, principal::ClientMeta, throttle, token},
    authz::Actor,
    db::{self, sessions::SessionRow, sso::ConnectionRow, sso_links::PendingLink, users::UserRow},
    error::internal,
    service::{
        accounts,
        audit::{self, Event},
        invitations, mail,
    },
    state::AppState,
};
use crate::shared::{
    accounts::{LinkedIdentity, SignInMethod},
    audit::Action,
    error::{AppError, ErrorCode, ErrorKind},
    ids::{OrgId, UserId},
    roles::Role,
    sso::ConnectionKind,
    values::{EmailAddress, PersonName},
};
use chrono::{DateTime, Duration, Utc};
use serde_json::json;

/// Where a browser's session keeps the secret of the sign-in it holds for consent.
pub const SESSION_KEY: &str = "sso_link";
/// How long a held sign-in waits for its confirmation.
const PENDING_MINUTES: i64 = 30;

/// After the provider vouched for `identity`: signed in, or held for the account holder's consent.
pub async fn complete(
    app: &AppState,
    row: &ConnectionRow,
    identity: IdpIdentity,
    client: &ClientMeta,
    method: SignInMethod,
    return_to: Option<String>,
) -> Result<Finished, AppError> {
    let who = identity.email.clone().unwrap_or_else(|| identity.subject.clone());
    match provision(app, row, &identity, client, method, return_to).await {
        Ok(done) => Ok(done),
        Err(Provisioning::Refused(refusal)) => Err(refuse(app, row, client, Some(&who), refusal).await),
        Err(Provisioning::Failed(error)) => Err(error),
    }
}

enum Provisioning {
    Refused(Refusal),
    Failed(AppError),
}

impl From<AppError> for Provisioning {
    fn from(error: AppError) -> Self {
        Provisioning::Failed(error)
    }
}

impl From<db::DbError> for Provisioning {
    fn from(error: db::DbError) -> Self {
        Provisioning::Failed(error.into())
    }
}

impl From<Refusal> for Provisioning {
    fn from(refusal: Refusal) -> Self {
        Provisioning::Refused(refusal)
    }
}

/// The address the provider vouched for, when it is at a domain the connection's organization has
/// verified. Anyone can run an identity provider that asserts any address; an organization's IdP
/// speaks only for the domains the organization proved it controls.
pub async fn vouched_address(tx: &mut db::Tx, org: OrgId, identity: &IdpIdentity) -> Result<EmailAddress, Refusal> {
    let Some(raw) = identity.email.as_deref() else {
        return Err(Refusal::new("missing_email", "The identity provider did not send an email address."));
    };
    let email = EmailAddress::parse(raw).map_err(|_| {
        Refusal::new("invalid_email", format!("The identity provider sent an invalid email address ({raw})."))
    })?;
    let ours = db::domains::sso_rule(tx, email.domain())
        .await
        .map_err(|e| Refusal::upstream("database", AppError::from(e).message))?
        .is_some_and(|rule| rule.organization_id == org);
    if !ours {
        return Err(Refusal::new(
            "sso_domain_not_verified",
            format!(
                "The identity provider vouched for {}, but this organization has not verified the domain {}. Single sign-on works only for addresses at the organization's verified domains; ask its admin to verify {} on the SSO page.",
                email.as_str(),
                email.domain(),
                email.domain()
            ),
        ));
    }
    Ok(email)
}

async fn provision(
    app: &AppState,
    row: &ConnectionRow,
    identity: &IdpIdentity,
    client: &ClientMeta,
    method: SignInMethod,
    return_to: Option<String>,
) -> Result<Finished, Provisioning> {
    let refused = |reason, message: String| Provisioning::Refused(Refusal::new(reason, message));
    let org = row.organization_id;
    let now = db::now();
    let mut tx = app.db.begin_write().await?;
    db::orgs::lock(&mut tx, org).await?;
    let email = vouched_address(&mut tx, org, identity).await?;
    if row.kind == ConnectionKind::Oidc && !identity.email_verified {
        return Err(refused(
            "email_not_verified",
            format!("The identity provider has not verified {}; ask your IT team.", email.as_str()),
        ));
    }
    let user_id = match db::sso::identity(&mut tx, row.id, &identity.subject).await? {
        Some(user) => user,
        None => match db::users::by_email_tx(&mut tx, &email).await? {
            // Someone who signed up with the address and never proved it must not be offered the
            // real owner's identity, even with their own password.
            Some(existing) if existing.email_verified_at.is_none() => {
                return Err(refused(
                    "account_not_verified",
                    format!(
                        "An account with {} exists but its address was never verified, so it cannot be linked. Its owner can verify it from the mail sent at sign-up, or an admin can remove it.",
                        email.as_str()
                    ),
                ))
            }
            Some(existing) => {
                let token = hold(&mut tx, row, &existing, identity, method, return_to, client, now).await?;
                db::commit(tx).await?;
                return Ok(Finished::LinkPending { token });
            }
            None => create_user(&mut tx, &email, identity, now).await?,
        },
    };
    let (user, session) = join(&mut tx, app, row, user_id, identity, client, method, now).await?;
    db::commit(tx).await?;
    app.forget_org(org);
    Ok(Finished::SignedIn { user: Box::new(user), session, org, return_to })
}

/// Links the identity (or records its use), updates the name, gives the mapped role and starts a
/// session: everything a sign-in through a provider does once it is known whose account it is.
#[allow(clippy::too_many_arguments)]
async fn join(
    tx: &mut db::Tx,
    app: &AppState,
    row: &ConnectionRow,
    user_id: UserId,
    identity: &IdpIdentity,
    client: &ClientMeta,
    method: SignInMethod,
    now: DateTime<Utc>,
) -> Result<(UserRow, SessionRow), AppError> {
    let org = row.organization_id;
    db::sso::link_identity(tx, row.id, &identity.subject, user_id, now).await?;
    if let Some(name) = identity.name.as_deref().and_then(|n| PersonName::parse(n).ok()) {
        db::users::set_name(tx, user_id, name.as_str(), now).await?;
    }
    let user = db::users::by_id_tx(tx, user_id).await?.ok_or_else(|| AppError::not_found("user"))?;
    let actor = Actor::person(&user, client);
    let role = mapped_role(row, &identity.groups);
    match db::members::get(tx, org, user_id).await? {
        // Owners keep ownership whatever the IdP says; it changes only by transfer.
        Some(member) if member.role == Role::Owner || member.role == role => {}
        Some(member) => {
            db::members::set_role(tx, org, user_id, role, &member.permissions).await?;
            let event = member_event(
                Action::MemberRoleChanged,
                user_id,
                json!({ "from": member.role, "to": role, "via": row.id }),
            );
            audit::append(tx, &org.to_string(), Some(org), &actor, event).await?;
        }
        None => {
            invitations::check_seat(tx, org).await?;
            db::members::insert(tx, org, user_id, role, now).await?;
            let event = member_event(Action::MemberJoined, user_id, json!({ "role": role, "via": row.id }));
            audit::append(tx, &org.to_string(), Some(org), &actor, event).await?;
        }
    }
    let session = accounts::start_session(tx, app, user_id, client, method).await?;
    accounts::record_sign_in(tx, &user, &session, client).await?;
    Ok((user, session))
}

fn member_event(action: Action, user: UserId, metadata: serde_json::Value) -> Event<'static> {
    Event { action, resource_type: "member", resource_id: Some(user.to_string()), metadata }
}

/// JIT provisioning: an account without a password. Its address is at a verified domain of the
/// organization whose IdP vouched for it (`vouched_address`), so it counts as verified.
async fn create_user(
    tx: &mut db::Tx,
    email: &EmailAddress,
    identity: &IdpIdentity,
    now: DateTime<Utc>,
) -> Result<UserId, Provisioning> {
    let id = UserId::new();
    let fallback = email.as_str().split('@').next().unwrap_or("New user").to_owned();
    let name = identity
        .name
        .as_deref()
        .and_then(|n| PersonName::parse(n).ok())
        .or_else(|| PersonName::parse(&fallback).ok())
        .ok_or_else(|| internal("no usable name for a provisioned user"))?;
    let new_user = db::users::NewUser { id, email, name: name.as_str(), password_hash: None, now };
    if !db::users::insert(tx, new_user).await? {
        return Err(AppError::conflict(
            ErrorCode::EmailTaken,
            "An account with this email was created meanwhile; try again.",
        )
        .into());
    }
    db::users::mark_email_verified(tx, id, email.as_str(), now).await?;
    Ok(id)
}

fn identity_json(identity: &IdpIdentity) -> serde_json::Value {
    json!({ "subject": identity.subject, "email": identity.email, "name": identity.name, "groups": identity.groups })
}

fn identity_from_json(value: &serde_json::Value) -> IdpIdentity {
    let text = |key: &str| value[key].as_str().map(str::to_owned);
    IdpIdentity {
        subject: text("subject").unwrap_or_default(),
        email: text("email"),
        email_verified: true,
        name: text("name"),
        groups: value["groups"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|g| g.as_str().map(str::to_owned))
            .collect(),
    }
}

/// Holds a sign-in for an existing account; the browser keeps the returned secret.
#[allow(clippy::too_many_arguments)]
async fn hold(
    tx: &mut db::Tx,
    row: &ConnectionRow,
    existing: &UserRow,
    identity: &IdpIdentity,
    method: SignInMethod,
    return_to: Option<String>,
    client: &ClientMeta,
    now: DateTime<Utc>,
) -> Result<String, AppError> {
    let secret = token::generate();
    let pending = PendingLink {
        connection: row.id,
        user: existing.id,
        identity: identity_json(identity),
        method,
        return_to,
        expires_at: now + Duration::minutes(PENDING_MINUTES),
    };
    db::sso_links::hold(tx, &token::hash(&secret), &pending).await?;
    let org = row.organization_id;
    let event = Event {
        action: Action::SsoLinkRequested,
        resource_type: "user",
        resource_id: Some(existing.id.to_string()),
        metadata: json!({ "connection_id": row.id, "subject": identity.subject }),
    };
    audit::append(tx, &org.to_string(), Some(org), &sso_actor(identity, client), event).await?;
    Ok(secret)
}

fn sso_actor(identity: &IdpIdentity, client: &ClientMeta) -> Actor {
    Actor {
        kind: "sso",
        id: None,
        name: identity.email.clone().unwrap_or_else(|| identity.subject.clone()).chars().take(200).collect(),
        ip: client.ip.clone(),
        user_agent: client.user_agent.clone(),
    }
}

/// What the "link this sign-in method" page shows.
pub struct LinkPrompt {
    pub email: String,
    pub connection_name: String,
    pub organization_name: String,
    pub has_password: bool,
}

fn expired() -> AppError {
    AppError::bad_request(
        ErrorCode::SsoLinkExpired,
        "This sign-in is no longer waiting to be linked (it expired after 30 minutes or was already confirmed). Start again from the sign-in page.",
    )
}

struct Held {
    user: UserRow,
    connection: ConnectionRow,
}

async fn held(app: &AppState, secret: &str) -> Result<Held, AppError> {
    let pool = app.db.pool();
    let pending = db::sso_links::pending(pool, &token::hash(secret), db::now()).await?.ok_or_else(expired)?;
    let user = db::users::by_id(pool, pending.user).await?.ok_or_else(expired)?;
    let connection = db::sso::connection_by_id(pool, pending.connection).await?.ok_or_else(expired)?;
    Ok(Held { user, connection })
}

pub async fn prompt(app: &AppState, secret: &str) -> Result<LinkPrompt, AppError> {
    let Held { user, connection, .. } = held(app, secret).await?;
    let org = db::orgs::by_id(app.db.pool(), connection.organization_id).await?.ok_or_else(expired)?;
    Ok(LinkPrompt {
        email: user.email,
        connection_name: connection.name,
        organization_name: org.name,
        has_password: user.password_hash.is_some(),
    })
}

/// The holder confirms with their password: the identity is linked and this browser signed in.
/// Attempts count against the same throttles as password sign-ins.
pub async fn confirm_with_password(
    app: &AppState,
    secret: &str,
    password_attempt: &str,
    client: &ClientMeta,
) -> Result<Finished, AppError> {
    if password_attempt.is_empty() {
        return Err(AppError::invalid_field("password", "Enter your password."));
    }
    let Held { user, .. } = held(app, secret).await?;
    let ip_bucket = throttle::login_ip(client.ip_key());
    let account_bucket = throttle::login_account(&user.email);
    let counted =
        throttle::reserve(&app.db, &[&account_bucket, &ip_bucket], app.config.login_throttle, db::now()).await?;
    if !password::verify(password_attempt, user.password_hash.as_deref()).await? {
        return Err(AppError::new(
            ErrorKind::Unauthenticated,
            ErrorCode::InvalidCredentials,
            "That password is not correct.",
        ));
    }
    counted.refund(&app.db).await?;
    throttle::clear(app.db.pool(), &account_bucket).await?;
    confirm(app, Some(&token::hash(secret)), None, client, "password").await
}

/// Mails the account's holder a single-use link that confirms the pending sign-in.
pub async fn mail_confirmation(app: &AppState, secret: &str, client: &ClientMeta) -> Result<String, AppError> {
    let Held { user, connection, .. } = held(app, secret).await?;
    let now = db::now();
    let bucket = throttle::reset_ip(client.ip_key());
    let _counted = throttle::reserve(&app.db, &[&bucket], app.config.signup_throttle, now).await?;
    let org = db::orgs::by_id(app.db.pool(), connection.organization_id).await?.ok_or_else(expired)?;
    let mailed = token::generate();
    let mut tx = app.db.begin_write().await?;
    db::sso_links::set_email_token(&mut tx, &token::hash(secret), &token::hash(&mailed)).await?;
    let link = app.config.link(&format!("/sso/link/confirm?token={mailed}"));
    let text = format!(
        "Hello {name},\n\nSomeone (hopefully you) signed in through \"{conn}\", the identity provider of the organization {org}, as {email}. Your Gatehouse account already uses this address, so that sign-in method is linked to it only if you confirm:\n\n{link}\n\nThe link works once and expires in 30 minutes. If this was not you, ignore this message: nothing is linked and nobody is signed in.",
        name = user.name,
        conn = connection.name,
        org = org.name,
        email = user.email,
    );
    mail::send(&mut tx, &user.email, "Confirm a new sign-in method", &text, now).await?;
    db::commit(tx).await?;
    app.mail_wakeup.notify_one();
    Ok(user.email)
}

/// Confirms through the mailed link: the identity is linked and this browser signed in.
pub async fn confirm_with_mail(app: &AppState, mailed: &str, client: &ClientMeta) -> Result<Finished, AppError> {
    confirm(app, None, Some(&token::hash(mailed)), client, "email").await
}

/// Abandons a held sign-in.
pub async fn cancel(app: &AppState, secret: &str) -> Result<(), AppError> {
    let mut tx = app.db.begin_write().await?;
    db::sso_links::take(&mut tx, Some(&token::hash(secret)), None, db::now()).await?;
    Ok(db::commit(tx).await?)
}

async fn confirm(
    app: &AppState,
    by_browser: Option<&str>,
    by_mail: Option<&str>,
    client: &ClientMeta,
    how: &str,
) -> Result<Finished, AppError> {
    let now = db::now();
    let mut tx = app.db.begin_write().await?;
    let pending = db::sso_links::take(&mut tx, by_browser, by_mail, now).await?.ok_or_else(expired)?;
    let row = db::sso::connection_by_id(app.db.pool(), pending.connection).await?.ok_or_else(expired)?;
    // The connection (or the organization's SSO) may have been turned off meanwhile.
    super::check_usable(app, &row).await?;
    let org = row.organization_id;
    db::orgs::lock(&mut tx, org).await?;
    let identity = identity_from_json(&pending.identity);
    // The rules that held when the sign-in was held must still hold: the domain may have been
    // released meanwhile, or the subject linked to someone else.
    vouched_address(&mut tx, org, &identity).await.map_err(Refusal::into_error)?;
    if db::sso::identity(&mut tx, row.id, &identity.subject).await?.is_some_and(|linked| linked != pending.user) {
        return Err(expired());
    }
    let (user, session) = join(&mut tx, app, &row, pending.user, &identity, client, pending.method, now).await?;
    let event = Event {
        action: Action::SsoIdentityLinked,
        resource_type: "user",
        resource_id: Some(user.id.to_string()),
        metadata: json!({ "connection_id": row.id, "subject": identity.subject, "confirmed_with": how }),
    };
    audit::append(&mut tx, &org.to_string(), Some(org), &Actor::person(&user, client), event).await?;
    let text = format!(
        "The sign-in method \"{}\" (single sign-on, subject {}) was linked to your Gatehouse account. You can see and unlink sign-in methods on your account page: {}\n\nIf this was not you, unlink it there and reset your password.",
        row.name,
        identity.subject,
        app.config.link("/account")
    );
    mail::send(
        &mut tx,
        &user.email,
        "A sign-in method was linked to your account",
        &format!("Hello {},\n\n{text}", user.name),
        now,
    )
    .await?;
    db::commit(tx).await?;
    app.mail_wakeup.notify_one();
    app.forget_org(org);
    Ok(Finished::SignedIn { user: Box::new(user), session, org, return_to: pending.return_to })
}

/// The current user's linked identities.
pub async fn identities(app: &AppState, user: UserId) -> Result<Vec<LinkedIdentity>, AppError> {
    Ok(db::sso_links::identities_of(app.db.pool(), user).await?)
}

/// Unlinks one of the user's identities; audited in the connection's organization.
pub async fn unlink(app: &AppState, user: &UserRow, id: &str, client: &ClientMeta) -> Result<(), AppError> {
    let mut tx = app.db.begin_write().await?;
    let (connection, org, subject) =
        db::sso_links::unlink(&mut tx, user.id, id).await?.ok_or_else(|| AppError::not_found("linked_identity"))?;
    let event = Event {
        action: Action::SsoIdentityUnlinked,
        resource_type: "user",
        resource_id: Some(user.id.to_string()),
        metadata: json!({ "connection_id": connection, "subject": subject }),
    };
    audit::append(&mut tx, &org.to_string(), Some(org), &Actor::person(user, client), event).await?;
    Ok(db::commit(tx).await?)
}
