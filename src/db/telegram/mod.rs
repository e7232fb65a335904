//! A tenant's Telegram bot, by concern: `bots` (its settings, token encrypted at rest, and the
//! webhook routing directory), `updates` (what the webhook and the poller record for each update,
//! and the poll position) and `outbox` (the deliveries of stored messages to customers' chats).

pub mod bots;
pub mod outbox;
pub mod updates;
