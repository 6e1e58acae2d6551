//! Invitations: issue (mailed link with a single-use token), list, revoke, resend, preview and
//! accept. Open invitations take a seat: members + pending invitations ≤ max_users.
use crate::server::service::prelude::*;
use crate::server::{
    auth::{
        principal::{ClientMeta, SignedIn},
        token,
    },
    authz::{Actor, OrgScope},
    service::{
        audit::{self, Event},
        mail,
    },
};
use crate::shared::{
    error::{AppError, ErrorCode, ErrorKind},
    ids::{InvitationId, OrgId},
    invitations::{Invitation, InvitationPreview, InvitationStatus, IssuedInvitation},
    roles::{may_assign, Permission, Role},
    values::EmailAddress,
};
use chrono::Duration;
use serde_json::json;

pub const DEFAULT_DAYS: i64 = 7;

fn expiry_days(days: Option<i64>) -> Result<i64, AppError> {
    match days.unwrap_or(DEFAULT_DAYS) {
        d @ 1..=30 => Ok(d),
        _ => Err(AppError::invalid_field("expires_in_days", "An invitation lasts from 1 to 30 days.")),
    }
}

fn limit_exceeded(max: i64) -> AppError {
    AppError::conflict(
        ErrorCode::LimitExceeded,
        format!("This organization's plan allows {max} users, counting pending invitations. Remove someone or upgrade the plan."),
    )
    .with_detail("max_users", max)
}

fn pending_already() -> AppError {
    AppError::conflict(
        ErrorCode::InvitationPending,
        "An invitation to this address is already open. Resend it instead.",
    )
    .with_detail("field", "email")
}

pub(crate) async fn check_seat(tx: &mut Tx, org: OrgId) -> Result<(), AppError> {
    let row = db::orgs::by_id_tx(tx, org).await?.ok_or_else(|| AppError::not_found("organization"))?;
    if db::members::count_seats(tx, org, db::now()).await? >= row.limits.max_users {
        return Err(limit_exceeded(row.limits.max_users));
    }
    Ok(())
}

async fn send_mail(
    tx: &mut Tx,
    app: &AppState,
    scope: &OrgScope,
    invitation: &Invitation,
    secret: &str,
) -> Result<String, AppError> {
    let org = db::orgs::by_id_tx(tx, scope.org_id()).await?.ok_or_else(|| AppError::not_found("organization"))?;
    let link = app.config.link(&format!("/invite?token={secret}"));
    let text = format!(
        "{inviter} invited you to join {org} on Gatehouse as {role}.\n\nAccept the invitation here:\n\n{link}\n\nThe link works once and expires on {expires}.",
        inviter = scope.actor().name,
        org = org.name,
        role = invitation.role.label(),
        expires = invitation.expires_at.format("%Y-%m-%d %H:%M UTC"),
    );
    mail::send(tx, &invitation.email, &format!("You are invited to join {}", org.name), &text, db::now()).await?;
    Ok(link)
}

pub async fn invite(
    app: &AppState,
    scope: &OrgScope,
    email: &str,
    role: Option<Role>,
    days: Option<i64>,
) -> Result<IssuedInvitation, AppError> {
    scope.require(Permission::InvitationsWrite)?;
    let email = EmailAddress::parse(email)?;
    let role = role.unwrap_or(Role::Member);
    if !may_assign(scope.role(), None, role) {
        return Err(AppError::forbidden(
            ErrorCode::InsufficientRank,
            "Only an Owner can invite someone at or above their own role.",
        ));
    }
    let days = expiry_days(days)?;
    let now = db::now();
    let mut tx = app.db.begin_write().await?;
    db::orgs::lock(&mut tx, scope.org_id()).await?;
    if let Some(user) = db::users::by_email_tx(&mut tx, &email).await? {
        if db::members::get(&mut tx, scope.org_id(), user.id).await?.is_some() {
            return Err(AppError::conflict(ErrorCode::AlreadyMember, "That person is already a member.")
                .with_detail("field", "email"));
        }
    }
    db::invitations::revoke_expired_for(&mut tx, scope.org_id(), email.as_str(), now).await?;
    if db::invitations::has_pending(&mut tx, scope.org_id(), email.as_str()).await? {
        return Err(pending_already());
    }
    check_seat(&mut tx, scope.org_id()).await?;
    let secret = token::generate();
    let id = InvitationId::new();
    let new = db::invitations::NewInvitation {
        id,
        org: scope.org_id(),
        email: email.as_str(),
        role,
        token_hash: &token::hash(&secret),
        invited_by: scope.user_id(),
        now,
        expires_at: now + Duration::days(days),
    };
    if !db::invitations::insert(&mut tx, new).await? {
        return Err(pending_already());
    }
    let invitation = db::invitations::get(&mut tx, scope.org_id(), id, now)
        .await?
        .ok_or_else(|| AppError::not_found("invitation"))?;
    let link = send_mail(&mut tx, app, scope, &invitation, &secret).await?;
    let event = Event {
        action: Action::InvitationCreated,
        resource_type: "invitation",
        resource_id: Some(id.to_string()),
        metadata: json!({ "email": email.as_str(), "role": role, "expires_at": invitation.expires_at }),
    };
    audit::record(&mut tx, scope, event).await?;
    db::commit(tx).await?;
    app.mail_wakeup.notify_one();
    Ok(IssuedInvitation { invitation, link })
}

pub async fn list(app: &AppState, scope: &OrgScope, page: &PageRequest) -> Result<Page<Invitation>, AppError> {
    scope.require(Permission::InvitationsWrite)?;
    let rows = db::invitations::list(app.db.pool(), scope.org_id(), page, db::now()).await?;
    Ok(page.finish(rows, |i| (db::to_millis(i.created_at), i.id.to_string())))
}

async fn open_invitation(tx: &mut Tx, scope: &OrgScope, id: InvitationId) -> Result<Invitation, AppError> {
    let invitation = db::invitations::get(tx, scope.org_id(), id, db::now())
        .await?
        .ok_or_else(|| AppError::not_found("invitation"))?;
    match invitation.status {
        InvitationStatus::Pending | InvitationStatus::Expired => Ok(invitation),
        InvitationStatus::Accepted => {
            Err(AppError::conflict(ErrorCode::InvitationAccepted, "This invitation was already accepted."))
        }
        InvitationStatus::Revoked => {
            Err(AppError::conflict(ErrorCode::InvitationRevoked, "This invitation was revoked."))
        }
    }
}

pub async fn revoke(app: &AppState, scope: &OrgScope, id: InvitationId) -> Result<(), AppError> {
    scope.require(Permission::InvitationsWrite)?;
    let mut tx = app.db.begin_write().await?;
    db::orgs::lock(&mut tx, scope.org_id()).await?;
    let invitation = open_invitation(&mut tx, scope, id).await?;
    db::invitations::set_status(&mut tx, id, "revoked", None, db::now()).await?;
    let event = Event {
        action: Action::InvitationRevoked,
        resource_type: "invitation",
        resource_id: Some(id.to_string()),
        metadata: json!({ "email": invitation.email, "role": invitation.role }),
    };
    audit::record(&mut tx, scope, event).await?;
    Ok(db::commit(tx).await?)
}

/// Mails a new link (the old one stops working) and restarts the expiry.
pub async fn resend(
    app: &AppState,
    scope: &OrgScope,
    id: InvitationId,
    days: Option<i64>,
) -> Result<IssuedInvitation, AppError> {
    scope.require(Permission::InvitationsWrite)?;
    let days = expiry_days(days)?;
    let now = db::now();
    let mut tx = app.db.begin_write().await?;
    db::orgs::lock(&mut tx, scope.org_id()).await?;
    let invitation = open_invitation(&mut tx, scope, id).await?;
    if invitation.status == InvitationStatus::Expired {
        // An expired invitation held no seat; reviving it takes one again.
        check_seat(&mut tx, scope.org_id()).await?;
    }
    let secret = token::generate();
    db::invitations::rotate(&mut tx, id, &token::hash(&secret), now + Duration::days(days)).await?;
    let invitation = db::invitations::get(&mut tx, scope.org_id(), id, now)
        .await?
        .ok_or_else(|| AppError::not_found("invitation"))?;
    let link = send_mail(&mut tx, app, scope, &invitation, &secret).await?;
    let event = Event {
        action: Action::InvitationResent,
        resource_type: "invitation",
        resource_id: Some(id.to_string()),
        metadata: json!({ "email": invitation.email, "expires_at": invitation.expires_at }),
    };
    audit::record(&mut tx, scope, event).await?;
    db::commit(tx).await?;
    app.mail_wakeup.notify_one();
    Ok(IssuedInvitation { invitation, link })
}

fn unknown_invitation() -> AppError {
    AppError::not_found("invitation")
}

fn gone(status: InvitationStatus) -> AppError {
    let (code, message) = match status {
        InvitationStatus::Accepted => (ErrorCode::InvitationUsed, "This invitation was already used."),
        InvitationStatus::Revoked => {
            (ErrorCode::InvitationRevoked, "This invitation was withdrawn. Ask for a new one.")
        }
        _ => (ErrorCode::InvitationExpired, "This invitation has expired. Ask for a new one."),
    };
    AppError::new(ErrorKind::Gone, code, message)
}

/// What the link's page shows before anyone signs in: the organization, its branding and the role.
pub async fn preview(app: &AppState, secret: &str) -> Result<InvitationPreview, AppError> {
    let invitation = db::invitations::by_token(app.db.pool(), &token::hash(secret), db::now())
        .await?
        .ok_or_else(unknown_invitation)?;
    let org = db::orgs::by_id(app.db.pool(), invitation.organization_id).await?.ok_or_else(unknown_invitation)?;
    let inviter = match invitation.invited_by {
        Some(id) => db::users::by_id(app.db.pool(), id).await?.map(|u| u.name),
        None => None,
    };
    Ok(InvitationPreview {
        organization_name: org.name,
        primary_color: org.settings.primary_color,
        logo_url: org.settings.logo_url,
        email: invitation.email,
        role: invitation.role,
        invited_by_name: inviter,
        status: invitation.status,
        expires_at: invitation.expires_at,
    })
}

/// Joins the signed-in user to the organization. The invitation must be open and addressed to the
/// user's email; receiving it there also verifies that address.
pub async fn accept(app: &AppState, who: &SignedIn, client: &ClientMeta, secret: &str) -> Result<OrgId, AppError> {
    let token_hash = token::hash(secret);
    let now = db::now();
    let org = db::invitations::by_token(app.db.pool(), &token_hash, now)
        .await?
        .ok_or_else(unknown_invitation)?
        .organization_id;
    let mut tx = app.db.begin_write().await?;
    db::orgs::lock(&mut tx, org).await?;
    // Read again under the lock: the first read only told us which organization to lock.
    let invitation = db::invitations::by_token_tx(&mut tx, &token_hash, now).await?.ok_or_else(unknown_invitation)?;
    if invitation.status != InvitationStatus::Pending {
        return Err(gone(invitation.status));
    }
    if !invitation.email.eq_ignore_ascii_case(&who.user.email) {
        return Err(AppError::forbidden(
            ErrorCode::InvitationEmailMismatch,
            format!("This invitation is for {}. Sign in with that address to accept it.", invitation.email),
        ));
    }
    if db::members::get(&mut tx, org, who.user.id).await?.is_some() {
        return Err(AppError::conflict(ErrorCode::AlreadyMember, "You are already a member of this organization."));
    }
    // The invitation already holds a seat, so only members count here.
    let row = db::orgs::by_id_tx(&mut tx, org).await?.ok_or_else(unknown_invitation)?;
    if row.member_count >= row.limits.max_users {
        return Err(limit_exceeded(row.limits.max_users));
    }
    db::members::insert(&mut tx, org, who.user.id, invitation.role, now).await?;
    db::invitations::set_status(&mut tx, invitation.id, "accepted", Some(who.user.id), now).await?;
    db::users::mark_email_verified(&mut tx, who.user.id, &invitation.email, now).await?;
    let event = Event {
        action: Action::InvitationAccepted,
        resource_type: "invitation",
        resource_id: Some(invitation.id.to_string()),
        metadata: json!({ "user_id": who.user.id, "email": invitation.email, "role": invitation.role }),
    };
    audit::append(&mut tx, &org.to_string(), Some(org), &Actor::user(who, client), event).await?;
    db::commit(tx).await?;
    app.forget_org(org);
    Ok(org)
}
