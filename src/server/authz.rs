//! `authorize` is the only way to an `OrgScope`, and service functions for tenant data take an
//! `&OrgScope` rather than an org id from the request: holding one proves the check was made.
use crate::server::{
    auth::principal::{ClientMeta, SignedIn},
    db::{self, Db},
};
use crate::shared::{
    error::AppError,
    ids::{ApiKeyId, OrgId},
    roles::{Permission, Role},
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
    /// A member's role; for a key, its creator's role when it was made (for the rank rules).
    role: Role,
    allowed: Allowed,
    actor: Actor,
    user: Option<crate::shared::ids::UserId>,
    api_key: Option<ApiKeyId>,
}

#[derive(Debug, Clone)]
enum Allowed {
    /// What the role grants plus extra grants.
    Member(Vec<Permission>),
    /// Exactly the key's scopes.
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
    pub fn user_id(&self) -> Option<crate::shared::ids::UserId> {
        self.user
    }

    /// The API key acting, if one is.
    pub fn api_key(&self) -> Option<ApiKeyId> {
        self.api_key
    }

    pub fn can(&self, permission: Permission) -> bool {
        match &self.allowed {
            Allowed::Member(grants) => self.role.grants(permission) || grants.contains(&permission),
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
            Err(forbidden(permission))
        }
    }
}

fn forbidden(permission: Permission) -> AppError {
    AppError::forbidden("permission_denied", format!("Your role here does not allow this ({permission})."))
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
    let membership =
        db::members::role_of(db.pool(), org, who.user.id).await?.ok_or_else(|| AppError::not_found("organization"))?;
    let scope = OrgScope {
        org_id: org,
        role: membership.0,
        allowed: Allowed::Member(membership.1),
        actor: Actor::user(who, client),
        user: Some(who.user.id),
        api_key: None,
    };
    scope.require(need)?;
    Ok(scope)
}

/// A key reaches its own organization only (any other → 404, as for a non-member).
pub fn authorize_key(key: &db::api_keys::KeyAuth, client: &ClientMeta, org: OrgId) -> Result<OrgScope, AppError> {
    if key.org != org {
        return Err(AppError::not_found("organization"));
    }
    Ok(OrgScope {
        org_id: org,
        role: key.role,
        allowed: Allowed::Key(key.scopes.clone()),
        actor: Actor::api_key(key, client),
        user: None,
        api_key: Some(key.id),
    })
}
