//! OWASP's device cookies against sign-in lockout: a browser that signed in to an account gets a
//! cookie naming that account, sealed with the server's key so it cannot be forged or changed.
//! Its later sign-ins to that account are throttled in a bucket of its own, so someone guessing the
//! password elsewhere cannot lock the person out of the browsers they use.
use crate::server::{config::Config, crypto::SecretBox};
use crate::shared::values::EmailAddress;
use axum::http::HeaderValue;
use tower_sessions::cookie::{Cookie, SameSite};

pub const COOKIE: &str = "gatehouse_device";
/// A device stays known for a year after its last successful sign-in.
const LIFETIME_DAYS: i64 = 365;

/// The `Set-Cookie` value for a browser that just signed in to `email`.
pub fn set_cookie(secrets: &SecretBox, config: &Config, email: &str) -> HeaderValue {
    let nonce = uuid::Uuid::new_v4().simple().to_string();
    let cookie = Cookie::build((COOKIE, secrets.seal(&format!("{}\n{nonce}", email.to_lowercase()))))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(config.secure_cookies())
        .max_age(time::Duration::days(LIFETIME_DAYS))
        .build();
    HeaderValue::from_str(&cookie.to_string()).expect("a sealed value is base64, valid in a header")
}

/// The device cookie's value among a request's `Cookie` headers.
pub fn from_headers(headers: &axum::http::HeaderMap) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == COOKIE)
        .map(|c| c.value().to_owned())
}

/// The throttle bucket of this browser for `email`, when it presents a genuine device cookie of
/// that account; anything else (none, forged, another account's) uses the account's shared bucket.
pub fn bucket(secrets: &SecretBox, cookie: Option<&str>, email: &EmailAddress) -> Option<String> {
    let opened = secrets.open(cookie?).ok()?;
    let (account, nonce) = opened.split_once('\n')?;
    (account == email.as_str().to_lowercase()).then(|| format!("login:device:{nonce}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_device_cookie_names_one_account_and_cannot_be_forged() {
        let secrets = SecretBox::from_passphrase("0123456789abcdef0123456789abcdef").unwrap();
        let other = SecretBox::from_passphrase("fedcba9876543210fedcba9876543210").unwrap();
        let ada = EmailAddress::parse("ada@example.com").unwrap();
        let bob = EmailAddress::parse("bob@example.com").unwrap();
        let value = secrets.seal("ada@example.com\nabc");
        assert_eq!(bucket(&secrets, Some(&value), &ada).as_deref(), Some("login:device:abc"));
        assert_eq!(bucket(&secrets, Some(&value), &bob), None, "another account");
        assert_eq!(bucket(&other, Some(&value), &ada), None, "sealed with another key");
        assert_eq!(bucket(&secrets, Some("v1:AAAA"), &ada), None, "forged");
        assert_eq!(bucket(&secrets, None, &ada), None);
    }
}
