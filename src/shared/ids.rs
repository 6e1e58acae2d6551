//! Typed ids: a `UserId` can never be passed where a `SessionId` is expected.
use serde::{Deserialize, Serialize};
use std::{fmt, str::FromStr};
use uuid::Uuid;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A fresh, time-ordered (UUIDv7) id.
            #[cfg(feature = "ssr")]
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }
        }

        #[cfg(feature = "ssr")]
        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }
    };
}

id_type!(
    /// A person with an account.
    UserId
);
id_type!(
    /// One signed-in browser session of a user (the row users see and revoke on /account).
    SessionId
);
id_type!(
    /// One message in the email outbox.
    EmailId
);
id_type!(
    /// A tenant: everything below an organization is reachable only through its `OrgScope`.
    OrgId
);
id_type!(
    /// An invitation to join an organization.
    InvitationId
);
id_type!(
    /// One row of an audit chain.
    AuditId
);
id_type!(
    /// An API key of one organization (the id, not the secret).
    ApiKeyId
);
id_type!(
    /// A webhook endpoint of one organization.
    WebhookId
);
id_type!(
    /// One event sent to webhooks: also its `webhook-id`, the same on every attempt.
    WebhookEventId
);
id_type!(
    /// One event on its way to one endpoint (with all its attempts).
    DeliveryId
);
id_type!(
    /// An email domain claimed by one organization.
    DomainId
);
id_type!(
    /// One organization's connection to an identity provider (OIDC, SAML or LDAP).
    SsoConnectionId
);
