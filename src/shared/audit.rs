//! Audit log entries and the status of their hash chain as the API and dashboard show them.
use crate::shared::{
    ids::{AuditId, OrgId},
    webhooks::WebhookEvent,
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

string_enum! {
    /// Every action the audit log records, as stored in `action`.
    pub enum Action {
        ApiKeyCreated = "api_key.created",
        ApiKeyReassigned = "api_key.reassigned",
        ApiKeyRevoked = "api_key.revoked",
        ApiKeyRolled = "api_key.rolled",
        ApiKeyUpdated = "api_key.updated",
        DomainAdded = "domain.added",
        DomainRemoved = "domain.removed",
        DomainUpdated = "domain.updated",
        DomainVerified = "domain.verified",
        InvitationAccepted = "invitation.accepted",
        InvitationCreated = "invitation.created",
        InvitationResent = "invitation.resent",
        InvitationRevoked = "invitation.revoked",
        MemberJoined = "member.joined",
        MemberLeft = "member.left",
        MemberRemoved = "member.removed",
        MemberRoleChanged = "member.role_changed",
        OrganizationCreated = "organization.created",
        OrganizationDeleted = "organization.deleted",
        OrganizationLogoChanged = "organization.logo_changed",
        OrganizationLogoRemoved = "organization.logo_removed",
        OrganizationOwnershipTransferred = "organization.ownership_transferred",
        OrganizationUpdated = "organization.updated",
        SsoIdentityLinked = "sso.identity_linked",
        SsoIdentityUnlinked = "sso.identity_unlinked",
        SsoLinkRequested = "sso.link_requested",
        SsoLoginFailed = "sso.login_failed",
        SsoConnectionCreated = "sso_connection.created",
        SsoConnectionDeleted = "sso_connection.deleted",
        SsoConnectionUpdated = "sso_connection.updated",
        UserBreakGlassSignIn = "user.break_glass_sign_in",
        UserSignInRefused = "user.sign_in_refused",
        UserSignedIn = "user.signed_in",
        WebhookCreated = "webhook.created",
        WebhookDeleted = "webhook.deleted",
        WebhookDeliveryRetried = "webhook.delivery_retried",
        WebhookDisabled = "webhook.disabled",
        WebhookSecretRotated = "webhook.secret_rotated",
        WebhookTestSent = "webhook.test_sent",
        WebhookUpdated = "webhook.updated",
    }
}

impl Action {
    /// The webhook events the action emits besides `audit.event`, which every row emits. Listed
    /// for every action (no catch-all), so a new action cannot be forgotten here.
    pub fn webhook_events(self) -> &'static [WebhookEvent] {
        match self {
            Action::InvitationAccepted => &[WebhookEvent::InvitationAccepted, WebhookEvent::MemberAdded],
            Action::MemberLeft => &[WebhookEvent::MemberRemoved],
            Action::OrganizationUpdated => &[WebhookEvent::OrganizationUpdated],
            Action::OrganizationDeleted => &[WebhookEvent::OrganizationDeleted],
            Action::MemberRemoved => &[WebhookEvent::MemberRemoved],
            Action::MemberRoleChanged => &[WebhookEvent::MemberRoleChanged],
            Action::InvitationCreated => &[WebhookEvent::InvitationCreated],
            Action::InvitationRevoked => &[WebhookEvent::InvitationRevoked],
            Action::ApiKeyCreated => &[WebhookEvent::ApiKeyCreated],
            Action::ApiKeyRevoked => &[WebhookEvent::ApiKeyRevoked],
            Action::WebhookDisabled => &[WebhookEvent::WebhookDisabled],
            Action::ApiKeyReassigned
            | Action::ApiKeyRolled
            | Action::ApiKeyUpdated
            | Action::DomainAdded
            | Action::DomainRemoved
            | Action::DomainUpdated
            | Action::DomainVerified
            | Action::InvitationResent
            | Action::MemberJoined
            | Action::OrganizationCreated
            | Action::OrganizationLogoChanged
            | Action::OrganizationLogoRemoved
            | Action::OrganizationOwnershipTransferred
            | Action::SsoIdentityLinked
            | Action::SsoIdentityUnlinked
            | Action::SsoLinkRequested
            | Action::SsoLoginFailed
            | Action::SsoConnectionCreated
            | Action::SsoConnectionDeleted
            | Action::SsoConnectionUpdated
            | Action::UserBreakGlassSignIn
            | Action::UserSignInRefused
            | Action::UserSignedIn
            | Action::WebhookCreated
            | Action::WebhookDeleted
            | Action::WebhookDeliveryRetried
            | Action::WebhookSecretRotated
            | Action::WebhookTestSent
            | Action::WebhookUpdated => &[],
        }
    }
}

#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub id: AuditId,
    pub organization_id: Option<OrgId>,
    pub seq: i64,
    pub actor_type: String,
    pub actor_id: Option<String>,
    pub actor_name: String,
    pub action: String,
    pub resource_type: String,
    pub resource_id: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub metadata: serde_json::Value,
    pub created_at: DateTime<Utc>,
    pub hash: String,
}

#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChainStatus {
    pub ok: bool,
    pub checked: i64,
    /// The first row that does not match the chain, when `ok` is false.
    pub first_broken: Option<AuditId>,
    pub reason: Option<String>,
}
