//! The states a conversation and its messages take, as Rust enums and as the `text` values the
//! database's CHECK constraints allow (tests/api/migrations.rs compares the two). Each reads and
//! writes itself as that text (sqlx), serialises as it (serde) and is an enum in the OpenAPI
//! document.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

macro_rules! text_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, sqlx::Type, ToSchema)]
        #[serde(rename_all = "snake_case")]
        #[sqlx(type_name = "text", rename_all = "snake_case")]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The value stored in the database and shown by the API.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

text_enum! {
    /// Where a message is in the pipeline: queued → transcribing → processing → answered | failed.
    /// The bot's and managers' own messages are `stored`.
    MessageState {
        Queued = "queued",
        Transcribing = "transcribing",
        Processing = "processing",
        Answered = "answered",
        Failed = "failed",
        Stored = "stored",
    }
}

text_enum! {
    /// What a customer sent.
    MessageKind {
        Text = "text",
        Voice = "voice",
    }
}

text_enum! {
    /// How far a voice note's transcription got. Text messages have none.
    TranscriptState {
        Pending = "pending",
        Done = "done",
        /// The tenant's budget is spent: no speech-to-text, the customer is asked to write.
        Unavailable = "unavailable",
        Failed = "failed",
    }
}

text_enum! {
    /// Who wrote a message.
    MessageRole {
        /// The customer.
        User = "user",
        /// The bot.
        Assistant = "assistant",
        /// A manager of the company.
        Manager = "manager",
        System = "system",
    }
}

text_enum! {
    /// Who answers a conversation: the bot, or (after a handoff) the company's managers.
    ConversationMode {
        Bot = "bot",
        Human = "human",
    }
}

text_enum! {
    /// Where a conversation happens.
    Channel {
        Api = "api",
        Telegram = "telegram",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_sqlx_and_as_str_agree() {
        for state in MessageState::ALL {
            let json = serde_json::to_value(state).unwrap();
            assert_eq!(json, state.as_str());
        }
        assert_eq!(
            serde_json::from_str::<Channel>("\"telegram\"").unwrap(),
            Channel::Telegram
        );
    }
}
