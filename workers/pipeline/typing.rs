//! "typing…" in the customer's Telegram chat while a turn works on the answer: `sendChatAction`
//! at once, then every 4 s (Telegram shows it for 5 s), until the guard is dropped — when the turn has
//! stored its reply (or failed). Best effort: a failing call never affects the turn.

use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use crate::domain::TenantId;
use crate::workers::telegram::Telegram;

/// How often the action is renewed: inside Telegram's 5 s display time.
const RENEW_EVERY: Duration = Duration::from_secs(4);
/// The first call must not hold the turn up for long.
const FIRST_CALL_LIMIT: Duration = Duration::from_secs(2);

/// Stops the indicator when dropped.
pub struct Typing(Option<CancellationToken>);

impl Drop for Typing {
    fn drop(&mut self) {
        if let Some(stop) = self.0.take() {
            stop.cancel();
        }
    }
}

/// Shows "typing…" in a Telegram customer's `chat` (nothing without a chat, i.e. for other channels
/// or a customer who blocked the bot, or without a bot). The first action is sent before this
/// returns, so even a fast turn shows it.
pub async fn start(
    telegram: Option<&Arc<Telegram>>,
    db: &PgPool,
    tenant: TenantId,
    chat: Option<String>,
) -> Typing {
    let (Some(telegram), Some(chat)) = (telegram, chat) else {
        return Typing(None);
    };
    let bot = match telegram.bot(db, tenant).await {
        Ok(Some(bot)) => bot,
        _ => return Typing(None),
    };
    let send = {
        let client = telegram.client.clone();
        let token = bot.token;
        move || {
            let (client, token, chat) = (client.clone(), token.clone(), chat.clone());
            async move {
                if let Err(err) = client.send_chat_action(&token, &chat, "typing").await {
                    tracing::debug!(error = %err, "sendChatAction failed");
                }
            }
        }
    };
    let _ = tokio::time::timeout(FIRST_CALL_LIMIT, send()).await;
    let stop = CancellationToken::new();
    let stopped = stop.clone();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = stopped.cancelled() => break,
                _ = tokio::time::sleep(RENEW_EVERY) => {
                    tokio::select! {
                        _ = stopped.cancelled() => break,
                        _ = send() => {}
                    }
                }
            }
        }
    });
    Typing(Some(stop))
}
