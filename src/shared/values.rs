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

/// The longest redirect target followed; real paths in this app are far shorter.
const LOCAL_PATH_MAX: usize = 2048;

/// Whether `target` may be followed by a redirect (`next`, `return_to`, SAML RelayState): a path
/// on this site ("/orgs/x?tab=y"), never another host. Browsers are lenient with `Location`: they
/// drop tabs and newlines (`/\t/evil` becomes `//evil`), read `\` as `/`, and some proxies decode
/// `%2f`; so only printable ASCII without `\` is accepted, and neither the value nor its
/// percent-decoded form may start with `//` or `/\`. This is the one check every redirect uses.
pub fn is_local_path(target: &str) -> bool {
    let host_like = |path: &[u8]| path.len() >= 2 && path[0] == b'/' && (path[1] == b'/' || path[1] == b'\\');
    let decoded: Vec<u8> = percent_encoding::percent_decode_str(target).collect();
    target.len() <= LOCAL_PATH_MAX
        && target.starts_with('/')
        && target.bytes().all(|b| b.is_ascii_graphic() && b != b'\\')
        && !host_like(&decoded)
        && !decoded.iter().any(|b| b.is_ascii_control())
}

/// Percent-encodes a query-string value.
pub fn enc(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
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
    fn only_local_paths_are_followed() {
        for good in ["/", "/invite?token=abc", "/orgs/x/members?q=a%20b#top", "/a/%2f", "/settings"] {
            assert!(is_local_path(good), "{good:?}");
        }
        let long = format!("/{}", "a".repeat(LOCAL_PATH_MAX));
        for bad in [
            "",
            "x",
            "//evil.example/x",
            "/\\evil.example",
            "/\t/evil.example",
            "/\n/evil.example",
            "/\r\nSet-Cookie: x=1",
            "/%09/evil.example",
            "/%0a",
            "%2f%2fevil.example",
            "/%2f%2fevil.example",
            "/%2F%5Cevil.example",
            "\\\\evil.example",
            "/a\\b",
            "/a b",
            "/caf\u{e9}",
            "/\u{2028}",
            "/\u{7f}",
            "javascript:alert(1)",
            "https://evil.example",
            "http:/evil.example",
            " /settings",
            long.as_str(),
        ] {
            assert!(!is_local_path(bad), "{bad:?}");
        }
    }

    #[test]
    fn password_length_bounds() {
        assert!(check_password_length("password", "123456789").is_err());
        assert!(check_password_length("password", "1234567890").is_ok());
        assert!(check_password_length("password", &"x".repeat(1024)).is_ok());
        assert!(check_password_length("password", &"x".repeat(1025)).is_err());
    }
}
