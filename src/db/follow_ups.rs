//! Follow-ups ([J]): a company's follow-up settings (on `tenants`, migration 0030), and what the
//! `follow_up` job reads under the conversation's lock to decide whether it still has a reason to
//! write. `turn_commit()` schedules the first follow-up (sql/functions/turn_commit.sql); the job
//! (workers/pipeline/follow_up.rs) sends it and schedules the next.

use serde::Serialize;
use sqlx::PgPool;
use utoipa::ToSchema;

use crate::domain::conversation::ConversationMode;
use crate::domain::language::Language;
use crate::domain::{BotUserId, TenantId};

use super::messages::Channel;

/// A company's follow-ups.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FollowUpSettings {
    /// Follow-ups in a row to a customer who does not answer (0: none).
    #[schema(minimum = 0, maximum = 3)]
    pub max_count: i16,
    /// Minutes after the bot's last message (10 minutes to 14 days).
    #[schema(minimum = 10, maximum = 20160)]
    pub delay_minutes: i32,
    /// The company's words in Russian; null: the built-in text.
    #[schema(max_length = 1000)]
    pub text_ru: Option<String>,
    /// In Kazakh; null: the built-in text.
    #[schema(max_length = 1000)]
    pub text_kk: Option<String>,
    /// In English; null: the built-in text.
    #[schema(max_length = 1000)]
    pub text_en: Option<String>,
}

impl FollowUpSettings {
    /// The company's own words for this language, if it wrote them (mixed: Russian).
    pub fn text(&self, language: Language) -> Option<&str> {
        match language {
            Language::Kk => self.text_kk.as_deref(),
            Language::En => self.text_en.as_deref(),
            Language::Ru | Language::Mixed => self.text_ru.as_deref(),
        }
    }
}

pub async fn settings(pool: &PgPool, tenant: TenantId) -> Result<FollowUpSettings, sqlx::Error> {
    sqlx::query_as!(
        FollowUpSettings,
        r#"SELECT follow_up_max AS max_count, follow_up_delay_minutes AS delay_minutes,
                  follow_up_text_ru AS text_ru, follow_up_text_kk AS text_kk,
                  follow_up_text_en AS text_en
             FROM tenants WHERE id = $1"#,
        tenant.0
    )
    .fetch_one(pool)
    .await
}

/// Replaces the settings. A pending follow-up keeps its due time; it reads the count and the
/// words when it runs.
pub async fn set_settings(
    pool: &PgPool,
    tenant: TenantId,
    s: &FollowUpSettings,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE tenants SET follow_up_max = $2, follow_up_delay_minutes = $3,
                follow_up_text_ru = $4, follow_up_text_kk = $5, follow_up_text_en = $6
          WHERE id = $1",
        tenant.0,
        s.max_count,
        s.delay_minutes,
        s.text_ru,
        s.text_kk,
        s.text_en
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// A conversation as a follow-up sees it.
#[derive(Debug)]
pub struct Conversation {
    pub channel: Channel,
    pub mode: ConversationMode,
    /// The customer blocked the company's Telegram bot.
    pub blocked: bool,
    /// The seq of the conversation's newest message.
    pub last_seq: i64,
    pub language: Option<Language>,
    /// No lead yet, or one still `new` (not qualified, not taken up by a manager).
    pub lead_open: bool,
    pub settings: FollowUpSettings,
}

/// The conversation, locked (so no customer message, turn or handoff lands between the decision
/// and the message), with its lead's state and the company's settings; None when it is gone. Its
/// lock is the first of every writer's order (db::handoff).
pub async fn lock_conversation(
    tx: &mut sqlx::PgConnection,
    tenant: TenantId,
    bot_user: BotUserId,
) -> Result<Option<Conversation>, sqlx::Error> {
    let row = sqlx::query!(
        r#"SELECT b.channel AS "channel: Channel", b.mode AS "mode: ConversationMode",
                  b.blocked_at IS NOT NULL AS "blocked!", b.last_seq, b.language,
                  (l.id IS NULL OR l.status = 'new') AS "lead_open!",
                  t.follow_up_max, t.follow_up_delay_minutes,
                  t.follow_up_text_ru, t.follow_up_text_kk, t.follow_up_text_en
             FROM bot_users b
             JOIN tenants t ON t.id = b.tenant_id
             LEFT JOIN leads l ON l.tenant_id = b.tenant_id AND l.bot_user_id = b.id
            WHERE b.tenant_id = $1 AND b.id = $2
            FOR UPDATE OF b"#,
        tenant.0,
        bot_user.0
    )
    .fetch_optional(tx)
    .await?;
    Ok(row.map(|r| Conversation {
        channel: r.channel,
        mode: r.mode,
        blocked: r.blocked,
        last_seq: r.last_seq,
        language: r.language.as_deref().and_then(|l| l.parse().ok()),
        lead_open: r.lead_open,
        settings: FollowUpSettings {
            max_count: r.follow_up_max,
            delay_minutes: r.follow_up_delay_minutes,
            text_ru: r.follow_up_text_ru,
            text_kk: r.follow_up_text_kk,
            text_en: r.follow_up_text_en,
        },
    }))
}
