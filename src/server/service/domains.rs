//! Email domains an organization claims and proves through DNS: add (a token to publish as
//! `gatehouse-verification=<token>` in a TXT record on the domain), verify (look the record up),
//! list and remove. A domain can be claimed by several organizations but verified by one.
use crate::server::service::prelude::*;
use crate::server::{
    auth::token,
    db,
    service::{
        audit::{self, Event},
        sso,
    },
};
use crate::shared::{
    domains::{Domain, DomainStatus, VERIFICATION_PREFIX},
    error::{AppError, ErrorCode, ErrorKind},
    ids::{DomainId, SsoConnectionId},
    roles::Permission,
};
use serde::Deserialize;
use serde_json::json;

#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewDomain {
    /// An email domain, e.g. `example.com`; internationalised names are accepted.
    pub domain: String,
}

/// Lower case ASCII (IDNA) with at least two labels, each 1–63 letters, digits or hyphens, not
/// starting or ending with a hyphen; an address or a single label is refused.
pub fn parse_domain(raw: &str) -> Result<String, AppError> {
    let bad =
        |why: &str| AppError::invalid_field("domain", &format!("Enter an email domain such as example.com ({why})."));
    let raw = raw.trim().trim_end_matches('.');
    let raw = raw.rsplit_once('@').map_or(raw, |(_, domain)| domain);
    if raw.is_empty() {
        return Err(bad("it is empty"));
    }
    let domain = match url::Host::parse(raw) {
        Ok(url::Host::Domain(domain)) => domain.to_ascii_lowercase(),
        Ok(_) => return Err(bad("an IP address is not a domain")),
        Err(_) => return Err(bad("it is not a valid domain name")),
    };
    let labels: Vec<&str> = domain.split('.').collect();
    let label_ok = |l: &&str| {
        (1..=63).contains(&l.len())
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    if labels.len() < 2 || domain.len() > 253 || !labels.iter().all(label_ok) {
        return Err(bad("it is not a valid domain name"));
    }
    if labels.last().is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit())) {
        return Err(bad("an IP address is not a domain"));
    }
    Ok(domain)
}

/// Routing for a domain's sign-ins; absent fields stay as they are.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct DomainPatch {
    /// Refuse password sign-in for addresses at this domain (owners keep a break-glass path).
    /// Needs the domain verified and a connection.
    pub require_sso: Option<bool>,
    /// The connection `/sso/start?email=` sends these addresses to; `null` clears it.
    #[serde(default, deserialize_with = "present")]
    #[cfg_attr(feature = "ssr", schema(value_type = Option<String>, format = Uuid))]
    pub connection_id: Option<Option<SsoConnectionId>>,
}

/// Tells an absent field (`None`) from an explicit `null` (`Some(None)`).
fn present<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

fn not_found() -> AppError {
    AppError::not_found("domain")
}

pub async fn create(app: &AppState, scope: &OrgScope, new: NewDomain) -> Result<Domain, AppError> {
    scope.require(Permission::SsoWrite)?;
    let domain = parse_domain(&new.domain)?;
    let id = DomainId::new();
    let now = db::now();
    let mut tx = app.db.begin_write().await?;
    db::orgs::lock(&mut tx, scope.org_id()).await?;
    if !db::domains::insert(&mut tx, scope.org_id(), id, &domain, &token::generate(), now).await? {
        return Err(AppError::conflict(
            ErrorCode::DomainClaimed,
            format!("This organization has already added {domain}."),
        )
        .with_detail("field", "domain"));
    }
    let event = Event {
        action: Action::DomainAdded,
        resource_type: "domain",
        resource_id: Some(id.to_string()),
        metadata: json!({ "domain": domain }),
    };
    audit::record(&mut tx, scope, event).await?;
    let added = db::domains::get(&mut tx, scope.org_id(), id).await?.ok_or_else(not_found)?;
    db::commit(tx).await?;
    Ok(added)
}

pub async fn list(app: &AppState, scope: &OrgScope, page: &PageRequest) -> Result<Page<Domain>, AppError> {
    scope.require(Permission::SsoWrite)?;
    let rows = db::domains::list(app.db.pool(), scope.org_id(), page).await?;
    Ok(page.finish(rows, |d| (db::to_millis(d.created_at), d.id.to_string())))
}

pub async fn get(app: &AppState, scope: &OrgScope, id: DomainId) -> Result<Domain, AppError> {
    scope.require(Permission::SsoWrite)?;
    let mut tx = app.db.begin_snapshot().await?;
    db::domains::get(&mut tx, scope.org_id(), id).await?.ok_or_else(not_found)
}

/// Looks the TXT record up now. Verified: the domain is this organization's (409 `domain_taken`
/// if another organization verified it first). Not found: 422 `domain_not_verified` saying what
/// DNS answered; the attempt is kept in `last_check_error` either way.
pub async fn verify(app: &AppState, scope: &OrgScope, id: DomainId) -> Result<Domain, AppError> {
    let claimed = get(app, scope, id).await?;
    if claimed.status == DomainStatus::Verified {
        return Ok(claimed);
    }
    let expected = &claimed.verification.value;
    let problem = match app.dns.txt(&claimed.domain).await {
        Ok(found) if found.iter().any(|txt| txt.trim() == expected) => None,
        Ok(found) => {
            let ours: Vec<&String> = found.iter().filter(|txt| txt.starts_with(VERIFICATION_PREFIX)).collect();
            Some(match ours.as_slice() {
                [] => format!("{} has no TXT record {expected}.", claimed.domain),
                other => format!(
                    "{} has TXT {} but not {expected}.",
                    claimed.domain,
                    other.iter().map(|t| t.as_str()).collect::<Vec<_>>().join(", ")
                ),
            })
        }
        Err(why) => Some(format!("The DNS lookup of {} failed: {why}.", claimed.domain)),
    };
    let now = db::now();
    let mut tx = app.db.begin_write().await?;
    db::orgs::lock(&mut tx, scope.org_id()).await?;
    let taken = || {
        AppError::conflict(
            ErrorCode::DomainTaken,
            format!("{} is already verified by another organization.", claimed.domain),
        )
    };
    if problem.is_none() {
        let owner = db::domains::verified_owner(&mut tx, &claimed.domain).await?;
        if owner.is_some_and(|org| org != scope.org_id()) {
            return Err(taken());
        }
    }
    if !db::domains::record_check(&mut tx, scope.org_id(), id, problem.is_none(), problem.as_deref(), now).await? {
        return Err(taken());
    }
    if problem.is_none() {
        let event = Event {
            action: Action::DomainVerified,
            resource_type: "domain",
            resource_id: Some(id.to_string()),
            metadata: json!({ "domain": claimed.domain }),
        };
        audit::record(&mut tx, scope, event).await?;
    }
    let checked = db::domains::get(&mut tx, scope.org_id(), id).await?.ok_or_else(not_found)?;
    db::commit(tx).await?;
    match problem {
        None => Ok(checked),
        Some(why) => Err(AppError::new(ErrorKind::Validation, ErrorCode::DomainNotVerified, why)),
    }
}

/// Chooses the connection for the domain's sign-ins and whether SSO is required.
pub async fn update(app: &AppState, scope: &OrgScope, id: DomainId, patch: DomainPatch) -> Result<Domain, AppError> {
    scope.require(Permission::SsoWrite)?;
    let mut tx = app.db.begin_write().await?;
    db::orgs::lock(&mut tx, scope.org_id()).await?;
    let before = db::domains::get(&mut tx, scope.org_id(), id).await?.ok_or_else(not_found)?;
    let connection = match patch.connection_id {
        Some(Some(connection)) => Some(sso::routing::connection_in_org(&mut tx, scope.org_id(), connection).await?.id),
        Some(None) => None,
        None => before.connection_id,
    };
    let require_sso = patch.require_sso.unwrap_or(before.require_sso);
    if require_sso && before.status != DomainStatus::Verified {
        return Err(AppError::invalid_field(
            "require_sso",
            "Verify the domain before requiring single sign-on for it.",
        ));
    }
    if require_sso && connection.is_none() {
        return Err(AppError::invalid_field(
            "require_sso",
            "Choose the connection these people sign in with (connection_id) before requiring it.",
        ));
    }
    db::domains::set_sso(&mut tx, scope.org_id(), id, connection, require_sso).await?;
    let event = Event {
        action: Action::DomainUpdated,
        resource_type: "domain",
        resource_id: Some(id.to_string()),
        metadata: json!({ "domain": before.domain, "connection_id": connection, "require_sso": require_sso }),
    };
    audit::record(&mut tx, scope, event).await?;
    let after = db::domains::get(&mut tx, scope.org_id(), id).await?.ok_or_else(not_found)?;
    db::commit(tx).await?;
    Ok(after)
}

pub async fn remove(app: &AppState, scope: &OrgScope, id: DomainId) -> Result<(), AppError> {
    scope.require(Permission::SsoWrite)?;
    let mut tx = app.db.begin_write().await?;
    db::orgs::lock(&mut tx, scope.org_id()).await?;
    let domain = db::domains::get(&mut tx, scope.org_id(), id).await?.ok_or_else(not_found)?;
    db::domains::delete(&mut tx, scope.org_id(), id).await?;
    let event = Event {
        action: Action::DomainRemoved,
        resource_type: "domain",
        resource_id: Some(id.to_string()),
        metadata: json!({ "domain": domain.domain, "was_verified": domain.verified_at.is_some() }),
    };
    audit::record(&mut tx, scope, event).await?;
    Ok(db::commit(tx).await?)
}

#[cfg(test)]
mod tests {
    use super::parse_domain;

    #[test]
    fn domains_are_parsed_at_the_edge() {
        for (raw, parsed) in [
            ("Example.COM", "example.com"),
            (" example.com. ", "example.com"),
            ("someone@Example.com", "example.com"),
            ("mail.example.co.uk", "mail.example.co.uk"),
            ("bücher.example", "xn--bcher-kva.example"),
            ("a-b.example", "a-b.example"),
        ] {
            assert_eq!(parse_domain(raw).unwrap(), parsed, "{raw}");
        }
        for raw in [
            "",
            "localhost",
            "com",
            "192.0.2.1",
            "[::1]",
            "-bad.example",
            "bad-.example",
            "a..b",
            "exa mple.com",
            "a_b.example",
        ] {
            assert!(parse_domain(raw).is_err(), "{raw:?} accepted");
        }
        assert!(parse_domain(&format!("{}.example", "a".repeat(64))).is_err());
    }
}
