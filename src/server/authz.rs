//! `authorize` is the only way to an `OrgScope`, and service functions for tenant data take an
//! `&OrgScope` rather than an org id from the request: holding one proves the check was made.
use crate::server::{
    auth::principal::{ClientMeta, SignedIn},
    db::{self, Db},
};
use crate::shared::{
    error::{AppError, ErrorCode},
    ids::{ApiKeyId, OrgId, UserId},
    roles::{Permission, Role},
};
use std::sync::{
    atomic::{AtomicU64, Ordering},
    Mutex,
};

/// Who did something, as the audit log records it.
#[derive(Debug, Clone)]
pub struct Actor {
    pub kind: &'static str,
    pub id: Option<String>,
    pub name: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

impl Actor {
    pub fn user(who: &SignedIn, client: &ClientMeta) -> Actor {
        Actor::person(&who.user, client)
    }

    pub fn person(user: &db::users::UserRow, client: &ClientMeta) -> Actor {
        Actor {
            kind: "user",
            id: Some(user.id.to_string()),
            name: user.name.clone(),
            ip: client.ip.clone(),
            user_agent: client.user_agent.clone(),
        }
    }

    /// An API key acting for its organization.
    pub fn api_key(key: &db::api_keys::KeyAuth, client: &ClientMeta) -> Actor {
        Actor {
            kind: "api_key",
            id: Some(key.id.to_string()),
            name: key.name.clone(),
            ip: client.ip.clone(),
            user_agent: client.user_agent.clone(),
        }
    }

    pub fn system() -> Actor {
        Actor { kind: "system", id: None, name: "Gatehouse".to_owned(), ip: None, user_agent: None }
    }
}

/// Proof that `actor` may act in one organization. Fields are private: only `authorize` and
/// `authorize_key` build one.
#[derive(Debug, Clone)]
pub struct OrgScope {
    org_id: OrgId,
    /// A member's role; for a key, its creator's current role (for the rank rules).
    role: Role,
    allowed: Allowed,
    actor: Actor,
    user: Option<UserId>,
    /// The person whose permissions bound this scope: the member acting, or the key's creator.
    on_behalf_of: UserId,
    api_key: Option<ApiKeyId>,
}

#[derive(Debug, Clone)]
enum Allowed {
    /// What the role grants plus extra grants.
    Member(Vec<Permission>),
    /// The key's scopes that its creator still has.
    Key(Vec<Permission>),
}

impl OrgScope {
    pub fn org_id(&self) -> OrgId {
        self.org_id
    }

    pub fn role(&self) -> Role {
        self.role
    }

    pub fn actor(&self) -> &Actor {
        &self.actor
    }

    /// The signed-in user acting, if a person (not a key or the system) is acting.
    pub fn user_id(&self) -> Option<UserId> {
        self.user
    }

    /// The person a key made here acts for: the member acting, or the acting key's creator.
    pub fn on_behalf_of(&self) -> UserId {
        self.on_behalf_of
    }

    /// The API key acting, if one is.
    pub fn api_key(&self) -> Option<ApiKeyId> {
        self.api_key
    }

    pub fn can(&self, permission: Permission) -> bool {
        match &self.allowed {
            Allowed::Member(grants) => member_can(self.role, grants, permission),
            Allowed::Key(scopes) => scopes.contains(&permission),
        }
    }

    /// Everything this scope may do, for pages that hide what cannot be used.
    pub fn permissions(&self) -> Vec<Permission> {
        Permission::ALL.into_iter().filter(|p| self.can(*p)).collect()
    }

    pub fn require(&self, permission: Permission) -> Result<(), AppError> {
        if self.can(permission) {
            Ok(())
        } else {
            refused(Refusal::Forbidden, self.org_id, &self.actor, Some(permission));
            Err(forbidden(permission))
        }
    }
}

/// Why `authorize` (or a scope's `require`) turned a caller away.
#[derive(Debug, Clone, Copy)]
pub enum Refusal {
    /// Not a member, or a key of another organization: answered 404.
    NotFound = 0,
    /// A member or key without the permission: answered 403.
    Forbidden = 1,
}

impl Refusal {
    pub const ALL: [Refusal; 2] = [Refusal::NotFound, Refusal::Forbidden];

    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::NotFound => "not_found",
            Refusal::Forbidden => "forbidden",
        }
    }
}

/// Refusals since the process started, for `/metrics`. Process-wide because `require` runs deep in
/// services that hold no handle on the app's metrics.
static REFUSALS: [AtomicU64; 2] = [AtomicU64::new(0), AtomicU64::new(0)];
/// At most this many refusals a minute are logged; the rest are counted in the next line logged.
const LOGGED_PER_MINUTE: u32 = 20;
/// (minute, lines logged in it, refusals not logged since the last line).
static SAMPLER: Mutex<(i64, u32, u64)> = Mutex::new((0, 0, 0));

pub fn refusals(kind: Refusal) -> u64 {
    REFUSALS[kind as usize].load(Ordering::Relaxed)
}

/// Counts a refusal and logs a sample of them to the `gatehouse::security` target, so probing for
/// other organizations' ids or for permissions shows up without flooding the log.
fn refused(kind: Refusal, org: OrgId, actor: &Actor, permission: Option<Permission>) {
    REFUSALS[kind as usize].fetch_add(1, Ordering::Relaxed);
    let minute = db::now().timestamp() / 60;
    let suppressed = {
        let mut sampler = SAMPLER.lock().unwrap_or_else(|e| e.into_inner());
        if sampler.0 != minute {
            *sampler = (minute, 0, sampler.2);
        }
        if sampler.1 >= LOGGED_PER_MINUTE {
            sampler.2 += 1;
            return;
        }
        sampler.1 += 1;
        std::mem::take(&mut sampler.2)
    };
    tracing::warn!(
        target: "gatehouse::security",
        refusal = kind.as_str(),
        organization = %org,
        actor_type = actor.kind,
        actor_id = actor.id.as_deref().unwrap_or(""),
        ip = actor.ip.as_deref().unwrap_or(""),
        permission = permission.map(|p| p.as_str()).unwrap_or(""),
        unlogged_before = suppressed,
        "access refused"
    );
}

/// What a member's role grants plus their extra grants.
fn member_can(role: Role, grants: &[Permission], permission: Permission) -> bool {
    role.grants(permission) || grants.contains(&permission)
}

fn forbidden(permission: Permission) -> AppError {
    AppError::forbidden(ErrorCode::PermissionDenied, format!("Your role here does not allow this ({permission})."))
        .with_detail("required_permission", permission.as_str())
}

/// Not a member → 404 (the organization's existence is not revealed); a member without `need` → 403.
pub async fn authorize(
    db: &Db,
    who: &SignedIn,
    client: &ClientMeta,
    org: OrgId,
    need: Permission,
) -> Result<OrgScope, AppError> {
    let Some(membership) = db::members::role_of(db.pool(), org, who.user.id).await? else {
        refused(Refusal::NotFound, org, &Actor::user(who, client), None);
        return Err(AppError::not_found("organization"));
    };
    let scope = OrgScope {
        org_id: org,
        role: membership.0,
        allowed: Allowed::Member(membership.1),
        actor: Actor::user(who, client),
        user: Some(who.user.id),
        on_behalf_of: who.user.id,
        api_key: None,
    };
    scope.require(need)?;
    Ok(scope)
}

/// A key reaches its own organization only (any other → 404, as for a non-member), and does
/// there only what its scopes allow and its creator can still do now.
pub fn authorize_key(key: &db::api_keys::KeyAuth, client: &ClientMeta, org: OrgId) -> Result<OrgScope, AppError> {
    if key.org != org {
        refused(Refusal::NotFound, org, &Actor::api_key(key, client), None);
        return Err(AppError::not_found("organization"));
    }
    // `authenticate` refuses keys without a creator; this only keeps the rule in one place.
    let creator = key.creator.as_ref().ok_or_else(|| AppError::not_found("organization"))?;
    let scopes = key.scopes.iter().copied().filter(|p| member_can(creator.role, &creator.grants, *p)).collect();
    Ok(OrgScope {
        org_id: org,
        role: creator.role,
        allowed: Allowed::Key(scopes),
        actor: Actor::api_key(key, client),
        user: None,
        on_behalf_of: creator.id,
        api_key: Some(key.id),
    })
}
