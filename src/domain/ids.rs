//! Typed ids, so a tenant id can never be passed where a user id is expected.
//!
//! Ids are UUID v7: time-ordered, so new rows land at the right-hand edge of their indexes.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, sqlx::Type, utoipa::ToSchema)]
        #[sqlx(transparent)]
        #[serde(transparent)]
        #[schema(value_type = String, format = Uuid)]
        pub struct $name(pub Uuid);

        impl $name {
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }

        impl From<Uuid> for $name {
            fn from(id: Uuid) -> Self {
                Self(id)
            }
        }
    };
}

id_type!(
    /// A company using salesbot; every tenant-owned row carries one.
    TenantId
);
id_type!(
    /// A manager or owner account of a tenant.
    UserId
);
id_type!(
    /// A tenant's customer in one channel (the prototype's `user_id`).
    BotUserId
);
id_type!(
    /// One message of a conversation.
    MessageId
);
id_type!(
    /// A lead: one per bot user.
    LeadId
);
