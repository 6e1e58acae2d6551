//! How shared values are stored, so row mapping can be derived (`sqlx::FromRow`) and ids bound
//! as they are: typed ids and named enums as text, times as Unix milliseconds (the one time
//! representation SQLite and Postgres compare alike), flags as integers.
use crate::shared::{
    ids::*,
    roles::{Permission, Role},
    sso::{ConnectionKind, RoleMapping},
};
use chrono::{DateTime, TimeZone, Utc};
use sqlx::{
    any::{AnyTypeInfo, AnyValueRef},
    error::BoxDynError,
    Any, Decode, Type,
};

/// A column holding a value as text: `parse` reads it (None = a corrupt row), `show` writes it.
/// Modules whose types this module does not import (so that neither imports the other) invoke it
/// themselves for their own enums.
macro_rules! text_column {
    ($ty:ty, $parse:expr, $show:expr) => {
        impl ::sqlx::Type<::sqlx::Any> for $ty {
            fn type_info() -> ::sqlx::any::AnyTypeInfo {
                <String as ::sqlx::Type<::sqlx::Any>>::type_info()
            }
        }

        impl<'r> ::sqlx::Decode<'r, ::sqlx::Any> for $ty {
            fn decode(value: ::sqlx::any::AnyValueRef<'r>) -> Result<Self, ::sqlx::error::BoxDynError> {
                let text = <String as ::sqlx::Decode<'r, ::sqlx::Any>>::decode(value)?;
                let parse: fn(&str) -> Option<$ty> = $parse;
                parse(&text).ok_or_else(|| format!("not a {}: {text:?}", stringify!($ty)).into())
            }
        }

        impl<'q> ::sqlx::Encode<'q, ::sqlx::Any> for $ty {
            fn encode_by_ref(
                &self,
                buf: &mut <::sqlx::Any as ::sqlx::Database>::ArgumentBuffer<'q>,
            ) -> Result<::sqlx::encode::IsNull, ::sqlx::error::BoxDynError> {
                let show: fn(&$ty) -> String = $show;
                <String as ::sqlx::Encode<'q, ::sqlx::Any>>::encode(show(self), buf)
            }
        }
    };
    (ids: $($id:ty),+) => {
        $(crate::shared::columns::text_column!($id, |text| text.parse().ok(), ToString::to_string);)+
    };
    (enums: $($enum:ident),+) => {
        $(crate::shared::columns::text_column!($enum, $enum::parse, |value| value.as_str().to_owned());)+
    };
}
pub(crate) use text_column;

text_column!(
    ids: UserId, SessionId, EmailId, OrgId, InvitationId, AuditId, ApiKeyId, WebhookId, WebhookEventId, DeliveryId,
        DomainId, SsoConnectionId
);
text_column!(enums: Role, ConnectionKind);

/// Permissions stored as space-separated names (`parse_grants`): `#[sqlx(try_from = "Grants")]`
/// on a `Vec<Permission>` field.
pub struct Grants(String);

/// JSON stored as text: `#[sqlx(try_from = "JsonText")]` on a field of a type listed below.
pub struct JsonText(String);

impl From<Grants> for Vec<Permission> {
    fn from(Grants(text): Grants) -> Self {
        parse_grants(&text)
    }
}

impl TryFrom<JsonText> for serde_json::Value {
    type Error = serde_json::Error;

    fn try_from(JsonText(text): JsonText) -> Result<Self, Self::Error> {
        serde_json::from_str(&text)
    }
}

impl TryFrom<JsonText> for Vec<RoleMapping> {
    type Error = serde_json::Error;

    fn try_from(JsonText(text): JsonText) -> Result<Self, Self::Error> {
        serde_json::from_str(&text)
    }
}

/// A time column (Unix milliseconds): `#[sqlx(try_from = "Millis")]` on a `DateTime<Utc>` field.
pub struct Millis(i64);

/// A nullable time column: `#[sqlx(try_from = "MaybeMillis")]` on an `Option<DateTime<Utc>>` field.
pub struct MaybeMillis(Option<i64>);

/// An integer 0/1 column: `#[sqlx(try_from = "Flag")]` on a `bool` field.
pub struct Flag(i64);

/// The wrappers above read the column as their inner type.
macro_rules! read_as {
    ($($ty:ident($inner:ty)),+) => {$(
        impl Type<Any> for $ty {
            fn type_info() -> AnyTypeInfo {
                <$inner as Type<Any>>::type_info()
            }

            fn compatible(ty: &AnyTypeInfo) -> bool {
                <$inner as Type<Any>>::compatible(ty)
            }
        }

        impl<'r> Decode<'r, Any> for $ty {
            fn decode(value: AnyValueRef<'r>) -> Result<Self, BoxDynError> {
                <$inner as Decode<'r, Any>>::decode(value).map($ty)
            }
        }
    )+};
}

read_as!(Millis(i64), MaybeMillis(Option<i64>), Flag(i64), Grants(String), JsonText(String));

/// Permissions as stored: space-separated names; names this build does not know are dropped.
pub fn parse_grants(raw: &str) -> Vec<Permission> {
    raw.split_whitespace().filter_map(Permission::parse).collect()
}

pub fn from_millis(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

impl From<Millis> for DateTime<Utc> {
    fn from(Millis(ms): Millis) -> Self {
        from_millis(ms)
    }
}

impl From<MaybeMillis> for Option<DateTime<Utc>> {
    fn from(MaybeMillis(ms): MaybeMillis) -> Self {
        ms.map(from_millis)
    }
}

impl From<Flag> for bool {
    fn from(Flag(value): Flag) -> Self {
        value != 0
    }
}
