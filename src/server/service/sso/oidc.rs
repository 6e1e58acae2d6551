//! OpenID Connect sign-in (authorization code + PKCE S256) with `openidconnect`: discovery and
//! JWKS through the SSRF-guarded client, cached per connection and fetched again when a token
//! names a key we do not know; state and nonce are random, kept in the browser's session and
//! used once; the id_token's signature, issuer, audience, expiry and nonce are checked.
use super::{IdpIdentity, Refusal};
use crate::server::{db::sso::ConnectionRow, state::AppState};
use crate::shared::{
    error::AppError,
    ids::SsoConnectionId,
    sso::{OidcPreset, OidcSettings},
};
use openidconnect::{
    core::{
        CoreAuthenticationFlow, CoreClient, CoreGenderClaim, CoreJsonWebKey, CoreJweContentEncryptionAlgorithm,
        CoreJwsSigningAlgorithm, CoreProviderMetadata,
    },
    AdditionalClaims, AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret, CsrfToken, EndpointMaybeSet,
    EndpointNotSet, EndpointSet, IdToken, JsonWebKeySet, Nonce, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl,
    Scope, SignatureVerificationError, TokenResponse,
};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Discovery documents and key sets are small; a provider sending more is refused (1 MiB).
const DOCUMENT_CAP: usize = 1 << 20;
/// Clock difference tolerated on the id_token's `iat`.
const IAT_SKEW_SECS: i64 = 120;
/// A sign-in must come back from the provider within this time.
pub const PENDING_TTL_MS: i64 = 10 * 60 * 1000;

const MICROSOFT_PREFIX: &str = "https://login.microsoftonline.com/";
const MICROSOFT_TEMPLATE: &str = "https://login.microsoftonline.com/{tenantid}/v2.0";

type RelyingParty =
    CoreClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointMaybeSet, EndpointMaybeSet>;

/// Claims beyond the standard ones that Gatehouse reads.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct ExtraClaims {
    #[serde(default)]
    groups: Option<Vec<String>>,
    /// Microsoft Entra ID's tenant.
    #[serde(default)]
    tid: Option<String>,
    /// Google: the Workspace domain the account belongs to (absent for consumer accounts).
    #[serde(default)]
    hd: Option<String>,
}

impl AdditionalClaims for ExtraClaims {}

type GatehouseIdToken =
    IdToken<ExtraClaims, CoreGenderClaim, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm>;

/// A sign-in on its way through the provider, kept in the browser's session.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PendingLogin {
    pub connection_id: SsoConnectionId,
    pub state: String,
    pub nonce: String,
    pub pkce_verifier: String,
    /// A path on this site to land on afterwards.
    pub return_to: Option<String>,
    pub started_at_ms: i64,
    /// An admin's trial run of the connection: the result is shown, nobody is signed in.
    #[serde(default)]
    pub trial: bool,
}

/// The one redirect URI of every OIDC connection.
pub fn redirect_uri(app: &AppState) -> String {
    app.config.link("/sso/oidc/callback")
}

/// Multi-tenant (`organizations`) unless a tenant is given; a tenant is an id or a domain.
pub fn microsoft_issuer(tenant: Option<&str>) -> Result<String, AppError> {
    let tenant = tenant.map(str::trim).filter(|t| !t.is_empty()).unwrap_or("organizations");
    if !tenant.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.') {
        return Err(AppError::invalid_field("tenant", "Enter a tenant id (a GUID) or the tenant's domain."));
    }
    Ok(format!("https://login.microsoftonline.com/{tenant}/v2.0"))
}

/// Discovery and keys for the connection, from the cache when fresh.
pub async fn provider(
    app: &AppState,
    row: &ConnectionRow,
    settings: &OidcSettings,
) -> Result<Arc<CoreProviderMetadata>, Refusal> {
    if let Some(cached) = app.sso_metadata.get(&row.id) {
        return Ok(cached);
    }
    let fetched = Arc::new(discover(app, &settings.issuer).await?);
    app.sso_metadata.put(row.id, fetched.clone());
    Ok(fetched)
}

async fn discover(app: &AppState, issuer: &str) -> Result<CoreProviderMetadata, Refusal> {
    let unreachable = |what: String| Refusal::upstream("discovery_failed", what);
    let url = format!("{issuer}/.well-known/openid-configuration");
    let body = app.sso_http.get_capped(&url, "application/json", DOCUMENT_CAP).await.map_err(unreachable)?;
    let metadata: CoreProviderMetadata = serde_json::from_slice(&body)
        .map_err(|e| unreachable(format!("{url} is not an OpenID Connect discovery document ({e}).")))?;
    let named = metadata.issuer().as_str().trim_end_matches('/');
    // Microsoft names its tenants by domain or GUID but its documents by GUID (or, for the
    // multi-tenant endpoints, by the `{tenantid}` template); tokens are then checked against it.
    let microsoft =
        issuer.starts_with(MICROSOFT_PREFIX) && named.starts_with(MICROSOFT_PREFIX) && named.ends_with("/v2.0");
    if named != issuer && !microsoft {
        return Err(unreachable(format!("The discovery document names the issuer {named}, not {issuer}.")));
    }
    let endpoints = [Some(metadata.jwks_uri().url().as_str()), metadata.token_endpoint().map(|t| t.url().as_str())];
    for endpoint in endpoints.into_iter().flatten() {
        app.sso_http.check_url(endpoint).map_err(|why| unreachable(format!("{endpoint}: {why}")))?;
    }
    let jwks_uri = metadata.jwks_uri().url().as_str();
    let body = app.sso_http.get_capped(jwks_uri, "application/json", DOCUMENT_CAP).await.map_err(unreachable)?;
    let jwks: JsonWebKeySet<CoreJsonWebKey> = serde_json::from_slice(&body)
        .map_err(|e| unreachable(format!("{jwks_uri} is not a JSON Web Key Set ({e}).")))?;
    Ok(metadata.set_jwks(jwks))
}

fn relying_party(
    app: &AppState,
    metadata: &CoreProviderMetadata,
    settings: &OidcSettings,
    secret: String,
) -> Result<RelyingParty, Refusal> {
    let redirect = RedirectUrl::new(redirect_uri(app))
        .map_err(|e| Refusal::upstream("bad_configuration", format!("The redirect URI is not valid: {e}.")))?;
    Ok(CoreClient::from_provider_metadata(
        metadata.clone(),
        ClientId::new(settings.client_id.clone()),
        Some(ClientSecret::new(secret)),
    )
    .set_redirect_uri(redirect))
}

/// The provider's authorization URL for a new sign-in, and what to remember until it comes back.
pub async fn begin(
    app: &AppState,
    row: &ConnectionRow,
    return_to: Option<String>,
    trial: bool,
) -> Result<(String, PendingLogin), Refusal> {
    let settings = super::input::oidc_settings(row).map_err(|e| Refusal::upstream("bad_configuration", e.message))?;
    let metadata = provider(app, row, &settings).await?;
    let secret = super::input::secret_of(app, row).map_err(|e| Refusal::upstream("bad_configuration", e.message))?;
    let client = relying_party(app, &metadata, &settings, secret)?;
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, state, nonce) = client
        .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
        .add_scope(Scope::new("email".to_owned()))
        .add_scope(Scope::new("profile".to_owned()))
        .set_pkce_challenge(challenge)
        .url();
    let pending = PendingLogin {
        connection_id: row.id,
        state: state.secret().clone(),
        nonce: nonce.secret().clone(),
        pkce_verifier: verifier.secret().clone(),
        return_to,
        started_at_ms: crate::server::db::to_millis(crate::server::db::now()),
        trial,
    };
    Ok((url.to_string(), pending))
}

/// Exchanges the code and checks the id_token; the identity it vouches for.
pub async fn finish(
    app: &AppState,
    row: &ConnectionRow,
    pending: PendingLogin,
    code: &str,
) -> Result<IdpIdentity, Refusal> {
    let settings = super::input::oidc_settings(row).map_err(|e| Refusal::upstream("bad_configuration", e.message))?;
    let secret = super::input::secret_of(app, row).map_err(|e| Refusal::upstream("bad_configuration", e.message))?;
    let metadata = provider(app, row, &settings).await?;
    let client = relying_party(app, &metadata, &settings, secret.clone())?;
    let request = client
        .exchange_code(AuthorizationCode::new(code.to_owned()))
        .map_err(|e| Refusal::upstream("bad_configuration", format!("The provider has no token endpoint: {e}.")))?;
    let tokens = request
        .set_pkce_verifier(PkceCodeVerifier::new(pending.pkce_verifier.clone()))
        .request_async(app.sso_http.http())
        .await
        .map_err(|e| {
            Refusal::new("code_exchange_failed", format!("The identity provider did not accept the sign-in code: {e}."))
        })?;
    let raw = tokens
        .id_token()
        .ok_or_else(|| Refusal::new("missing_id_token", "The identity provider sent no id_token."))?
        .to_string();
    let token: GatehouseIdToken =
        raw.parse().map_err(|e| Refusal::new("invalid_id_token", format!("The id_token could not be read: {e}.")))?;
    let nonce = Nonce::new(pending.nonce.clone());
    let claims = match verify(&client, &token, &nonce, &metadata) {
        // A key we have not seen: the provider may have rotated; fetch the keys once more.
        Err(ClaimsVerificationError::SignatureVerification(SignatureVerificationError::NoMatchingKey)) => {
            app.sso_metadata.remove(&row.id);
            let metadata = provider(app, row, &settings).await?;
            let client = relying_party(app, &metadata, &settings, secret)?;
            verify(&client, &token, &nonce, &metadata)
        }
        other => other,
    }
    .map_err(explain)?;
    let extra = claims.additional_claims();
    if settings.issuer.starts_with(MICROSOFT_PREFIX) {
        let tenant = extra.tid.as_deref().unwrap_or_default();
        let expected = MICROSOFT_TEMPLATE.replace("{tenantid}", tenant);
        if tenant.is_empty() || claims.issuer().as_str() != expected {
            return Err(Refusal::new(
                "wrong_issuer",
                format!("The id_token's issuer {} does not match its tenant ({tenant}).", claims.issuer().as_str()),
            ));
        }
    }
    let email = claims.email().map(|e| e.as_str().to_owned());
    if settings.preset == Some(OidcPreset::Google) {
        check_google_domain(email.as_deref(), extra.hd.as_deref())?;
    }
    Ok(IdpIdentity {
        subject: claims.subject().as_str().to_owned(),
        email,
        email_verified: claims.email_verified().unwrap_or(false),
        name: claims.name().and_then(|n| n.get(None)).map(|n| n.as_str().to_owned()),
        groups: extra.groups.clone().unwrap_or_default(),
    })
}

/// Any Google account can sign in to a Google client, and consumer or unmanaged accounts can be
/// made for any address. Only a Workspace account, whose `hd` Google sets to its domain, is
/// vouched for by the domain's administrator, so the Google preset requires `hd` to be the
/// address's domain.
fn check_google_domain(email: Option<&str>, hd: Option<&str>) -> Result<(), Refusal> {
    let domain = email.and_then(|e| e.rsplit_once('@')).map(|(_, d)| d.to_ascii_lowercase()).unwrap_or_default();
    match hd.map(str::to_ascii_lowercase) {
        Some(hd) if !domain.is_empty() && hd == domain => Ok(()),
        Some(hd) => Err(Refusal::new(
            "sso_domain_not_verified",
            format!("Google says this account belongs to the Workspace domain {hd}, not to {domain}."),
        )),
        None => Err(Refusal::new(
            "sso_domain_not_verified",
            format!(
                "This Google account is not managed by a Google Workspace domain (no hd claim), so Google does not vouch that {domain} belongs to it. Sign in with your organization's Workspace account."
            ),
        )),
    }
}

fn verify(
    client: &RelyingParty,
    token: &GatehouseIdToken,
    nonce: &Nonce,
    metadata: &CoreProviderMetadata,
) -> Result<openidconnect::IdTokenClaims<ExtraClaims, CoreGenderClaim>, ClaimsVerificationError> {
    // The multi-tenant Microsoft issuer is a template; the tenant check follows in `finish`.
    let template = metadata.issuer().as_str() == MICROSOFT_TEMPLATE;
    // `iat` must not lie in the future (beyond the clock skew other checks allow) nor be older
    // than a sign-in may take.
    let verifier = client.id_token_verifier().require_issuer_match(!template).set_issue_time_verifier_fn(|iat| {
        let now = chrono::Utc::now();
        if iat > now + chrono::Duration::seconds(IAT_SKEW_SECS) {
            return Err(format!("issued in the future ({}s ahead; check the clocks)", (iat - now).num_seconds()));
        }
        if iat < now - chrono::Duration::milliseconds(PENDING_TTL_MS) {
            return Err(format!("issued {}s ago, before this sign-in started", (now - iat).num_seconds()));
        }
        Ok(())
    });
    token.claims(&verifier, nonce).cloned()
}

/// The verification failure in plain words.
fn explain(error: ClaimsVerificationError) -> Refusal {
    use ClaimsVerificationError as E;
    match error {
        E::Expired(why) => Refusal::new(
            "token_expired",
            format!("The id_token has expired ({why}). If this keeps happening, check the clocks of both servers."),
        ),
        E::InvalidAudience(why) => {
            Refusal::new("wrong_audience", format!("The id_token was issued for another application ({why})."))
        }
        E::InvalidIssuer(why) => {
            Refusal::new("wrong_issuer", format!("The id_token comes from an unexpected issuer ({why})."))
        }
        E::InvalidNonce(_) => Refusal::new(
            "wrong_nonce",
            "The id_token does not belong to this sign-in (its nonce does not match). Start again.",
        ),
        E::SignatureVerification(why) => Refusal::new(
            "bad_signature",
            format!(
                "The id_token's signature is not valid: it is unsigned or not signed by the provider's keys ({why})."
            ),
        ),
        other => Refusal::new("invalid_id_token", format!("The id_token was refused: {other}.")),
    }
}

#[cfg(test)]
mod tests {
    use super::{check_google_domain, microsoft_issuer};

    #[test]
    fn google_accounts_count_only_for_their_workspace_domain() {
        assert!(check_google_domain(Some("ann@corp.test"), Some("corp.test")).is_ok());
        assert!(check_google_domain(Some("ann@Corp.Test"), Some("corp.test")).is_ok());
        let refused = |email, hd| check_google_domain(Some(email), hd).unwrap_err().reason;
        assert_eq!(refused("ann@corp.test", None), "sso_domain_not_verified");
        assert_eq!(refused("ann@corp.test", Some("evil.test")), "sso_domain_not_verified");
        assert_eq!(refused("victim@gmail.test", None), "sso_domain_not_verified");
        assert!(check_google_domain(None, Some("corp.test")).is_err());
    }

    #[test]
    fn microsoft_issuers() {
        assert_eq!(microsoft_issuer(None).unwrap(), "https://login.microsoftonline.com/organizations/v2.0");
        assert_eq!(
            microsoft_issuer(Some(" contoso.com ")).unwrap(),
            "https://login.microsoftonline.com/contoso.com/v2.0"
        );
        assert!(microsoft_issuer(Some("evil.example/../x")).is_err());
    }
}
