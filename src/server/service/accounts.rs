//! Accounts: sign up, sign in and out, profile, password, email verification, password reset and
//! the list of one's own sessions.
use crate::server::service::prelude::*;
use crate::server::{
    auth::{
        device, password,
        principal::{ClientMeta, SignedIn},
        throttle, token,
    },
    authz::Actor,
    db::{self, sessions::SessionRow, tokens::Purpose, users::UserRow},
    service::mail::{self, Recipient},
};
use crate::shared::{
    accounts::{Page, SessionInfo, SignInMethod},
    error::{AppError, ErrorCode, ErrorKind},
    ids::{OrgId, SessionId, UserId},
    roles::Role,
    values::{EmailAddress, PersonName},
};
use chrono::Duration;

const VERIFY_EMAIL_TTL_HOURS: i64 = 24;
const RESET_PASSWORD_TTL_HOURS: i64 = 1;

pub struct Signup {
    pub name: String,
    pub email: String,
    pub password: String,
}

/// Creates the account, mails a verification link and signs the new user in.
pub async fn signup(app: &AppState, input: Signup, client: &ClientMeta) -> Result<(UserRow, SessionRow), AppError> {
    let name = PersonName::parse(&input.name)?;
    let email = EmailAddress::parse(&input.email)?;
    password::check_strength("password", &input.password, &[email.as_str(), name.as_str()])?;
    let now = db::now();
    let bucket = throttle::signup_ip(client.ip_key());
    let _counted = throttle::reserve(&app.db, &[&bucket], app.config.signup_throttle, now).await?;
    let hash = password::hash(&input.password).await?;

    let user_id = UserId::new();
    let mut tx = app.db.begin_write().await?;
    let new_user =
        db::users::NewUser { id: user_id, email: &email, name: name.as_str(), password_hash: Some(&hash), now };
    if !db::users::insert(&mut tx, new_user).await? {
        // On Postgres the failed insert aborted the transaction; the mail needs a fresh one.
        db::rollback(tx).await?;
        tell_holder_of_signup(app, &email).await?;
        return Err(AppError::conflict(
            ErrorCode::EmailTaken,
            "An account with this email is already registered. Sign in instead.",
        )
        .with_detail("field", "email"));
    }
    let user = db::users::by_id_tx(&mut tx, user_id).await?.ok_or_else(|| AppError::not_found("user"))?;
    send_verification(&mut tx, app, &user).await?;
    let session = start_session(&mut tx, app, user.id, client, SignInMethod::Password).await?;
    db::commit(tx).await?;
    app.mail_wakeup.notify_one();
    Ok((user, session))
}

/// The holder of an address someone tried to sign up with hears of it, so a mistaken or hostile
/// sign-up is never silent (the per-IP signup throttle bounds how often).
async fn tell_holder_of_signup(app: &AppState, email: &EmailAddress) -> Result<(), AppError> {
    let mut tx = app.db.begin_write().await?;
    let Some(holder) = db::users::by_email_tx(&mut tx, email).await? else { return Ok(()) };
    mail::signup_attempted(&mut tx, &app.config, Recipient { email: &holder.email, name: &holder.name }, db::now())
        .await?;
    db::commit(tx).await?;
    app.mail_wakeup.notify_one();
    Ok(())
}

/// Mails the account's owner, once per throttle window, that sign-ins to their account are being
/// refused, and that browsers they signed in with before still get in.
async fn warn_throttled(app: &AppState, email: &EmailAddress, bucket: &str) -> Result<(), AppError> {
    let now = db::now();
    if !throttle::first_refusal(app.db.pool(), bucket, app.config.login_throttle, now).await? {
        return Ok(());
    }
    let Some(user) = db::users::by_email(app.db.pool(), email).await? else { return Ok(()) };
    let mut tx = app.db.begin_write().await?;
    mail::sign_in_throttled(&mut tx, &app.config, Recipient { email: &user.email, name: &user.name }, now).await?;
    db::commit(tx).await?;
    app.mail_wakeup.notify_one();
    Ok(())
}

/// Checks credentials with the same message and similar timing whether the email is unknown or
/// the password wrong; failures count against both the account and the client address.
pub async fn login(
    app: &AppState,
    email: &str,
    password_attempt: &str,
    client: &ClientMeta,
) -> Result<(UserRow, SessionRow), AppError> {
    let email = EmailAddress::parse(email)?;
    if password_attempt.is_empty() {
        return Err(AppError::invalid_field("password", "Enter your password."));
    }
    let pool = app.db.pool();
    let now = db::now();
    let rule = app.config.login_throttle;
    let ip_bucket = throttle::login_ip(client.ip_key());
    // A browser that signed in to this account before has its own budget, which other people's
    // failures do not use up (OWASP's device cookies).
    let device_bucket = device::bucket(&app.secrets, client.device.as_deref(), &email);
    let account_bucket = device_bucket.clone().unwrap_or_else(|| throttle::login_account(email.as_str()));
    let counted = match throttle::reserve(&app.db, &[&account_bucket, &ip_bucket], rule, now).await {
        Ok(counted) => counted,
        Err(refused) => {
            if matches!(refused, throttle::Refused::Full { bucket: 0, .. }) && device_bucket.is_none() {
                warn_throttled(app, &email, &account_bucket).await?;
            }
            return Err(refused.into());
        }
    };

    let user = db::users::by_email(pool, &email).await?;
    let stored = user.as_ref().and_then(|u| u.password_hash.as_deref());
    let ok = password::verify(password_attempt, stored).await?;
    let Some(user) = user.filter(|_| ok) else {
        return Err(AppError::new(
            ErrorKind::Unauthenticated,
            ErrorCode::InvalidCredentials,
            "Incorrect email or password.",
        ));
    };
    counted.refund(&app.db).await?;
    throttle::clear(pool, &account_bucket).await?;
    let break_glass = check_sso_requirement(app, &user, &email, client).await?;
    let mut tx = app.db.begin_write().await?;
    let session = start_session(&mut tx, app, user.id, client, SignInMethod::Password).await?;
    record_sign_in(&mut tx, &user, &session, client).await?;
    if let Some(org) = break_glass {
        let event = Event {
            action: Action::UserBreakGlassSignIn,
            resource_type: "user",
            resource_id: Some(user.id.to_string()),
            metadata: serde_json::json!({ "session_id": session.id, "domain": email.domain() }),
        };
        audit::append(&mut tx, &org.to_string(), Some(org), &Actor::person(&user, client), event).await?;
    }
    db::commit(tx).await?;
    Ok((user, session))
}

/// When the address's domain is verified by an organization that requires SSO for it, a password
/// sign-in is refused (403 `sso_required`, naming where to sign in instead), except for that
/// organization's owners: their break-glass path, audited, for when the IdP itself is broken.
/// Returns the organization whose requirement an owner bypassed.
async fn check_sso_requirement(
    app: &AppState,
    user: &UserRow,
    email: &EmailAddress,
    client: &ClientMeta,
) -> Result<Option<OrgId>, AppError> {
    // Its own transaction: the refusal's audit entry must be kept although the sign-in fails.
    let mut tx = app.db.begin_write().await?;
    let Some(rule) = db::domains::sso_rule(&mut tx, email.domain()).await? else {
        return Ok(None);
    };
    if !rule.require_sso {
        return Ok(None);
    }
    if db::members::get(&mut tx, rule.organization_id, user.id).await?.is_some_and(|m| m.role == Role::Owner) {
        return Ok(Some(rule.organization_id));
    }
    let sign_in_url = app.config.link(&format!(
        "/sso/start?email={}",
        url::form_urlencoded::byte_serialize(email.as_str().as_bytes()).collect::<String>()
    ));
    let event = Event {
        action: Action::UserSignInRefused,
        resource_type: "user",
        resource_id: Some(user.id.to_string()),
        metadata: serde_json::json!({ "reason": "sso_required", "domain": email.domain() }),
    };
    let org = rule.organization_id;
    audit::append(&mut tx, &org.to_string(), Some(org), &Actor::person(user, client), event).await?;
    db::commit(tx).await?;
    Err(AppError::new(
        ErrorKind::Forbidden,
        ErrorCode::SsoRequired,
        format!("{} signs in with single sign-on. Continue with SSO instead of a password.", email.domain()),
    )
    .with_detail("sign_in_url", sign_in_url))
}

/// Each organization sees its members' sign-ins in its own audit log.
pub(crate) async fn record_sign_in(
    tx: &mut db::Tx,
    user: &UserRow,
    session: &SessionRow,
    client: &ClientMeta,
) -> Result<(), AppError> {
    let actor = Actor::person(user, client);
    for org in db::members::orgs_of(tx, user.id).await? {
        let event = Event {
            action: Action::UserSignedIn,
            resource_type: "user",
            resource_id: Some(user.id.to_string()),
            metadata: serde_json::json!({ "session_id": session.id, "method": session.method }),
        };
        audit::append(tx, &org.to_string(), Some(org), &actor, event).await?;
    }
    Ok(())
}

pub(crate) async fn start_session(
    tx: &mut db::Tx,
    app: &AppState,
    user: UserId,
    client: &ClientMeta,
    method: SignInMethod,
) -> Result<SessionRow, AppError> {
    let now = db::now();
    let lifetime = Duration::from_std(app.config.session_absolute).unwrap_or(Duration::days(14));
    let row = SessionRow {
        id: SessionId::new(),
        user_id: user,
        ip: client.ip.clone(),
        user_agent: client.user_agent.clone(),
        method,
        created_at: now,
        last_seen_at: now,
        expires_at: now + lifetime,
    };
    db::sessions::insert(tx, &row).await?;
    Ok(row)
}

/// Ends the current sign-in.
pub async fn logout(app: &AppState, who: &SignedIn) -> Result<(), AppError> {
    let mut tx = app.db.begin_write().await?;
    db::sessions::delete_one(&mut tx, who.user.id, who.session.id).await?;
    Ok(db::commit(tx).await?)
}

/// Ends every sign-in of the user, this one included. Returns how many ended.
pub async fn logout_everywhere(app: &AppState, who: &SignedIn) -> Result<u64, AppError> {
    let mut tx = app.db.begin_write().await?;
    let ended = db::sessions::delete_all_except(&mut tx, who.user.id, None).await?;
    db::commit(tx).await?;
    Ok(ended)
}

pub async fn update_profile(app: &AppState, who: &SignedIn, name: &str) -> Result<UserRow, AppError> {
    let name = PersonName::parse(name)?;
    let mut tx = app.db.begin_write().await?;
    db::users::set_name(&mut tx, who.user.id, name.as_str(), db::now()).await?;
    let user = db::users::by_id_tx(&mut tx, who.user.id).await?.ok_or_else(|| AppError::not_found("user"))?;
    db::commit(tx).await?;
    Ok(user)
}

/// Changes the password after checking the current one, ends every other session and tells the
/// user by mail. The caller rotates this browser's session id.
pub async fn change_password(app: &AppState, who: &SignedIn, current: &str, new: &str) -> Result<u64, AppError> {
    if current.is_empty() {
        return Err(AppError::invalid_field("current_password", "Enter your current password."));
    }
    let user = &who.user;
    if !password::verify(current, user.password_hash.as_deref()).await? {
        return Err(AppError::invalid_field("current_password", "Your current password is not correct."));
    }
    password::check_strength("new_password", new, &[&user.email, &user.name])?;
    if current == new {
        return Err(AppError::invalid_field("new_password", "Choose a password different from the current one."));
    }
    let hash = password::hash(new).await?;
    let now = db::now();
    let mut tx = app.db.begin_write().await?;
    db::users::set_password_hash(&mut tx, user.id, &hash, now).await?;
    let ended = db::sessions::delete_all_except(&mut tx, user.id, Some(who.session.id)).await?;
    db::tokens::revoke_all(&mut tx, user.id, Purpose::ResetPassword, now).await?;
    mail::password_changed(&mut tx, &app.config, Recipient { email: &user.email, name: &user.name }, now).await?;
    db::commit(tx).await?;
    app.mail_wakeup.notify_one();
    Ok(ended)
}

/// The user's live sessions, most recently used first.
pub async fn list_sessions(app: &AppState, who: &SignedIn, page: &PageRequest) -> Result<Page<SessionInfo>, AppError> {
    let rows = db::sessions::list_for_user(app.db.pool(), who.user.id, db::now(), page).await?;
    let Page { data: rows, next_cursor } = page.finish(rows, |r| (db::to_millis(r.last_seen_at), r.id.to_string()));
    let data = rows
        .into_iter()
        .map(|r| SessionInfo {
            current: r.id == who.session.id,
            id: r.id,
            ip: r.ip,
            user_agent: r.user_agent,
            method: r.method,
            created_at: r.created_at,
            last_seen_at: r.last_seen_at,
            expires_at: r.expires_at,
        })
        .collect();
    Ok(Page { data, next_cursor })
}

/// Signs one of the user's own sessions out. Someone else's session id answers 404, like a
/// missing one.
pub async fn revoke_session(app: &AppState, who: &SignedIn, id: SessionId) -> Result<(), AppError> {
    let mut tx = app.db.begin_write().await?;
    if !db::sessions::delete_one(&mut tx, who.user.id, id).await? {
        return Err(AppError::not_found("session"));
    }
    Ok(db::commit(tx).await?)
}

/// Mails a fresh verification link (throttled like signups).
pub async fn resend_verification(app: &AppState, who: &SignedIn) -> Result<(), AppError> {
    if who.user.email_verified_at.is_some() {
        return Err(AppError::conflict(ErrorCode::AlreadyVerified, "Your email address is already verified."));
    }
    let now = db::now();
    let bucket = format!("verify:user:{}", who.user.id);
    let _counted = throttle::reserve(&app.db, &[&bucket], app.config.signup_throttle, now).await?;
    let mut tx = app.db.begin_write().await?;
    send_verification(&mut tx, app, &who.user).await?;
    db::commit(tx).await?;
    app.mail_wakeup.notify_one();
    Ok(())
}

async fn send_verification(tx: &mut db::Tx, app: &AppState, user: &UserRow) -> Result<(), AppError> {
    let now = db::now();
    let secret = token::generate();
    let token_hash = token::hash(&secret);
    db::tokens::insert(
        tx,
        db::tokens::NewToken {
            token_hash: &token_hash,
            user_id: user.id,
            purpose: Purpose::VerifyEmail,
            email: &user.email,
            now,
            expires_at: now + Duration::hours(VERIFY_EMAIL_TTL_HOURS),
        },
    )
    .await?;
    mail::verify_email(tx, &app.config, Recipient { email: &user.email, name: &user.name }, &secret, now).await
}

fn invalid_link() -> AppError {
    AppError::bad_request(
        ErrorCode::InvalidToken,
        "This link is invalid, was already used or has expired. Request a new one.",
    )
    .with_detail("field", "token")
}

/// Uses a verification link. Only verifies while the account still has the address it was sent to.
pub async fn verify_email(app: &AppState, secret: &str) -> Result<UserId, AppError> {
    let now = db::now();
    let mut tx = app.db.begin_write().await?;
    let (user, email) = db::tokens::consume(&mut tx, &token::hash(secret), Purpose::VerifyEmail, now)
        .await?
        .ok_or_else(invalid_link)?;
    if !db::users::mark_email_verified(&mut tx, user, &email, now).await? {
        return Err(invalid_link());
    }
    db::commit(tx).await?;
    Ok(user)
}

/// Whether a link would be accepted, so its page can say so before anyone presses a button.
pub async fn link_is_live(app: &AppState, secret: &str, reset: bool) -> Result<bool, AppError> {
    let purpose = if reset { Purpose::ResetPassword } else { Purpose::VerifyEmail };
    Ok(db::tokens::peek(app.db.pool(), &token::hash(secret), purpose, db::now()).await?.is_some())
}

/// Mails a reset link when the address has an account. Answers the same either way, so the form
/// cannot be used to find out who has an account.
pub async fn forgot_password(app: &AppState, email: &str, client: &ClientMeta) -> Result<(), AppError> {
    let email = EmailAddress::parse(email)?;
    let now = db::now();
    let bucket = throttle::reset_ip(client.ip_key());
    let _counted = throttle::reserve(&app.db, &[&bucket], app.config.signup_throttle, now).await?;
    let Some(user) = db::users::by_email(app.db.pool(), &email).await? else {
        return Ok(());
    };
    let secret = token::generate();
    let token_hash = token::hash(&secret);
    let linked = db::sso_links::identities_of(app.db.pool(), user.id).await?;
    let mut tx = app.db.begin_write().await?;
    db::tokens::insert(
        &mut tx,
        db::tokens::NewToken {
            token_hash: &token_hash,
            user_id: user.id,
            purpose: Purpose::ResetPassword,
            email: &user.email,
            now,
            expires_at: now + Duration::hours(RESET_PASSWORD_TTL_HOURS),
        },
    )
    .await?;
    let to = Recipient { email: &user.email, name: &user.name };
    mail::reset_password(&mut tx, &app.config, to, &secret, &linked, now).await?;
    db::commit(tx).await?;
    app.mail_wakeup.notify_one();
    Ok(())
}

/// Sets a new password from a reset link, ends every session and lifts the login throttle of the
/// account. Receiving the link proves the mailbox, so it also verifies the address.
pub async fn reset_password(app: &AppState, secret: &str, new_password: &str) -> Result<(), AppError> {
    let token_hash = token::hash(secret);
    let now = db::now();
    // Check the link and the password before the slow hashing; the link is used up (race-safely)
    // in the transaction below.
    let owner =
        db::tokens::peek(app.db.pool(), &token_hash, Purpose::ResetPassword, now).await?.ok_or_else(invalid_link)?;
    let user = db::users::by_id(app.db.pool(), owner).await?.ok_or_else(invalid_link)?;
    password::check_strength("password", new_password, &[&user.email, &user.name])?;
    let hash = password::hash(new_password).await?;
    let mut tx = app.db.begin_write().await?;
    let (user_id, email) =
        db::tokens::consume(&mut tx, &token_hash, Purpose::ResetPassword, now).await?.ok_or_else(invalid_link)?;
    if user_id != user.id {
        return Err(invalid_link());
    }
    db::users::set_password_hash(&mut tx, user.id, &hash, now).await?;
    db::tokens::revoke_all(&mut tx, user.id, Purpose::ResetPassword, now).await?;
    db::sessions::delete_all_except(&mut tx, user.id, None).await?;
    db::users::mark_email_verified(&mut tx, user.id, &email, now).await?;
    db::commit(tx).await?;
    throttle::clear(app.db.pool(), &throttle::login_account(&user.email)).await?;
    Ok(())
}
