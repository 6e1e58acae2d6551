//! Outgoing HTTP to URLs that customers give us (webhook endpoints; later SSO metadata). It must
//! not become a proxy into private networks: every address is checked when the connection is made,
//! after DNS resolution (so a name that resolves to 127.0.0.1 is refused too), redirects are never
//! followed, no proxy is used, and answers are read only up to a cap.
use http::HeaderMap;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::{
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
    sync::Arc,
    time::{Duration, Instant},
};
use url::Url;

/// Bodies kept of requests and answers (and read of answers).
pub const BODY_CAP: usize = 64 * 1024;

/// Why an address may not be reached, or `None` when it is a public unicast address.
pub fn forbidden_reason(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => forbidden_v6(v6),
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, _, _] = ip.octets();
    if ip.is_loopback() {
        Some("loopback")
    } else if ip == Ipv4Addr::new(169, 254, 169, 254) || ip == Ipv4Addr::new(100, 100, 100, 200) {
        Some("cloud metadata")
    } else if ip.is_private() {
        Some("private")
    } else if ip.is_link_local() {
        Some("link-local")
    } else if a == 100 && (64..128).contains(&b) {
        Some("carrier-grade NAT")
    } else if ip.is_multicast() {
        Some("multicast")
    } else if a == 0 {
        Some("unspecified")
    } else if ip.is_broadcast() || a >= 240 || (a == 198 && (b == 18 || b == 19)) || (a == 192 && b == 0) {
        Some("reserved")
    } else {
        None
    }
}

fn forbidden_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let segments = ip.segments();
    if ip.is_loopback() {
        Some("loopback")
    } else if ip.is_unspecified() {
        Some("unspecified")
    } else if ip.to_ipv4_mapped().is_some() {
        // Legitimate hosts never publish these; they only serve to smuggle IPv4 addresses.
        Some("IPv4-mapped IPv6")
    } else if segments[0] == 0xfd00 && segments[1] == 0x0ec2 {
        Some("cloud metadata")
    } else if segments[0] & 0xfe00 == 0xfc00 {
        Some("private")
    } else if segments[0] & 0xffc0 == 0xfe80 {
        Some("link-local")
    } else if ip.is_multicast() {
        Some("multicast")
    } else if segments[..6] == [0; 6] || (segments[0] == 0x64 && segments[1] == 0xff9b) || segments[0] == 0x2002 {
        // IPv4-compatible, NAT64 and 6to4 addresses embed an IPv4 address: judge that one.
        let embedded = if segments[0] == 0x2002 {
            Ipv4Addr::new((segments[1] >> 8) as u8, segments[1] as u8, (segments[2] >> 8) as u8, segments[2] as u8)
        } else {
            Ipv4Addr::new((segments[6] >> 8) as u8, segments[6] as u8, (segments[7] >> 8) as u8, segments[7] as u8)
        };
        forbidden_v4(embedded)
    } else {
        None
    }
}

/// The error a refused address gives, found again in reqwest's error chain to explain the failure.
#[derive(Debug)]
struct RefusedAddress(String);

impl std::fmt::Display for RefusedAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for RefusedAddress {}

fn refusal(host: &str, ip: IpAddr, reason: &str) -> String {
    format!("refused to connect to {host} ({ip}): {reason} addresses are not allowed (the operator can allow them with GATEHOUSE_WEBHOOK_ALLOW_PRIVATE=true)")
}

/// Resolves names and keeps only addresses we may reach; with none left, the connection fails.
struct GuardedResolver;

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> =
                found.iter().copied().filter(|addr| forbidden_reason(addr.ip()).is_none()).collect();
            match (allowed.is_empty(), found.first()) {
                (false, _) => Ok(Box::new(allowed.into_iter()) as Addrs),
                (true, Some(first)) => {
                    let reason = forbidden_reason(first.ip()).unwrap_or("forbidden");
                    Err(Box::new(RefusedAddress(refusal(&host, first.ip(), reason))) as _)
                }
                (true, None) => Err(format!("{host} has no address").into()),
            }
        })
    }
}

/// What came back: the status, a `Retry-After` if any, and the body up to `BODY_CAP`.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub retry_after: Option<Duration>,
    pub body: Vec<u8>,
    pub latency: Duration,
}

/// No answer: the reason in plain words, and how long it took to fail.
#[derive(Debug)]
pub struct Failure {
    pub error: String,
    pub latency: Duration,
}

#[derive(Clone)]
pub struct Outbound {
    client: reqwest::Client,
    allow_private: bool,
    allow_http: bool,
}

impl Outbound {
    pub fn new(timeout: Duration, allow_private: bool, allow_http: bool) -> anyhow::Result<Outbound> {
        let builder = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            // One client serves webhooks and identity providers alike, so the agent names neither.
            .user_agent(concat!("Gatehouse/", env!("CARGO_PKG_VERSION")))
            .pool_max_idle_per_host(32);
        let builder = if allow_private { builder } else { builder.dns_resolver(Arc::new(GuardedResolver)) };
        Ok(Outbound { client: builder.build()?, allow_private, allow_http })
    }

    /// Checks a URL before it is saved and again before each request: https (or http when the
    /// operator allows it), a host, no credentials, and no forbidden literal address (names are
    /// checked when connecting). The error is a sentence for the person who typed it.
    pub fn check_url(&self, raw: &str) -> Result<Url, String> {
        let url = Url::parse(raw.trim()).map_err(|e| format!("This is not a valid URL ({e})."))?;
        match url.scheme() {
            "https" => {}
            "http" if self.allow_http => {}
            "http" => return Err("Use an https:// URL (plain http is not allowed on this server).".to_owned()),
            other => return Err(format!("Use an https:// URL, not {other}:.")),
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err("Leave credentials out of the URL; verify requests with the signing secret instead.".to_owned());
        }
        let ip = match url.host() {
            None => return Err("The URL needs a host.".to_owned()),
            Some(url::Host::Ipv4(v4)) => IpAddr::V4(v4),
            Some(url::Host::Ipv6(v6)) => IpAddr::V6(v6),
            Some(url::Host::Domain(_)) => return Ok(url),
        };
        match forbidden_reason(ip).filter(|_| !self.allow_private) {
            Some(reason) => Err(refusal(&ip.to_string(), ip, reason)),
            None => Ok(url),
        }
    }

    /// POSTs `body`; any HTTP answer (3xx included: redirects are not followed) is an `Answer`.
    pub async fn post(&self, raw_url: &str, headers: HeaderMap, body: Vec<u8>) -> Result<Answer, Failure> {
        let started = Instant::now();
        let fail = |error: String| Failure { error, latency: started.elapsed() };
        let url = self.check_url(raw_url).map_err(fail)?;
        let sent = self.client.post(url).headers(headers).body(body).send().await;
        let mut response = sent.map_err(|e| fail(explain(&e)))?;
        let status = response.status().as_u16();
        let retry_after =
            response.headers().get(http::header::RETRY_AFTER).and_then(|v| v.to_str().ok()).and_then(parse_retry_after);
        let mut body = Vec::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    let room = BODY_CAP - body.len();
                    body.extend_from_slice(&chunk[..chunk.len().min(room)]);
                    if body.len() >= BODY_CAP {
                        break;
                    }
                }
                Ok(None) => break,
                // The status is what counts; a body cut short is kept as far as it came.
                Err(_) => break,
            }
        }
        Ok(Answer { status, retry_after, body, latency: started.elapsed() })
    }

    /// GETs a document of at most `cap` bytes (an identity provider's metadata, discovery document
    /// or keys): a larger one is refused as soon as it passes the cap, before the rest is read.
    /// The error is a sentence naming the URL.
    pub async fn get_capped(&self, raw_url: &str, accept: &str, cap: usize) -> Result<Vec<u8>, String> {
        let url = self.check_url(raw_url)?;
        let sent = self.client.get(url.clone()).header(http::header::ACCEPT, accept).send().await;
        let mut response = sent.map_err(|e| format!("Could not fetch {url}: {}.", explain(&e)))?;
        if !response.status().is_success() {
            return Err(format!("{url} answered HTTP {}.", response.status().as_u16()));
        }
        let too_large = || format!("{url} sent more than {} KiB, more than such a document needs.", cap / 1024);
        if response.content_length().is_some_and(|len| len > cap as u64) {
            return Err(too_large());
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| format!("Could not read {url}: {e}."))? {
            if body.len() + chunk.len() > cap {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }

    pub fn allows_private(&self) -> bool {
        self.allow_private
    }

    /// The guarded client itself, for protocol libraries that send their own requests (OIDC).
    /// Callers check each URL with `check_url` first: names are guarded when connecting, literal
    /// addresses only there.
    pub fn http(&self) -> &reqwest::Client {
        &self.client
    }
}

/// A refused address, a timeout or a connection failure, said plainly.
pub fn explain(err: &reqwest::Error) -> String {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = source {
        if let Some(refused) = e.downcast_ref::<RefusedAddress>() {
            return refused.0.clone();
        }
        source = e.source();
    }
    if err.is_timeout() {
        return "timed out waiting for the endpoint".to_owned();
    }
    let mut text = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(e) = source {
        text = format!("{text}: {e}");
        source = e.source();
    }
    text
}

/// `Retry-After` as seconds or an HTTP date.
fn parse_retry_after(value: &str) -> Option<Duration> {
    if let Ok(seconds) = value.trim().parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value.trim()).ok()?;
    (at.with_timezone(&chrono::Utc) - chrono::Utc::now()).to_std().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(ip: &str) -> Option<&'static str> {
        forbidden_reason(ip.parse().unwrap())
    }

    #[test]
    fn classifies_every_forbidden_address_class() {
        let cases = [
            ("127.0.0.1", "loopback"),
            ("127.255.0.9", "loopback"),
            ("::1", "loopback"),
            ("10.1.2.3", "private"),
            ("172.16.0.1", "private"),
            ("192.168.1.1", "private"),
            ("fd12::1", "private"),
            ("169.254.1.1", "link-local"),
            ("fe80::1", "link-local"),
            ("100.64.0.1", "carrier-grade NAT"),
            ("224.0.0.1", "multicast"),
            ("ff02::1", "multicast"),
            ("0.0.0.0", "unspecified"),
            ("::", "unspecified"),
            ("::ffff:127.0.0.1", "IPv4-mapped IPv6"),
            ("::ffff:8.8.8.8", "IPv4-mapped IPv6"),
            ("169.254.169.254", "cloud metadata"),
            ("fd00:ec2::254", "cloud metadata"),
            ("64:ff9b::a00:1", "private"),
            ("2002:7f00:1::", "loopback"),
            ("255.255.255.255", "reserved"),
        ];
        for (ip, expected) in cases {
            assert_eq!(reason(ip), Some(expected), "{ip}");
        }
        for public in ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "100.128.0.1", "172.32.0.1"] {
            assert_eq!(reason(public), None, "{public}");
        }
    }

    #[test]
    fn urls_are_checked_before_saving() {
        let strict = Outbound::new(Duration::from_secs(1), false, false).unwrap();
        assert!(strict.check_url("https://example.com/hook").is_ok());
        assert!(strict.check_url("http://example.com/hook").unwrap_err().contains("https"));
        assert!(strict.check_url("ftp://example.com/").is_err());
        assert!(strict.check_url("https://user:pw@example.com/").unwrap_err().contains("credentials"));
        assert!(strict.check_url("https://127.0.0.1/").unwrap_err().contains("loopback"));
        assert!(strict.check_url("https://[::ffff:10.0.0.1]/").unwrap_err().contains("IPv4-mapped"));
        assert!(strict.check_url("not a url").is_err());
        let open = Outbound::new(Duration::from_secs(1), true, true).unwrap();
        assert!(open.check_url("http://127.0.0.1:9/").is_ok());
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        assert_eq!(parse_retry_after("120"), Some(Duration::from_secs(120)));
        let later = (chrono::Utc::now() + chrono::Duration::seconds(90)).to_rfc2822();
        let parsed = parse_retry_after(&later).unwrap().as_secs();
        assert!((85..=90).contains(&parsed), "{parsed}");
        assert_eq!(parse_retry_after("soon"), None);
    }
}
