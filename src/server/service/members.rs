//! Members of an organization: list, change role and grants, remove, leave, transfer ownership.
//! Every change runs under the organization's lock, so "at least one Owner" holds under races.
use crate::server::service::prelude::*;
use crate::shared::{
    ids::UserId,
    members::{Member, MemberRemoved},
    roles::{may_assign, Permission, Role},
};
use serde_json::json;

pub async fn list(
    app: &AppState,
    scope: &OrgScope,
    search: Option<&str>,
    page: &PageRequest,
) -> Result<Page<Member>, AppError> {
    scope.require(Permission::MembersRead)?;
    let rows = db::members::list(app.db.pool(), scope.org_id(), search, page).await?;
    Ok(page.finish(rows, |m| (db::to_millis(m.joined_at), m.user_id.to_string())))
}

/// Starts a change to one organization: takes its lock, makes sure the acting person still holds
/// the role the scope was granted with (a concurrent demotion wins), and loads the member concerned.
async fn begin(app: &AppState, scope: &OrgScope, user: UserId) -> Result<(Tx, Member), AppError> {
    let mut tx = app.db.begin_write().await?;
    db::orgs::lock(&mut tx, scope.org_id()).await?;
    if let Some(me) = scope.user_id() {
        let still = db::members::get(&mut tx, scope.org_id(), me).await?;
        if still.is_none_or(|m| m.role != scope.role()) {
            return Err(AppError::conflict(
                ErrorCode::RoleChanged,
                "Your role in this organization just changed. Reload and try again.",
            ));
        }
    }
    let member = db::members::get(&mut tx, scope.org_id(), user).await?.ok_or_else(|| AppError::not_found("member"))?;
    Ok((tx, member))
}

fn last_owner() -> AppError {
    AppError::conflict(
        ErrorCode::LastOwner,
        "An organization needs at least one Owner. Make someone else an Owner first.",
    )
}

fn outranked() -> AppError {
    AppError::forbidden(ErrorCode::InsufficientRank, "Only an Owner can change members at or above their own role.")
}

/// Changes a member's role and/or extra grants.
pub async fn change(
    app: &AppState,
    scope: &OrgScope,
    user: UserId,
    role: Option<Role>,
    grants: Option<Vec<Permission>>,
) -> Result<Member, AppError> {
    scope.require(Permission::MembersWrite)?;
    if let Some(grants) = &grants {
        if let Some(p) = grants.iter().find(|p| !p.grantable()) {
            return Err(AppError::invalid_field(
                "permissions",
                &format!("{p} belongs to Owners and cannot be granted."),
            ));
        }
        if let Some(p) = grants.iter().find(|p| !scope.can(**p)) {
            return Err(AppError::forbidden(
                ErrorCode::PermissionDenied,
                format!("You can only grant permissions you hold yourself ({p})."),
            ));
        }
    }
    let (mut tx, before) = begin(app, scope, user).await?;
    let new_role = role.unwrap_or(before.role);
    if !may_assign(scope.role(), Some(before.role), new_role) {
        return Err(outranked());
    }
    if before.role == Role::Owner
        && new_role != Role::Owner
        && db::members::count_owners(&mut tx, scope.org_id()).await? <= 1
    {
        return Err(last_owner());
    }
    let mut new_grants = grants.unwrap_or_else(|| before.permissions.clone());
    new_grants.sort();
    new_grants.dedup();
    db::members::set_role(&mut tx, scope.org_id(), user, new_role, &new_grants).await?;
    let event = Event {
        action: Action::MemberRoleChanged,
        resource_type: "member",
        resource_id: Some(user.to_string()),
        metadata: json!({
            "before": { "role": before.role, "permissions": before.permissions },
            "after": { "role": new_role, "permissions": new_grants },
        }),
    };
    audit::record(&mut tx, scope, event).await?;
    let after = db::members::get(&mut tx, scope.org_id(), user).await?.ok_or_else(|| AppError::not_found("member"))?;
    db::commit(tx).await?;
    // Their keys are bounded by the new role from the next request on, here at once.
    app.forget_org(scope.org_id());
    Ok(after)
}

/// Removes a member (removing yourself is leaving). The keys they created stop working with it;
/// the answer and the audit entry name them.
pub async fn remove(app: &AppState, scope: &OrgScope, user: UserId) -> Result<MemberRemoved, AppError> {
    if scope.user_id() == Some(user) {
        return leave(app, scope).await;
    }
    scope.require(Permission::MembersWrite)?;
    let (mut tx, member) = begin(app, scope, user).await?;
    if scope.role() != Role::Owner && member.role >= scope.role() {
        return Err(outranked());
    }
    if member.role == Role::Owner && db::members::count_owners(&mut tx, scope.org_id()).await? <= 1 {
        return Err(last_owner());
    }
    let affected_api_keys = db::api_keys::live_by_creator(&mut tx, scope.org_id(), user).await?;
    db::members::delete(&mut tx, scope.org_id(), user).await?;
    let event = Event {
        action: Action::MemberRemoved,
        resource_type: "member",
        resource_id: Some(user.to_string()),
        metadata: json!({ "email": member.email, "role": member.role, "affected_api_keys": affected_api_keys }),
    };
    audit::record(&mut tx, scope, event).await?;
    db::commit(tx).await?;
    app.forget_org(scope.org_id());
    Ok(MemberRemoved { affected_api_keys })
}

/// The caller leaves the organization.
pub async fn leave(app: &AppState, scope: &OrgScope) -> Result<MemberRemoved, AppError> {
    let me = scope
        .user_id()
        .ok_or_else(|| AppError::forbidden(ErrorCode::NotAPerson, "Only people can leave an organization."))?;
    let (mut tx, member) = begin(app, scope, me).await?;
    if member.role == Role::Owner && db::members::count_owners(&mut tx, scope.org_id()).await? <= 1 {
        return Err(last_owner());
    }
    let affected_api_keys = db::api_keys::live_by_creator(&mut tx, scope.org_id(), me).await?;
    db::members::delete(&mut tx, scope.org_id(), me).await?;
    let event = Event {
        action: Action::MemberLeft,
        resource_type: "member",
        resource_id: Some(me.to_string()),
        metadata: json!({ "role": member.role, "affected_api_keys": affected_api_keys }),
    };
    audit::record(&mut tx, scope, event).await?;
    db::commit(tx).await?;
    app.forget_org(scope.org_id());
    Ok(MemberRemoved { affected_api_keys })
}

/// Makes another member the Owner of record; the caller stays on as Admin.
pub async fn transfer_ownership(app: &AppState, scope: &OrgScope, to: UserId) -> Result<(), AppError> {
    scope.require(Permission::OwnershipTransfer)?;
    let me = scope
        .user_id()
        .ok_or_else(|| AppError::forbidden(ErrorCode::NotAPerson, "Only an Owner can transfer ownership."))?;
    if me == to {
        return Err(AppError::invalid_field("user_id", "Choose another member to transfer ownership to."));
    }
    let (mut tx, target) = begin(app, scope, to).await?;
    let mut org =
        db::orgs::by_id_tx(&mut tx, scope.org_id()).await?.ok_or_else(|| AppError::not_found("organization"))?;
    db::members::set_role(&mut tx, scope.org_id(), to, Role::Owner, &target.permissions).await?;
    db::members::set_role(&mut tx, scope.org_id(), me, Role::Admin, &[]).await?;
    let previous_owner = org.owner_id;
    org.owner_id = to;
    db::orgs::update(&mut tx, &org, db::now()).await?;
    let event = Event {
        action: Action::OrganizationOwnershipTransferred,
        resource_type: "organization",
        resource_id: Some(scope.org_id().to_string()),
        metadata: json!({ "from": me, "to": to, "previous_owner_of_record": previous_owner, "to_previous_role": target.role }),
    };
    audit::record(&mut tx, scope, event).await?;
    db::commit(tx).await?;
    app.forget_org(scope.org_id());
    Ok(())
}
