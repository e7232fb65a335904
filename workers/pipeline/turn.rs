//! `turn`: one step of a conversation. Keyed by bot user, so turns of a conversation run one at a
//! time and in order. A turn takes *every* unanswered customer message (in `seq` order), runs the
//! engine with no transaction open, then writes everything in ONE transaction fenced by the job's
//! lease: the reply, the answered marks, the lead. Messages that arrive meanwhile are taken by the
//! next turn (ingest enqueued it: the running turn is no longer deduplicated against).

use std::time::Duration;

use chrono::Utc;
use sqlx::PgPool;
use uuid::Uuid;

use crate::db::turn::{Outcome, TurnMessage};
use crate::db::{self, tenant_tx};
use crate::domain::conversation::{
    ConversationMode, MessageKind, MessageRole, MessageState, TranscriptState,
};
use crate::domain::language::Language;
use crate::domain::qualification::is_qualified;
use crate::domain::text::{self, LeadSummary, NameText, ReplyText};
use crate::domain::{LeadId, MessageId};
use crate::jobs::{self, JobPayload};
use crate::queue::Lease;
use crate::workers::engine::{
    self, EngineError, LeadPatch, LeadSnapshot, TenantProfile, Turn, TurnInput, TurnOutput, guard,
};
use crate::workers::{Handler, JobContext, JobError, JobFuture};

use super::Deps;
use super::typing;

pub struct TurnHandler {
    pub deps: Deps,
}

/// Everything a turn reads before calling the engine.
struct Snapshot {
    pending: Vec<TurnMessage>,
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
            let notify = ManagerChats {
                platform: deps.notifier.is_some(),
                companies: deps.telegram.is_some(),
            };
            let committed = commit(
                &ctx.db,
                p,
                ctx.lease(),
                &snapshot,
                &output,
                MessageState::Answered,
                notify,
                deps.handoff_timeout,
            )
            .await?;
            if committed {
                tracing::info!(
                    tenant_id = %p.tenant_id, bot_user_id = %p.bot_user_id, job_id = %ctx.job.id,
                    engine = output.engine, messages = snapshot.pending.len(),
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
            let committed = commit(
                &ctx.db,
                p,
                ctx.lease(),
                &snapshot,
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

/// Reads the conversation (db::turn::read) and puts it the way the engine takes it. None when
/// nothing is unanswered.
async fn read(db: &PgPool, p: jobs::Turn, history: i64) -> Result<Option<Snapshot>, JobError> {
    let Some(read) = db::turn::read(db, p.tenant_id, p.bot_user_id, history as i32).await? else {
        return Ok(None);
    };
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
    let lead = read.lead;
    Ok(Some(Snapshot {
        human_mode: read.mode == ConversationMode::Human,
        telegram_chat: read.telegram_chat,
        pending: read.pending,
        input: TurnInput {
            conversation,
            lead: LeadSnapshot::from_stored(
                lead.name,
                lead.phone.as_deref(),
                lead.city.as_deref(),
                lead.object_type.as_deref(),
                lead.area_m2,
                lead.summary,
            ),
            tenant: TenantProfile {
                id: Some(p.tenant_id),
                company_name: read.company_name,
                about: read.about,
                greeting: read.greeting,
                company_phone: read.company_phone,
                prices: read.prices,
            },
            language_hint: read.language,
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
    let output = guarded(deps, snapshot, output).await?;
    if snapshot.pending.iter().all(|m| m.created_at < stale_before) {
        // After downtime: one catch-up reply for the whole backlog (the lead is still updated).
        let reply = catch_up_reply(output.language);
        return Ok(TurnOutput { reply, ..output });
    }
    Ok(output)
}

/// Holds the reply to the company's data (engine::guard): one that names a price, a discount or a
/// deadline its price list does not hold is replaced by the offline engine's answer to the same
/// conversation, which quotes only the list. The rest of the engine's work (the lead, a handoff)
/// stands.
async fn guarded(
    deps: &Deps,
    snapshot: &Snapshot,
    output: TurnOutput,
) -> Result<TurnOutput, JobError> {
    let Some(violation) = guard::check(&output.reply, &snapshot.input.tenant.prices) else {
        return Ok(output);
    };
    crate::metrics::reply_guarded(violation.as_str(), output.engine);
    tracing::warn!(tenant_id = ?snapshot.input.tenant.id, engine = output.engine,
        violation = violation.as_str(),
        "the reply named what the company's price list does not hold: replaced");
    let safe = deps
        .fallback
        .turn(&snapshot.input)
        .await
        .map_err(JobError::retry)?;
    Ok(TurnOutput {
        reply: safe.reply,
        ..output
    })
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
    snapshot: &Snapshot,
    output: &TurnOutput,
    status: MessageState,
    notify: ManagerChats,
    handoff_timeout: Duration,
) -> Result<bool, JobError> {
    let pending: Vec<Uuid> = snapshot.pending.iter().map(|m| m.id).collect();
    let reply = text::scrub(&output.reply, ReplyText::MAX_CHARS);
    let call = db::turn::TurnCommit {
        tenant: p.tenant_id,
        bot_user: p.bot_user_id,
        lease,
        pending: &pending,
        reply_id: MessageId::new(),
        reply: &reply,
        engine: output.engine,
        language: output.language,
        status,
        lead: (!output.off_topic).then(|| lead_write(&snapshot.input.lead, &output.lead_patch)),
        new_lead_id: LeadId::new(),
        platform_chat: notify.platform,
        company_chats: notify.companies,
    };
    let committed = match &output.handoff {
        // The common case: one statement, its own transaction.
        None => db::turn::commit(db, &call).await?,
        Some(request) => {
            let mut tx = tenant_tx(db, p.tenant_id).await?;
            let committed = db::turn::commit(&mut *tx, &call).await?;
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
    if committed.follow_up_job {
        crate::metrics::job_enqueued(jobs::FollowUp::KIND, 1);
    }
    if let Some((lead_id, version, event)) = committed.lead {
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

/// The engine's lead fields as `turn_commit` merges them, and the qualification rule applied to
/// the lead they make with the stored one (the only place the pipeline applies it).
fn lead_write(stored: &LeadSnapshot, patch: &LeadPatch) -> db::turn::LeadWrite {
    let mut lead = stored.clone();
    patch.apply_to(&mut lead);
    // The engine's free text (an LLM's, possibly) is held to the text policy like a client's.
    db::turn::LeadWrite {
        name: patch
            .name
            .as_deref()
            .map(|n| text::scrub(n, NameText::MAX_CHARS)),
        phone: patch.phone.clone(),
        city: patch.city,
        object_type: patch.object_type,
        area_m2: patch.area_m2,
        summary: patch
            .summary
            .as_deref()
            .map(|s| text::scrub(s, LeadSummary::MAX_CHARS)),
        qualifies: is_qualified(
            lead.phone.as_ref(),
            lead.city,
            lead.object_type,
            lead.area_m2,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workers::engine::Role;

    #[test]
    fn the_rule_reads_the_stored_lead_with_the_patch_over_it() {
        use crate::domain::city::City;
        use crate::domain::object_type::ObjectType;
        use crate::domain::phone::Phone;
        let stored = LeadSnapshot {
            phone: Some(Phone::parse("87012345678").unwrap()),
            ..Default::default()
        };
        let patch = LeadPatch {
            city: Some(City::Almaty),
            object_type: Some(ObjectType::House),
            ..Default::default()
        };
        let write = lead_write(&stored, &patch);
        assert!(write.qualifies, "the stored phone counts");
        assert_eq!(write.phone, None, "only the patch is written");
        assert!(!lead_write(&LeadSnapshot::default(), &patch).qualifies);
    }

    #[test]
    fn roles_map_to_turns() {
        assert_eq!(Turn::user("a").role, Role::User);
    }
}
