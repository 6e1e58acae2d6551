//! SAML 2.0 service provider with `samael` (xmlsec): SP-initiated sign-in over HTTP-Redirect, the
//! answer over HTTP-POST to the connection's ACS. samael checks the signature against the IdP's
//! certificates only, with an allowlist of algorithms (no SHA-1), and keeps only what the
//! signature covers (so a wrapped, unsigned assertion is never read); it also checks Destination,
//! Recipient, Audience, the time window and InResponseTo. Here: metadata without a signing
//! certificate is refused up front, request ids are 128-bit and single use, and assertion ids are
//! remembered until they expire, so a response cannot be replayed.
use super::{IdpIdentity, Refusal};
use crate::server::{
    auth::token,
    db::{self, sso::ConnectionRow},
    state::AppState,
};
use crate::shared::{error::AppError, ids::SsoConnectionId, sso::SamlSettings};
use base64::{engine::general_purpose::STANDARD, Engine};
use chrono::{DateTime, Duration, Utc};
use samael::{
    crypto::AllowedSignatureAlgorithm,
    metadata::{EntityDescriptor, HTTP_REDIRECT_BINDING},
    schema::Assertion,
    service_provider::{Error as SamlError, ServiceProvider, ServiceProviderBuilder},
    traits::ToXml,
};
use serde::{Deserialize, Serialize};

/// Clock difference tolerated on NotBefore / NotOnOrAfter.
const SKEW_SECS: i64 = 120;
/// A sign-in must come back from the IdP within this time.
const REQUEST_TTL_MINUTES: i64 = 10;
const METADATA_CAP: usize = 1 << 20;
/// Sign-ins one browser may have open at once through one connection (a few tabs).
const OPEN_PER_BROWSER: i64 = 10;

/// The secret in a browser's SAML binding cookie, set when it starts a sign-in. The IdP's POST to
/// the ACS comes from another site, where the SameSite=Lax session cookie is not sent; this cookie
/// (SameSite=None, Secure, path-limited to the ACS) is, so the response can be tied to the browser
/// that asked for it.
pub struct BrowserBinding(String);

impl BrowserBinding {
    pub const COOKIE: &'static str = "gatehouse_saml_binding";

    pub fn generate() -> BrowserBinding {
        BrowserBinding(token::generate())
    }

    /// A binding read back from the cookie; anything that is not one of ours is ignored.
    pub fn from_cookie(value: &str) -> Option<BrowserBinding> {
        (value.len() == 43 && value.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
            .then(|| BrowserBinding(value.to_owned()))
    }

    pub fn secret(&self) -> &str {
        &self.0
    }

    fn hash(&self) -> String {
        token::hash(&self.0)
    }
}

/// What a SAML connection stores (in `sso_connections.settings`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredSaml {
    pub idp_metadata_xml: String,
    pub idp_metadata_url: Option<String>,
    pub allow_idp_initiated: bool,
    pub idp_entity_id: String,
    pub idp_sso_url: String,
}

pub fn sp_entity_id(app: &AppState, id: SsoConnectionId) -> String {
    app.config.link(&format!("/sso/saml/{id}/metadata"))
}

pub fn acs_url(app: &AppState, id: SsoConnectionId) -> String {
    app.config.link(&format!("/sso/saml/{id}/acs"))
}

pub fn stored(row: &ConnectionRow) -> Result<StoredSaml, AppError> {
    serde_json::from_value(row.settings.clone())
        .map_err(|e| crate::server::error::internal(format!("stored SAML settings: {e}")))
}

pub fn view(app: &AppState, row: &ConnectionRow) -> Result<SamlSettings, AppError> {
    let stored = stored(row)?;
    Ok(SamlSettings {
        idp_entity_id: stored.idp_entity_id,
        idp_sso_url: stored.idp_sso_url,
        idp_metadata_url: stored.idp_metadata_url,
        allow_idp_initiated: stored.allow_idp_initiated,
        sp_entity_id: sp_entity_id(app, row.id),
        acs_url: acs_url(app, row.id),
    })
}

/// Reads IdP metadata. Refused: not metadata, no IdP role, no signing certificate (we accept only
/// signed assertions, so we need the key to check them), no HTTP-Redirect sign-in endpoint.
pub fn read_metadata(
    field: &str,
    xml: &str,
    url: Option<String>,
    allow_idp_initiated: bool,
) -> Result<StoredSaml, AppError> {
    let bad = |why: String| AppError::invalid_field(field, &why);
    let descriptor: EntityDescriptor =
        xml.trim().parse().map_err(|e| bad(format!("This is not SAML metadata (an EntityDescriptor): {e}.")))?;
    let entity_id = descriptor.entity_id.clone().ok_or_else(|| bad("The metadata has no entityID.".to_owned()))?;
    let sp = ServiceProvider { idp_metadata: descriptor.clone(), ..ServiceProvider::default() };
    let certificates =
        sp.idp_signing_certs().map_err(|e| bad(format!("The IdP's certificate cannot be read: {e}.")))?;
    if certificates.is_none_or(|c| c.is_empty()) {
        return Err(bad(
            "The IdP metadata has no signing certificate. Gatehouse accepts only signed assertions and needs the IdP's certificate to check them."
                .to_owned(),
        ));
    }
    let sso_url = descriptor
        .idp_sso_descriptors
        .iter()
        .flatten()
        .flat_map(|idp| idp.single_sign_on_services.iter())
        .find(|endpoint| endpoint.binding == HTTP_REDIRECT_BINDING)
        .map(|endpoint| endpoint.location.clone())
        .ok_or_else(|| bad("The metadata has no SingleSignOnService with the HTTP-Redirect binding.".to_owned()))?;
    Ok(StoredSaml {
        idp_metadata_xml: xml.trim().to_owned(),
        idp_metadata_url: url,
        allow_idp_initiated,
        idp_entity_id: entity_id,
        idp_sso_url: sso_url,
    })
}

/// Fetches metadata from the IdP through the SSRF-guarded client (at most 1 MiB).
pub async fn fetch_metadata(app: &AppState, raw_url: &str) -> Result<(String, String), AppError> {
    let bad = |why: String| AppError::invalid_field("idp_metadata_url", &why);
    let url = app.sso_http.check_url(raw_url).map_err(bad)?;
    let body = app
        .sso_http
        .get_capped(url.as_str(), "application/samlmetadata+xml, application/xml, text/xml", METADATA_CAP)
        .await
        .map_err(bad)?;
    let xml = String::from_utf8(body).map_err(|_| bad("The metadata is not UTF-8 text.".to_owned()))?;
    Ok((url.to_string(), xml))
}

fn service_provider(app: &AppState, row: &ConnectionRow, stored: &StoredSaml) -> Result<ServiceProvider, Refusal> {
    let broken = |why: String| Refusal::upstream("bad_configuration", why);
    let idp_metadata: EntityDescriptor =
        stored.idp_metadata_xml.parse().map_err(|e| broken(format!("The stored IdP metadata cannot be read: {e}.")))?;
    let entity_id = sp_entity_id(app, row.id);
    ServiceProviderBuilder::default()
        .entity_id(entity_id.clone())
        .metadata_url(entity_id)
        .acs_url(acs_url(app, row.id))
        .slo_url(None)
        .idp_metadata(idp_metadata)
        .allow_idp_initiated(stored.allow_idp_initiated)
        .max_clock_skew(Duration::seconds(SKEW_SECS))
        .max_issue_delay(Duration::seconds(SKEW_SECS + 180))
        .allowed_signature_algorithms(vec![
            AllowedSignatureAlgorithm::RsaSha256,
            AllowedSignatureAlgorithm::RsaSha384,
            AllowedSignatureAlgorithm::RsaSha512,
            AllowedSignatureAlgorithm::EcdsaSha256,
            AllowedSignatureAlgorithm::EcdsaSha384,
            AllowedSignatureAlgorithm::EcdsaSha512,
        ])
        .build()
        .map_err(|e| broken(format!("The service provider cannot be set up: {e}.")))
}

/// Our metadata, for the IdP's administrator.
pub fn sp_metadata(app: &AppState, row: &ConnectionRow) -> Result<String, AppError> {
    let stored = stored(row)?;
    let mut sp = service_provider(app, row, &stored).map_err(|r| crate::server::error::internal(r.message))?;
    // samael insists on a logout endpoint; Gatehouse has none, so it is taken out again.
    sp.slo_url = Some(acs_url(app, row.id));
    let mut descriptor = sp.metadata().map_err(|e| crate::server::error::internal(format!("SP metadata: {e}")))?;
    for role in descriptor.sp_sso_descriptors.iter_mut().flatten() {
        role.single_logout_services = None;
    }
    descriptor.to_string().map_err(|e| crate::server::error::internal(format!("SP metadata: {e:?}")))
}

/// The IdP's sign-in URL for a new AuthnRequest, whose id is remembered until it is answered.
pub async fn begin(
    app: &AppState,
    row: &ConnectionRow,
    return_to: Option<String>,
    trial: bool,
    browser: &BrowserBinding,
) -> Result<String, Refusal> {
    let broken = |why: String| Refusal::upstream("bad_configuration", why);
    let stored = stored(row).map_err(|e| broken(e.message))?;
    let sp = service_provider(app, row, &stored)?;
    let mut request = sp
        .make_authentication_request(&stored.idp_sso_url)
        .map_err(|e| broken(format!("The sign-in request cannot be made: {e}.")))?;
    // samael's ids carry 32 random bits; ours carry 128 or more (and start with a letter, as
    // xs:ID requires).
    request.id = format!("_{}", token::generate());
    let url = request
        .redirect("")
        .map_err(|e| broken(format!("The sign-in request cannot be encoded: {e}.")))?
        .ok_or_else(|| broken("The IdP has no sign-in URL.".to_owned()))?;
    let expires = db::now() + Duration::minutes(REQUEST_TTL_MINUTES);
    let saved = async {
        let mut tx = app.db.begin_write().await?;
        let saved = db::sso::SamlRequest {
            id: &request.id,
            connection: row.id,
            browser_hash: &browser.hash(),
            return_to: return_to.as_deref(),
            trial,
            expires_at: expires,
        };
        db::sso::insert_saml_request(&mut tx, saved).await?;
        Ok::<_, AppError>(db::commit(tx).await?)
    };
    saved.await.map_err(|e| broken(e.message))?;
    Ok(url.to_string())
}

/// What a checked response says: who, where to land, and whether it ends a trial run.
pub struct Answered {
    pub identity: IdpIdentity,
    pub return_to: Option<String>,
    pub trial: bool,
}

/// Checks a posted `SAMLResponse`. (Refused before the request is known, a trial run's failure
/// shows as a sign-in's would: on the refusal page.) Only requests that this browser sent count:
/// a response obtained by someone else, posted from another site into this browser, answers none
/// of them (login CSRF).
pub async fn finish(
    app: &AppState,
    row: &ConnectionRow,
    encoded: &str,
    relay_state: Option<String>,
    browser: Option<&BrowserBinding>,
) -> Result<Answered, Refusal> {
    let broken = |why: String| Refusal::upstream("bad_configuration", why);
    let stored = stored(row).map_err(|e| broken(e.message))?;
    let sp = service_provider(app, row, &stored)?;
    let xml = decode(encoded)?;
    let now = db::now();
    let browser_hash = browser.map(BrowserBinding::hash).unwrap_or_default();
    let open = match browser {
        Some(_) => db::sso::open_saml_requests(app.db.pool(), row.id, &browser_hash, now, OPEN_PER_BROWSER)
            .await
            .map_err(|e| broken(AppError::from(e).message))?,
        None => Vec::new(),
    };
    let open: Vec<&str> = open.iter().map(String::as_str).collect();
    let assertion = sp.parse_xml_response(&xml, Some(&open)).map_err(|e| explain(e, now))?;
    check_audience(&assertion, &sp_entity_id(app, row.id))?;
    let identity = identity(&assertion)?;
    let answered = assertion
        .subject
        .iter()
        .flat_map(|s| s.subject_confirmations.iter().flatten())
        .find_map(|c| c.subject_confirmation_data.as_ref()?.in_response_to.clone());
    let expires = assertion.conditions.as_ref().and_then(|c| c.not_on_or_after).unwrap_or(now + Duration::minutes(10))
        + Duration::seconds(SKEW_SECS);
    let used = async {
        let mut tx = app.db.begin_write().await?;
        let return_to = match &answered {
            Some(id) => match db::sso::take_saml_request(&mut tx, row.id, &browser_hash, id).await? {
                Some(found) => Ok(found),
                None => Err(Refusal::new(
                    "unknown_request",
                    "This SAML response answers a sign-in that this browser did not start, or one that was already completed. Start again from the sign-in page.",
                )),
            },
            None => Ok((relay_state.filter(|p| crate::shared::values::is_local_path(p)), false)),
        };
        let answered = match return_to {
            Ok(r) => r,
            Err(refusal) => return Ok(Err(refusal)),
        };
        if !db::sso::first_sighting(&mut tx, row.id, &assertion.id, expires).await? {
            return Ok(Err(Refusal::new(
                "replayed",
                "This SAML assertion was already used once; it cannot sign in again.",
            )));
        }
        db::commit(tx).await?;
        Ok::<_, AppError>(Ok(answered))
    };
    let (return_to, trial) = used.await.map_err(|e| broken(e.message))??;
    Ok(Answered { identity, return_to, trial })
}

/// The posted response as XML text. A document type declaration is refused before any parser sees
/// it: SAML never needs one, and internal subsets or external entities are how XML parsers are
/// attacked (entity expansion, file and network reads).
fn decode(encoded: &str) -> Result<String, Refusal> {
    let compact: String = encoded.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let xml = STANDARD
        .decode(compact)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(|| Refusal::new("malformed_response", "The SAMLResponse is not base64-encoded XML."))?;
    if xml.to_ascii_uppercase().contains("<!DOCTYPE") {
        return Err(Refusal::new(
            "doctype_refused",
            "The SAML response contains a document type declaration (<!DOCTYPE>). SAML messages never need one and it can hide entity attacks, so the response was refused.",
        ));
    }
    Ok(xml)
}

/// The Web Browser SSO profile requires an AudienceRestriction naming us; samael checks one only
/// when it is present, so an assertion without any is refused here.
fn check_audience(assertion: &Assertion, entity_id: &str) -> Result<(), Refusal> {
    let restrictions = assertion.conditions.as_ref().and_then(|c| c.audience_restrictions.as_ref());
    let names_us = restrictions.is_some_and(|all| {
        !all.is_empty() && all.iter().all(|r| r.audience.iter().any(|audience| audience == entity_id))
    });
    if names_us {
        return Ok(());
    }
    Err(Refusal::new(
        "wrong_audience",
        format!("The assertion has no AudienceRestriction naming this service ({entity_id}), so it could be meant for any service."),
    ))
}

/// The person in a verified assertion: NameID as the subject; email, name and groups from the
/// usual attribute names (short, URI and OID forms), email falling back to an email NameID.
/// Without a NameID there is nobody to link the sign-in to (every such user would be one).
fn identity(assertion: &Assertion) -> Result<IdpIdentity, Refusal> {
    let name_id = assertion.subject.as_ref().and_then(|s| s.name_id.as_ref());
    let attributes: Vec<_> =
        assertion.attribute_statements.iter().flatten().flat_map(|statement| statement.attributes.iter()).collect();
    let values = |names: &[&str]| -> Vec<String> {
        attributes
            .iter()
            .filter(|a| {
                [a.name.as_deref(), a.friendly_name.as_deref()].into_iter().flatten().any(|n| {
                    let short = n.rsplit(['/', ':']).next().unwrap_or(n);
                    names.iter().any(|wanted| wanted.eq_ignore_ascii_case(n) || wanted.eq_ignore_ascii_case(short))
                })
            })
            .flat_map(|a| a.values.iter().filter_map(|v| v.value.clone()))
            .collect()
    };
    let email_name_id =
        name_id.filter(|n| n.format.as_deref().is_some_and(|f| f.ends_with("emailAddress"))).map(|n| n.value.clone());
    let subject = name_id.map(|n| n.value.trim().to_owned()).filter(|v| !v.is_empty()).ok_or_else(|| {
        Refusal::new("missing_subject", "The assertion has no NameID, so the person cannot be identified. Configure the IdP to send a persistent or email NameID.")
    })?;
    Ok(IdpIdentity {
        subject,
        email: values(&["email", "mail", "emailaddress", "0.9.2342.19200300.100.1.3"])
            .into_iter()
            .next()
            .or(email_name_id),
        // Trusted only on the organization's verified domains: `linking` refuses any other.
        email_verified: true,
        name: values(&["name", "displayName", "2.16.840.1.113730.3.1.241"]).into_iter().next(),
        groups: values(&["groups", "memberOf", "group"]),
    })
}

fn seconds_between(time: &str, now: DateTime<Utc>) -> i64 {
    DateTime::parse_from_rfc3339(time).map(|t| (now - t.with_timezone(&Utc)).num_seconds().abs()).unwrap_or_default()
}

/// samael's verdict in plain words.
fn explain(error: SamlError, now: DateTime<Utc>) -> Refusal {
    use SamlError as E;
    let expired = |time: &str| {
        Refusal::new(
            "expired",
            format!(
                "The assertion expired at {time}, {} seconds ago (allowing {SKEW_SECS} s of clock skew). Check the clocks of the IdP and this server.",
                seconds_between(time, now)
            ),
        )
    };
    let early = |time: &str| {
        Refusal::new(
            "not_yet_valid",
            format!(
                "The assertion is not valid until {time}, {} seconds from now (allowing {SKEW_SECS} s of clock skew). Check the clocks of the IdP and this server.",
                seconds_between(time, now)
            ),
        )
    };
    match error {
        E::FailedToValidateSignature => Refusal::new(
            "bad_signature",
            "The SAML response is not signed by the IdP's certificate: it is unsigned, signed by another key, or signed with an algorithm that is refused (such as SHA-1).",
        ),
        E::AssertionConditionAudienceRestrictionFailed { requirement } => Refusal::new(
            "wrong_audience",
            format!("The assertion is meant for another service: its Audience is not {requirement}."),
        ),
        E::AssertionRecipientMismatch { assertion_recipient, sp_acs_url } => Refusal::new(
            "wrong_recipient",
            format!(
                "The assertion's Recipient ({}) is not this connection's ACS URL ({}).",
                assertion_recipient.unwrap_or_default(),
                sp_acs_url.unwrap_or_default()
            ),
        ),
        E::DestinationValidationError { response_destination, sp_acs_url } => Refusal::new(
            "wrong_destination",
            format!(
                "The response's Destination ({}) is not this connection's ACS URL ({}).",
                response_destination.unwrap_or_default(),
                sp_acs_url.unwrap_or_default()
            ),
        ),
        E::AssertionConditionExpired { time }
        | E::AssertionSubjectConfirmationExpired { time }
        | E::AssertionExpired { time }
        | E::ResponseExpired { time } => expired(&time),
        E::AssertionConditionExpiredBefore { time } | E::AssertionSubjectConfirmationExpiredBefore { time } => {
            early(&time)
        }
        E::AssertionInResponseToInvalid { .. } | E::ResponseInResponseToInvalid { .. } => Refusal::new(
            "unknown_request",
            "The response answers no sign-in started here (its InResponseTo matches no open request), and IdP-initiated sign-in is off for this connection.",
        ),
        E::AssertionIssuerMismatch { issuer, entity_id } | E::ResponseIssuerMismatch { issuer, entity_id } => {
            Refusal::new(
                "wrong_issuer",
                format!(
                    "The response comes from {}, not from the IdP of this connection ({}).",
                    issuer.unwrap_or_default(),
                    entity_id.unwrap_or_default()
                ),
            )
        }
        E::ResponseBadStatusCode { code } => {
            Refusal::new("idp_refused", format!("The identity provider did not sign you in (status {code})."))
        }
        other => Refusal::new("invalid_response", format!("The SAML response was refused: {other}.")),
    }
}
