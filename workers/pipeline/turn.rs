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
use crate::domain::language::Language;
use crate::domain::{BotUserId, LeadId, MessageId, TenantId};
use crate::queue::{self, Lease};
use crate::workers::engine::{
    self, EngineError, LeadSnapshot, TenantProfile, Turn, TurnInput, TurnOutput,
};
use crate::workers::{Handler, JobContext, JobError, JobFuture};

use super::Deps;
use super::notify::{self, LeadEvent};
use super::typing;

pub struct TurnHandler {
    pub deps: Deps,
}

#[derive(Deserialize, Clone, Copy)]
struct Payload {
    tenant_id: TenantId,
    bot_user_id: BotUserId,
}

/// A customer message waiting for its answer.
#[derive(Deserialize)]
struct Pending {
    id: Uuid,
    kind: String,
    content: String,
    transcript: Option<String>,
    transcript_status: Option<String>,
    created_at: DateTime<Utc>,
}

impl Pending {
    /// The words the engine sees, if any (an untranscribed voice note has none).
    fn text(&self) -> Option<&str> {
        match self.kind.as_str() {
            "voice" => self.transcript.as_deref().filter(|t| !t.trim().is_empty()),
            _ => Some(self.content.as_str()),
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
        db::messages::TURN_JOB
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
                .any(|m| m.transcript_status.as_deref() == Some("pending"))
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
            // A company's own managers' chat or the platform's: notify_manager picks at send time.
            let notify = deps.notifier.is_some() || deps.telegram.is_some();
            let committed = commit(
                &ctx.db,
                p,
                ctx.lease(),
                &ids,
                &output,
                "answered",
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
                "failed",
                false,
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

fn payload(ctx: &JobContext) -> Result<Payload, JobError> {
    serde_json::from_value(ctx.job.payload.clone())
        .map_err(|e| JobError::fatal(anyhow::anyhow!("bad turn payload: {e}")))
}

/// What `turn_read` returns (see migrations/0010_turn_read.sql).
#[derive(Deserialize)]
struct Read {
    pending: Vec<Pending>,
    earlier: Vec<Earlier>,
    lead: Option<StoredLead>,
    language: Option<String>,
    mode: String,
    telegram_chat: Option<String>,
    company_name: String,
    about: Option<String>,
    greeting: Option<String>,
    company_phone: Option<String>,
}

#[derive(Deserialize)]
struct Earlier {
    role: String,
    kind: String,
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
async fn read(db: &PgPool, p: Payload, history: i64) -> Result<Option<Snapshot>, JobError> {
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
            let text = if m.kind == "voice" {
                m.transcript?
            } else {
                m.content
            };
            Some(match m.role.as_str() {
                "user" => Turn::user(text),
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
        human_mode: read.mode == "human",
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

/// Writes the turn's results in one transaction, fenced by the lease. Returns false if there was
/// nothing left to answer (a previous attempt committed and crashed before its ack) or a manager has
/// taken the conversation over. The engine's structured handoff request (e.g. the customer asked for
/// a person) hands the conversation to the managers in the same transaction — unless the message
/// that asked predates the last release, which already answered that request (no handoff loop).
#[allow(clippy::too_many_arguments)]
async fn commit(
    db: &PgPool,
    p: Payload,
    lease: Lease,
    pending: &[Uuid],
    output: &TurnOutput,
    status: &str,
    notify: bool,
    handoff_timeout: Duration,
) -> Result<bool, JobError> {
    let mut tx = tenant_tx(db, p.tenant_id).await?;
    if !queue::holds_lease(&mut tx, lease).await? {
        return Err(JobError::retry(anyhow::anyhow!(
            "lease lost before commit: another worker owns this turn"
        )));
    }
    // The conversation's lock first (ingest's lock order), then its mode: a manager who took over
    // while the engine ran gets the conversation, and the bot's reply is dropped — one answer only.
    let conversation = sqlx::query!(
        "SELECT mode, channel, released_at FROM bot_users WHERE tenant_id = $1 AND id = $2 FOR UPDATE",
        p.tenant_id.0,
        p.bot_user_id.0
    )
    .fetch_one(&mut *tx)
    .await?;
    if conversation.mode == "human" {
        return Ok(false);
    }
    let still_pending: Vec<Uuid> = sqlx::query_scalar!(
        "SELECT id FROM messages WHERE tenant_id = $1 AND id = ANY ($2) AND reply_id IS NULL
         ORDER BY seq FOR UPDATE",
        p.tenant_id.0,
        pending
    )
    .fetch_all(&mut *tx)
    .await?;
    if still_pending.is_empty() {
        return Ok(false);
    }
    let seq = sqlx::query_scalar!(
        "UPDATE bot_users SET last_seq = last_seq + 1, language = $3, updated_at = now()
         WHERE tenant_id = $1 AND id = $2 RETURNING last_seq",
        p.tenant_id.0,
        p.bot_user_id.0,
        output.language.code()
    )
    .fetch_one(&mut *tx)
    .await?;
    let reply_id = MessageId::new();
    sqlx::query!(
        "INSERT INTO messages (id, tenant_id, bot_user_id, seq, role, kind, content, status, engine,
                               language)
         VALUES ($1, $2, $3, $4, 'assistant', 'text', $5, 'answered', $6, $7)",
        reply_id.0,
        p.tenant_id.0,
        p.bot_user_id.0,
        seq,
        output.reply,
        output.engine,
        output.language.code()
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!(
        "UPDATE messages SET reply_id = $3, status = $4, answered_at = clock_timestamp()
         WHERE tenant_id = $1 AND id = ANY ($2)",
        p.tenant_id.0,
        &still_pending,
        reply_id.0,
        status
    )
    .execute(&mut *tx)
    .await?;
    if conversation.channel == db::messages::Channel::Telegram.as_str() {
        // The outbox: the reply and its delivery commit together.
        db::telegram::enqueue_delivery(&mut tx, p.tenant_id, p.bot_user_id, reply_id).await?;
    }
    if let Some(request) = &output.handoff {
        let latest: Option<DateTime<Utc>> = sqlx::query_scalar!(
            "SELECT max(created_at) FROM messages WHERE tenant_id = $1 AND id = ANY ($2)",
            p.tenant_id.0,
            &still_pending
        )
        .fetch_one(&mut *tx)
        .await?;
        let fresh = match (conversation.released_at, latest) {
            (Some(released), Some(latest)) => latest > released,
            _ => true,
        };
        if fresh {
            db::handoff::begin(
                &mut tx,
                p.tenant_id,
                p.bot_user_id,
                &request.reason,
                handoff_timeout,
            )
            .await?;
        }
    }
    if !output.off_topic
        && let Some((lead, version, event)) = upsert_lead(&mut tx, p, output).await?
        && notify
    {
        // The outbox: the notification commits with the lead version it is about.
        notify::enqueue(&mut tx, p.tenant_id, p.bot_user_id, lead, version, event).await?;
    }
    tx.commit().await?;
    Ok(true)
}

/// One lead per bot user. Fields only move forward: a value the engine found replaces the stored one
/// (a correction), a field it did not find keeps its value. The status becomes `qualified` when the
/// rule of shared/eval/README.md holds (only from `new`: managers own the later states). `version`
/// counts changes, so side effects can be keyed per lead version.
/// Returns the lead, its new version and what happened, when anything did.
async fn upsert_lead(
    tx: &mut sqlx::Transaction<'static, sqlx::Postgres>,
    p: Payload,
    output: &TurnOutput,
) -> Result<Option<(LeadId, i32, LeadEvent)>, sqlx::Error> {
    let patch = &output.lead_patch;
    let existing = sqlx::query!(
        "SELECT id, name, phone, city, object_type, area_m2, summary, status FROM leads
         WHERE tenant_id = $1 AND bot_user_id = $2 FOR UPDATE",
        p.tenant_id.0,
        p.bot_user_id.0
    )
    .fetch_optional(&mut **tx)
    .await?;
    if existing.is_none() && patch.is_empty() {
        return Ok(None);
    }
    let mut lead = existing
        .as_ref()
        .map(|l| {
            LeadSnapshot::from_stored(
                l.name.clone(),
                l.phone.as_deref(),
                l.city.as_deref(),
                l.object_type.as_deref(),
                l.area_m2,
                l.summary.clone(),
            )
        })
        .unwrap_or_default();
    let before = lead.clone();
    patch.apply_to(&mut lead);
    let qualified = engine::is_qualified(
        lead.phone.as_ref(),
        lead.city,
        lead.object_type,
        lead.area_m2,
    );
    let phone = lead.phone.as_ref().map(|p| p.as_str().to_owned());
    let city = lead.city.map(|c| c.as_str());
    let object_type = lead.object_type.map(|o| o.as_str());
    match existing {
        None => {
            let id = LeadId::new();
            sqlx::query!(
                "INSERT INTO leads (id, tenant_id, bot_user_id, name, phone, city, object_type, area_m2,
                                    summary, status, engine, qualified_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9,
                         CASE WHEN $10 THEN 'qualified' ELSE 'new' END, $11,
                         CASE WHEN $10 THEN now() END)",
                id.0,
                p.tenant_id.0,
                p.bot_user_id.0,
                lead.name,
                phone,
                city,
                object_type,
                lead.area_m2,
                lead.summary,
                qualified,
                output.engine
            )
            .execute(&mut **tx)
            .await?;
            tracing::info!(tenant_id = %p.tenant_id, bot_user_id = %p.bot_user_id, lead_id = %id, qualified, "lead created");
            let event = if qualified {
                LeadEvent::Qualified
            } else {
                LeadEvent::Created
            };
            Ok(Some((id, 1, event)))
        }
        Some(existing) => {
            let becomes_qualified = qualified && existing.status == "new";
            if lead == before && !becomes_qualified {
                return Ok(None);
            }
            let version = sqlx::query_scalar!(
                "UPDATE leads SET name = $3, phone = $4, city = $5, object_type = $6, area_m2 = $7,
                        summary = $8, engine = $9, version = version + 1, updated_at = now(),
                        status = CASE WHEN $10 THEN 'qualified' ELSE status END,
                        qualified_at = CASE WHEN $10 THEN now() ELSE qualified_at END
                 WHERE tenant_id = $1 AND id = $2
                 RETURNING version",
                p.tenant_id.0,
                existing.id,
                lead.name,
                phone,
                city,
                object_type,
                lead.area_m2,
                lead.summary,
                output.engine,
                becomes_qualified
            )
            .fetch_one(&mut **tx)
            .await?;
            tracing::info!(tenant_id = %p.tenant_id, bot_user_id = %p.bot_user_id, lead_id = %existing.id,
                version, qualified = becomes_qualified, "lead updated");
            let event = if becomes_qualified {
                LeadEvent::Qualified
            } else {
                LeadEvent::Updated
            };
            Ok(Some((LeadId(existing.id), version, event)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workers::engine::Role;

    #[test]
    fn untranscribed_voice_has_no_text() {
        let voice = Pending {
            id: Uuid::nil(),
            kind: "voice".into(),
            content: String::new(),
            transcript: None,
            transcript_status: Some("unavailable".into()),
            created_at: Utc::now(),
        };
        assert_eq!(voice.text(), None);
        let text = Pending {
            kind: "text".into(),
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
