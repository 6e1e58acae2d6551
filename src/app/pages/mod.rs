//! One module per area of the dashboard.
pub mod accounts;
pub mod auth;
pub mod dev_outbox;
pub mod home;
pub mod not_found;
pub mod orgs;
