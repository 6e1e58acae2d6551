//! Types compiled for both the server and the browser: ids, validated values, DTOs and the one
//! error type. Everything parsed at the edge lives here so both sides agree on the rules.
pub mod accounts;
pub mod api_keys;
pub mod audit;
pub mod domains;
pub mod error;
pub mod ids;
pub mod invitations;
pub mod members;
pub mod orgs;
pub mod roles;
pub mod sso;
pub mod usage;
pub mod values;
pub mod webhooks;
