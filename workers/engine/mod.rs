//! The conversation engine boundary: the [`Engine`] trait every engine implements (the
//! deterministic [`OfflineEngine`] here, an LLM-backed one elsewhere) and the types that cross
//! it — the conversation in, the reply plus a lead patch out.
//!
//! The trait returns a boxed `Send` future so engines that call the network fit the same
//! shape; the offline engine simply returns a ready future. Lead extraction itself is the
//! pure [`extract_lead`], shared with the `salesbot extract` batch command ([`extract`]); the
//! free-text finders it runs (phone, city, object type, area, name, language) are in [`text`].

pub mod extract;
pub mod guard;
pub mod intent;
pub mod lead;
pub mod offline;
pub mod openai;
pub mod text;

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::domain::TenantId;
use crate::domain::city::City;
use crate::domain::language::Language;
use crate::domain::object_type::ObjectType;
use crate::domain::phone::Phone;
use crate::domain::price::PriceList;
use text::language::{self, LanguageCounts};

pub use lead::{ExtractedLead, extract_lead};
pub use offline::OfflineEngine;
pub use offline::replies::{fallback_reply, voice_not_supported_reply};

/// Who wrote a turn.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The customer.
    #[serde(alias = "customer", alias = "client")]
    User,
    /// The company's bot (or a human manager writing in its place).
    #[serde(alias = "bot")]
    Assistant,
}

/// One message of a conversation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Turn {
    pub role: Role,
    pub text: String,
}

impl Turn {
    pub fn user(text: impl Into<String>) -> Self {
        Turn {
            role: Role::User,
            text: text.into(),
        }
    }

    pub fn assistant(text: impl Into<String>) -> Self {
        Turn {
            role: Role::Assistant,
            text: text.into(),
        }
    }
}

/// The lead as stored so far.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LeadSnapshot {
    pub name: Option<String>,
    pub phone: Option<Phone>,
    pub city: Option<City>,
    pub object_type: Option<ObjectType>,
    pub area_m2: Option<f64>,
    pub summary: Option<String>,
}

/// What the engine needs to know about the company it speaks for.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantProfile {
    /// None outside a tenant's pipeline (the `extract` batch command).
    pub id: Option<TenantId>,
    pub company_name: String,
    /// What the company builds and offers, in its own words.
    pub about: Option<String>,
    /// A custom first greeting; the engine's default greeting is used when absent.
    pub greeting: Option<String>,
    /// The company's phone, offered to customers who prefer to call themselves.
    pub company_phone: Option<String>,
    /// The only prices the bot may quote.
    pub prices: PriceList,
}

/// One engine call: the conversation so far (ending with the customer's latest message).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TurnInput {
    pub conversation: Vec<Turn>,
    pub lead: LeadSnapshot,
    pub tenant: TenantProfile,
    /// A language already known for this chat (e.g. from earlier turns); a hint only.
    pub language_hint: Option<Language>,
}

impl LeadSnapshot {
    /// The lead from its stored text columns; a value that no longer parses is left out.
    pub fn from_stored(
        name: Option<String>,
        phone: Option<&str>,
        city: Option<&str>,
        object_type: Option<&str>,
        area_m2: Option<f64>,
        summary: Option<String>,
    ) -> Self {
        Self {
            name,
            phone: phone.and_then(|v| Phone::parse(v).ok()),
            city: city.and_then(|v| v.parse().ok()),
            object_type: object_type.and_then(|v| v.parse().ok()),
            area_m2,
            summary,
        }
    }
}

/// Changes to the stored lead; each `Some` means "set this field".
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LeadPatch {
    pub name: Option<String>,
    pub phone: Option<Phone>,
    pub city: Option<City>,
    pub object_type: Option<ObjectType>,
    pub area_m2: Option<f64>,
    pub summary: Option<String>,
}

impl LeadPatch {
    /// No field is set.
    pub fn is_empty(&self) -> bool {
        self == &LeadPatch::default()
    }

    /// Applies the set fields to a snapshot.
    pub fn apply_to(&self, lead: &mut LeadSnapshot) {
        if let Some(v) = &self.name {
            lead.name = Some(v.clone());
        }
        if let Some(v) = &self.phone {
            lead.phone = Some(v.clone());
        }
        if let Some(v) = self.city {
            lead.city = Some(v);
        }
        if let Some(v) = self.object_type {
            lead.object_type = Some(v);
        }
        if let Some(v) = self.area_m2 {
            lead.area_m2 = Some(v);
        }
        if let Some(v) = &self.summary {
            lead.summary = Some(v.clone());
        }
    }
}

/// The engine asks for a human to take over the chat.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HandoffRequest {
    pub reason: String,
}

/// Tokens spent on the call (zero for the offline engine).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    pub prompt_tokens: u32,
    pub completion_tokens: u32,
}

/// The engine's answer to one customer message.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TurnOutput {
    /// The message to send to the customer.
    pub reply: String,
    pub lead_patch: LeadPatch,
    pub handoff: Option<HandoffRequest>,
    /// The customer's language over the conversation (`Mixed` when they switch); the reply
    /// itself is in the dominant language of their latest message.
    pub language: Language,
    pub usage: Usage,
    /// Spam or off-topic: no lead should be created (the patch is empty).
    pub off_topic: bool,
    /// Which engine produced this output.
    pub engine: &'static str,
}

/// Why an engine call failed.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// A transient failure (timeout, 5xx); the same call may succeed later.
    #[error("engine temporarily unavailable: {message}")]
    Retryable { message: String },
    /// The provider throttled us.
    #[error("engine rate limited; retry after {retry_after:?}")]
    RateLimited { retry_after: Duration },
    /// Retrying will not help (bad request, bad credentials, unparsable answer).
    #[error("engine failed: {message}")]
    Fatal { message: String },
}

impl EngineError {
    /// Whether the caller may retry the same call.
    pub fn is_retryable(&self) -> bool {
        !matches!(self, EngineError::Fatal { .. })
    }
}

/// The future an engine call returns.
pub type EngineFuture<'a> =
    Pin<Box<dyn Future<Output = Result<TurnOutput, EngineError>> + Send + 'a>>;

/// A conversation engine: reads the chat, writes the next bot message and a lead patch.
pub trait Engine: Send + Sync {
    /// A short stable name for logs and metrics ("offline", "openai").
    fn name(&self) -> &'static str;

    /// Produces the bot's next message for `input`.
    fn turn<'a>(&'a self, input: &'a TurnInput) -> EngineFuture<'a>;
}

/// The customer's language over the conversation (`Mixed` when they switch), else the hint, else
/// Russian (the market's default).
pub fn customer_language(input: &TurnInput) -> Language {
    let mut counts = LanguageCounts::default();
    for t in input.conversation.iter().filter(|t| t.role == Role::User) {
        counts.add(language::counts(&t.text));
    }
    counts
        .language()
        .or(input.language_hint)
        .unwrap_or(Language::Ru)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_serialize_lowercase_and_accept_aliases() {
        assert_eq!(serde_json::to_string(&Role::User).unwrap(), "\"user\"");
        assert_eq!(
            serde_json::to_string(&Role::Assistant).unwrap(),
            "\"assistant\""
        );
        assert_eq!(
            serde_json::from_str::<Role>("\"bot\"").unwrap(),
            Role::Assistant
        );
        assert!(serde_json::from_str::<Role>("\"system\"").is_err());
    }

    #[test]
    fn patch_applies_only_set_fields() {
        let mut lead = LeadSnapshot {
            name: Some("Ерлан".into()),
            ..LeadSnapshot::default()
        };
        let patch = LeadPatch {
            city: Some(City::Astana),
            ..LeadPatch::default()
        };
        assert!(!patch.is_empty());
        patch.apply_to(&mut lead);
        assert_eq!(lead.name.as_deref(), Some("Ерлан"));
        assert_eq!(lead.city, Some(City::Astana));
        assert!(LeadPatch::default().is_empty());
    }

    #[test]
    fn error_retryability() {
        assert!(
            EngineError::Retryable {
                message: "timeout".into()
            }
            .is_retryable()
        );
        assert!(
            EngineError::RateLimited {
                retry_after: Duration::from_secs(2)
            }
            .is_retryable()
        );
        assert!(
            !EngineError::Fatal {
                message: "bad key".into()
            }
            .is_retryable()
        );
    }
}
