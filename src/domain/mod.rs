//! Domain types: newtypes whose `parse` is the only constructor, and pure logic with no IO.
//!
//! A value of one of these types is valid by construction, so code that receives one never checks
//! it again ("parse, don't validate").

pub mod area;
pub mod audio;
pub mod city;
pub mod email;
pub mod ids;
pub mod language;
pub mod lead_status;
pub mod numbers;
pub mod object_type;
pub mod password;
pub mod person_name;
pub mod phone;
pub mod telegram;
pub mod tenant_name;
pub mod tokens;
pub mod working_hours;

pub use email::Email;
pub use ids::{BotUserId, LeadId, MessageId, TenantId, UserId};
pub use password::Password;
pub use tenant_name::TenantName;

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
