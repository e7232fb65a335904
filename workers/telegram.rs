//! Acting as a tenant's own Telegram bot: its token (decrypted only here, in the worker, for the
//! call at hand) and the `telegram_set_webhook` job that registers the webhook with Telegram.

use std::time::Duration;

use sqlx::PgPool;

use crate::cli::{TelegramArgs, TelegramCommand};
use crate::config::{Config, Secret};
use crate::crypto::SecretBox;
use crate::db;
use crate::domain::TenantId;
use crate::jobs::{self, JobPayload};
use crate::workers::integrations::telegram::{TelegramClient, TelegramError};
use crate::workers::{Handler, JobContext, JobError, JobFuture};

/// The tenants' bots as the workers reach them.
pub struct Telegram {
    pub client: TelegramClient,
    pub secrets: SecretBox,
    /// This service's public address, for the webhook URL.
    pub public_url: String,
    /// getUpdates mode (TELEGRAM_POLLING): webhooks are removed instead of registered.
    pub polling: bool,
}

/// A tenant's bot, ready to call.
pub struct TenantBot {
    pub token: Secret,
    pub bot: db::telegram::bots::Bot,
}

impl Telegram {
    /// The tenant's bot, or None when it has none. A token that no longer decrypts (SECRET_KEY
    /// changed without SECRET_KEY_PREVIOUS) is fatal for the job: retrying cannot fix it.
    pub async fn bot(&self, db: &PgPool, tenant: TenantId) -> Result<Option<TenantBot>, JobError> {
        let Some(bot) = db::telegram::bots::bot(db, tenant).await? else {
            return Ok(None);
        };
        let (token, _) = self
            .secrets
            .decrypt(tenant, &bot.token_ciphertext)
            .map_err(JobError::fatal)?;
        Ok(Some(TenantBot {
            token: Secret::new(token),
            bot,
        }))
    }

    /// Registers the tenant's webhook (also `salesbot telegram set-webhook`) — or, in getUpdates
    /// mode, removes it, as Telegram refuses getUpdates while a webhook is set.
    pub async fn set_webhook(&self, db: &PgPool, tenant: TenantId) -> Result<bool, JobError> {
        let Some(TenantBot { token, bot }) = self.bot(db, tenant).await? else {
            return Ok(false);
        };
        if self.polling {
            self.client
                .delete_webhook(&token)
                .await
                .map_err(job_error)?;
            tracing::info!(tenant_id = %tenant, "Telegram webhook removed (getUpdates mode)");
            return Ok(true);
        }
        let url = db::telegram::bots::webhook_url(&self.public_url, bot.webhook_id);
        self.client
            .set_webhook(&token, &url, &bot.webhook_secret)
            .await
            .map_err(job_error)?;
        tracing::info!(tenant_id = %tenant, "Telegram webhook registered");
        Ok(true)
    }
}

/// How a failed Bot API call ends a job: 429 waits Telegram's `retry_after` without using an
/// attempt, a 5xx or network error retries with backoff, the rest is final.
pub fn job_error(err: TelegramError) -> JobError {
    match err {
        TelegramError::RateLimited { retry_after } => {
            JobError::defer(retry_after, "Telegram rate limit")
        }
        TelegramError::Retryable(_) => JobError::retry(err),
        TelegramError::Forbidden(_) | TelegramError::Fatal(_) => JobError::fatal(err),
    }
}

pub struct SetWebhookHandler {
    pub telegram: std::sync::Arc<Telegram>,
}

impl Handler for SetWebhookHandler {
    fn kind(&self) -> &'static str {
        jobs::TelegramSetWebhook::KIND
    }

    fn deadline(&self) -> Duration {
        Duration::from_secs(15)
    }

    fn run(&self, ctx: JobContext) -> JobFuture {
        let telegram = self.telegram.clone();
        Box::pin(async move {
            let p = jobs::TelegramSetWebhook::read(&ctx.job.payload)
                .map_err(|e| JobError::fatal(anyhow::anyhow!("bad set_webhook payload: {e}")))?;
            telegram.set_webhook(&ctx.db, p.tenant_id).await.map(drop)
        })
    }
}

/// Runs `salesbot telegram …` for every company's bot (or one) and prints each one's outcome.
pub async fn run_command(config: &Config, pool: &PgPool, args: TelegramArgs) -> anyhow::Result<()> {
    let telegram = crate::workers::telegram(config);
    let tenants = match &args.command {
        TelegramCommand::SetWebhook {
            tenant: Some(tenant),
        } => vec![TenantId(*tenant)],
        _ => crate::db::telegram::bots::tenants_with_bots(pool).await?,
    };
    let mut failed = 0;
    for tenant in tenants {
        let outcome = match args.command {
            TelegramCommand::SetWebhook { .. } => telegram
                .set_webhook(pool, tenant)
                .await
                .map(|done| if done { "webhook registered" } else { "no bot" })
                .map_err(|e| anyhow::anyhow!("{e}")),
            TelegramCommand::Reencrypt => {
                crate::db::telegram::bots::reencrypt(pool, &telegram.secrets, tenant)
                    .await
                    .map(|done| {
                        if done {
                            "re-encrypted"
                        } else {
                            "already current"
                        }
                    })
            }
        };
        match outcome {
            Ok(what) => println!("{tenant}: {what}"),
            Err(err) => {
                failed += 1;
                println!("{tenant}: failed: {err:#}");
            }
        }
    }
    if failed > 0 {
        anyhow::bail!("{failed} bot(s) failed");
    }
    Ok(())
}
