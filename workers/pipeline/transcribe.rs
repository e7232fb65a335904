//! `transcribe`: turns a voice note into text, ahead of and in parallel with the conversation. A
//! `turn` that finds a transcript pending ends without answering; storing the transcript (or giving
//! up on it) enqueues the conversation's next turn.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use crate::db::usage::{Permit, Settlement};
use crate::db::{self, messages::VoiceAudio};
use crate::domain::conversation::TranscriptState;
use crate::domain::language::Language;
use crate::jobs::{self, JobPayload};
use crate::telegram_api::MAX_DOWNLOAD_BYTES;
use crate::workers::telegram::job_error;
use crate::workers::{Handler, JobContext, JobError, JobFuture};

use super::Deps;

pub struct Transcript {
    pub text: String,
    /// Audio length, for usage accounting.
    pub seconds: f64,
}

#[derive(Debug, thiserror::Error)]
pub enum TranscribeError {
    #[error("transcription temporarily unavailable: {0}")]
    Retryable(String),
    #[error("transcription rate limited")]
    RateLimited { retry_after: Duration },
    #[error("transcription failed: {0}")]
    Fatal(String),
}

pub type TranscribeFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Transcript, TranscribeError>> + Send + 'a>>;

/// A speech-to-text service (Whisper-compatible).
pub trait Transcriber: Send + Sync {
    /// The model name, for usage accounting.
    fn model(&self) -> &str;

    fn transcribe<'a>(
        &'a self,
        audio: &'a [u8],
        mime: &'a str,
        file_name: &'a str,
        language_hint: Option<Language>,
    ) -> TranscribeFuture<'a>;
}

pub struct TranscribeHandler {
    pub deps: Deps,
}

impl Handler for TranscribeHandler {
    fn kind(&self) -> &'static str {
        jobs::Transcribe::KIND
    }

    fn deadline(&self) -> Duration {
        Duration::from_secs(25)
    }

    fn run(&self, ctx: JobContext) -> JobFuture {
        let deps = self.deps.clone();
        Box::pin(async move {
            let p = jobs::Transcribe::read(&ctx.job.payload)
                .map_err(|e| JobError::fatal(anyhow::anyhow!("bad transcribe payload: {e}")))?;
            let (text, status) = match &deps.transcriber {
                None => (None, TranscriptState::Unavailable),
                Some(transcriber) => match load_audio(&deps, &ctx, &p).await? {
                    None => return Ok(()), // the message is gone
                    Some(audio) => transcribe(&deps, &ctx, &p, transcriber.as_ref(), audio).await?,
                },
            };
            db::messages::store_transcript(&ctx.db, ctx.lease(), &p, text.as_deref(), status)
                .await?;
            deps.wake();
            tracing::info!(message_id = %p.message_id, %status, "transcript stored");
            Ok(())
        })
    }

    /// Given up: the message is marked so, and the conversation's turn still runs (it answers the
    /// other messages and asks for text instead of this voice note).
    fn on_dead(&self, ctx: JobContext, error: String) -> JobFuture {
        let deps = self.deps.clone();
        Box::pin(async move {
            let p = jobs::Transcribe::read(&ctx.job.payload)
                .map_err(|e| JobError::fatal(anyhow::anyhow!("bad transcribe payload: {e}")))?;
            tracing::error!(message_id = %p.message_id, %error, "transcription is dead");
            db::messages::store_transcript(&ctx.db, ctx.lease(), &p, None, TranscriptState::Failed)
                .await?;
            deps.wake();
            Ok(())
        })
    }
}

/// The transcript and its status: the budget and a limiter grant first (a spent budget is no
/// speech-to-text: the customer is asked to write), then the call, then the bill.
async fn transcribe(
    deps: &Deps,
    ctx: &JobContext,
    p: &jobs::Transcribe,
    transcriber: &dyn Transcriber,
    audio: Audio,
) -> Result<(Option<String>, TranscriptState), JobError> {
    let hint = audio.language.as_deref().and_then(|l| l.parse().ok());
    let slot = match &deps.transcribe_limit {
        None => None,
        Some(limit) => match limit.acquire(&ctx.db, Some(p.tenant_id), 0).await? {
            Permit::Granted { slot } => Some(slot),
            Permit::Wait(retry_after) => {
                return Err(JobError::defer(retry_after, "speech-to-text rate limit"));
            }
            Permit::BudgetSpent => return Ok((None, TranscriptState::Unavailable)),
        },
    };
    match transcriber
        .transcribe(&audio.content, &audio.mime, &audio.file_name, hint)
        .await
    {
        Ok(t) => {
            if let (Some(limit), Some(slot)) = (&deps.transcribe_limit, slot) {
                let model = transcriber.model();
                let call = Settlement {
                    tenant: Some(p.tenant_id),
                    slot,
                    estimated_tokens: 0,
                    model: model.to_owned(),
                    prompt_tokens: 0,
                    completion_tokens: 0,
                    audio_seconds: t.seconds,
                    cost_usd: deps.prices.cost(model, 0, 0, t.seconds),
                };
                if let Err(e) = limit.settle(&ctx.db, call).await {
                    tracing::warn!(error = %e, "transcription usage not recorded");
                }
            }
            Ok((Some(t.text), TranscriptState::Done))
        }
        Err(TranscribeError::Retryable(e)) => Err(JobError::retry(anyhow::anyhow!(e))),
        Err(TranscribeError::RateLimited { retry_after }) => {
            Err(JobError::defer(retry_after, "speech-to-text rate limit"))
        }
        Err(TranscribeError::Fatal(e)) => {
            tracing::error!(message_id = %p.message_id, error = %e, "transcription failed");
            Ok((None, TranscriptState::Failed))
        }
    }
}

struct Audio {
    content: Vec<u8>,
    mime: String,
    file_name: String,
    language: Option<String>,
}

/// The voice note's bytes: stored at ingest (the HTTP API), or — for Telegram, whose webhook must
/// answer at once — fetched now with `getFile` and downloaded (at most the Bot API's 20 MB).
async fn load_audio(
    deps: &Deps,
    ctx: &JobContext,
    p: &jobs::Transcribe,
) -> Result<Option<Audio>, JobError> {
    let Some(note) = db::messages::voice_note(&ctx.db, p.tenant_id, p.message_id).await? else {
        return Ok(None);
    };
    let (file_id, mime) = match note.audio {
        None => return Ok(None),
        Some(VoiceAudio::Stored {
            content,
            mime,
            file_name,
        }) => {
            return Ok(Some(Audio {
                content,
                mime,
                file_name,
                language: note.language,
            }));
        }
        Some(VoiceAudio::Telegram { file_id, mime }) => (file_id, mime),
    };
    let telegram = deps.telegram.as_ref().ok_or_else(|| {
        JobError::fatal(anyhow::anyhow!(
            "a Telegram voice note, but no Telegram client here"
        ))
    })?;
    let bot = telegram
        .bot(&ctx.db, p.tenant_id)
        .await?
        .ok_or_else(|| JobError::fatal(anyhow::anyhow!("the tenant's Telegram bot was removed")))?;
    let content = telegram
        .client
        .download_file(&bot.token, &file_id, MAX_DOWNLOAD_BYTES)
        .await
        .map_err(job_error)?;
    tracing::info!(tenant_id = %p.tenant_id, message_id = %p.message_id, bytes = content.len(),
        "Telegram voice note downloaded");
    let extension = if mime.contains("mpeg") { "mp3" } else { "ogg" };
    Ok(Some(Audio {
        content,
        file_name: format!("voice.{extension}"),
        mime,
        language: note.language,
    }))
}
