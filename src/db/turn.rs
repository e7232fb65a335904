//! A turn's two statements, typed: `turn_read` before the engine runs and `turn_commit` after
//! (sql/functions/turn_read.sql and turn_commit.sql state their contracts). Both are `RETURNS
//! TABLE` functions read with `query!`, so sqlx checks their columns at build time.

use chrono::{DateTime, Utc};
use sqlx::{PgExecutor, PgPool};
use uuid::Uuid;

use crate::domain::city::City;
use crate::domain::conversation::{
    ConversationMode, MessageKind, MessageRole, MessageState, TranscriptState,
};
use crate::domain::language::Language;
use crate::domain::object_type::ObjectType;
use crate::domain::phone::Phone;
use crate::domain::price::PriceList;
use crate::domain::{BotUserId, LeadId, MessageId, TenantId};
use crate::jobs::LeadEvent;
use crate::queue::Lease;

use super::prices::PriceRow;

/// A message as the turn reads it (the composite type `turn_message`).
#[derive(Debug, Clone, PartialEq, sqlx::Type)]
#[sqlx(type_name = "turn_message")]
pub struct TurnMessage {
    pub id: Uuid,
    pub role: MessageRole,
    pub kind: MessageKind,
    pub content: String,
    pub transcript: Option<String>,
    pub transcript_status: Option<TranscriptState>,
    pub created_at: DateTime<Utc>,
}

impl TurnMessage {
    /// The words the engine sees, if any (an untranscribed voice note has none).
    pub fn text(&self) -> Option<&str> {
        match self.kind {
            MessageKind::Voice => self.transcript.as_deref().filter(|t| !t.trim().is_empty()),
            MessageKind::Text => Some(self.content.as_str()),
        }
    }
}

/// The stored lead's fields, as stored (the engine parses them).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StoredLead {
    pub name: Option<String>,
    pub phone: Option<String>,
    pub city: Option<String>,
    pub object_type: Option<String>,
    pub area_m2: Option<f64>,
    pub summary: Option<String>,
}

/// Everything a turn reads before calling the engine.
#[derive(Debug, Clone)]
pub struct TurnRead {
    /// The unanswered customer messages, in seq order.
    pub pending: Vec<TurnMessage>,
    /// The messages before them, in seq order.
    pub earlier: Vec<TurnMessage>,
    pub lead: StoredLead,
    pub language: Option<Language>,
    pub mode: ConversationMode,
    /// The customer's Telegram chat (a Telegram conversation the customer has not blocked).
    pub telegram_chat: Option<String>,
    pub company_name: String,
    pub about: Option<String>,
    pub greeting: Option<String>,
    pub company_phone: Option<String>,
    pub prices: PriceList,
}

/// Reads the conversation in one round trip and marks its messages `processing` (unless a manager
/// has it or one waits for its transcript). None when nothing is unanswered.
pub async fn read(
    pool: &PgPool,
    tenant: TenantId,
    bot_user: BotUserId,
    history: i32,
) -> Result<Option<TurnRead>, sqlx::Error> {
    let row = sqlx::query!(
        r#"SELECT pending AS "pending!: Vec<TurnMessage>", earlier AS "earlier!: Vec<TurnMessage>",
                  lead_name, lead_phone, lead_city, lead_object_type, lead_area_m2, lead_summary,
                  language, mode AS "mode!: ConversationMode", telegram_chat,
                  company_name AS "company_name!", about, greeting, company_phone,
                  prices AS "prices!: Vec<PriceRow>"
             FROM turn_read($1, $2, $3)"#,
        tenant.0,
        bot_user.0,
        history
    )
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|r| TurnRead {
        pending: r.pending,
        earlier: r.earlier,
        lead: StoredLead {
            name: r.lead_name,
            phone: r.lead_phone,
            city: r.lead_city,
            object_type: r.lead_object_type,
            area_m2: r.lead_area_m2,
            summary: r.lead_summary,
        },
        language: r.language.as_deref().and_then(|l| l.parse().ok()),
        mode: r.mode,
        telegram_chat: r.telegram_chat,
        company_name: r.company_name,
        about: r.about,
        greeting: r.greeting,
        company_phone: r.company_phone,
        prices: super::prices::to_list(r.prices),
    }))
}

/// The lead as the turn commits it: the engine's fields (None keeps the stored value) and whether
/// the lead they make is qualified (domain::qualification::is_qualified).
#[derive(Debug, Clone, Default)]
pub struct LeadWrite {
    pub name: Option<String>,
    pub phone: Option<Phone>,
    pub city: Option<City>,
    pub object_type: Option<ObjectType>,
    pub area_m2: Option<f64>,
    pub summary: Option<String>,
    pub qualifies: bool,
}

/// A turn's writes.
pub struct TurnCommit<'a> {
    pub tenant: TenantId,
    pub bot_user: BotUserId,
    pub lease: Lease,
    /// The messages the reply answers (turn_read's `pending`).
    pub pending: &'a [Uuid],
    pub reply_id: MessageId,
    pub reply: &'a str,
    pub engine: &'a str,
    pub language: Language,
    /// The answered messages' status: `answered`, or `failed` for a dead turn.
    pub status: MessageState,
    /// None leaves the lead alone (an off-topic chat).
    pub lead: Option<LeadWrite>,
    pub new_lead_id: LeadId,
    /// The platform's managers' chat can take a lead notification.
    pub platform_chat: bool,
    /// Companies' own managers' chats can (through their bots).
    pub company_chats: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::Type)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum Outcome {
    Committed,
    /// Another worker holds the job now.
    LeaseLost,
    /// A manager has the conversation: the reply is dropped.
    Human,
    /// An earlier attempt committed and crashed before its ack.
    NothingPending,
}

/// What `turn_commit` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Committed {
    pub outcome: Outcome,
    /// The messages answered came after the conversation's last release to the bot (a handoff
    /// they ask for is a new one).
    pub handoff_fresh: bool,
    pub delivery_job: bool,
    pub notify_job: bool,
    /// A follow-up was scheduled (a pending one re-armed is not counted: it was counted when
    /// inserted).
    pub follow_up_job: bool,
    /// The lead's id, its new version and what happened, when the lead changed.
    pub lead: Option<(LeadId, i32, LeadEvent)>,
}

/// Writes the turn's results in one statement, fenced by the lease.
pub async fn commit(
    executor: impl PgExecutor<'_>,
    c: &TurnCommit<'_>,
) -> Result<Committed, sqlx::Error> {
    let lead = c.lead.as_ref();
    let r = sqlx::query!(
        r#"SELECT outcome AS "outcome!: Outcome", handoff_fresh AS "handoff_fresh!",
                  delivery_job AS "delivery_job!", notify_job AS "notify_job!",
                  follow_up_job AS "follow_up_job!",
                  lead_id, lead_version, lead_event AS "lead_event: LeadEvent"
             FROM turn_commit($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15,
                              $16, $17, $18, $19, $20, $21)"#,
        c.tenant.0,
        c.bot_user.0,
        c.lease.id.0,
        c.lease.token,
        c.pending,
        c.reply_id.0,
        c.reply,
        c.engine,
        c.language.code(),
        c.status as MessageState,
        lead.is_some(),
        lead.and_then(|l| l.name.as_deref()),
        lead.and_then(|l| l.phone.as_ref()).map(|p| p.as_str()),
        lead.and_then(|l| l.city).map(|c| c.as_str()),
        lead.and_then(|l| l.object_type).map(|o| o.as_str()),
        lead.and_then(|l| l.area_m2),
        lead.and_then(|l| l.summary.as_deref()),
        lead.is_some_and(|l| l.qualifies),
        c.new_lead_id.0,
        c.platform_chat,
        c.company_chats
    )
    .fetch_one(executor)
    .await?;
    Ok(Committed {
        outcome: r.outcome,
        handoff_fresh: r.handoff_fresh,
        delivery_job: r.delivery_job,
        notify_job: r.notify_job,
        follow_up_job: r.follow_up_job,
        lead: match (r.lead_id, r.lead_version, r.lead_event) {
            (Some(id), Some(version), Some(event)) => Some((LeadId(id), version, event)),
            _ => None,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn untranscribed_voice_has_no_text() {
        let voice = TurnMessage {
            id: Uuid::nil(),
            role: MessageRole::User,
            kind: MessageKind::Voice,
            content: String::new(),
            transcript: None,
            transcript_status: Some(TranscriptState::Unavailable),
            created_at: Utc::now(),
        };
        assert_eq!(voice.text(), None);
        let text = TurnMessage {
            kind: MessageKind::Text,
            content: "Хочу дом".into(),
            ..voice
        };
        assert_eq!(text.text(), Some("Хочу дом"));
    }
}
