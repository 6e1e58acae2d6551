//! `gatehouse`: serve the dashboard and API, apply database migrations, or print the OpenAPI document.
use clap::{Parser, Subcommand};
use gatehouse::server::{
    self,
    config::{Config, LogFormat, DEFAULT_LISTEN},
};
use std::{net::SocketAddr, path::PathBuf};
use url::Url;

#[derive(Parser)]
#[command(
    name = "gatehouse",
    version,
    about = "Organizations, SSO, API keys, webhooks and audit for your SaaS, in one binary."
)]
struct Cli {
    /// `sqlite://PATH` (created on first start) or `postgres://USER@HOST/DB`.
    /// Defaults to sqlite://DATA_DIR/gatehouse.db.
    #[arg(long, global = true, env = "GATEHOUSE_DATABASE_URL")]
    database_url: Option<String>,

    /// Folder for local state (the embedded SQLite database lives here).
    #[arg(long, global = true, env = "GATEHOUSE_DATA_DIR", default_value = "data")]
    data_dir: PathBuf,

    /// Log lines as human-readable text or JSON.
    #[arg(long, global = true, env = "GATEHOUSE_LOG_FORMAT", value_enum, default_value = "human")]
    log_format: LogFormat,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the dashboard at / and the JSON API at /api/v1 (migrates the database first).
    Serve(Box<ServeArgs>),
    /// Apply database migrations and exit.
    Migrate,
    /// Check every audit log's hash chain; exits 1 if any row was changed, removed or reordered.
    VerifyAudit,
    /// Print the OpenAPI 3.1 document of /api/v1 (as committed in docs/openapi.json) and exit.
    Openapi,
}

#[derive(clap::Args)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "GATEHOUSE_LISTEN", default_value = DEFAULT_LISTEN)]
    listen: SocketAddr,
    /// The URL people use to reach this server (links in emails, same-origin checks).
    /// Defaults to http://LISTEN.
    #[arg(long, env = "GATEHOUSE_PUBLIC_URL")]
    public_url: Option<Url>,
    /// SMTP server for outgoing mail, e.g. smtp://127.0.0.1:2525, smtps://user:pass@host or
    /// smtp://host:587?tls=required. Without it, mail stays in the development outbox at /dev/outbox.
    #[arg(long, env = "GATEHOUSE_SMTP_URL")]
    smtp_url: Option<String>,
    /// Sender of outgoing mail.
    #[arg(long, env = "GATEHOUSE_MAIL_FROM", default_value = "Gatehouse <no-reply@gatehouse.localhost>")]
    mail_from: String,
    /// Folder with the built dashboard assets.
    #[arg(long, env = "GATEHOUSE_SITE_ROOT", default_value = "target/site")]
    site_root: PathBuf,
    /// Redis for rate-limit counters shared by several replicas, e.g. redis://127.0.0.1:6379.
    /// Without it each process counts on its own.
    #[arg(long, env = "GATEHOUSE_REDIS_URL")]
    redis_url: Option<String>,
    /// With Redis, lease quotas of 2,000 or more to this process in 0.1% slices so most requests
    /// need no Redis round trip; false asks Redis for every request (exact across replicas).
    #[arg(long, env = "GATEHOUSE_RATE_LIMIT_LEASES", default_value_t = true, action = clap::ArgAction::Set)]
    rate_limit_leases: bool,
    /// Key that encrypts stored secrets (webhook signing secrets), at least 32 characters.
    /// Without it a random key is created once in DATA_DIR/secret.key.
    #[arg(long, env = "GATEHOUSE_SECRET_KEY", hide_env_values = true)]
    secret_key: Option<String>,
    /// Let webhooks reach loopback, private, link-local and similar addresses (closed networks, tests).
    #[arg(long, env = "GATEHOUSE_WEBHOOK_ALLOW_PRIVATE", default_value_t = false, action = clap::ArgAction::Set)]
    webhook_allow_private: bool,
    /// Allow plain http:// webhook URLs (https only by default).
    #[arg(long, env = "GATEHOUSE_WEBHOOK_ALLOW_HTTP", default_value_t = false, action = clap::ArgAction::Set)]
    webhook_allow_http: bool,
    /// Seconds one webhook delivery attempt may take.
    #[arg(long, env = "GATEHOUSE_WEBHOOK_TIMEOUT_SECS", default_value_t = 15)]
    webhook_timeout_secs: u64,
    /// Days webhook delivery logs are kept.
    #[arg(long, env = "GATEHOUSE_WEBHOOK_RETENTION_DAYS", default_value_t = 30)]
    webhook_retention_days: u64,
    /// Bearer token a Prometheus scraper off this machine presents to read /metrics
    /// (loopback clients need none; without it, only they can).
    #[arg(long, env = "GATEHOUSE_METRICS_TOKEN", hide_env_values = true)]
    metrics_token: Option<String>,
    /// Nameserver (IP:port) for the DNS lookups that verify email domains; the system's by default.
    #[arg(long, env = "GATEHOUSE_DNS_SERVER")]
    dns_server: Option<std::net::SocketAddr>,
    /// Let SSO reach identity providers and directories on private or loopback addresses, over
    /// plain http:// and ldap:// (closed networks, tests).
    #[arg(long, env = "GATEHOUSE_SSO_ALLOW_PRIVATE", default_value_t = false, action = clap::ArgAction::Set)]
    sso_allow_private: bool,
    /// Reverse proxies (CIDR or address, comma-separated) whose `Forwarded`/`X-Forwarded-For`
    /// headers name the client; from any other peer those headers are ignored.
    #[arg(long, env = "GATEHOUSE_TRUSTED_PROXIES", value_delimiter = ',', value_parser = parse_proxy)]
    trusted_proxies: Vec<ipnet::IpNet>,
    /// Seconds a request may take before it is dropped with 503 `request_timeout` (outgoing calls
    /// such as webhook tests and identity-provider discovery have shorter limits of their own).
    #[arg(long, env = "GATEHOUSE_REQUEST_TIMEOUT_SECS", default_value_t = 60)]
    request_timeout_secs: u64,
}

/// `10.0.0.0/8`, or one address (`192.0.2.7`, `::1`).
fn parse_proxy(raw: &str) -> Result<ipnet::IpNet, String> {
    let raw = raw.trim();
    raw.parse::<ipnet::IpNet>()
        .or_else(|_| raw.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
        .map_err(|_| format!("{raw:?} is neither an address nor a CIDR range like 10.0.0.0/8"))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Command::Openapi = cli.command {
        let spec = server::api::openapi::spec();
        print!("{}", server::api::openapi::to_pretty_json(&spec));
        return Ok(());
    }
    init_tracing(cli.log_format);
    let database_url =
        cli.database_url.unwrap_or_else(|| format!("sqlite://{}", cli.data_dir.join("gatehouse.db").display()));
    match cli.command {
        Command::Openapi => unreachable!("handled before tracing starts"),
        Command::VerifyAudit => {
            if !server::verify_audit(&database_url).await? {
                std::process::exit(1);
            }
        }
        Command::Migrate => {
            server::migrate(&database_url).await?;
            tracing::info!("migrations applied");
        }
        Command::Serve(args) => {
            let ServeArgs {
                listen,
                public_url,
                smtp_url,
                mail_from,
                site_root,
                redis_url,
                rate_limit_leases,
                secret_key,
                webhook_allow_private,
                webhook_allow_http,
                webhook_timeout_secs,
                webhook_retention_days,
                metrics_token,
                dns_server,
                sso_allow_private,
                trusted_proxies,
                request_timeout_secs,
            } = *args;
            let mut config = Config::new(listen, database_url, public_url);
            config.smtp_url = smtp_url.filter(|url| !url.is_empty());
            config.mail_from = mail_from;
            config.site_root = site_root;
            config.redis_url = redis_url.filter(|url| !url.is_empty());
            config.rate_limit_leases = rate_limit_leases;
            config.data_dir = cli.data_dir;
            config.secret_key = secret_key.filter(|key| !key.is_empty());
            config.webhook_allow_private = webhook_allow_private;
            config.webhook_allow_http = webhook_allow_http;
            config.webhook_timeout = std::time::Duration::from_secs(webhook_timeout_secs.max(1));
            config.webhook_retention = std::time::Duration::from_secs(webhook_retention_days * 24 * 3600);
            config.metrics_token = metrics_token.filter(|token| !token.is_empty());
            config.dns_server = dns_server;
            config.sso_allow_private = sso_allow_private;
            config.trusted_proxies = trusted_proxies;
            config.request_timeout = std::time::Duration::from_secs(request_timeout_secs.max(1));
            let public = config.public_url.clone();
            let outbox = config.dev_outbox();
            let listener = tokio::net::TcpListener::bind(listen).await?;
            let running = server::start(config, listener).await?;
            println!("Gatehouse is running at {public}");
            println!("  First steps: open {public}signup to create your account.");
            if outbox {
                println!("  No SMTP server is configured: emails (verification, password reset) appear at {public}dev/outbox");
            }
            shutdown_signal().await;
            tracing::info!("shutting down: finishing in-flight requests");
            running.stop().await;
        }
    }
    Ok(())
}

fn init_tracing(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "info,sqlx=warn,tower_sessions=warn".into());
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Human => builder.init(),
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = ctrl_c => {}
        _ = terminate => {}
    }
}
