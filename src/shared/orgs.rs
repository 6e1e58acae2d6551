//! Organizations (tier, limits, settings, statistics) as the API and dashboard show them, and the
//! values an organization is made of: its slug and primary colour.
use crate::shared::{
    error::AppError,
    ids::{OrgId, UserId},
    roles::{Permission, Role},
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Subscription tiers; each has default limits.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    Free,
    Premium,
    Plus,
    Enterprise,
}

impl Tier {
    pub const ALL: [Tier; 4] = [Tier::Free, Tier::Premium, Tier::Plus, Tier::Enterprise];

    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Free => "free",
            Tier::Premium => "premium",
            Tier::Plus => "plus",
            Tier::Enterprise => "enterprise",
        }
    }

    pub fn parse(raw: &str) -> Option<Tier> {
        Tier::ALL.into_iter().find(|t| t.as_str() == raw)
    }

    /// (max_users, max_api_calls_per_hour). Enterprise starts at these and is then set per org.
    pub fn default_limits(self) -> Limits {
        let (max_users, max_api_calls_per_hour) = match self {
            Tier::Free => (5, 1_000),
            Tier::Premium => (25, 10_000),
            Tier::Plus => (100, 50_000),
            Tier::Enterprise => (1_000, 500_000),
        };
        Limits { max_users, max_api_calls_per_hour }
    }
}

#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubscriptionStatus {
    Active,
    Trialing,
    PastDue,
    Canceled,
}

impl SubscriptionStatus {
    pub const ALL: [SubscriptionStatus; 4] = [
        SubscriptionStatus::Active,
        SubscriptionStatus::Trialing,
        SubscriptionStatus::PastDue,
        SubscriptionStatus::Canceled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SubscriptionStatus::Active => "active",
            SubscriptionStatus::Trialing => "trialing",
            SubscriptionStatus::PastDue => "past_due",
            SubscriptionStatus::Canceled => "canceled",
        }
    }

    pub fn parse(raw: &str) -> Option<SubscriptionStatus> {
        SubscriptionStatus::ALL.into_iter().find(|s| s.as_str() == raw)
    }
}

#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    pub max_users: i64,
    pub max_api_calls_per_hour: i64,
}

#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    pub primary_color: Option<String>,
    pub logo_url: Option<String>,
    pub sso_enabled: bool,
    pub api_enabled: bool,
}

#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Subscription {
    pub tier: Tier,
    pub status: SubscriptionStatus,
}

#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Organization {
    pub id: OrgId,
    pub name: String,
    pub slug: String,
    pub settings: Settings,
    pub subscription: Subscription,
    pub limits: Limits,
    pub owner_id: UserId,
    pub member_count: i64,
    /// The caller's own role here.
    pub my_role: Role,
    /// What the caller may do here (role plus extra grants), so pages show only usable buttons.
    pub my_permissions: Vec<Permission>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DayCount {
    pub day: String,
    pub count: i64,
}

#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrgStats {
    pub member_count: i64,
    pub members_by_role: Vec<(Role, i64)>,
    pub pending_invitations: i64,
    pub limits: Limits,
    /// Audit events per day over the last 30 days, oldest first.
    pub audit_events_per_day: Vec<DayCount>,
}

/// A URL-safe organization handle: 3–48 chars of a-z, 0-9 and single inner hyphens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct OrgSlug(String);

impl OrgSlug {
    pub fn parse(raw: &str) -> Result<Self, AppError> {
        let slug = raw.trim().to_lowercase();
        let ok = (3..=48).contains(&slug.len())
            && slug.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !slug.starts_with('-')
            && !slug.ends_with('-')
            && !slug.contains("--");
        if !ok {
            return Err(AppError::invalid_field(
                "slug",
                "Use 3–48 lower-case letters, digits and single hyphens (not at the start or end).",
            ));
        }
        Ok(Self(slug))
    }

    /// A slug suggestion from a display name ("Acme, Inc." → "acme-inc").
    pub fn suggest(name: &str) -> String {
        let mut slug = String::new();
        for c in name.trim().to_lowercase().chars() {
            if c.is_ascii_alphanumeric() {
                slug.push(c);
            } else if !slug.is_empty() && !slug.ends_with('-') {
                slug.push('-');
            }
        }
        let slug = slug.trim_end_matches('-');
        let slug: String = slug.chars().take(40).collect();
        if slug.len() < 3 {
            format!("org-{slug}").trim_end_matches('-').to_owned()
        } else {
            slug
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for OrgSlug {
    type Error = AppError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<OrgSlug> for String {
    fn from(value: OrgSlug) -> Self {
        value.0
    }
}

/// A `#rrggbb` colour, lower-cased.
pub fn parse_color(raw: &str) -> Result<String, AppError> {
    let color = raw.trim().to_lowercase();
    let ok = color.len() == 7 && color.starts_with('#') && color[1..].chars().all(|c| c.is_ascii_hexdigit());
    if !ok {
        return Err(AppError::invalid_field("primary_color", "Use a colour like #2f5bd3."));
    }
    Ok(color)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        assert_eq!(OrgSlug::parse(" Acme-Corp ").unwrap().as_str(), "acme-corp");
        for bad in ["ab", "-acme", "acme-", "ac--me", "acme corp", "acmé"] {
            assert!(OrgSlug::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(OrgSlug::suggest("Acme, Inc."), "acme-inc");
        assert!(OrgSlug::parse(&OrgSlug::suggest("X")).is_ok());
        assert!(OrgSlug::parse(&OrgSlug::suggest("Ünïcode!!")).is_ok());
    }

    #[test]
    fn colours() {
        assert_eq!(parse_color("#2F5BD3").unwrap(), "#2f5bd3");
        assert!(parse_color("red").is_err() && parse_color("#12345").is_err());
    }
}
