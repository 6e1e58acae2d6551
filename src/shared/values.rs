//! Values parsed at the edge. Constructing one means the input was valid; the rest of the code
//! never re-checks.
use crate::shared::error::AppError;
use serde::{Deserialize, Serialize};
use std::fmt;

/// An email address, trimmed and lower-cased so that uniqueness is case-insensitive.
///
/// Deliberately narrower than RFC 5322 (no quoted local parts, comments or IP literals): these
/// addresses receive links from us and must work as ordinary mailbox names everywhere.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EmailAddress(String);

impl EmailAddress {
    pub fn parse(raw: &str) -> Result<Self, AppError> {
        let email = raw.trim().to_lowercase();
        let invalid = |why: &str| Err(AppError::invalid_field("email", why));
        if email.is_empty() {
            return invalid("Enter your email address.");
        }
        if email.len() > 254 {
            return invalid("An email address has at most 254 characters.");
        }
        let Some((local, domain)) = email.split_once('@') else {
            return invalid("An email address needs an @, like name@example.com.");
        };
        let domain_ok = domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..")
            && domain.split('.').all(|label| {
                !label.is_empty()
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label.chars().all(|c| c.is_alphanumeric() || c == '-')
            });
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..")
            && local.chars().all(|c| c.is_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c));
        if !domain_ok || !local_ok {
            return invalid("That is not a valid email address.");
        }
        // One form for every comparison (verified domains, require-SSO rules, accounts): a Unicode
        // domain and its punycode spelling are the same domain.
        let Ok(ascii) = idna::domain_to_ascii(domain) else {
            return invalid("That is not a valid email address.");
        };
        if ascii.len() > 253 || local.len() + 1 + ascii.len() > 254 {
            return invalid("An email address has at most 254 characters.");
        }
        Ok(Self(format!("{local}@{ascii}")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn domain(&self) -> &str {
        self.0.split_once('@').map_or("", |(_, d)| d)
    }
}

impl TryFrom<String> for EmailAddress {
    type Error = AppError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<EmailAddress> for String {
    fn from(value: EmailAddress) -> Self {
        value.0
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A person's display name: trimmed, 1–100 characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PersonName(String);

impl PersonName {
    pub fn parse(raw: &str) -> Result<Self, AppError> {
        let name = raw.trim();
        if name.is_empty() {
            return Err(AppError::invalid_field("name", "Enter your name."));
        }
        if name.chars().count() > 100 {
            return Err(AppError::invalid_field("name", "A name has at most 100 characters."));
        }
        if name.chars().any(char::is_control) {
            return Err(AppError::invalid_field("name", "A name cannot contain control characters."));
        }
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for PersonName {
    type Error = AppError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<PersonName> for String {
    fn from(value: PersonName) -> Self {
        value.0
    }
}

impl fmt::Display for PersonName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

pub const PASSWORD_MIN_CHARS: usize = 10;
pub const PASSWORD_MAX_CHARS: usize = 1024;

/// Checks the length rule shared by both sides; the common-password check needs the server's
/// dictionary and happens in `server::auth::password`.
pub fn check_password_length(field: &str, password: &str) -> Result<(), AppError> {
    let chars = password.chars().count();
    if chars < PASSWORD_MIN_CHARS {
        return Err(AppError::invalid_field(field, &format!("Use at least {PASSWORD_MIN_CHARS} characters.")));
    }
    if chars > PASSWORD_MAX_CHARS {
        return Err(AppError::invalid_field(field, &format!("Use at most {PASSWORD_MAX_CHARS} characters.")));
    }
    Ok(())
}

/// Where to go after signing in or up: only a path on this site ("/..."), never another host
/// ("//evil.example", "https://..."), so the parameter cannot be used to send people elsewhere.
pub fn safe_next(raw: Option<&str>) -> Option<String> {
    let next = raw?.trim();
    let ok = next.starts_with('/')
        && !next.starts_with("//")
        && next.len() <= 1024
        && !next.chars().any(|c| c == '\\' || c.is_control() || c.is_whitespace());
    ok.then(|| next.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_is_normalised_and_checked() {
        assert_eq!(EmailAddress::parse("  Ada@Example.COM ").unwrap().as_str(), "ada@example.com");
        for bad in [
            "",
            "ada",
            "ada@",
            "@example.com",
            "ada@example",
            "a b@example.com",
            "ada@.example.com",
            "ada@example..com",
            "ada..x@example.com",
            "ada@-x.com",
        ] {
            let err = EmailAddress::parse(bad).unwrap_err();
            assert_eq!(err.field(), Some("email"), "{bad:?}");
        }
        assert!(EmailAddress::parse(&format!("{}@example.com", "a".repeat(65))).is_err());
    }

    #[test]
    fn unicode_domains_take_their_punycode_form() {
        let unicode = EmailAddress::parse("Ann@Bücher.Example").unwrap();
        assert_eq!(unicode.as_str(), "ann@xn--bcher-kva.example");
        assert_eq!(unicode.domain(), "xn--bcher-kva.example");
        assert_eq!(EmailAddress::parse("ann@xn--bcher-kva.example").unwrap(), unicode);
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(PersonName::parse("  Ada Lovelace ").unwrap().as_str(), "Ada Lovelace");
        assert!(PersonName::parse("   ").is_err());
        assert!(PersonName::parse(&"x".repeat(101)).is_err());
        assert!(PersonName::parse("Ada\u{0}").is_err());
    }

    #[test]
    fn only_local_paths_are_followed_after_sign_in() {
        assert_eq!(safe_next(Some("/invite?token=abc")).as_deref(), Some("/invite?token=abc"));
        for bad in ["//evil.example/x", "https://evil.example", "/\\evil.example", "javascript:alert(1)", "", "/a b"] {
            assert_eq!(safe_next(Some(bad)), None, "{bad}");
        }
        assert_eq!(safe_next(None), None);
    }

    #[test]
    fn password_length_bounds() {
        assert!(check_password_length("password", "123456789").is_err());
        assert!(check_password_length("password", "1234567890").is_ok());
        assert!(check_password_length("password", &"x".repeat(1024)).is_ok());
        assert!(check_password_length("password", &"x".repeat(1025)).is_err());
    }
}
