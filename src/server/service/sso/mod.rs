//! Single sign-on: an organization's connections to its identity providers (`input` parses what
//! an administrator sends, `connections` keeps them), which connection an address uses
//! (`routing`), signing in through one (`sign_in`, with the protocols in `oidc`, `saml`, `ldap`),
//! and creating or linking the account a provider vouches for (`linking`). A refused sign-in says
//! why in plain words and leaves an `sso.login_failed` entry in the organization's audit log.
pub mod connections;
pub mod input;
pub mod ldap;
pub mod linking;
pub mod oidc;
pub mod routing;
pub mod saml;
pub mod sign_in;

use crate::server::{
    auth::principal::ClientMeta,
    authz::Actor,
    db::{self, sessions::SessionRow, sso::ConnectionRow, users::UserRow},
    service::audit::{self, Event},
    state::AppState,
};
use crate::shared::{
    audit::Action,
    error::{AppError, ErrorCode, ErrorKind},
    ids::{OrgId, SsoConnectionId},
    roles::Role,
    sso::ConnectionTest,
};
use serde_json::json;

/// What an identity provider said about the person signing in.
#[derive(Debug, Clone, Default)]
pub struct IdpIdentity {
    /// Stable at the provider (OIDC `sub`, LDAP entry DN).
    pub subject: String,
    pub email: Option<String>,
    /// Whether the provider vouches for the address (OIDC `email_verified`; LDAP: the directory's
    /// own data, trusted only on the organization's verified domains).
    pub email_verified: bool,
    pub name: Option<String>,
    pub groups: Vec<String>,
}

fn not_found() -> AppError {
    AppError::not_found("sso_connection")
}

/// The role for someone in `groups`: the highest mapped role, else the connection's default.
/// A group matches a mapping by its whole value or, for a DN, its first RDN value; case-insensitive.
pub fn mapped_role(row: &ConnectionRow, groups: &[String]) -> Role {
    let short = |group: &str| -> String {
        let first = group.split(',').next().unwrap_or(group);
        first.split_once('=').map_or(first, |(_, value)| value).trim().to_lowercase()
    };
    row.role_mapping
        .iter()
        .filter(|m| {
            let wanted = m.group.to_lowercase();
            groups.iter().any(|g| g.to_lowercase() == wanted || short(g) == wanted)
        })
        .map(|m| m.role)
        .max()
        .unwrap_or(row.default_role)
}

/// Why a sign-in was refused: a reason code for the audit log and a sentence for the person.
#[derive(Debug, Clone)]
pub struct Refusal {
    pub reason: &'static str,
    pub message: String,
    /// The provider or directory could not be reached or answered wrongly (502), rather than the
    /// person's sign-in being wrong (401/403).
    pub upstream: bool,
}

impl Refusal {
    pub fn new(reason: &'static str, message: impl Into<String>) -> Refusal {
        Refusal { reason, message: message.into(), upstream: false }
    }

    pub fn upstream(reason: &'static str, message: impl Into<String>) -> Refusal {
        Refusal { reason, message: message.into(), upstream: true }
    }

    pub fn into_error(self) -> AppError {
        match (self.upstream, self.reason) {
            (true, _) => AppError::new(ErrorKind::BadGateway, ErrorCode::SsoUnavailable, self.message),
            (false, "invalid_credentials") => {
                AppError::new(ErrorKind::Unauthenticated, ErrorCode::InvalidCredentials, self.message)
            }
            (false, "sso_domain_not_verified") => {
                AppError::new(ErrorKind::Forbidden, ErrorCode::SsoDomainNotVerified, self.message)
            }
            _ => AppError::new(ErrorKind::Forbidden, ErrorCode::SsoRefused, self.message),
        }
    }
}

/// The connection a sign-in goes through, if it may be used now: it exists, is enabled, and its
/// organization has SSO turned on. Anything else is one 404-like refusal, so connection ids
/// cannot be probed.
pub async fn usable_connection(app: &AppState, id: SsoConnectionId) -> Result<ConnectionRow, AppError> {
    let row = db::sso::connection_by_id(app.db.pool(), id).await?.ok_or_else(not_found)?;
    check_usable(app, &row).await?;
    Ok(row)
}

pub(super) async fn check_usable(app: &AppState, row: &ConnectionRow) -> Result<(), AppError> {
    let org = db::orgs::by_id(app.db.pool(), row.organization_id).await?.ok_or_else(not_found)?;
    if !row.enabled || !org.settings.sso_enabled {
        return Err(AppError::new(
            ErrorKind::Forbidden,
            ErrorCode::SsoDisabled,
            "Single sign-on through this connection is turned off. Ask your organization's admin.",
        ));
    }
    Ok(())
}

/// Writes the `sso.login_failed` audit entry for a refused sign-in (in its own transaction: no
/// session exists to attach it to) and turns the refusal into the error to show.
pub async fn refuse(
    app: &AppState,
    row: &ConnectionRow,
    client: &ClientMeta,
    who: Option<&str>,
    refusal: Refusal,
) -> AppError {
    let org = row.organization_id;
    let actor = Actor {
        kind: "sso",
        id: None,
        name: who.unwrap_or("unknown").chars().take(200).collect(),
        ip: client.ip.clone(),
        user_agent: client.user_agent.clone(),
    };
    let event = Event {
        action: Action::SsoLoginFailed,
        resource_type: "sso_connection",
        resource_id: Some(row.id.to_string()),
        metadata: json!({ "type": row.kind.as_str(), "reason": refusal.reason, "message": refusal.message }),
    };
    let recorded = async {
        let mut tx = app.db.begin_write().await?;
        audit::append(&mut tx, &org.to_string(), Some(org), &actor, event).await?;
        Ok::<_, AppError>(db::commit(tx).await?)
    };
    if let Err(e) = recorded.await {
        tracing::error!(error = %e, "could not audit a refused SSO sign-in");
    }
    refusal.into_error()
}

/// How a sign-in through a provider ended.
pub enum Finished {
    SignedIn {
        user: Box<UserRow>,
        session: SessionRow,
        org: OrgId,
        return_to: Option<String>,
    },
    /// The provider vouched for the address of an account that already exists: nobody is signed
    /// in until its holder confirms the link (`linking`). The browser keeps `token`.
    LinkPending {
        token: String,
    },
    /// A trial run: what the connection would do, to show on the SSO page.
    Trial {
        org: OrgId,
        connection: SsoConnectionId,
        outcome: ConnectionTest,
    },
}

#[cfg(test)]
mod tests {
    use super::{input::*, mapped_role};
    use crate::server::db::{self, sso::ConnectionRow};
    use crate::shared::ids::{OrgId, SsoConnectionId};
    use crate::shared::sso::ConnectionKind;
    use crate::shared::{roles::Role, sso::RoleMapping};
    use serde_json::json;

    fn connection(default_role: Role, mapping: &[(&str, Role)]) -> ConnectionRow {
        let now = db::now();
        ConnectionRow {
            id: SsoConnectionId::new(),
            organization_id: OrgId::new(),
            kind: ConnectionKind::Ldap,
            name: "Directory".to_owned(),
            enabled: true,
            settings: json!({}),
            sealed_secret: None,
            default_role,
            role_mapping: mapping
                .iter()
                .map(|(group, role)| RoleMapping { group: (*group).to_owned(), role: *role })
                .collect(),
            created_at: now,
            updated_at: now,
        }
    }

    #[test]
    fn the_highest_mapped_role_wins_and_dns_match_by_their_first_value() {
        let row = connection(Role::Viewer, &[("staff", Role::Member), ("GH-Admins", Role::Admin)]);
        let groups = |names: &[&str]| names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>();
        assert_eq!(mapped_role(&row, &groups(&[])), Role::Viewer);
        assert_eq!(mapped_role(&row, &groups(&["staff"])), Role::Member);
        assert_eq!(mapped_role(&row, &groups(&["staff", "gh-admins"])), Role::Admin);
        assert_eq!(mapped_role(&row, &groups(&["cn=gh-admins,ou=groups,dc=example,dc=com"])), Role::Admin);
        assert_eq!(mapped_role(&row, &groups(&["cn=staff-old,ou=groups"])), Role::Viewer);
        assert_eq!(mapped_role(&row, &groups(&["gh-admins-extra"])), Role::Viewer);
    }

    #[test]
    fn nobody_becomes_owner_through_sso() {
        assert!(parse_default_role(Some(Role::Owner)).is_err());
        assert_eq!(parse_default_role(None).unwrap(), Role::Member);
        let owner = vec![RoleMapping { group: "boss".to_owned(), role: Role::Owner }];
        assert!(parse_mapping(owner).is_err());
        let blank = vec![RoleMapping { group: "  ".to_owned(), role: Role::Admin }];
        assert!(parse_mapping(blank).is_err());
    }

    #[test]
    fn patches_refuse_fields_of_another_kind() {
        let field = |patch: ConnectionPatch, kind| {
            patch
                .check_kind(kind)
                .err()
                .and_then(|e| e.details.get("field").and_then(|f| f.as_str()).map(str::to_owned))
        };
        let ldap = ConnectionPatch { bind_dn: Some("cn=x".to_owned()), ..Default::default() };
        assert_eq!(field(ldap.clone(), ConnectionKind::Oidc).as_deref(), Some("bind_dn"));
        assert_eq!(field(ldap, ConnectionKind::Ldap), None);
        let refresh = ConnectionPatch { refresh_metadata: Some(true), ..Default::default() };
        assert_eq!(field(refresh.clone(), ConnectionKind::Ldap).as_deref(), Some("refresh_metadata"));
        assert_eq!(field(refresh, ConnectionKind::Saml), None);
        let common = ConnectionPatch { name: Some("x".to_owned()), enabled: Some(false), ..Default::default() };
        for kind in [ConnectionKind::Oidc, ConnectionKind::Saml, ConnectionKind::Ldap] {
            assert_eq!(field(common.clone(), kind), None);
        }
    }

    #[test]
    fn connection_bodies_name_the_failing_field() {
        let field = |body: serde_json::Value| {
            let error = NewConnection::from_json(body).unwrap_err();
            error.details.get("field").and_then(|f| f.as_str()).map(str::to_owned)
        };
        let oidc = json!({"type": "oidc", "name": "x", "issuer": "https://idp.example", "client_id": "a",
            "client_secret": "b", "default_role": "emperor"});
        assert_eq!(field(oidc).as_deref(), Some("default_role"));
        assert_eq!(field(json!({"type": "kerberos"})).as_deref(), Some("type"));
        assert_eq!(field(json!({"type": "ldap", "name": "x"})).as_deref(), Some("url"));
    }
}
