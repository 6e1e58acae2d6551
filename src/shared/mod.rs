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

/// Transitional: the old name of `accounts`, still used by `server::db` (being changed on another
/// branch). Remove once those `use` lines name `shared::accounts`.
pub use accounts as account;

/// Transitional: the old path of the organization DTOs, still named by `server::db::{orgs,
/// members, invitations, audit}` (being changed on another branch) and one schema attribute in
/// `server::service::orgs`. Remove once those name `shared::{orgs, members, invitations, audit}`.
pub mod org {
    pub use super::audit::AuditEntry;
    pub use super::invitations::{Invitation, InvitationStatus};
    pub use super::members::Member;
    pub use super::orgs::{Limits, Settings, Subscription, SubscriptionStatus, Tier};
}
