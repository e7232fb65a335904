//! `turn`: one step of a conversation. Keyed by bot user, so turns of a conversation run one at a
//! time and in order. A turn takes *every* unanswered customer message (in `seq` order), runs the
//! engine with no transaction open, then writes everything in ONE transaction fenced by the job's
//! lease: the reply, the answered marks, the lead. Messages that arrive meanwhile are taken by the
//! next turn (ingest enqueued it: the running turn is no longer deduplicated against).

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use sqlx::PgPool;
use uuid::Uuid;

use crate::db::{self, tenant_tx};
use crate::domain::conversation::{
    ConversationMode, MessageKind, MessageRole, MessageState, TranscriptState,
};
use crate::domain::language::Language;
use crate::domain::text::{self, LeadSummary, NameText, ReplyText};
use crate::domain::{LeadId, MessageId};
use crate::jobs::{self, JobPayload};
use crate::queue::Lease;
use crate::workers::engine::{
    self, EngineError, LeadPatch, LeadSnapshot, TenantProfile, Turn, TurnInput, TurnOutput,
};
use crate::workers::{Handler, JobContext, JobError, JobFuture};

use super::Deps;
use super::typing;
use crate::jobs::LeadEvent;

pub struct TurnHandler {
    pub deps: Deps,
}

/// A customer message waiting for its answer.
#[derive(Deserialize)]
struct Pending {
    id: Uuid,
    kind: MessageKind,
    content: String,
    transcript: Option<String>,
    transcript_status: Option<TranscriptState>,
    created_at: DateTime<Utc>,
}

impl Pending {
    /// The words the engine sees, if any (an untranscribed voice note has none).
    fn text(&self) -> Option<&str> {
        match self.kind {
            MessageKind::Voice => self.transcript.as_deref().filter(|t| !t.trim().is_empty()),
            MessageKind::Text => Some(self.content.as_str()),
        }
    }
}

/// Everything a turn reads before calling the engine.
struct Snapshot {
    pending: Vec<Pending>,
    input: TurnInput,
    /// A manager has the conversation.
    human_mode: bool,
    /// The customer's Telegram chat (a Telegram conversation the customer has not blocked).
    telegram_chat: Option<String>,
}

impl Handler for TurnHandler {
    fn kind(&self) -> &'static str {
        jobs::Turn::KIND
    }

    fn deadline(&self) -> Duration {
        self.deps.turn_deadline
    }

    fn run(&self, ctx: JobContext) -> JobFuture {
        let deps = self.deps.clone();
        Box::pin(async move {
            let p = payload(&ctx)?;
            let started = std::time::Instant::now();
            let Some(snapshot) = read(&ctx.db, p, deps.history).await? else {
                return Ok(()); // an earlier turn answered everything
            };
            let read_done = started.elapsed();
            if snapshot.human_mode
                && db::handoff::forward_if_human(&ctx.db, p.tenant_id, p.bot_user_id).await?
            {
                // A manager has the conversation: the bot stays silent and the managers get the
                // message (forward_if_human checks the mode again in its own transaction, and
                // commit under the conversation's lock, for a handoff that lands while the engine
                // runs).
                tracing::debug!(tenant_id = %p.tenant_id, bot_user_id = %p.bot_user_id, "human mode: forwarded");
                deps.wake();
                return Ok(());
            }
            if snapshot
                .pending
                .iter()
                .any(|m| m.transcript_status == Some(TranscriptState::Pending))
            {
                // Messages are answered in order, so this conversation waits for the transcript. The
                // transcribe job enqueues the next turn once it has stored it (or given up), so there
                // is nothing to do now — no timer, no retry.
                tracing::debug!(bot_user_id = %p.bot_user_id, "waiting for a transcript");
                return Ok(());
            }
            // Shown until this function returns, i.e. until the reply is stored (or the turn failed).
            let _typing = typing::start(
                deps.telegram.as_ref(),
                &ctx.db,
                p.tenant_id,
                snapshot.telegram_chat.clone(),
            )
            .await;
            let last_attempt = ctx.job.attempts >= ctx.job.max_attempts;
            let output = respond(&deps, &snapshot, last_attempt).await?;
            let engine_done = started.elapsed();
            let ids: Vec<Uuid> = snapshot.pending.iter().map(|m| m.id).collect();
            let notify = ManagerChats {
                platform: deps.notifier.is_some(),
                companies: deps.telegram.is_some(),
            };
            let committed = commit(
                &ctx.db,
                p,
                ctx.lease(),
                &ids,
                &output,
                MessageState::Answered,
                notify,
                deps.handoff_timeout,
            )
            .await?;
            if committed {
                tracing::info!(
                    tenant_id = %p.tenant_id, bot_user_id = %p.bot_user_id, job_id = %ctx.job.id,
                    engine = output.engine, messages = ids.len(),
                    read_ms = read_done.as_millis() as u64,
                    engine_ms = (engine_done - read_done).as_millis() as u64,
                    commit_ms = (started.elapsed() - engine_done).as_millis() as u64,
                    "reply stored"
                );
                let _ = db::messages::announce_reply(&ctx.db, p.bot_user_id).await;
            }
            Ok(())
        })
    }

    /// A dead turn must not leave the customer unanswered: its messages are marked failed and answered
    /// with the offline engine's "a manager will contact you", so the conversation moves on.
    fn on_dead(&self, ctx: JobContext, error: String) -> JobFuture {
        let handoff_timeout = self.deps.handoff_timeout;
        Box::pin(async move {
            let p = payload(&ctx)?;
            let Some(snapshot) = read(&ctx.db, p, 0).await? else {
                return Ok(());
            };
            let language = snapshot.input.language_hint.unwrap_or(Language::Ru);
            let output = TurnOutput {
                reply: engine::fallback_reply(language),
                lead_patch: Default::default(),
                handoff: None,
                language,
                usage: Default::default(),
                off_topic: true,
                engine: "fallback",
            };
            let ids: Vec<Uuid> = snapshot.pending.iter().map(|m| m.id).collect();
            let committed = commit(
                &ctx.db,
                p,
                ctx.lease(),
                &ids,
                &output,
                MessageState::Failed,
                ManagerChats::NONE,
                handoff_timeout,
            )
            .await?;
            if committed {
                tracing::error!(tenant_id = %p.tenant_id, bot_user_id = %p.bot_user_id, %error,
                    "turn is dead: messages marked failed, fallback reply sent");
                let _ = db::messages::announce_reply(&ctx.db, p.bot_user_id).await;
            }
            Ok(())
        })
    }
}

fn payload(ctx: &JobContext) -> Result<jobs::Turn, JobError> {
    jobs::Turn::read(&ctx.job.payload)
        .map_err(|e| JobError::fatal(anyhow::anyhow!("bad turn payload: {e}")))
}

/// What `turn_read` returns (see sql/functions/turn_read.sql).
#[derive(Deserialize)]
struct Read {
    pending: Vec<Pending>,
    earlier: Vec<Earlier>,
    lead: Option<StoredLead>,
    language: Option<String>,
    mode: ConversationMode,
    telegram_chat: Option<String>,
    company_name: String,
    about: Option<String>,
    greeting: Option<String>,
    company_phone: Option<String>,
}

#[derive(Deserialize)]
struct Earlier {
    role: MessageRole,
    kind: MessageKind,
    content: String,
    transcript: Option<String>,
}

#[derive(Deserialize)]
struct StoredLead {
    name: Option<String>,
    phone: Option<String>,
    city: Option<String>,
    object_type: Option<String>,
    area_m2: Option<f64>,
    summary: Option<String>,
}

/// Reads the conversation in one round trip (and marks its messages `processing` unless one still
/// waits for a transcript). None when nothing is unanswered.
async fn read(db: &PgPool, p: jobs::Turn, history: i64) -> Result<Option<Snapshot>, JobError> {
    let read = sqlx::query_scalar!(
        "SELECT turn_read($1, $2, $3)",
        p.tenant_id.0,
        p.bot_user_id.0,
        history as i32
    )
    .fetch_one(db)
    .await?;
    let Some(read) = read else {
        return Ok(None);
    };
    let read: Read = serde_json::from_value(read)
        .map_err(|e| JobError::fatal(anyhow::anyhow!("unreadable turn_read: {e}")))?;
    let mut conversation: Vec<Turn> = read
        .earlier
        .into_iter()
        .filter_map(|m| {
            let text = match m.kind {
                MessageKind::Voice => m.transcript?,
                MessageKind::Text => m.content,
            };
            Some(match m.role {
                MessageRole::User => Turn::user(text),
                _ => Turn::assistant(text),
            })
        })
        .collect();
    conversation.extend(read.pending.iter().filter_map(|m| m.text().map(Turn::user)));
    let lead = read
        .lead
        .map(|l| {
            LeadSnapshot::from_stored(
                l.name,
                l.phone.as_deref(),
                l.city.as_deref(),
                l.object_type.as_deref(),
                l.area_m2,
                l.summary,
            )
        })
        .unwrap_or_default();
    Ok(Some(Snapshot {
        human_mode: read.mode == ConversationMode::Human,
        telegram_chat: read.telegram_chat,
        pending: read.pending,
        input: TurnInput {
            conversation,
            lead,
            tenant: TenantProfile {
                id: Some(p.tenant_id),
                company_name: read.company_name,
                about: read.about,
                greeting: read.greeting,
                company_phone: read.company_phone,
            },
            language_hint: read.language.as_deref().and_then(|l| l.parse().ok()),
        },
    }))
}

/// Calls the engine (no transaction is open). When the engine cannot answer — a fatal error
/// (bad key, billing, budget spent), or a retryable one on the job's last attempt — the offline
/// engine answers, so the customer still gets a sensible reply; the reply and the lead record
/// which engine it was. A rate limit only defers the turn (no attempt used).
async fn respond(
    deps: &Deps,
    snapshot: &Snapshot,
    last_attempt: bool,
) -> Result<TurnOutput, JobError> {
    let language = snapshot.input.language_hint;
    let stale_before =
        Utc::now() - chrono::Duration::from_std(deps.stale_after).unwrap_or_default();
    if snapshot.pending.iter().all(|m| m.text().is_none()) {
        // Only voice notes we could not transcribe: ask for text.
        let language = language.unwrap_or(Language::Ru);
        return Ok(plain_reply(
            engine::voice_not_supported_reply(language),
            language,
        ));
    }
    let output = match deps.engine.turn(&snapshot.input).await {
        Ok(output) => output,
        Err(EngineError::RateLimited { retry_after }) => {
            return Err(JobError::defer(retry_after, "engine rate limited"));
        }
        Err(err @ EngineError::Retryable { .. }) if !last_attempt => {
            return Err(JobError::retry(err));
        }
        Err(err) => {
            tracing::warn!(engine = deps.engine.name(), error = %err,
                "the engine cannot answer; the offline engine does");
            deps.fallback
                .turn(&snapshot.input)
                .await
                .map_err(JobError::retry)?
        }
    };
    if snapshot.pending.iter().all(|m| m.created_at < stale_before) {
        // After downtime: one catch-up reply for the whole backlog (the lead is still updated).
        let reply = catch_up_reply(output.language);
        return Ok(TurnOutput { reply, ..output });
    }
    Ok(output)
}

/// One answer for a backlog after downtime: an apology and a promise, not a reply to each message.
fn catch_up_reply(language: Language) -> String {
    match language {
        Language::Kk => "Кешіріңіз, жауап кешікті. Хабарламаларыңызды алдық — менеджер жақын арада хабарласады.",
        Language::En => "Sorry for the late reply. We have your messages, and a manager will contact you shortly.",
        Language::Ru | Language::Mixed => {
            "Извините за задержку с ответом. Мы получили ваши сообщения — менеджер скоро с вами свяжется."
        }
    }
    .to_owned()
}

fn plain_reply(reply: String, language: Language) -> TurnOutput {
    TurnOutput {
        reply,
        lead_patch: Default::default(),
        handoff: None,
        language,
        usage: Default::default(),
        off_topic: false,
        engine: "offline",
    }
}

/// Writes the turn's results in one round trip, fenced by the lease (`turn_commit`,
/// sql/functions/turn_commit.sql): the reply, the answered marks, the delivery outbox, the lead and
/// its notification. Returns false if there was nothing left to answer (a previous attempt committed
/// and crashed before its ack) or a manager has taken the conversation over. The engine's structured
/// handoff request (e.g. the customer asked for a person) hands the conversation to the managers in
/// the same transaction — unless the message that asked predates the last release, which already
/// answered that request (no handoff loop).
#[allow(clippy::too_many_arguments)]
async fn commit(
    db: &PgPool,
    p: jobs::Turn,
    lease: Lease,
    pending: &[Uuid],
    output: &TurnOutput,
    status: MessageState,
    notify: ManagerChats,
    handoff_timeout: Duration,
) -> Result<bool, JobError> {
    let lead = (!output.off_topic).then(|| lead_patch_json(&output.lead_patch));
    let reply = text::scrub(&output.reply, ReplyText::MAX_CHARS);
    let new_lead_id = LeadId::new();
    let call = sqlx::query_scalar!(
        r#"SELECT turn_commit($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
                  AS "result!""#,
        p.tenant_id.0,
        p.bot_user_id.0,
        lease.id.0,
        lease.token,
        pending,
        MessageId::new().0,
        reply,
        output.engine,
        output.language.code(),
        status.as_str(),
        lead,
        new_lead_id.0,
        notify.platform,
        notify.companies
    );
    let committed = match &output.handoff {
        // The common case: one statement, its own transaction.
        None => parse_commit(call.fetch_one(db).await?)?,
        Some(request) => {
            let mut tx = tenant_tx(db, p.tenant_id).await?;
            let committed = parse_commit(call.fetch_one(&mut *tx).await?)?;
            if committed.outcome == Outcome::Committed && committed.handoff_fresh {
                db::handoff::begin(
                    &mut tx,
                    p.tenant_id,
                    p.bot_user_id,
                    &request.reason,
                    handoff_timeout,
                )
                .await?;
            }
            tx.commit().await?;
            committed
        }
    };
    match committed.outcome {
        Outcome::Committed => {}
        Outcome::LeaseLost => {
            return Err(JobError::retry(anyhow::anyhow!(
                "lease lost before commit: another worker owns this turn"
            )));
        }
        Outcome::Human | Outcome::NothingPending => return Ok(false),
    }
    if committed.delivery_job {
        crate::metrics::job_enqueued(jobs::DeliverReply::KIND, 1);
    }
    if committed.notify_job {
        crate::metrics::job_enqueued(jobs::NotifyManager::KIND, 1);
    }
    if let (Some(lead_id), Some(version), Some(event)) = (
        committed.lead_id,
        committed.lead_version,
        committed.lead_event,
    ) {
        tracing::info!(tenant_id = %p.tenant_id, bot_user_id = %p.bot_user_id, %lead_id, version,
            ?event, "lead stored");
    }
    Ok(true)
}

/// Where lead notifications can go from this process (notify_manager picks the chat at send time).
#[derive(Clone, Copy)]
struct ManagerChats {
    /// The platform's managers' chat (TELEGRAM_BOT_TOKEN / TELEGRAM_CHAT_ID).
    platform: bool,
    /// Companies' own managers' chats, through their own bots.
    companies: bool,
}

impl ManagerChats {
    const NONE: Self = Self {
        platform: false,
        companies: false,
    };
}

/// What `turn_commit` answers.
#[derive(Deserialize)]
struct Committed {
    outcome: Outcome,
    #[serde(default)]
    handoff_fresh: bool,
    #[serde(default)]
    delivery_job: bool,
    #[serde(default)]
    notify_job: bool,
    lead_id: Option<Uuid>,
    lead_version: Option<i32>,
    lead_event: Option<LeadEvent>,
}

#[derive(Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
enum Outcome {
    Committed,
    /// Another worker holds the job now.
    LeaseLost,
    /// A manager has the conversation: the reply is dropped.
    Human,
    /// An earlier attempt committed and crashed before its ack.
    NothingPending,
}

fn parse_commit(result: serde_json::Value) -> Result<Committed, JobError> {
    serde_json::from_value(result)
        .map_err(|e| JobError::fatal(anyhow::anyhow!("unreadable turn_commit: {e}")))
}

/// The engine's lead fields as `turn_commit` merges them: in their stored text forms, unset fields
/// absent (so the stored value stays).
fn lead_patch_json(patch: &LeadPatch) -> serde_json::Value {
    // The engine's free text (an LLM's, possibly) is held to the text policy like a client's.
    let name = patch
        .name
        .as_deref()
        .map(|n| text::scrub(n, NameText::MAX_CHARS));
    let summary = patch
        .summary
        .as_deref()
        .map(|s| text::scrub(s, LeadSummary::MAX_CHARS));
    serde_json::json!({
        "name": name,
        "phone": patch.phone.as_ref().map(|p| p.as_str()),
        "city": patch.city.map(|c| c.as_str()),
        "object_type": patch.object_type.map(|o| o.as_str()),
        "area_m2": patch.area_m2,
        "summary": summary,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workers::engine::Role;

    #[test]
    fn untranscribed_voice_has_no_text() {
        let voice = Pending {
            id: Uuid::nil(),
            kind: MessageKind::Voice,
            content: String::new(),
            transcript: None,
            transcript_status: Some(TranscriptState::Unavailable),
            created_at: Utc::now(),
        };
        assert_eq!(voice.text(), None);
        let text = Pending {
            kind: MessageKind::Text,
            content: "Хочу дом".into(),
            ..voice
        };
        assert_eq!(text.text(), Some("Хочу дом"));
    }

    #[test]
    fn roles_map_to_turns() {
        assert_eq!(Turn::user("a").role, Role::User);
    }
}
