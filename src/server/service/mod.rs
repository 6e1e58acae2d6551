//! The business layer: the only place rules live. REST handlers (`server::api`) and server
//! functions (`rpc`) are thin adapters over these functions.
pub mod accounts;
pub mod api_keys;
pub mod audit;
pub mod domains;
pub mod invitations;
pub mod logo;
pub mod mail;
pub mod members;
pub mod orgs;
pub mod outbox;
pub mod prelude;
pub mod sso;
pub mod usage;
pub mod webhooks;
