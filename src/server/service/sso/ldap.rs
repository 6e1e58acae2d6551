//! LDAP sign-in with `ldap3`: bind as the service account, find the one entry the filter names
//! (the typed username escaped, so `*` or `)(` cannot widen it), then bind as that entry with the
//! typed password. An empty password is refused before any bind: LDAP treats it as an anonymous
//! bind, which "succeeds".
use super::{IdpIdentity, Refusal};
use crate::server::{outbound::forbidden_reason, state::AppState};
use crate::shared::{error::AppError, sso::LdapSettings};
use ldap3::{ldap_escape, Ldap, LdapConnAsync, LdapConnSettings, LdapError, Scope, SearchEntry, StdStream};
use std::{net::IpAddr, time::Duration};

const TIMEOUT: Duration = Duration::from_secs(5);
const USERNAME_MAX: usize = 256;

/// `ldaps://` or `ldap://`, a host, nothing else; a literal private address only when the
/// operator allows private peers (names are checked when connecting).
pub fn parse_url(app: &AppState, raw: &str) -> Result<String, AppError> {
    let bad = |why: &str| AppError::invalid_field("url", why);
    let url = url::Url::parse(raw.trim()).map_err(|e| bad(&format!("This is not a valid LDAP URL ({e}).")))?;
    if !matches!(url.scheme(), "ldap" | "ldaps") {
        return Err(bad("Use an ldaps:// or ldap:// URL (ldap:// is upgraded with StartTLS)."));
    }
    let Some(host) = url.host_str().filter(|h| !h.is_empty()) else {
        return Err(bad("The URL needs a host."));
    };
    if !url.username().is_empty() || url.password().is_some() || url.path().len() > 1 || url.query().is_some() {
        return Err(bad("Give only the scheme, host and port; the bind DN and base DN have their own fields."));
    }
    check_host(app, host).map_err(|why| bad(&why))?;
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

fn check_host(app: &AppState, host: &str) -> Result<(), String> {
    let literal = host.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>().ok();
    match literal.and_then(forbidden_reason).filter(|_| !app.config.sso_allow_private) {
        Some(reason) => Err(format!("{host} is {reason}; this server does not connect there.")),
        None => Ok(()),
    }
}

/// The filter must hold `{username}` exactly where the escaped name goes, and be parenthesised.
pub fn parse_filter(raw: &str) -> Result<String, AppError> {
    let filter = raw.trim();
    if !filter.contains("{username}") {
        return Err(AppError::invalid_field(
            "user_filter",
            "The filter must contain {username}, e.g. (uid={username}).",
        ));
    }
    if !(filter.starts_with('(') && filter.ends_with(')')) || filter.len() > 1024 {
        return Err(AppError::invalid_field("user_filter", "Write the filter in parentheses, e.g. (uid={username})."));
    }
    Ok(filter.to_owned())
}

fn unreachable(settings: &LdapSettings, error: LdapError) -> Refusal {
    Refusal::upstream("directory_unreachable", format!("Could not talk to the directory at {}: {error}.", settings.url))
}

/// Connects (StartTLS on ldap:// unless the operator allows private peers, which is how tests
/// reach a plain slapd on loopback) and binds as the service account.
async fn service_connection(app: &AppState, settings: &LdapSettings, bind_password: &str) -> Result<Ldap, Refusal> {
    let stream = connect_checked(app, settings).await?;
    let starttls = settings.url.starts_with("ldap://") && !app.config.sso_allow_private;
    let conn_settings =
        LdapConnSettings::new().set_conn_timeout(TIMEOUT).set_starttls(starttls).set_std_stream(StdStream::Tcp(stream));
    let (conn, mut ldap) =
        LdapConnAsync::with_settings(conn_settings, &settings.url).await.map_err(|e| unreachable(settings, e))?;
    ldap3::drive!(conn);
    ldap.with_timeout(TIMEOUT);
    match ldap.simple_bind(&settings.bind_dn, bind_password).await.and_then(|r| r.success()) {
        Ok(_) => Ok(ldap),
        Err(LdapError::LdapResult { result }) => Err(Refusal::upstream(
            "service_bind_refused",
            format!(
                "The directory refused the service account {} (result {}: {}).",
                settings.bind_dn,
                result.rc,
                if result.text.is_empty() { "invalid credentials" } else { &result.text }
            ),
        )),
        Err(e) => Err(unreachable(settings, e)),
    }
}

/// Resolves the directory's host once, keeps only addresses we may reach, and opens the TCP
/// connection to one of them; ldap3 then speaks LDAP (and TLS, checked against the host name) over
/// that very connection. Resolving again inside ldap3 would let a DNS answer that changed between
/// the check and the connection (rebinding) reach a private address.
async fn connect_checked(app: &AppState, settings: &LdapSettings) -> Result<std::net::TcpStream, Refusal> {
    let url = url::Url::parse(&settings.url)
        .map_err(|e| Refusal::upstream("bad_configuration", format!("The directory URL is not valid: {e}.")))?;
    let host = url.host_str().unwrap_or_default().trim_start_matches('[').trim_end_matches(']').to_owned();
    check_host(app, &host).map_err(|why| Refusal::upstream("directory_forbidden", why))?;
    let port = url.port().unwrap_or(if url.scheme() == "ldaps" { 636 } else { 389 });
    let found: Vec<std::net::SocketAddr> = tokio::net::lookup_host((host.as_str(), port))
        .await
        .map_err(|e| Refusal::upstream("directory_unreachable", format!("Cannot resolve {host}: {e}.")))?
        .collect();
    let allowed: Vec<std::net::SocketAddr> = found
        .iter()
        .copied()
        .filter(|addr| app.config.sso_allow_private || forbidden_reason(addr.ip()).is_none())
        .collect();
    if allowed.is_empty() {
        let reason = found.first().and_then(|a| forbidden_reason(a.ip())).unwrap_or("no address");
        return Err(Refusal::upstream(
            "directory_forbidden",
            format!("{host} resolves to {reason}; this server does not connect there."),
        ));
    }
    let mut last_error = None;
    for addr in allowed {
        match tokio::time::timeout(TIMEOUT, tokio::net::TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => {
                return stream
                    .into_std()
                    .map_err(|e| Refusal::upstream("directory_unreachable", format!("Could not talk to {host}: {e}.")))
            }
            Ok(Err(e)) => last_error = Some(e.to_string()),
            Err(_) => last_error = Some("timed out".to_owned()),
        }
    }
    Err(Refusal::upstream(
        "directory_unreachable",
        format!("Could not talk to the directory at {}: {}.", settings.url, last_error.unwrap_or_default()),
    ))
}

/// **Test connection** without a person: connect and bind as the service account.
pub async fn check_service_bind(
    app: &AppState,
    settings: &LdapSettings,
    bind_password: &str,
) -> Result<String, Refusal> {
    let mut ldap = service_connection(app, settings, bind_password).await?;
    let _ = ldap.unbind().await;
    Ok(format!("Connected to {} and bound as {}.", settings.url, settings.bind_dn))
}

fn wrong_credentials() -> Refusal {
    Refusal::new("invalid_credentials", "Incorrect username or password.")
}

/// Checks a person's directory credentials; who they are and their groups.
pub async fn authenticate(
    app: &AppState,
    settings: &LdapSettings,
    bind_password: &str,
    username: &str,
    password: &str,
) -> Result<IdpIdentity, Refusal> {
    let username = username.trim();
    if username.is_empty() || username.len() > USERNAME_MAX {
        return Err(Refusal::new("invalid_credentials", "Enter your username."));
    }
    if password.is_empty() {
        return Err(Refusal::new("invalid_credentials", "Enter your password."));
    }
    let mut ldap = service_connection(app, settings, bind_password).await?;
    let filter = settings.user_filter.replace("{username}", &ldap_escape(username));
    let attributes = vec!["mail", "cn", "displayName", settings.group_attribute.as_str()];
    let found = ldap
        .search(&settings.base_dn, Scope::Subtree, &filter, attributes)
        .await
        .and_then(|r| r.success())
        .map_err(|e| unreachable(settings, e))?;
    let mut entries = found.0.into_iter().map(SearchEntry::construct);
    // Nobody, or more than one person: the same answer as a wrong password.
    let (Some(entry), None) = (entries.next(), entries.next()) else {
        let _ = ldap.unbind().await;
        return Err(wrong_credentials());
    };
    let bound = ldap.simple_bind(&entry.dn, password).await.and_then(|r| r.success());
    let _ = ldap.unbind().await;
    match bound {
        Ok(_) => {}
        Err(LdapError::LdapResult { .. }) => return Err(wrong_credentials()),
        Err(e) => return Err(unreachable(settings, e)),
    }
    let first = |name: &str| entry.attrs.get(name).and_then(|values| values.first()).cloned();
    Ok(IdpIdentity {
        subject: entry.dn.to_lowercase(),
        email: first("mail"),
        // The directory is the organization's own; its addresses are trusted for linking only on
        // the organization's verified domains (checked in `complete`).
        email_verified: true,
        name: first("displayName").or_else(|| first("cn")),
        groups: entry.attrs.get(&settings.group_attribute).cloned().unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::parse_filter;

    #[test]
    fn filters_must_place_the_username() {
        assert_eq!(parse_filter(" (uid={username}) ").unwrap(), "(uid={username})");
        assert!(parse_filter("(&(objectClass=person)(mail={username}))").is_ok());
        for bad in ["(uid=alice)", "uid={username}", "", "(uid={username}"] {
            assert!(parse_filter(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn typed_names_cannot_widen_the_filter() {
        let filter = "(uid={username})".replace("{username}", &ldap3::ldap_escape("*)(|(uid=*"));
        assert_eq!(filter, "(uid=\\2a\\29\\28|\\28uid=\\2a)");
    }
}
