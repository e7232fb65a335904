//! A tenant's Telegram bot: its settings (token encrypted at rest, the managers' chat, language
//! and working hours) and the webhook routing directory.
//!
//! `telegram_webhooks` is read before any tenant is known (the webhook URL names only a webhook id),
//! so like login's `users` it is outside RLS; this file is the only one that touches it, and it holds
//! nothing secret. Everything else here runs in [`tenant_tx`].

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;
use subtle::ConstantTimeEq;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::crypto::SecretBox;
use crate::domain::TenantId;
use crate::domain::language::Language;
use crate::domain::telegram::{BotToken, ChatId, new_webhook_secret};
use crate::domain::working_hours::WorkingHours;
use crate::jobs;
use crate::queue;

use crate::db::tenant_tx;

/// The settings as the API shows them: the token only as a hint.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TelegramSettings {
    /// `123456:…abcd`: the bot id and the token's last four characters.
    pub bot_token: String,
    /// The address Telegram posts updates to.
    pub webhook_url: String,
    /// Where lead notifications go; null: the platform's chat.
    pub managers_chat_id: Option<String>,
    /// Language of the managers' notifications: `ru`, `kk` or `en`.
    pub language: String,
    /// The managers' working hours in Kazakhstan time, e.g. `09:00-18:00`; null: always.
    pub working_hours: Option<String>,
    pub updated_at: DateTime<Utc>,
}

fn hours_text(from: Option<i16>, to: Option<i16>) -> Option<String> {
    WorkingHours::from_minutes(from, to).map(|h| h.to_string())
}

/// What a PUT changes. A missing token keeps the stored one (it is never shown, so a client cannot
/// send it back).
pub struct SettingsUpdate {
    pub bot_token: Option<BotToken>,
    pub managers_chat_id: Option<ChatId>,
    pub language: Language,
    pub working_hours: Option<WorkingHours>,
}

#[derive(Debug, thiserror::Error)]
pub enum SaveError {
    #[error("bot_token is required the first time")]
    TokenRequired,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// The webhook's path for a webhook id.
pub fn webhook_url(public_url: &str, webhook_id: Uuid) -> String {
    format!("{public_url}/telegram/{webhook_id}")
}

/// Saves the settings and, when the token changed, enqueues the `setWebhook` call in the same
/// transaction (a new token also gets a new webhook secret: the old bot's secret must not keep
/// working). The webhook id stays the same for the tenant's lifetime.
pub async fn save_settings(
    pool: &PgPool,
    secrets: &SecretBox,
    public_url: &str,
    tenant: TenantId,
    update: SettingsUpdate,
) -> Result<TelegramSettings, SaveError> {
    let mut tx = tenant_tx(pool, tenant).await?;
    let sealed = update
        .bot_token
        .as_ref()
        .map(|t| (secrets.encrypt(tenant, t.expose()), t.hint()));
    let (ciphertext, hint) = match sealed {
        Some((c, h)) => (Some(c), Some(h)),
        None => (None, None),
    };
    let row = sqlx::query!(
        r#"INSERT INTO telegram_bots AS t (tenant_id, token_ciphertext, token_hint, webhook_secret,
                                          managers_chat_id, language, work_from_min, work_to_min)
           SELECT $1, $2, $3, $4, $5, $6, $7, $8 WHERE $2::bytea IS NOT NULL
           ON CONFLICT (tenant_id) DO UPDATE SET
               token_ciphertext = EXCLUDED.token_ciphertext, token_hint = EXCLUDED.token_hint,
               webhook_secret = EXCLUDED.webhook_secret, managers_chat_id = EXCLUDED.managers_chat_id,
               language = EXCLUDED.language, work_from_min = EXCLUDED.work_from_min,
               work_to_min = EXCLUDED.work_to_min, updated_at = now()
           RETURNING token_hint, managers_chat_id, language, work_from_min, work_to_min, updated_at"#,
        tenant.0,
        ciphertext,
        hint,
        new_webhook_secret(),
        update.managers_chat_id.as_ref().map(ChatId::as_str),
        update.language.code(),
        update.working_hours.map(WorkingHours::from_minute),
        update.working_hours.map(WorkingHours::to_minute),
    )
    .fetch_optional(&mut *tx)
    .await?;
    let row = match row {
        Some(row) => row,
        None => {
            // No token given: only the other settings change, and only if a bot exists.
            let kept = sqlx::query!(
                r#"UPDATE telegram_bots SET managers_chat_id = $2, language = $3, work_from_min = $4,
                          work_to_min = $5, updated_at = now()
                   WHERE tenant_id = $1
                   RETURNING token_hint, managers_chat_id, language, work_from_min, work_to_min,
                             updated_at"#,
                tenant.0,
                update.managers_chat_id.as_ref().map(ChatId::as_str),
                update.language.code(),
                update.working_hours.map(WorkingHours::from_minute),
                update.working_hours.map(WorkingHours::to_minute),
            )
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(SaveError::TokenRequired)?;
            let webhook_id = webhook_id(&mut tx, tenant).await?;
            tx.commit().await?;
            return Ok(TelegramSettings {
                bot_token: kept.token_hint,
                webhook_url: webhook_url(public_url, webhook_id),
                managers_chat_id: kept.managers_chat_id,
                language: kept.language,
                working_hours: hours_text(kept.work_from_min, kept.work_to_min),
                updated_at: kept.updated_at,
            });
        }
    };
    // A v4 (random) id, not v7: the URL must not be guessable, and v7 would give away its time.
    sqlx::query!(
        "INSERT INTO telegram_webhooks (webhook_id, tenant_id) VALUES ($1, $2)
         ON CONFLICT (tenant_id) DO NOTHING",
        Uuid::new_v4(),
        tenant.0
    )
    .execute(&mut *tx)
    .await?;
    let webhook_id = webhook_id(&mut tx, tenant).await?;
    queue::enqueue(
        &mut *tx,
        &jobs::TelegramSetWebhook { tenant_id: tenant }.job(),
    )
    .await?;
    tx.commit().await?;
    Ok(TelegramSettings {
        bot_token: row.token_hint,
        webhook_url: webhook_url(public_url, webhook_id),
        managers_chat_id: row.managers_chat_id,
        language: row.language,
        working_hours: hours_text(row.work_from_min, row.work_to_min),
        updated_at: row.updated_at,
    })
}

async fn webhook_id(
    tx: &mut sqlx::Transaction<'static, sqlx::Postgres>,
    tenant: TenantId,
) -> Result<Uuid, sqlx::Error> {
    sqlx::query_scalar!(
        "SELECT webhook_id FROM telegram_webhooks WHERE tenant_id = $1",
        tenant.0
    )
    .fetch_one(&mut **tx)
    .await
}

pub async fn settings(
    pool: &PgPool,
    public_url: &str,
    tenant: TenantId,
) -> Result<Option<TelegramSettings>, sqlx::Error> {
    let mut tx = tenant_tx(pool, tenant).await?;
    let row = sqlx::query!(
        r#"SELECT b.token_hint, b.managers_chat_id, b.language, b.work_from_min, b.work_to_min,
                  b.updated_at, w.webhook_id
           FROM telegram_bots b JOIN telegram_webhooks w ON w.tenant_id = b.tenant_id
           WHERE b.tenant_id = $1"#,
        tenant.0
    )
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(row.map(|r| TelegramSettings {
        bot_token: r.token_hint,
        webhook_url: webhook_url(public_url, r.webhook_id),
        managers_chat_id: r.managers_chat_id,
        language: r.language,
        working_hours: hours_text(r.work_from_min, r.work_to_min),
        updated_at: r.updated_at,
    }))
}

/// The tenant a webhook id belongs to, if any (the routing directory; no tenant context yet).
pub async fn webhook_tenant(
    pool: &PgPool,
    webhook_id: Uuid,
) -> Result<Option<TenantId>, sqlx::Error> {
    let tenant = sqlx::query_scalar!(
        "SELECT tenant_id FROM telegram_webhooks WHERE webhook_id = $1",
        webhook_id
    )
    .fetch_optional(pool)
    .await?;
    Ok(tenant.map(TenantId))
}

/// The tenant's bot id when `given` is its webhook secret (compared in constant time), else None.
pub async fn webhook_bot(
    pool: &PgPool,
    tenant: TenantId,
    given: &[u8],
) -> Result<Option<String>, sqlx::Error> {
    let mut tx = tenant_tx(pool, tenant).await?;
    let bot = sqlx::query!(
        "SELECT webhook_secret, token_hint FROM telegram_bots WHERE tenant_id = $1",
        tenant.0
    )
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(bot
        .filter(|b| bool::from(b.webhook_secret.as_bytes().ct_eq(given)))
        .map(|b| bot_id(&b.token_hint).to_owned()))
}

/// The bot's own id, the part of its token (or token hint) before the colon.
pub fn bot_id(token: &str) -> &str {
    token.split(':').next().unwrap_or_default()
}

/// Every tenant with a bot (for `salesbot telegram …` operations across tenants).
pub async fn tenants_with_bots(pool: &PgPool) -> Result<Vec<TenantId>, sqlx::Error> {
    let ids = sqlx::query_scalar!("SELECT tenant_id FROM telegram_webhooks ORDER BY tenant_id")
        .fetch_all(pool)
        .await?;
    Ok(ids.into_iter().map(TenantId).collect())
}

/// What a worker needs to act as the tenant's bot.
pub struct Bot {
    pub token_ciphertext: Vec<u8>,
    pub webhook_secret: String,
    pub webhook_id: Uuid,
    pub managers_chat_id: Option<String>,
    pub language: String,
}

pub async fn bot(pool: &PgPool, tenant: TenantId) -> Result<Option<Bot>, sqlx::Error> {
    let mut tx = tenant_tx(pool, tenant).await?;
    let bot = sqlx::query_as!(
        Bot,
        r#"SELECT b.token_ciphertext, b.webhook_secret, w.webhook_id, b.managers_chat_id, b.language
           FROM telegram_bots b JOIN telegram_webhooks w ON w.tenant_id = b.tenant_id
           WHERE b.tenant_id = $1"#,
        tenant.0
    )
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(bot)
}

/// Re-encrypts a tenant's token under the current key (after a SECRET_KEY rotation). Returns false
/// when it was already current or the tenant has no bot.
pub async fn reencrypt(
    pool: &PgPool,
    secrets: &SecretBox,
    tenant: TenantId,
) -> anyhow::Result<bool> {
    let mut tx = tenant_tx(pool, tenant).await?;
    let Some(stored) = sqlx::query_scalar!(
        "SELECT token_ciphertext FROM telegram_bots WHERE tenant_id = $1 FOR UPDATE",
        tenant.0
    )
    .fetch_optional(&mut *tx)
    .await?
    else {
        return Ok(false);
    };
    let (token, current) = secrets.decrypt(tenant, &stored)?;
    if current {
        return Ok(false);
    }
    sqlx::query!(
        "UPDATE telegram_bots SET token_ciphertext = $2 WHERE tenant_id = $1",
        tenant.0,
        secrets.encrypt(tenant, &token)
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(true)
}

/// The managers' working hours, when the company set them.
pub async fn working_hours(
    tx: &mut sqlx::PgConnection,
    tenant: TenantId,
) -> Result<Option<WorkingHours>, sqlx::Error> {
    let row = sqlx::query!(
        "SELECT work_from_min, work_to_min FROM telegram_bots WHERE tenant_id = $1",
        tenant.0
    )
    .fetch_optional(tx)
    .await?;
    Ok(row.and_then(|r| WorkingHours::from_minutes(r.work_from_min, r.work_to_min)))
}

/// Takes the session-level lock that makes one worker process the only poller of the tenant's bot
/// (two `getUpdates` callers on one bot make Telegram answer 409). False: another process holds it.
/// Held until `conn` closes, so the caller keeps a connection of its own for as long as it polls.
pub async fn try_lock_poller(
    conn: &mut sqlx::PgConnection,
    tenant: TenantId,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT pg_try_advisory_lock(hashtextextended('salesbot:telegram_poll:' || $1::text, 0)) AS "locked!""#,
        tenant.0.to_string()
    )
    .fetch_one(conn)
    .await
}
