//! The conversation pipeline: `transcribe` (voice → text, ahead of the conversation) and `turn`
//! (all unanswered messages of one conversation → engine → reply + lead, in one fenced transaction).
//! Data flows one way: these stages read what ingest recorded and write results and outbox jobs.

pub mod crm_sync;
pub mod deliver;
pub mod follow_up;
pub mod handoff;
pub mod notify;
pub mod transcribe;
pub mod turn;
pub mod typing;
pub mod webhook;

use std::sync::Arc;
use std::time::Duration;

use crate::config::PriceTable;
use crate::db::usage::RateLimit;
use crate::queue::wake::Waker;
use crate::workers::engine::Engine;

pub use transcribe::{TranscribeError, Transcriber, Transcript};

/// What the pipeline stages share.
#[derive(Clone)]
pub struct Deps {
    pub engine: Arc<dyn Engine>,
    /// Answers when `engine` fails for good (the offline engine).
    pub fallback: Arc<dyn Engine>,
    /// Speech-to-text; None: voice notes get a polite "please write" reply.
    pub transcriber: Option<Arc<dyn Transcriber>>,
    /// Wakes workers after a stage enqueues or re-schedules work.
    pub waker: Option<Waker>,
    /// Messages older than this when their turn runs get one catch-up reply per conversation.
    pub stale_after: Duration,
    /// Earlier messages given to the engine as context.
    pub history: i64,
    /// The platform's managers' notifications; None when TELEGRAM_BOT_TOKEN/CHAT_ID are not set
    /// (companies' own managers' chats still get theirs through `telegram`).
    pub notifier: Option<Arc<notify::Notifier>>,
    /// How long one turn may take (engine calls included); shorter than the job lease.
    pub turn_deadline: Duration,
    /// The speech-to-text model's share of OPENAI_RPM and the budget check; with it, transcriptions
    /// are billed (None: neither limited nor billed, e.g. a test's fake transcriber).
    pub transcribe_limit: Option<RateLimit>,
    /// What speech-to-text costs (the chat engine bills its own calls).
    pub prices: PriceTable,
    /// The tenants' own bots (replies, voice downloads); None: no Telegram channel in this process.
    pub telegram: Option<Arc<crate::workers::telegram::Telegram>>,
    /// How long a handed-off customer waits for a manager before being told when to expect one.
    pub handoff_timeout: Duration,
    /// Webhook deliveries; None: this process delivers none (tests of other stages).
    pub webhooks: Option<webhook::WebhookHandler>,
    /// amoCRM sync; None: this process syncs nothing.
    pub crm: Option<crm_sync::CrmSyncHandler>,
}

impl Deps {
    pub fn wake(&self) {
        if let Some(waker) = &self.waker {
            waker.wake();
        }
    }
}
