//! Email domains an organization proves it owns, for routing sign-ins to its identity provider.
use crate::shared::ids::{DomainId, OrgId, SsoConnectionId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The TXT value that proves a claim: `gatehouse-verification=<token>`.
pub const VERIFICATION_PREFIX: &str = "gatehouse-verification=";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum DomainStatus {
    /// Claimed; the TXT record has not been found yet.
    Pending,
    Verified,
}

/// The DNS record to publish.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct DnsRecord {
    /// Always `TXT`.
    #[serde(rename = "type")]
    pub record_type: String,
    /// The name to publish it at: the domain itself.
    pub name: String,
    /// `gatehouse-verification=<token>`.
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Domain {
    #[cfg_attr(feature = "ssr", schema(value_type = String, format = Uuid))]
    pub id: DomainId,
    #[cfg_attr(feature = "ssr", schema(value_type = String, format = Uuid))]
    pub organization_id: OrgId,
    /// Lower case; internationalised names in their ASCII (punycode) form.
    pub domain: String,
    pub status: DomainStatus,
    /// What to publish in DNS before asking for verification.
    pub verification: DnsRecord,
    pub verified_at: Option<DateTime<Utc>>,
    /// When verification was last attempted, and why it failed if it did.
    pub last_checked_at: Option<DateTime<Utc>>,
    pub last_check_error: Option<String>,
    /// Sign-ins with addresses at this domain go to this connection (`/sso/start?email=`).
    #[cfg_attr(feature = "ssr", schema(value_type = Option<String>, format = Uuid))]
    pub connection_id: Option<SsoConnectionId>,
    /// Password sign-in is refused for these addresses (owners keep a break-glass path).
    pub require_sso: bool,
    pub created_at: DateTime<Utc>,
}
