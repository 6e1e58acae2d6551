//! API keys as the API and the dashboard show them. The secret appears only in `IssuedApiKey`,
//! once.
use crate::shared::{
    ids::{ApiKeyId, OrgId, UserId},
    roles::Permission,
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ApiKeyStatus {
    Active,
    Expired,
    Revoked,
    /// The person who created it left the organization: it works again only once an Owner takes
    /// it over (a key never has more than its creator currently has).
    CreatorRemoved,
}

/// A key named in another answer (e.g. the keys a removed member leaves behind).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct KeyRef {
    #[cfg_attr(feature = "ssr", schema(value_type = String, format = Uuid))]
    pub id: ApiKeyId,
    pub name: String,
    pub key_prefix: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ApiKey {
    #[cfg_attr(feature = "ssr", schema(value_type = String, format = Uuid))]
    pub id: ApiKeyId,
    #[cfg_attr(feature = "ssr", schema(value_type = String, format = Uuid))]
    pub organization_id: OrgId,
    pub name: String,
    /// The first characters of the key, to recognise it (`gk_live_AbCd`).
    pub key_prefix: String,
    #[cfg_attr(feature = "ssr", schema(value_type = Vec<String>, example = json!(["org:read", "members:read"])))]
    pub scopes: Vec<Permission>,
    /// Requests per hour for this key; `null` means the organization's tier limit.
    pub rate_limit_per_hour: Option<i64>,
    pub status: ApiKeyStatus,
    #[cfg_attr(feature = "ssr", schema(value_type = Option<String>, format = Uuid))]
    pub created_by: Option<UserId>,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    /// While a roll's grace period runs, the previous secret keeps working until then.
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub total_requests: i64,
}

/// A new or rolled key: `secret` is the whole key, shown only in this answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct IssuedApiKey {
    #[serde(flatten)]
    pub key: ApiKey,
    pub secret: String,
}
