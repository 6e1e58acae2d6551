//! Types compiled for both the server and the browser: ids, validated values, DTOs and the one
//! error type. Everything parsed at the edge lives here so both sides agree on the rules.
pub mod account;
pub mod api_keys;
pub mod domains;
pub mod error;
pub mod ids;
pub mod org;
pub mod roles;
pub mod sso;
pub mod values;
pub mod webhooks;
