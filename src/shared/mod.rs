//! Types compiled for both the server and the browser: ids, validated values, DTOs and the one
//! error type. Everything parsed at the edge lives here so both sides agree on the rules.
/// An enum whose variants stand for fixed strings (on the wire, in the audit log): `as_str`,
/// `parse`, `ALL`, `Display` and serde all go through those strings, written once per variant.
macro_rules! string_enum {
    ($(#[$meta:meta])* $vis:vis enum $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        $vis enum $name { $($(#[$vmeta])* $variant,)+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            pub const fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text,)+ }
            }

            pub fn parse(text: &str) -> Option<$name> {
                $name::ALL.iter().copied().find(|v| v.as_str() == text)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                $name::parse(&text).ok_or_else(|| {
                    serde::de::Error::custom(format!("unknown {} `{text}`", stringify!($name)))
                })
            }
        }
    };
}

pub mod accounts;
pub mod api_keys;
pub mod audit;
#[cfg(feature = "ssr")]
pub mod columns;
pub mod domains;
pub mod error;
pub mod ids;
pub mod invitations;
pub mod members;
pub mod orgs;
pub mod roles;
pub mod sso;
pub mod usage;
pub mod values;
pub mod webhooks;

#[cfg(test)]
mod tests {
    use super::{audit::Action, error::ErrorCode, webhooks::WebhookEvent};

    /// Each name is distinct, in the house spelling, and survives a JSON round trip.
    fn check<T: Copy + PartialEq + std::fmt::Debug + serde::Serialize + serde::de::DeserializeOwned>(
        all: &[T],
        name: fn(T) -> &'static str,
        allowed: fn(char) -> bool,
    ) {
        let mut seen = std::collections::HashSet::new();
        for &value in all {
            assert!(seen.insert(name(value)), "{} twice", name(value));
            assert!(name(value).chars().all(allowed), "{} is misspelt", name(value));
            let json = serde_json::to_string(&value).unwrap();
            assert_eq!(json, format!("\"{}\"", name(value)));
            assert_eq!(serde_json::from_str::<T>(&json).unwrap(), value);
        }
    }

    #[test]
    fn string_enums_are_distinct_and_round_trip() {
        let snake = |c: char| c.is_ascii_lowercase() || c == '_';
        let dotted = |c: char| c.is_ascii_lowercase() || c == '_' || c == '.';
        check(ErrorCode::ALL, ErrorCode::as_str, snake);
        check(Action::ALL, Action::as_str, dotted);
        check(WebhookEvent::ALL, WebhookEvent::as_str, dotted);
        assert!(serde_json::from_str::<ErrorCode>("\"no_such_code\"").is_err());
    }
}
