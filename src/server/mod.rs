//! The server: configuration, state, routing, authentication, the service layer, the database and
//! background jobs. Only compiled with the `ssr` feature.
pub mod api;
pub mod auth;
pub mod authz;
pub mod cache;
pub mod config;
pub mod crypto;
pub mod db;
pub mod dns;
pub mod endpoints;
pub mod error;
pub mod headers;
pub mod jobs;
pub mod metrics;
pub mod outbound;
pub mod pagination;
pub mod ratelimit;
pub mod router;
pub mod service;
pub mod state;
pub mod usage_meter;

use crate::server::{auth::session::AnySessionStore, config::Config, db::Db, state::AppState};
use std::{net::SocketAddr, sync::Arc};
use tokio::{net::TcpListener, sync::watch, task::JoinHandle};

/// A server that is accepting connections.
pub struct Running {
    pub addr: SocketAddr,
    pub state: AppState,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Running {
    /// Stops accepting, lets in-flight requests and the job in hand finish, then returns.
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
        // Requests that finished while the jobs were stopping were counted after their last flush.
        if let Err(e) = service::usage::flush(&self.state).await {
            tracing::warn!("usage: {e}");
        }
    }
}

/// Connects and migrates the database, then serves on `listener` until `stop`.
pub async fn start(config: Config, listener: TcpListener) -> anyhow::Result<Running> {
    let db = Db::connect(&config.database_url).await?;
    db.migrate().await?;
    let sessions = AnySessionStore::open(&db).await?;
    let smtp = config.smtp_url.as_deref().map(jobs::mailer::smtp_transport).transpose()?;
    let leptos_options = leptos::config::LeptosOptions::builder()
        .output_name("gatehouse")
        .site_root(config.site_root.to_string_lossy().into_owned())
        .site_pkg_dir("pkg")
        .site_addr(config.listen)
        .env(leptos::config::Env::PROD)
        .build();
    let limiter = match &config.redis_url {
        Some(url) if config.rate_limit_leases => ratelimit::RateLimiter::with_redis(url)?,
        Some(url) => ratelimit::RateLimiter::with_redis_per_request(url)?,
        None => ratelimit::RateLimiter::in_memory(),
    };
    let secrets = match &config.secret_key {
        Some(key) => crypto::SecretBox::from_passphrase(key)?,
        None => crypto::SecretBox::from_key_file(&config.data_dir.join("secret.key"))?,
    };
    let outbound =
        outbound::Outbound::new(config.webhook_timeout, config.webhook_allow_private, config.webhook_allow_http)?;
    let dns = dns::TxtResolver::new(config.dns_server)?;
    // Identity providers get their own client: a shorter timeout, and their own private-address
    // switch (an IdP on the office network is common; a webhook there is not).
    let sso_http = outbound::Outbound::new(
        std::time::Duration::from_secs(10),
        config.sso_allow_private,
        config.sso_allow_private,
    )?;
    let state = AppState::new(state::Shared {
        db,
        config: Arc::new(config),
        mail_wakeup: Arc::new(tokio::sync::Notify::new()),
        leptos_options,
        api_keys: Default::default(),
        orgs: Arc::new(cache::org_cache()),
        usage: Default::default(),
        limiter,
        secrets,
        outbound,
        webhook_wakeup: Arc::new(tokio::sync::Notify::new()),
        metrics: Default::default(),
        dns,
        sso_http,
        sso_metadata: Arc::new(cache::metadata_cache()),
    });
    let app = router::router(state.clone(), sessions.clone());
    let addr = listener.local_addr()?;
    let (shutdown, watch_shutdown) = watch::channel(false);

    let mut stop_serving = watch_shutdown.clone();
    let http = tokio::spawn(async move {
        let service = app.into_make_service_with_connect_info::<SocketAddr>();
        let graceful = async move {
            let _ = stop_serving.wait_for(|stop| *stop).await;
        };
        if let Err(e) = axum::serve(listener, service).with_graceful_shutdown(graceful).await {
            tracing::error!("server stopped: {e}");
        }
    });
    let mailer = tokio::spawn(jobs::mailer::run(state.clone(), smtp, watch_shutdown.clone()));
    let sweeper = tokio::spawn(jobs::sweeper::run(state.clone(), watch_shutdown.clone()));
    let usage = tokio::spawn(jobs::usage::run(state.clone(), watch_shutdown.clone()));
    let webhooks = tokio::spawn(jobs::webhooks::run(state.clone(), watch_shutdown.clone()));
    let mut stop_expiry = watch_shutdown;
    let session_expiry = tokio::spawn(async move {
        use tower_sessions::session_store::ExpiredDeletion;
        tokio::select! {
            _ = sessions.continuously_delete_expired(std::time::Duration::from_secs(300)) => {}
            _ = stop_expiry.wait_for(|stop| *stop) => {}
        }
    });
    Ok(Running { addr, state, shutdown, tasks: vec![http, mailer, sweeper, usage, webhooks, session_expiry] })
}

/// Checks every audit chain (`gatehouse verify-audit`); true when all are intact.
pub async fn verify_audit(database_url: &str) -> anyhow::Result<bool> {
    let db = Db::connect(database_url).await?;
    db.migrate().await?;
    let mut all_ok = true;
    for chain in db::audit::chains(db.pool()).await.map_err(crate::shared::error::AppError::from)? {
        let status = service::audit::verify_chain(db.pool(), &chain).await?;
        match (status.ok, status.first_broken) {
            (true, _) => println!("ok      {chain}: {} rows", status.checked),
            (false, row) => {
                all_ok = false;
                let row = row.map(|r| format!(" at row {r}")).unwrap_or_default();
                println!("BROKEN  {chain}{row}: {}", status.reason.unwrap_or_default());
            }
        }
    }
    Ok(all_ok)
}

/// Applies migrations and exits (`gatehouse migrate`).
pub async fn migrate(database_url: &str) -> anyhow::Result<()> {
    let db = Db::connect(database_url).await?;
    db.migrate().await?;
    AnySessionStore::open(&db).await?;
    Ok(())
}
