//! Who is making a request, as axum extractors. `SignedIn` fails with 401 when nobody is.
use crate::server::{db, state::AppState};
use crate::shared::error::{AppError, ErrorCode};
use axum::{
    extract::{ConnectInfo, FromRequestParts, Request, State},
    http::{header::USER_AGENT, request::Parts, HeaderMap},
    middleware::Next,
    response::Response,
};
use ipnet::IpNet;
use std::net::{IpAddr, SocketAddr};
use tower_sessions::Session;

/// How a request to /api/v1 authenticated, as the API gate found it.
#[derive(Clone)]
pub enum Caller {
    Key(std::sync::Arc<db::api_keys::KeyAuth>),
    /// A browser session or nobody: `SignedIn` decides.
    Session,
}

pub use super::session::SignedIn;

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        if let Some(Caller::Key(_)) = parts.extensions.get::<Caller>() {
            return Err(AppError::forbidden(
                ErrorCode::PersonRequired,
                "API keys act on their organization's resources only; this endpoint needs a signed-in person.",
            ));
        }
        let session = browser_session(parts, state).await?;
        super::session::signed_in(state, &session).await?.ok_or_else(AppError::unauthenticated)
    }
}

pub async fn browser_session(parts: &mut Parts, state: &AppState) -> Result<Session, AppError> {
    Session::from_request_parts(parts, state)
        .await
        .map_err(|(_, why)| crate::server::error::internal(format!("session layer missing: {why}")))
}

/// Where a request came from, for throttling, audit and the sessions list.
#[derive(Debug, Clone, Default)]
pub struct ClientMeta {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// The request named a client address of its own (`Forwarded`, `X-Forwarded-For`,
    /// `X-Real-IP`), trusted or not: a proxy passed it on, so the peer is not the client.
    pub proxied: bool,
    /// The browser's device cookie (`auth::device`), for sign-in throttling.
    pub device: Option<String>,
}

/// The client's address as `client_address` resolved it, for every later layer and handler.
#[derive(Debug, Clone, Copy)]
struct ClientAddr {
    ip: IpAddr,
    proxied: bool,
}

const FORWARDING_HEADERS: [&str; 3] = ["forwarded", "x-forwarded-for", "x-real-ip"];

/// Resolves the client address once per request (outermost layer): the peer's, unless the peer
/// is one of the configured trusted proxies, in which case the forwarding headers are read.
pub async fn client_address(State(app): State<AppState>, mut req: Request, next: Next) -> Response {
    if let Some(ConnectInfo(peer)) = req.extensions().get::<ConnectInfo<SocketAddr>>().copied() {
        let ip = client_ip(peer.ip(), req.headers(), &app.config.trusted_proxies);
        let proxied = FORWARDING_HEADERS.iter().any(|name| req.headers().contains_key(*name));
        req.extensions_mut().insert(ClientAddr { ip, proxied });
    }
    next.run(req).await
}

/// The rightmost address in the forwarding chain that is not a trusted proxy: each trusted proxy
/// appends the address it saw, so everything left of the first untrusted hop may be invented by
/// the client. A peer that is not trusted is the client, whatever its headers say. `Forwarded`
/// (RFC 7239) is read when present, else `X-Forwarded-For`.
fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let values = |name: &str| -> Vec<String> {
        headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(|hop| hop.trim().to_owned())
            .collect()
    };
    let forwarded = values("forwarded");
    let hops: Vec<String> = if forwarded.is_empty() {
        values("x-forwarded-for")
    } else {
        // `for=192.0.2.1;proto=https`, `for="[2001:db8::1]:4711"`; other parameters are ignored.
        forwarded
            .iter()
            .map(|element| {
                element
                    .split(';')
                    .find_map(|pair| {
                        let (key, value) = pair.trim().split_once('=')?;
                        key.trim().eq_ignore_ascii_case("for").then(|| value.trim().trim_matches('"').to_owned())
                    })
                    .unwrap_or_default()
            })
            .collect()
    };
    let mut client = peer;
    for hop in hops.iter().rev() {
        // An unreadable hop (`unknown`, an obfuscated name) ends what can be known: the proxy
        // that reported it is the best answer.
        let Some(ip) = parse_hop(hop) else { break };
        client = ip;
        if !is_trusted(&ip) {
            break;
        }
    }
    client
}

/// `192.0.2.1`, `192.0.2.1:8080`, `2001:db8::1` or `[2001:db8::1]:4711`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    hop.parse::<IpAddr>()
        .ok()
        .or_else(|| hop.parse::<SocketAddr>().ok().map(|s| s.ip()))
        .or_else(|| hop.strip_prefix('[').and_then(|rest| rest.split_once(']')).and_then(|(ip, _)| ip.parse().ok()))
}

impl ClientMeta {
    pub fn from_parts(parts: &Parts) -> ClientMeta {
        ClientMeta::from_head(&parts.headers, &parts.extensions)
    }

    /// From a request's headers and extensions (for middleware, which holds the whole request).
    pub fn from_head(headers: &axum::http::HeaderMap, extensions: &axum::http::Extensions) -> ClientMeta {
        let addr = extensions.get::<ClientAddr>();
        let user_agent = headers.get(USER_AGENT).and_then(|v| v.to_str().ok()).map(|ua| ua.chars().take(256).collect());
        ClientMeta {
            ip: addr.map(|a| a.ip.to_string()),
            user_agent,
            proxied: addr.is_some_and(|a| a.proxied),
            device: super::device::from_headers(headers),
        }
    }

    /// The throttling key for the client address ("unknown" shares one bucket, on purpose).
    pub fn ip_key(&self) -> &str {
        self.ip.as_deref().unwrap_or("unknown")
    }

    /// A request from this machine (operator-only pages: the dev outbox, metrics). Never one that
    /// came through a proxy: a reverse proxy on this host would otherwise make every visitor local.
    pub fn is_loopback(&self) -> bool {
        !self.proxied && self.ip.as_deref().and_then(|ip| ip.parse::<IpAddr>().ok()).is_some_and(|ip| ip.is_loopback())
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ClientMeta {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientMeta::from_parts(parts))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn forwarding_headers_count_only_from_trusted_proxies() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap(), "127.0.0.1/32".parse().unwrap()];
        let xff = |v: &str| headers(&[("x-forwarded-for", v)]);
        // An untrusted peer is the client, whatever it claims.
        assert_eq!(client_ip(ip("203.0.113.9"), &xff("198.51.100.1"), &trusted), ip("203.0.113.9"));
        // Through one trusted proxy: the address it saw.
        assert_eq!(client_ip(ip("10.0.0.2"), &xff("198.51.100.1"), &trusted), ip("198.51.100.1"));
        // A client-invented entry on the left is skipped: the rightmost untrusted hop wins.
        assert_eq!(client_ip(ip("10.0.0.2"), &xff("1.2.3.4, 198.51.100.1, 10.0.0.3"), &trusted), ip("198.51.100.1"));
        // Several header lines are one list, in order.
        let split = headers(&[("x-forwarded-for", "1.2.3.4"), ("x-forwarded-for", "198.51.100.7")]);
        assert_eq!(client_ip(ip("10.0.0.2"), &split, &trusted), ip("198.51.100.7"));
        // No header, or nothing readable: the proxy itself.
        assert_eq!(client_ip(ip("10.0.0.2"), &HeaderMap::new(), &trusted), ip("10.0.0.2"));
        assert_eq!(client_ip(ip("10.0.0.2"), &xff("unknown"), &trusted), ip("10.0.0.2"));
        assert_eq!(client_ip(ip("10.0.0.2"), &xff("1.2.3.4, garbage"), &trusted), ip("10.0.0.2"));
        // Forwarded (RFC 7239) takes precedence, with quoting, ports and IPv6.
        let fwd = headers(&[
            ("forwarded", r#"for=1.2.3.4, for="[2001:db8::1]:4711";proto=https"#),
            ("x-forwarded-for", "5.6.7.8"),
        ]);
        assert_eq!(client_ip(ip("127.0.0.1"), &fwd, &trusted), ip("2001:db8::1"));
        assert_eq!(client_ip(ip("127.0.0.1"), &xff("198.51.100.1:5555"), &trusted), ip("198.51.100.1"));
        // Nothing trusted: headers are ignored.
        assert_eq!(client_ip(ip("127.0.0.1"), &xff("198.51.100.1"), &[]), ip("127.0.0.1"));
    }

    #[test]
    fn proxied_requests_are_never_loopback() {
        let local = ClientMeta { ip: Some("127.0.0.1".to_owned()), ..ClientMeta::default() };
        assert!(local.is_loopback());
        assert!(!ClientMeta { proxied: true, ..local.clone() }.is_loopback());
        assert!(!ClientMeta::default().is_loopback());
    }
}
