//! API usage (metered calls per hour and per key) as the API and the dashboard show it.
use crate::shared::ids::ApiKeyId;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Calls in one hour, split by status class.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct UsageHour {
    pub hour: DateTime<Utc>,
    pub success: i64,
    pub client_error: i64,
    pub server_error: i64,
}

/// Calls of one key (or of signed-in people, `key_id: null`) over the report's window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct UsageByKey {
    #[cfg_attr(feature = "ssr", schema(value_type = Option<String>, format = Uuid))]
    pub key_id: Option<ApiKeyId>,
    pub name: String,
    pub calls: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct UsageReport {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// The tier's `max_api_calls_per_hour`, to plot against.
    pub limit_per_hour: i64,
    /// Every hour of the window, oldest first (hours without calls are zeros).
    pub hours: Vec<UsageHour>,
    pub by_key: Vec<UsageByKey>,
}
