//! Roles and permissions: the one table that says who may do what in an organization.
use serde::{Deserialize, Serialize};
use std::fmt;

/// Membership roles, ordered by rank: Owner(4) > Admin(3) > Member(2) > Viewer(1).
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Viewer = 1,
    Member = 2,
    Admin = 3,
    Owner = 4,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Owner, Role::Admin, Role::Member, Role::Viewer];

    pub fn rank(self) -> u8 {
        self as u8
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Member => "member",
            Role::Admin => "admin",
            Role::Owner => "owner",
        }
    }

    pub fn parse(raw: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == raw.trim().to_lowercase())
    }

    pub fn label(self) -> &'static str {
        match self {
            Role::Viewer => "Viewer",
            Role::Member => "Member",
            Role::Admin => "Admin",
            Role::Owner => "Owner",
        }
    }

    /// What the role may do, before any extra grants.
    pub fn grants(self, permission: Permission) -> bool {
        use Permission::*;
        match self {
            Role::Owner => true,
            Role::Admin => !matches!(permission, OrgDelete | BillingWrite | OwnershipTransfer),
            Role::Member => matches!(permission, OrgRead | MembersRead),
            Role::Viewer => matches!(permission, OrgRead),
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Everything that can be allowed or refused inside an organization.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Permission {
    #[serde(rename = "org:read")]
    OrgRead,
    /// Name, slug, branding and settings.
    #[serde(rename = "org:write")]
    OrgWrite,
    #[serde(rename = "org:delete")]
    OrgDelete,
    /// Subscription tier and limits.
    #[serde(rename = "billing:write")]
    BillingWrite,
    #[serde(rename = "members:read")]
    MembersRead,
    /// Change roles and remove members (below one's own rank).
    #[serde(rename = "members:write")]
    MembersWrite,
    #[serde(rename = "invitations:write")]
    InvitationsWrite,
    #[serde(rename = "audit:read")]
    AuditRead,
    #[serde(rename = "api_keys:write")]
    ApiKeysWrite,
    #[serde(rename = "webhooks:write")]
    WebhooksWrite,
    /// Single sign-on: verified email domains and identity-provider connections.
    #[serde(rename = "sso:write")]
    SsoWrite,
    #[serde(rename = "ownership:transfer")]
    OwnershipTransfer,
}

impl Permission {
    pub const ALL: [Permission; 12] = [
        Permission::OrgRead,
        Permission::OrgWrite,
        Permission::OrgDelete,
        Permission::BillingWrite,
        Permission::MembersRead,
        Permission::MembersWrite,
        Permission::InvitationsWrite,
        Permission::AuditRead,
        Permission::ApiKeysWrite,
        Permission::WebhooksWrite,
        Permission::SsoWrite,
        Permission::OwnershipTransfer,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Permission::OrgRead => "org:read",
            Permission::OrgWrite => "org:write",
            Permission::OrgDelete => "org:delete",
            Permission::BillingWrite => "billing:write",
            Permission::MembersRead => "members:read",
            Permission::MembersWrite => "members:write",
            Permission::InvitationsWrite => "invitations:write",
            Permission::AuditRead => "audit:read",
            Permission::ApiKeysWrite => "api_keys:write",
            Permission::WebhooksWrite => "webhooks:write",
            Permission::SsoWrite => "sso:write",
            Permission::OwnershipTransfer => "ownership:transfer",
        }
    }

    pub fn parse(raw: &str) -> Option<Permission> {
        Permission::ALL.into_iter().find(|p| p.as_str() == raw.trim())
    }

    /// Extra grants may add these to a membership; what stays owner-only is never granted.
    pub fn grantable(self) -> bool {
        !matches!(self, Permission::OrgDelete | Permission::BillingWrite | Permission::OwnershipTransfer)
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Everything a role plus extra grants allows, in catalogue order.
pub fn effective_permissions(role: Role, grants: &[Permission]) -> Vec<Permission> {
    Permission::ALL.into_iter().filter(|p| role.grants(*p) || grants.contains(p)).collect()
}

/// May someone of rank `actor` set a member currently at `current` to `new`? Owners may do
/// anything; everyone else only below their own rank, on both ends.
pub fn may_assign(actor: Role, current: Option<Role>, new: Role) -> bool {
    actor == Role::Owner || (new < actor && current.is_none_or(|c| c < actor))
}

#[cfg(test)]
mod tests {
    use super::*;
    use Permission::*;

    /// The whole matrix, written out once: a change to the rules must change this table too.
    #[test]
    fn permission_matrix() {
        let expected: [(Permission, [bool; 4]); 12] = [
            //                 Owner  Admin  Member Viewer
            (OrgRead, [true, true, true, true]),
            (OrgWrite, [true, true, false, false]),
            (OrgDelete, [true, false, false, false]),
            (BillingWrite, [true, false, false, false]),
            (MembersRead, [true, true, true, false]),
            (MembersWrite, [true, true, false, false]),
            (InvitationsWrite, [true, true, false, false]),
            (AuditRead, [true, true, false, false]),
            (ApiKeysWrite, [true, true, false, false]),
            (WebhooksWrite, [true, true, false, false]),
            (SsoWrite, [true, true, false, false]),
            (OwnershipTransfer, [true, false, false, false]),
        ];
        for (permission, allowed) in expected {
            for (role, allow) in Role::ALL.into_iter().zip(allowed) {
                assert_eq!(role.grants(permission), allow, "{role} {permission}");
            }
        }
    }

    #[test]
    fn ranks_and_names() {
        assert!(Role::Owner > Role::Admin && Role::Admin > Role::Member && Role::Member > Role::Viewer);
        assert_eq!(Role::Owner.rank(), 4);
        assert_eq!(Role::parse(" Admin "), Some(Role::Admin));
        assert_eq!(Role::parse("root"), None);
        for p in Permission::ALL {
            assert_eq!(Permission::parse(p.as_str()), Some(p));
            assert_eq!(serde_json::to_value(p).unwrap(), p.as_str());
        }
    }

    #[test]
    fn only_owners_reach_their_own_rank() {
        assert!(may_assign(Role::Owner, Some(Role::Owner), Role::Viewer));
        assert!(may_assign(Role::Owner, Some(Role::Member), Role::Owner));
        assert!(may_assign(Role::Admin, Some(Role::Member), Role::Viewer));
        assert!(!may_assign(Role::Admin, Some(Role::Member), Role::Admin));
        assert!(!may_assign(Role::Admin, Some(Role::Admin), Role::Member));
        assert!(!may_assign(Role::Admin, Some(Role::Owner), Role::Member));
        assert!(may_assign(Role::Admin, None, Role::Member));
    }
}
