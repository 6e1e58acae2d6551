//! Integration tests: the real router over HTTP on a random port, a fresh database per test, run
//! once on SQLite and once on Postgres (`both!`), with a real SMTP server process for mail.
mod peers;
mod support;

mod accounts;
mod api_keys;
mod docs;
mod domains;
mod errors;
mod hardening;
mod headers;
mod operations;
mod orgs;
mod pages;
mod proxies;
mod ratelimit;
mod rpc_orgs;
mod sessions;
mod sso;
mod sso_linking;
mod sso_routing;
mod webhook_durability;
mod webhooks;
