//! The job contract: every kind of job the pipeline runs, its payload, and how it is enqueued (its
//! key, deduplication and attempts). Producers build jobs with these types, and the handlers in
//! `workers/` read their payloads back with the same ones ([`JobPayload::read`]), so a field can
//! not be renamed on one side only.
//!
//! Five SQL functions enqueue some of these jobs in SQL too, for the hot paths' single round
//! trip: `message_record()` (`transcribe`, `turn`), `message_ingest_batch()` (`turn`),
//! `turn_commit()` (`deliver_reply`, `notify_manager`, `follow_up`), `webhook_emit()` (`webhook`) and the
//! `leads` trigger `crm_sync_enqueue()` (`crm_sync`), in sql/functions/. They build the same
//! payloads and options; tests/api/jobs.rs reads every job they enqueue back with these types, so
//! the two sides cannot drift apart unnoticed.

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::domain::{BotUserId, LeadId, MessageId, TenantId};
use crate::queue::NewJob;

/// A payload of one job kind.
pub trait JobPayload: Serialize + DeserializeOwned {
    const KIND: &'static str;

    /// The payload of a claimed job of this kind. A payload that does not read is a job no
    /// attempt can run: handlers bury it.
    fn read(payload: &serde_json::Value) -> Result<Self, serde_json::Error> {
        Self::deserialize(payload)
    }
}

/// The ordering key of a conversation's turns: one turn at a time per bot user, in message order.
pub fn conversation_key(bot_user: BotUserId) -> String {
    format!("conversation:{bot_user}")
}

/// A conversation's next turn: the engine answers every customer message still unanswered.
/// Keyed and deduplicated by the conversation, so one is pending at a time and turns run in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Turn {
    pub tenant_id: TenantId,
    pub bot_user_id: BotUserId,
}

impl JobPayload for Turn {
    const KIND: &'static str = "turn";
}

impl Turn {
    pub fn job(self) -> NewJob {
        let key = conversation_key(self.bot_user_id);
        new_job(&self)
            .key(key.clone())
            .dedup(key)
            .tenant(self.tenant_id)
    }
}

/// Speech-to-text of a voice note; its turn follows (the transcribe job enqueues it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Transcribe {
    pub tenant_id: TenantId,
    pub message_id: MessageId,
    pub bot_user_id: BotUserId,
}

impl JobPayload for Transcribe {
    const KIND: &'static str = "transcribe";
}

impl Transcribe {
    /// No key: a conversation's voice notes are transcribed side by side; its turn waits.
    pub fn job(self) -> NewJob {
        new_job(&self).tenant(self.tenant_id).max_attempts(5)
    }
}

/// Sends a stored message (the bot's or a manager's) to the customer's Telegram chat. Keyed by the
/// conversation apart from its turns, so a rate-limited send holds back later sends but never the
/// next turn; deduplicated by the message, so it is sent once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliverReply {
    pub tenant_id: TenantId,
    pub bot_user_id: BotUserId,
    pub message_id: MessageId,
}

impl JobPayload for DeliverReply {
    const KIND: &'static str = "deliver_reply";
}

impl DeliverReply {
    pub fn job(self) -> NewJob {
        new_job(&self)
            .key(format!("deliver:{}", self.bot_user_id))
            .dedup(format!("deliver:{}", self.message_id))
            .tenant(self.tenant_id)
            .max_attempts(12)
    }
}

/// What happened to a lead, for the managers' notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum LeadEvent {
    Created,
    Qualified,
    Updated,
}

/// Tells the managers' chat about a lead version. Keyed by the conversation (apart from its turns,
/// so a failing chat never delays the customer), so notifications arrive in version order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifyManager {
    pub tenant_id: TenantId,
    pub lead_id: LeadId,
    pub version: i32,
    pub event: LeadEvent,
}

impl JobPayload for NotifyManager {
    const KIND: &'static str = "notify_manager";
}

impl NotifyManager {
    pub fn job(self, bot_user: BotUserId) -> NewJob {
        new_job(&self)
            .key(format!("notify:{bot_user}"))
            .tenant(self.tenant_id)
            .max_attempts(8)
    }
}

/// Forwards a handed-over conversation's news to the managers' chat; with a reason it starts with
/// the "a customer needs a manager" alert.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForwardToManagers {
    pub tenant_id: TenantId,
    pub bot_user_id: BotUserId,
    pub reason: Option<String>,
}

impl JobPayload for ForwardToManagers {
    const KIND: &'static str = "forward_to_managers";
}

impl ForwardToManagers {
    /// One plain forward pending per conversation; an alert is never swallowed by a pending plain
    /// one, so only plain ones deduplicate.
    pub fn job(&self) -> NewJob {
        let key = format!("forward:{}", self.bot_user_id);
        let job = new_job(self)
            .key(key.clone())
            .tenant(self.tenant_id)
            .max_attempts(8);
        if self.reason.is_none() {
            job.dedup(key)
        } else {
            job
        }
    }
}

/// Tells a customer handed to a manager when to expect an answer, if none came by then (the
/// handoff that started at `handoff_at` must still be the conversation's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HandoffTimeout {
    pub tenant_id: TenantId,
    pub bot_user_id: BotUserId,
    pub handoff_at: DateTime<Utc>,
}

impl JobPayload for HandoffTimeout {
    const KIND: &'static str = "handoff_timeout";
}

impl HandoffTimeout {
    pub fn job(self, wait: std::time::Duration) -> NewJob {
        new_job(&self).tenant(self.tenant_id).delay(wait)
    }
}

/// The bot writes once more to a customer who went quiet before the lead was qualified
/// (workers/pipeline/follow_up.rs). It follows the bot message at `after_seq` and is the
/// `number`-th follow-up in a row; when it runs, anything newer in the conversation (the
/// customer's answer, a manager) makes it end without sending.
///
/// Keyed and deduplicated by the bot user apart from the conversation's turns (a delayed head
/// would hold back the conversation's turns for a day): at most one is pending per customer. A
/// newer bot reply re-arms the pending one in place, new payload and due time (`turn_commit()`),
/// so the one pending is always about the latest reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FollowUp {
    pub tenant_id: TenantId,
    pub bot_user_id: BotUserId,
    /// The conversation's `last_seq` when it was scheduled: the bot message it follows.
    pub after_seq: i64,
    /// 1 for the first follow-up after the bot's reply, 2 for the next, … up to the company's
    /// maximum.
    pub number: i32,
}

impl JobPayload for FollowUp {
    const KIND: &'static str = "follow_up";
}

impl FollowUp {
    pub fn key(bot_user: BotUserId) -> String {
        format!("follow_up:{bot_user}")
    }

    pub fn job(self, delay: std::time::Duration) -> NewJob {
        let key = Self::key(self.bot_user_id);
        new_job(&self)
            .key(key.clone())
            .dedup(key)
            .tenant(self.tenant_id)
            .max_attempts(5)
            .delay(delay)
    }
}

/// Registers (or, in getUpdates mode, removes) a company bot's webhook with Telegram.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TelegramSetWebhook {
    pub tenant_id: TenantId,
}

impl JobPayload for TelegramSetWebhook {
    const KIND: &'static str = "telegram_set_webhook";
}

impl TelegramSetWebhook {
    /// It reads the settings when it runs, so of several saves in a row one pending job does
    /// (dedup), with the latest token.
    pub fn job(self) -> NewJob {
        let key = format!("telegram_bot:{}", self.tenant_id);
        new_job(&self)
            .key(key.clone())
            .dedup(key)
            .tenant(self.tenant_id)
            .max_attempts(10)
    }
}

/// Sends one event to one webhook endpoint (a `webhook_deliveries` row). Keyed by the endpoint and
/// the conversation, so one conversation's events reach an endpoint in order while other
/// conversations and endpoints go on; deduplicated by the delivery, so a redelivery asked for
/// twice is sent once. Its attempts end when WEBHOOK_RETRY_SCHEDULE does (the handler decides), so
/// the queue's bound is only a backstop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliverWebhook {
    pub tenant_id: TenantId,
    pub delivery_id: uuid::Uuid,
    pub endpoint_id: uuid::Uuid,
    /// None for an endpoint's operational events.
    pub bot_user_id: Option<BotUserId>,
}

impl JobPayload for DeliverWebhook {
    const KIND: &'static str = "webhook";
}

impl DeliverWebhook {
    pub const MAX_ATTEMPTS: i32 = 1000;

    pub fn job(self) -> NewJob {
        let key = match self.bot_user_id {
            Some(bot_user) => format!("webhook:{}:{bot_user}", self.endpoint_id),
            None => format!("webhook:{}", self.endpoint_id),
        };
        new_job(&self)
            .key(key)
            .dedup(format!("webhook:{}", self.delivery_id))
            .tenant(self.tenant_id)
            .max_attempts(Self::MAX_ATTEMPTS)
    }
}

/// Mirrors a lead (and its contact) into the company's amoCRM. Enqueued by the `leads` trigger
/// (crm_sync_enqueue()) on every change while amoCRM is connected; keyed and deduplicated by the
/// lead, so one sync is pending per lead and it sends the lead as it is when it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CrmSync {
    pub tenant_id: TenantId,
    pub lead_id: LeadId,
}

impl JobPayload for CrmSync {
    const KIND: &'static str = "crm_sync";
}

impl CrmSync {
    pub fn job(self) -> NewJob {
        let key = format!("crm:{}", self.lead_id);
        new_job(&self)
            .key(key.clone())
            .dedup(key)
            .tenant(self.tenant_id)
            .max_attempts(10)
    }
}

fn new_job<P: JobPayload>(payload: &P) -> NewJob {
    NewJob::new(
        P::KIND,
        serde_json::to_value(payload).expect("a payload of ids, numbers and strings"),
    )
}
