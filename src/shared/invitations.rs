//! Invitations to an organization as the API, the dashboard and the invitation page show them.
use crate::shared::{
    ids::{InvitationId, OrgId, UserId},
    roles::Role,
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InvitationStatus {
    Pending,
    Accepted,
    Revoked,
    Expired,
}

#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Invitation {
    pub id: InvitationId,
    pub organization_id: OrgId,
    pub email: String,
    pub role: Role,
    pub status: InvitationStatus,
    pub invited_by: Option<UserId>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub accepted_at: Option<DateTime<Utc>>,
}

/// An invitation as its recipient sees it before accepting (from the token alone).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InvitationPreview {
    pub organization_name: String,
    pub primary_color: Option<String>,
    pub logo_url: Option<String>,
    pub email: String,
    pub role: Role,
    pub invited_by_name: Option<String>,
    pub status: InvitationStatus,
    pub expires_at: DateTime<Utc>,
}

/// A new invitation; `link` carries the secret token and is shown only in this answer.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IssuedInvitation {
    #[serde(flatten)]
    pub invitation: Invitation,
    pub link: String,
}
