//! Domain types: newtypes whose `parse` is the only constructor, and pure logic with no IO.
//!
//! A value of one of these types is valid by construction, so code that receives one never checks
//! it again ("parse, don't validate").
//!
//! The lead's fields are value types here ([`phone::Phone`], [`city::City`],
//! [`object_type::ObjectType`], [`person_name::PersonName`], [`language::Language`],
//! [`lead_status::LeadStatus`]) with the canonical parse that API input and stored values go
//! through, and the rule over them ([`qualification::is_qualified`]). Reading those fields out of
//! free chat text is the engines' business: the finders live in `workers/engine/text/`, and
//! nothing here depends on them.

pub mod amocrm;
pub mod api_key;
pub mod audio;
pub mod city;
pub mod conversation;
pub mod dates;
pub mod email;
pub mod follow_up;
pub mod ids;
pub mod language;
pub mod lead_status;
pub mod object_type;
pub mod password;
pub mod person_name;
pub mod phone;
pub mod price;
#[cfg(test)]
pub(crate) mod proptest_strategies;
#[cfg(test)]
mod proptests;
pub mod public_address;
pub mod qualification;
pub mod telegram;
pub mod tenant_name;
pub mod text;
pub mod webhook;
pub mod webhook_payload;
pub mod working_hours;

pub use email::Email;
pub use ids::{BotUserId, LeadId, MessageId, TenantId, UserId};
pub use password::Password;
pub use tenant_name::TenantName;

/// Serde and OpenAPI for an enum of keys (a `Copy` type with `ALL` and `as_str(self)`): it writes
/// itself as its key, reads exactly a key back (the error lists them and never repeats the input),
/// and its schema is the enum of the keys. `from_key` reads a stored key.
macro_rules! key_enum_serde {
    ($ty:ident, $description:expr) => {
        impl $ty {
            /// The value whose key is exactly `key`.
            pub fn from_key(key: &str) -> Option<Self> {
                $ty::ALL.into_iter().find(|v| v.as_str() == key)
            }
        }

        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(d)?;
                $crate::domain::from_key(&$ty::ALL, $ty::as_str, &s)
                    .map_err(serde::de::Error::custom)
            }
        }

        impl utoipa::PartialSchema for $ty {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::Schema> {
                $crate::domain::key_schema($ty::ALL.iter().map(|v| v.as_str()), $description)
            }
        }

        impl utoipa::ToSchema for $ty {}
    };
}
pub(crate) use key_enum_serde;

/// The OpenAPI schema of a string that must be one of `keys` (an enum whose serde form is its key).
pub(crate) fn key_schema<'a>(
    keys: impl IntoIterator<Item = &'a str>,
    description: &str,
) -> utoipa::openapi::RefOr<utoipa::openapi::Schema> {
    use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
    ObjectBuilder::new()
        .schema_type(SchemaType::Type(Type::String))
        .enum_values(Some(keys))
        .description(Some(description))
        .into()
}

/// The one of `all` whose key is exactly `raw` (the serde form of an enum of keys, as the OpenAPI
/// enum says); the error lists the keys and never repeats `raw`.
pub(crate) fn from_key<T: Copy>(
    all: &[T],
    key: fn(T) -> &'static str,
    raw: &str,
) -> Result<T, String> {
    all.iter().copied().find(|v| key(*v) == raw).ok_or_else(|| {
        let keys: Vec<&str> = all.iter().map(|v| key(*v)).collect();
        format!("must be one of: {}", keys.join(", "))
    })
}

/// A user's role within a tenant.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Registered the company; manages settings and users.
    Owner,
    /// Works the leads.
    Manager,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Owner => "owner",
            Self::Manager => "manager",
        }
    }

    pub fn from_db(value: &str) -> Option<Self> {
        match value {
            "owner" => Some(Self::Owner),
            "manager" => Some(Self::Manager),
            _ => None,
        }
    }
}
