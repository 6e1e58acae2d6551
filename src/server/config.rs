//! Runtime configuration: command-line flags with environment equivalents (see `main.rs`), turned
//! into one `Config` the rest of the server reads.
use crate::server::ratelimit::Quota;
use std::{net::SocketAddr, path::PathBuf, time::Duration};
use url::Url;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Human,
    Json,
}

/// At most `max` counted events per `window` (failed logins, signups...).
#[derive(Debug, Clone, Copy)]
pub struct ThrottleRule {
    pub max: i64,
    pub window: Duration,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub database_url: String,
    /// Where people reach this server; used for links in emails and the same-origin check.
    pub public_url: Url,
    /// Built dashboard assets (cargo-leptos `target/site`).
    pub site_root: PathBuf,
    pub data_dir: PathBuf,
    /// `smtp://host:port`, `smtps://...` or `smtp://...?tls=required`; `None` keeps mail in the
    /// development outbox.
    pub smtp_url: Option<String>,
    pub mail_from: String,
    /// Waits between attempts to send one mail; after the last, it is given up.
    pub mail_retry_delays: Vec<Duration>,
    /// Sign out after this long without a request.
    pub session_idle: Duration,
    /// Sign out this long after signing in, however active.
    pub session_absolute: Duration,
    /// Failed logins per account and per IP.
    pub login_throttle: ThrottleRule,
    /// Signups and password-reset requests per IP.
    pub signup_throttle: ThrottleRule,
    /// Shared rate-limit counters for several replicas; `None` keeps them in this process.
    pub redis_url: Option<String>,
    /// With Redis: lease large quotas to this replica in 0.1% slices (false: a Redis round trip
    /// for every request).
    pub rate_limit_leases: bool,
    /// Any /api/v1 request without an API key, per client IP.
    pub api_ip_quota: Quota,
    /// Sign-in, sign-up, password reset and invitation acceptance, per client IP.
    pub auth_ip_quota: Quota,
    /// Encrypts secrets at rest; `None` uses (and creates) `data_dir/secret.key`.
    pub secret_key: Option<String>,
    /// Let webhooks reach loopback, private, link-local... addresses (for tests and closed networks).
    pub webhook_allow_private: bool,
    /// Allow plain http:// webhook URLs.
    pub webhook_allow_http: bool,
    /// How long one delivery attempt may take.
    pub webhook_timeout: Duration,
    /// An endpoint failing for this long without a success is disabled.
    pub webhook_disable_after: Duration,
    /// How long delivery logs are kept.
    pub webhook_retention: Duration,
    /// On shutdown, in-flight deliveries get this long to finish.
    pub webhook_shutdown_grace: Duration,
    /// Bearer token that lets a non-loopback scraper read /metrics (loopback needs none).
    pub metrics_token: Option<String>,
    /// The nameserver for domain-verification lookups; `None` uses the system's.
    pub dns_server: Option<SocketAddr>,
    /// Let SSO reach identity providers and directories on loopback and private addresses, over
    /// plain http:// and ldap:// without StartTLS (closed networks, tests).
    pub sso_allow_private: bool,
    /// Reverse proxies whose `Forwarded`/`X-Forwarded-For` name the client (empty: none is).
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// The longest a request may take to produce its response head; past it the work is dropped
    /// and the client gets 503 `request_timeout`. A streamed body is not limited by it.
    pub request_timeout: Duration,
}

pub const DEFAULT_LISTEN: &str = "127.0.0.1:3000";

/// The largest request body any route accepts (error messages name it as 1 MiB).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

impl Config {
    /// Defaults for everything but the three things a deployment must decide.
    pub fn new(listen: SocketAddr, database_url: String, public_url: Option<Url>) -> Config {
        let public_url = public_url.unwrap_or_else(|| {
            let host = if listen.ip().is_unspecified() { "127.0.0.1".to_owned() } else { listen.ip().to_string() };
            let host = if listen.is_ipv6() && !listen.ip().is_unspecified() { format!("[{host}]") } else { host };
            Url::parse(&format!("http://{host}:{}", listen.port())).expect("a socket address forms a valid URL")
        });
        Config {
            listen,
            database_url,
            public_url,
            site_root: PathBuf::from("target/site"),
            data_dir: PathBuf::from("data"),
            smtp_url: None,
            mail_from: "Gatehouse <no-reply@gatehouse.localhost>".to_owned(),
            mail_retry_delays: [30, 120, 600, 1800, 7200, 21600].map(Duration::from_secs).to_vec(),
            session_idle: Duration::from_secs(24 * 3600),
            session_absolute: Duration::from_secs(14 * 24 * 3600),
            login_throttle: ThrottleRule { max: 10, window: Duration::from_secs(15 * 60) },
            signup_throttle: ThrottleRule { max: 20, window: Duration::from_secs(3600) },
            redis_url: None,
            rate_limit_leases: true,
            api_ip_quota: Quota::per_minute(600),
            auth_ip_quota: Quota::per_minute(30),
            secret_key: None,
            webhook_allow_private: false,
            webhook_allow_http: false,
            webhook_timeout: Duration::from_secs(15),
            webhook_disable_after: Duration::from_secs(5 * 24 * 3600),
            webhook_retention: Duration::from_secs(30 * 24 * 3600),
            webhook_shutdown_grace: Duration::from_secs(10),
            metrics_token: None,
            sso_allow_private: false,
            dns_server: None,
            trusted_proxies: Vec::new(),
            request_timeout: Duration::from_secs(60),
        }
    }

    /// Cookies get `Secure` whenever people reach us over https.
    pub fn secure_cookies(&self) -> bool {
        self.public_url.scheme() == "https"
    }

    /// Mail kept readable at /dev/outbox: only for a local development server, never one that
    /// sends real mail or that people reach over https.
    pub fn dev_outbox(&self) -> bool {
        self.smtp_url.is_none() && !self.secure_cookies()
    }

    /// `scheme://host[:port]` of the public URL, as browsers send it in `Origin`.
    pub fn public_origin(&self) -> String {
        self.public_url.origin().ascii_serialization()
    }

    /// An absolute link to a path on this site.
    pub fn link(&self, path_and_query: &str) -> String {
        format!("{}{}", self.public_origin(), path_and_query)
    }
}
