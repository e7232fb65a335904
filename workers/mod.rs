//! The worker side: everything that performs side effects after a message is recorded.
//!
//! - [`pool`]: the worker pool over the durable queue (`src/queue/`): claim, lease, heartbeat,
//!   deadline, retry, drain.
//! - [`maintenance`]: queue housekeeping (cleanup, vacuum fallback, depth/lag gauges).
//!
//! - [`telegram`](mod@telegram) and [`telegram_poll`]: acting as the companies' own bots, and the getUpdates mode.
//!
//! Pipeline stages (transcribe → turn → notify/deliver/handoff) register their handlers here.

pub mod engine;
pub mod integrations;
pub mod maintenance;
pub mod pipeline;
pub mod pool;
pub mod telegram;
pub mod telegram_poll;

use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;

use crate::config::Config;
use crate::supervisor::Supervisor;
pub use pool::{
    Handler, JobContext, JobError, JobFuture, PoolConfig, Registry, RunReport, WorkerPool,
};

/// The handlers of every job kind this build knows.
pub fn registry(deps: pipeline::Deps) -> Registry {
    let mut registry = Registry::new()
        .with(pipeline::turn::TurnHandler { deps: deps.clone() })
        .with(pipeline::transcribe::TranscribeHandler { deps: deps.clone() });
    if let Some(telegram) = &deps.telegram {
        registry = registry
            .with(pipeline::deliver::DeliverHandler {
                telegram: telegram.clone(),
            })
            .with(telegram::SetWebhookHandler {
                telegram: telegram.clone(),
            });
    }
    if deps.notifier.is_some() || deps.telegram.is_some() {
        registry = registry
            .with(pipeline::notify::NotifyHandler {
                platform: deps.notifier.clone(),
                telegram: deps.telegram.clone(),
            })
            .with(pipeline::handoff::ForwardHandler {
                platform: deps.notifier.clone(),
                telegram: deps.telegram.clone(),
            });
    }
    if let Some(webhooks) = &deps.webhooks {
        registry = registry.with(webhooks.clone());
    }
    if let Some(crm) = &deps.crm {
        registry = registry.with(crm.clone());
    }
    registry
        .with(pipeline::handoff::TimeoutHandler)
        .with(pipeline::follow_up::FollowUpHandler)
}

/// The pipeline's dependencies as configured: with OPENAI_API_KEY, the OpenAI engine (the offline
/// engine answering when it cannot) and Whisper; without, the offline engine and no speech-to-text.
pub fn pipeline_deps(
    config: &Config,
    db: &PgPool,
    waker: Option<crate::queue::wake::Waker>,
) -> pipeline::Deps {
    let offline: Arc<dyn engine::Engine> = Arc::new(engine::OfflineEngine::new());
    let (engine, transcriber, transcribe_limit, prices) = match &config.openai {
        None => (offline.clone(), None, None, Default::default()),
        Some(openai) => {
            // The limits are per minute and per model; a shorter window (tests, benchmarks)
            // scales them.
            let limit = |model: &str, tpm: u64| {
                let per_window =
                    |per_minute: u64| per_minute * openai.rate_window.as_millis() as u64 / 60_000;
                crate::db::usage::RateLimit {
                    name: format!("openai:{model}"),
                    max_requests: per_window(u64::from(openai.rpm)).max(1) as u32,
                    max_tokens: per_window(tpm),
                    window: openai.rate_window,
                    clock: Default::default(),
                }
            };
            let client =
                integrations::openai::client(&openai.base_url, &openai.api_key, openai.timeout);
            let engine = engine::openai::OpenAiEngine::new(
                client,
                db.clone(),
                openai.chat_model.clone(),
                limit(&openai.chat_model, openai.tpm),
                openai.prices.clone(),
            );
            let transcriber = integrations::openai::WhisperTranscriber::new(
                &openai.base_url,
                openai.api_key.clone(),
                openai.transcribe_model.clone(),
                openai.timeout,
            );
            (
                Arc::new(engine) as Arc<dyn engine::Engine>,
                Some(Arc::new(transcriber) as Arc<dyn pipeline::Transcriber>),
                Some(limit(&openai.transcribe_model, 0)),
                openai.prices.clone(),
            )
        }
    };
    pipeline::Deps {
        engine,
        fallback: offline,
        transcriber,
        waker,
        stale_after: config.worker.stale_after,
        history: i64::from(config.engine_history),
        notifier: notifier(config),
        // An LLM turn is up to three requests of OPENAI_TIMEOUT each; give it all the lease allows.
        turn_deadline: config
            .worker
            .lease
            .saturating_sub(Duration::from_secs(2))
            .max(Duration::from_secs(1)),
        transcribe_limit,
        prices,
        telegram: Some(std::sync::Arc::new(telegram(config))),
        handoff_timeout: config.handoff_timeout,
        webhooks: Some(webhooks(config)),
        crm: Some(crm(config)),
    }
}

/// amoCRM sync (AMOCRM_API_BASE, when set, takes every account's requests).
pub fn crm(config: &Config) -> pipeline::crm_sync::CrmSyncHandler {
    pipeline::crm_sync::CrmSyncHandler {
        client: Arc::new(integrations::amocrm::AmoClient::new(
            config.amocrm_api_base.as_deref(),
            Duration::from_secs(15),
        )),
        secrets: crate::crypto::SecretBox::new(
            &config.secret_key,
            config.secret_key_previous.as_ref(),
        ),
    }
}

/// Webhook deliveries as configured (WEBHOOK_*), with the key that opens the endpoints' secrets.
pub fn webhooks(config: &Config) -> pipeline::webhook::WebhookHandler {
    pipeline::webhook::WebhookHandler {
        sender: Arc::new(integrations::webhook::WebhookSender::new(
            &config.webhook_delivery,
        )),
        secrets: crate::crypto::SecretBox::new(
            &config.secret_key,
            config.secret_key_previous.as_ref(),
        ),
        settings: config.webhook_delivery.clone(),
    }
}

/// The tenants' own bots: the Bot API client and the key that opens their stored tokens.
pub fn telegram(config: &Config) -> telegram::Telegram {
    telegram::Telegram {
        client: integrations::telegram::TelegramClient::new(
            &config.telegram_api_base,
            std::time::Duration::from_secs(15),
        )
        .with_file_base(&config.telegram_file_base),
        secrets: crate::crypto::SecretBox::new(
            &config.secret_key,
            config.secret_key_previous.as_ref(),
        ),
        public_url: config.public_url.clone(),
        polling: config.telegram_polling,
    }
}

/// The platform's Telegram notifications, when TELEGRAM_BOT_TOKEN and TELEGRAM_CHAT_ID are set.
fn notifier(config: &Config) -> Option<std::sync::Arc<pipeline::notify::Notifier>> {
    let (token, chat) = (
        config.telegram_bot_token.clone()?,
        config.telegram_chat_id.clone()?,
    );
    Some(std::sync::Arc::new(pipeline::notify::Notifier {
        telegram: integrations::telegram::TelegramClient::new(
            &config.telegram_api_base,
            Duration::from_secs(10),
        ),
        bot_token: token,
        chat_id: chat,
        public_url: config.public_url.clone(),
    }))
}

pub fn pool_config(config: &Config) -> PoolConfig {
    PoolConfig {
        concurrency: config.worker.concurrency,
        batch_size: config.worker.batch_size,
        per_tenant: 2,
        lease: config.worker.lease,
        poll_interval: config.worker.poll_interval,
        backoff: config.worker.backoff,
        grace: config.shutdown_grace,
    }
}

/// Starts a worker process's background tasks under `supervisor` — queue maintenance, the wake-up
/// sender, the Telegram poller in getUpdates mode — and returns the pool, ready to
/// [`run`](WorkerPool::run) until the process's shutdown.
pub async fn start(config: &Config, db: PgPool, supervisor: &Supervisor) -> WorkerPool {
    crate::queue::wake::listen_works(&db).await;
    let tasks = supervisor.scope(supervisor.process().clone());
    let shutdown = tasks.stop().clone();
    let waker = crate::queue::wake::Waker::spawn(db.clone(), &tasks);
    let deps = pipeline_deps(config, &db, Some(waker.clone()));
    let registry = registry(deps.clone());
    tasks.spawn(
        "maintenance",
        maintenance::run(
            db.clone(),
            config.worker.dead_retention,
            registry.kinds(),
            shutdown.clone(),
        ),
    );
    if let (Some(telegram), true) = (&deps.telegram, config.telegram_polling) {
        tasks.spawn(
            "telegram-poller",
            telegram_poll::run(db.clone(), telegram.clone(), waker, shutdown),
        );
    }
    tracing::info!(
        concurrency = config.worker.concurrency,
        lease = ?config.worker.lease,
        "worker started"
    );
    WorkerPool::new(db, registry, pool_config(config))
}
