//! Telegram as the customer channel, end to end over real HTTP: the company saves its bot (token
//! encrypted, webhook registered by a worker), Telegram posts updates to the webhook, workers answer
//! through the fake Bot API — split, ordered, once, honouring 429 and 403 — and the company's
//! managers get its lead notifications in its own chat.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use salesbot::crypto::SecretBox;
use salesbot::domain::{BotUserId, MessageId, TenantId};
use salesbot::jobs::LeadEvent;
use salesbot::workers::engine::OfflineEngine;
use salesbot::workers::integrations::telegram::TelegramClient;
use salesbot::workers::pipeline::notify::Notifier;
use salesbot::workers::pipeline::turn::TurnHandler;
use salesbot::workers::pipeline::{Deps, Transcriber};
use salesbot::workers::telegram::Telegram;
use salesbot::workers::{PoolConfig, WorkerPool, registry};
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::fakes::FakeTelegram;
use crate::helpers::fast_config;
use crate::helpers::{FakeTranscriber, deps};
use crate::helpers::{TEST_SECRET, TestApp, error_code, service, spawn_app_with, test_config};

pub const BOT_TOKEN: &str = "123456:AAHk_customer-bot-token-0123abcd";
pub const PUBLIC_URL: &str = "https://salesbot.example.kz";

/// The app (web process) and a worker pool, both pointed at the fake Bot API.
pub struct Setup {
    pub app: TestApp,
    pub telegram: FakeTelegram,
    pub addr: SocketAddr,
}

pub async fn setup(pool: &PgPool) -> Setup {
    let (telegram, addr) = FakeTelegram::start().await;
    let mut config = test_config();
    config.telegram_api_base = format!("http://{addr}");
    config.telegram_file_base = format!("http://{addr}/file");
    config.public_url = PUBLIC_URL.into();
    let app = spawn_app_with(config, pool.clone()).await;
    Setup {
        app,
        telegram,
        addr,
    }
}

pub fn telegram_deps(addr: SocketAddr, transcriber: Option<Arc<dyn Transcriber>>) -> Deps {
    let mut deps = deps(transcriber, Arc::new(OfflineEngine::new()));
    deps.telegram = Some(Arc::new(Telegram {
        client: TelegramClient::new(&format!("http://{addr}"), Duration::from_secs(5))
            .with_file_base(&format!("http://{addr}/file")),
        secrets: SecretBox::new(&salesbot::config::Secret::new(TEST_SECRET), None),
        public_url: PUBLIC_URL.into(),
        polling: false,
    }));
    deps
}

pub fn telegram_workers(pool: &PgPool, addr: SocketAddr) -> WorkerPool {
    WorkerPool::new(
        service(pool),
        registry(telegram_deps(addr, None)),
        fast_config(),
    )
}

/// Workers whose retries wait an hour, so a test can look at a job between attempts.
pub fn patient_workers(pool: &PgPool, addr: SocketAddr) -> WorkerPool {
    let config = PoolConfig {
        backoff: salesbot::queue::Backoff {
            base: Duration::from_secs(3600),
            cap: Duration::from_secs(3600),
        },
        ..fast_config()
    };
    WorkerPool::new(service(pool), registry(telegram_deps(addr, None)), config)
}

/// A company's bot as Telegram knows it after `setWebhook`.
pub struct Bot {
    /// `/telegram/<webhook id>`
    pub path: String,
    pub secret: String,
}

/// Saves the company's bot and runs the webhook job; returns what Telegram was told.
pub async fn connect_bot(s: &Setup, jwt: &str, workers: &WorkerPool, token: &str) -> Bot {
    let resp = s
        .app
        .client
        .put(s.app.url("/api/settings/telegram"))
        .bearer_auth(jwt)
        .json(&json!({"bot_token": token, "managers_chat_id": "-1009876543210", "language": "ru"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    workers.run_once().await.unwrap();
    let call = s
        .telegram
        .calls
        .lock()
        .unwrap()
        .iter()
        .rev()
        .find(|(path, _)| path == &format!("bot{token}/setWebhook"))
        .map(|(_, body)| body.clone())
        .expect("setWebhook was called with the tenant's token");
    let url = call["url"].as_str().unwrap();
    Bot {
        path: url.strip_prefix(PUBLIC_URL).unwrap().to_owned(),
        secret: call["secret_token"].as_str().unwrap().to_owned(),
    }
}

pub async fn post_update(s: &Setup, bot: &Bot, secret: &str, update: Value) -> reqwest::Response {
    s.app
        .client
        .post(s.app.url(&bot.path))
        .header("x-telegram-bot-api-secret-token", secret)
        .json(&update)
        .send()
        .await
        .unwrap()
}

pub fn text_update(update_id: i64, chat_id: i64, text: &str) -> Value {
    json!({"update_id": update_id, "message": {
        "message_id": update_id, "date": 1_700_000_000,
        "chat": {"id": chat_id, "type": "private", "first_name": "Ерлан"},
        "from": {"id": chat_id, "is_bot": false, "first_name": "Ерлан", "language_code": "ru"},
        "text": text}})
}

async fn count(pool: &PgPool, sql: &'static str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
}

fn texts_to(telegram: &FakeTelegram, chat: &str) -> Vec<String> {
    telegram
        .calls_to("sendMessage")
        .iter()
        .filter(|b| b["chat_id"] == chat)
        .map(|b| b["text"].as_str().unwrap().to_owned())
        .collect()
}

#[sqlx::test]
async fn settings_are_encrypted_never_shown_and_register_the_webhook(pool: PgPool) {
    let s = setup(&pool).await;
    let workers = telegram_workers(&pool, s.addr);
    let (jwt, _) = s.app.register_ok("owner@stroy.kz", "Stroy").await;

    let resp = s
        .app
        .client
        .put(s.app.url("/api/settings/telegram"))
        .bearer_auth(&jwt)
        .json(&json!({"bot_token": "not a token"}))
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(resp, 422).await, "validation_error");
    let resp = s.app.get("/api/settings/telegram", Some(&jwt)).await;
    assert_eq!(error_code(resp, 404).await, "not_found");

    let bot = connect_bot(&s, &jwt, &workers, BOT_TOKEN).await;
    let set_webhook = s.telegram.calls_to("setWebhook");
    assert_eq!(set_webhook.len(), 1);
    assert_eq!(
        set_webhook[0]["allowed_updates"],
        json!(["message", "edited_message"])
    );
    assert!(bot.path.starts_with("/telegram/"));
    assert!(bot.secret.len() >= 32);

    let settings: Value = s.app.get_json("/api/settings/telegram", Some(&jwt)).await;
    assert_eq!(settings["bot_token"], "123456:…abcd");
    assert_eq!(settings["webhook_url"], format!("{PUBLIC_URL}{}", bot.path));
    assert_eq!(settings["managers_chat_id"], "-1009876543210");
    assert_eq!(settings["language"], "ru");
    assert!(!settings.to_string().contains("customer-bot-token"));
    let stored: Vec<u8> = sqlx::query_scalar("SELECT token_ciphertext FROM telegram_bots")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(
        !stored
            .windows(BOT_TOKEN.len())
            .any(|w| w == BOT_TOKEN.as_bytes())
    );

    // Changing only the chat keeps the token and calls Telegram no more.
    let resp = s
        .app
        .client
        .put(s.app.url("/api/settings/telegram"))
        .bearer_auth(&jwt)
        .json(
            &json!({"managers_chat_id": "@stroy_managers", "language": "kk",
                       "working_hours": "09:00-18:00"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let settings: Value = resp.json().await.unwrap();
    assert_eq!(settings["bot_token"], "123456:…abcd");
    assert_eq!(settings["language"], "kk");
    assert_eq!(settings["working_hours"], "09:00-18:00");
    let resp = s
        .app
        .client
        .put(s.app.url("/api/settings/telegram"))
        .bearer_auth(&jwt)
        .json(&json!({"working_hours": "9 to 6"}))
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(resp, 422).await, "validation_error");
    workers.run_once().await.unwrap();
    assert_eq!(s.telegram.calls_to("setWebhook").len(), 1);

    // A manager of the company may read the settings, not change the bot.
    let manager = &s
        .app
        .add_manager("owner@stroy.kz", "manager@stroy.kz")
        .await;
    let resp = s.app.get("/api/settings/telegram", Some(manager)).await;
    assert_eq!(resp.status(), 200);
    let resp = s
        .app
        .client
        .put(s.app.url("/api/settings/telegram"))
        .bearer_auth(manager)
        .json(&json!({"bot_token": "777777:AAHk_a-managers-own-bot-token-0000"}))
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(resp, 403).await, "forbidden");

    // Another company sees none of it.
    let (other, _) = s.app.register_ok("other@stroy.kz", "Other").await;
    let resp = s.app.get("/api/settings/telegram", Some(&other)).await;
    assert_eq!(error_code(resp, 404).await, "not_found");
}

#[sqlx::test]
async fn a_text_update_is_answered_in_the_customers_chat_once(pool: PgPool) {
    let s = setup(&pool).await;
    let workers = telegram_workers(&pool, s.addr);
    let (jwt, _) = s.app.register_ok("a@stroy.kz", "Stroy").await;
    let bot = connect_bot(&s, &jwt, &workers, BOT_TOKEN).await;

    let update = text_update(1001, 555, "Хочу построить дом в Алматы");
    let resp = post_update(&s, &bot, &bot.secret, update.clone()).await;
    assert_eq!(resp.status(), 200);
    // Telegram redelivers when it did not see our 200 in time: the same update_id is one message.
    let resp = post_update(&s, &bot, &bot.secret, update).await;
    assert_eq!(resp.status(), 200);
    workers.run_once().await.unwrap();

    assert_eq!(
        count(&pool, "SELECT count(*) FROM messages WHERE role = 'user'").await,
        1
    );
    let replies = texts_to(&s.telegram, "555");
    assert_eq!(replies.len(), 1, "{replies:?}");
    let stored: String =
        sqlx::query_scalar("SELECT content FROM messages WHERE role = 'assistant'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(replies[0], stored);
    let paths = s.telegram.paths();
    assert_eq!(
        paths.last().unwrap(),
        &format!("bot{BOT_TOKEN}/sendMessage")
    );
    // The conversation is the API's too: a Telegram customer is a bot user of channel telegram.
    let (channel, external): (String, String) =
        sqlx::query_as("SELECT channel, external_id FROM bot_users")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!((channel.as_str(), external.as_str()), ("telegram", "555"));
    // A follow-up of the reply may be pending: it decides when it runs (tests/api/follow_ups.rs).
    assert_eq!(
        count(&pool, "SELECT count(*) FROM jobs WHERE kind <> 'follow_up'").await,
        0
    );

    // Update ids are counted per bot: after the company switches bots, the new bot's update with
    // the same id is a new message, not a duplicate of the old bot's.
    let new_bot = connect_bot(&s, &jwt, &workers, "654321:AAHk_the-companys-new-bot-wxyz").await;
    let resp = post_update(
        &s,
        &new_bot,
        &new_bot.secret,
        text_update(1001, 555, "Баня"),
    )
    .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        count(&pool, "SELECT count(*) FROM messages WHERE role = 'user'").await,
        2
    );
}

#[sqlx::test]
async fn a_wrong_secret_is_401_and_stores_nothing(pool: PgPool) {
    let s = setup(&pool).await;
    let workers = telegram_workers(&pool, s.addr);
    let (jwt, _) = s.app.register_ok("a@stroy.kz", "Stroy").await;
    let bot = connect_bot(&s, &jwt, &workers, BOT_TOKEN).await;

    let update = text_update(7, 555, "Дом");
    let resp = post_update(&s, &bot, "wrong-secret", update.clone()).await;
    assert_eq!(error_code(resp, 401).await, "unauthorized");
    let resp = s
        .app
        .client
        .post(s.app.url(&bot.path))
        .json(&update)
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(resp, 401).await, "unauthorized");
    let unknown = Bot {
        path: format!("/telegram/{}", uuid::Uuid::new_v4()),
        secret: bot.secret.clone(),
    };
    let resp = post_update(&s, &unknown, &bot.secret, update).await;
    assert_eq!(error_code(resp, 401).await, "unauthorized");

    assert_eq!(count(&pool, "SELECT count(*) FROM messages").await, 0);
    assert_eq!(count(&pool, "SELECT count(*) FROM bot_users").await, 0);
    assert_eq!(count(&pool, "SELECT count(*) FROM jobs").await, 0);
}

#[sqlx::test]
async fn one_tenants_webhook_cannot_inject_into_another(pool: PgPool) {
    let s = setup(&pool).await;
    let workers = telegram_workers(&pool, s.addr);
    let (jwt_a, body_a) = s.app.register_ok("a@stroy.kz", "A").await;
    let (jwt_b, body_b) = s.app.register_ok("b@stroy.kz", "B").await;
    let bot_a = connect_bot(&s, &jwt_a, &workers, BOT_TOKEN).await;
    let bot_b = connect_bot(
        &s,
        &jwt_b,
        &workers,
        "654321:AAHk_other-company-bot-9876wxyz",
    )
    .await;
    assert_ne!(bot_a.path, bot_b.path);

    // B's webhook with A's secret, and A's webhook with B's secret: refused.
    let resp = post_update(&s, &bot_b, &bot_a.secret, text_update(1, 9, "В A")).await;
    assert_eq!(resp.status(), 401);
    let resp = post_update(&s, &bot_a, &bot_b.secret, text_update(2, 9, "В A")).await;
    assert_eq!(resp.status(), 401);
    // B's own update lands in B only, and is answered by B's bot.
    let resp = post_update(&s, &bot_b, &bot_b.secret, text_update(3, 9, "Баня")).await;
    assert_eq!(resp.status(), 200);
    workers.run_once().await.unwrap();

    let tenant = |body: &Value| body["user"]["tenant"]["id"].as_str().unwrap().to_owned();
    let owners: Vec<uuid::Uuid> = sqlx::query_scalar("SELECT tenant_id FROM bot_users")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(owners.len(), 1);
    assert_eq!(owners[0].to_string(), tenant(&body_b));
    assert_ne!(owners[0].to_string(), tenant(&body_a));
    let last = s.telegram.paths().last().unwrap().clone();
    assert!(last.starts_with("bot654321:"), "{last}");
    let conversations: Vec<Value> = s.app.get_json("/api/conversations", Some(&jwt_a)).await;
    assert!(conversations.is_empty(), "{conversations:?}");
}

#[sqlx::test]
async fn start_greets_without_a_lead_and_stickers_get_a_polite_answer(pool: PgPool) {
    let s = setup(&pool).await;
    let workers = telegram_workers(&pool, s.addr);
    let (jwt, _) = s.app.register_ok("a@stroy.kz", "Stroy").await;
    let bot = connect_bot(&s, &jwt, &workers, BOT_TOKEN).await;

    let start = text_update(10, 777, "/start");
    assert_eq!(
        post_update(&s, &bot, &bot.secret, start.clone())
            .await
            .status(),
        200
    );
    assert_eq!(
        post_update(&s, &bot, &bot.secret, start).await.status(),
        200
    );
    let sticker = json!({"update_id": 11, "message": {"message_id": 11, "date": 1,
        "chat": {"id": 777, "type": "private"}, "sticker": {"file_id": "CAAD", "width": 512}}});
    assert_eq!(
        post_update(&s, &bot, &bot.secret, sticker).await.status(),
        200
    );
    let edited = json!({"update_id": 12, "edited_message": {"message_id": 1, "date": 1,
        "chat": {"id": 777, "type": "private"}, "text": "Дом!"}});
    assert_eq!(
        post_update(&s, &bot, &bot.secret, edited).await.status(),
        200
    );
    workers.run_once().await.unwrap();

    let sent = texts_to(&s.telegram, "777");
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert!(sent[0].starts_with("Здравствуйте"), "{}", sent[0]);
    assert!(sent[1].contains("только текст"), "{}", sent[1]);
    assert_eq!(count(&pool, "SELECT count(*) FROM leads").await, 0);
    assert_eq!(
        count(&pool, "SELECT count(*) FROM messages WHERE role = 'user'").await,
        0
    );
}

#[sqlx::test]
async fn a_shared_contact_is_the_customers_phone(pool: PgPool) {
    let s = setup(&pool).await;
    let workers = telegram_workers(&pool, s.addr);
    let (jwt, _) = s.app.register_ok("a@stroy.kz", "Stroy").await;
    let bot = connect_bot(&s, &jwt, &workers, BOT_TOKEN).await;

    post_update(
        &s,
        &bot,
        &bot.secret,
        text_update(1, 321, "Хочу баню в Караганде"),
    )
    .await;
    let contact = json!({"update_id": 2, "message": {"message_id": 2, "date": 1,
        "chat": {"id": 321, "type": "private"},
        "contact": {"phone_number": "77012345678", "first_name": "Алия", "user_id": 321}}});
    assert_eq!(
        post_update(&s, &bot, &bot.secret, contact).await.status(),
        200
    );
    workers.run_once().await.unwrap();

    let phone: Option<String> = sqlx::query_scalar("SELECT phone FROM bot_users")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(phone.as_deref(), Some("+77012345678"));
    let leads: Vec<Value> = s.app.get_json("/api/leads", Some(&jwt)).await;
    assert_eq!(leads.len(), 1);
    assert_eq!(leads[0]["phone"], "+77012345678");
}

#[sqlx::test]
async fn a_voice_note_is_downloaded_transcribed_and_answered(pool: PgPool) {
    let s = setup(&pool).await;
    let transcriber = Arc::new(FakeTranscriber {
        calls: Mutex::default(),
        text: "Хочу дом сто пятьдесят квадратов в Астане".into(),
    });
    let workers = WorkerPool::new(
        service(&pool),
        registry(telegram_deps(s.addr, Some(transcriber.clone()))),
        fast_config(),
    );
    let (jwt, _) = s.app.register_ok("a@stroy.kz", "Stroy").await;
    let bot = connect_bot(&s, &jwt, &workers, BOT_TOKEN).await;
    let audio = b"OggS\x00\x02\x00\x00telegram voice bytes".to_vec();
    s.telegram.add_file("AwACAgIAAxkBAAIB", &audio);
    s.telegram.accept_token(BOT_TOKEN);

    let voice = json!({"update_id": 50, "message": {"message_id": 50, "date": 1,
        "chat": {"id": 888, "type": "private"},
        "voice": {"file_id": "AwACAgIAAxkBAAIB", "file_unique_id": "u", "duration": 3,
                  "mime_type": "audio/ogg", "file_size": audio.len()}}});
    assert_eq!(
        post_update(&s, &bot, &bot.secret, voice).await.status(),
        200
    );
    workers.run_once().await.unwrap();

    assert_eq!(
        s.telegram.calls_to("getFile")[0]["file_id"],
        "AwACAgIAAxkBAAIB"
    );
    assert_eq!(
        s.telegram.downloads.lock().unwrap().as_slice(),
        [format!("file/bot{BOT_TOKEN}/voice/AwACAgIAAxkBAAIB.oga")]
    );
    let calls = transcriber.calls.lock().unwrap().clone();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].0, "audio/ogg");
    assert_eq!(calls[0].2, audio);
    let transcript: Option<String> =
        sqlx::query_scalar("SELECT transcript FROM messages WHERE role = 'user'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(
        transcript.as_deref(),
        Some("Хочу дом сто пятьдесят квадратов в Астане")
    );
    assert_eq!(texts_to(&s.telegram, "888").len(), 1);
    let leads: Vec<Value> = s.app.get_json("/api/leads", Some(&jwt)).await;
    assert_eq!(leads[0]["area_m2"], 150.0);
}

/// Stores an assistant message in a Telegram conversation and enqueues its delivery, as a turn does.
async fn stored_reply(pool: &PgPool, text: &str) -> (TenantId, BotUserId, MessageId) {
    let (tenant, bot_user): (uuid::Uuid, uuid::Uuid) =
        sqlx::query_as("SELECT tenant_id, id FROM bot_users")
            .fetch_one(pool)
            .await
            .unwrap();
    let message = MessageId::new();
    sqlx::query(
        "INSERT INTO messages (id, tenant_id, bot_user_id, seq, role, content, status)
         SELECT $1, $2, $3, last_seq + 1, 'assistant', $4, 'answered' FROM bot_users WHERE id = $3",
    )
    .bind(message.0)
    .bind(tenant)
    .bind(bot_user)
    .bind(text)
    .execute(pool)
    .await
    .unwrap();
    sqlx::query("UPDATE bot_users SET last_seq = last_seq + 1")
        .execute(pool)
        .await
        .unwrap();
    let mut conn = pool.acquire().await.unwrap();
    salesbot::db::telegram::outbox::enqueue_delivery(
        &mut conn,
        tenant.into(),
        bot_user.into(),
        message,
    )
    .await
    .unwrap();
    (tenant.into(), bot_user.into(), message)
}

/// A company with a bot and one Telegram customer (chat 4242) whose first message was answered.
async fn conversation(s: &Setup, workers: &WorkerPool) {
    let (jwt, _) = s.app.register_ok("d@stroy.kz", "Stroy").await;
    let bot = connect_bot(s, &jwt, workers, BOT_TOKEN).await;
    post_update(s, &bot, &bot.secret, text_update(1, 4242, "Здравствуйте")).await;
    workers.run_once().await.unwrap();
    assert_eq!(texts_to(&s.telegram, "4242").len(), 1);
}

#[sqlx::test]
async fn a_long_reply_arrives_in_ordered_parts_each_sent_once(pool: PgPool) {
    let s = setup(&pool).await;
    let workers = patient_workers(&pool, s.addr);
    conversation(&s, &workers).await;

    let sentence = "Каркасный дом под ключ строим за три месяца, с фундаментом и кровлей. ";
    let long: String = (0..)
        .map(|i| format!("{i}. {sentence}"))
        .scan(String::new(), |text, s| {
            text.push_str(&s);
            Some(text.clone())
        })
        .find(|t| t.chars().count() >= 9_000)
        .unwrap();
    let long = long.chars().take(9_000).collect::<String>();
    // Telegram fails the third part once: the retry sends only that part again.
    s.telegram.then_reply_to(
        "sendMessage",
        200,
        json!({"ok": true, "result": {"message_id": 91}}),
    );
    s.telegram.then_reply_to(
        "sendMessage",
        200,
        json!({"ok": true, "result": {"message_id": 92}}),
    );
    s.telegram.then_reply_to(
        "sendMessage",
        502,
        json!({"ok": false, "error_code": 502, "description": "Bad Gateway"}),
    );
    stored_reply(&pool, &long).await;
    let report = workers.run_once().await.unwrap();
    assert_eq!(report.retried, 1);
    sqlx::query("UPDATE jobs SET run_at = now()")
        .execute(&pool)
        .await
        .unwrap();
    workers.run_once().await.unwrap();

    let sent = texts_to(&s.telegram, "4242");
    // the greeting reply, parts 1 and 2, part 3 refused, part 3 again
    assert_eq!(sent.len(), 5, "{sent:?}");
    assert_eq!(sent[3], sent[4]);
    let parts = [&sent[1], &sent[2], &sent[4]];
    assert!(parts.iter().all(|p| p.chars().count() <= 4096));
    let words = |s: &str| s.split_whitespace().map(str::to_owned).collect::<Vec<_>>();
    let joined = parts
        .iter()
        .map(|p| p.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    assert_eq!(
        words(&joined),
        words(&long),
        "parts are in order and lose nothing"
    );
    assert!(
        parts[0].ends_with('.') && parts[1].ends_with('.'),
        "split at sentence ends"
    );
    assert_eq!(
        count(&pool, "SELECT count(*) FROM telegram_sent_parts").await,
        4,
        "one row per part sent (the greeting reply's and the three parts)"
    );
    assert_eq!(count(&pool, "SELECT count(*) FROM jobs").await, 0);
}

#[sqlx::test]
async fn rate_limit_waits_retry_after_and_sends_once(pool: PgPool) {
    let s = setup(&pool).await;
    let workers = patient_workers(&pool, s.addr);
    conversation(&s, &workers).await;

    s.telegram.then_reply_to(
        "sendMessage",
        429,
        json!({"ok": false, "error_code": 429, "description": "Too Many Requests: retry after 30",
               "parameters": {"retry_after": 30}}),
    );
    stored_reply(&pool, "Ответ менеджера").await;
    let report = workers.run_once().await.unwrap();
    assert_eq!(report.deferred, 1);
    let wait: f64 = sqlx::query_scalar(
        "SELECT extract(epoch FROM run_at - now())::float8 FROM jobs WHERE kind = 'deliver_reply'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!((20.0..=30.0).contains(&wait), "{wait}");
    let attempts: i32 =
        sqlx::query_scalar("SELECT attempts FROM jobs WHERE kind = 'deliver_reply'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(attempts, 0, "a rate limit uses no attempt");

    sqlx::query("UPDATE jobs SET run_at = now()")
        .execute(&pool)
        .await
        .unwrap();
    workers.run_once().await.unwrap();
    let sent = texts_to(&s.telegram, "4242");
    assert_eq!(
        sent.len(),
        3,
        "greeting reply, the refused send, the send: {sent:?}"
    );
    assert_eq!(sent[1], "Ответ менеджера");
    assert_eq!(sent[2], "Ответ менеджера");
    assert_eq!(count(&pool, "SELECT count(*) FROM jobs").await, 0);
    workers.run_once().await.unwrap();
    assert_eq!(texts_to(&s.telegram, "4242").len(), 3);
}

#[sqlx::test]
async fn a_blocked_bot_marks_the_customer_and_stops(pool: PgPool) {
    let s = setup(&pool).await;
    let workers = patient_workers(&pool, s.addr);
    conversation(&s, &workers).await;

    s.telegram.then_reply_to(
        "sendMessage",
        403,
        json!({"ok": false, "error_code": 403, "description": "Forbidden: bot was blocked by the user"}),
    );
    stored_reply(&pool, "Первый ответ").await;
    let report = workers.run_once().await.unwrap();
    assert_eq!(report.completed, 1);
    assert_eq!(report.retried + report.dead, 0);
    assert_eq!(
        count(
            &pool,
            "SELECT count(*) FROM bot_users WHERE blocked_at IS NOT NULL"
        )
        .await,
        1
    );
    // A follow-up of the reply may be pending: it decides when it runs (tests/api/follow_ups.rs).
    assert_eq!(
        count(&pool, "SELECT count(*) FROM jobs WHERE kind <> 'follow_up'").await,
        0
    );

    // Nothing more is sent to a customer who blocked the bot.
    stored_reply(&pool, "Второй ответ").await;
    workers.run_once().await.unwrap();
    let sent = texts_to(&s.telegram, "4242");
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert_eq!(sent[1], "Первый ответ");
}

fn notifying_deps(addr: SocketAddr) -> Deps {
    let mut deps = telegram_deps(addr, None);
    deps.notifier = Some(Arc::new(Notifier {
        telegram: TelegramClient::new(&format!("http://{addr}"), Duration::from_secs(5)),
        bot_token: salesbot::config::Secret::new(PLATFORM_TOKEN),
        chat_id: PLATFORM_CHAT.into(),
        public_url: PUBLIC_URL.into(),
    }));
    deps
}

const PLATFORM_TOKEN: &str = "999:platform-bot-token-0123456789";
const PLATFORM_CHAT: &str = "-100111";
const MANAGERS_CHAT: &str = "-1009876543210";

#[sqlx::test]
async fn the_companys_own_chat_gets_its_notifications_in_its_language_once(pool: PgPool) {
    let s = setup(&pool).await;
    let workers = WorkerPool::new(
        service(&pool),
        registry(notifying_deps(s.addr)),
        fast_config(),
    );
    let (jwt, _) = s.app.register_ok("n@stroy.kz", "ТОО Құрылыс").await;
    let bot = connect_bot(&s, &jwt, &workers, BOT_TOKEN).await;
    let resp = s
        .app
        .client
        .put(s.app.url("/api/settings/telegram"))
        .bearer_auth(&jwt)
        .json(&json!({"managers_chat_id": MANAGERS_CHAT, "language": "kk"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);

    let update = text_update(1, 600, "Хочу дом 120 м2 в Алматы. Ерлан, 8 701 234 56 78");
    post_update(&s, &bot, &bot.secret, update).await;
    workers.run_once().await.unwrap();

    let notes = texts_to(&s.telegram, MANAGERS_CHAT);
    assert_eq!(notes.len(), 1, "{notes:?}");
    for expected in [
        "Өтінім тексерілді",
        "Ерлан",
        "+77012345678",
        "Алматы",
        "120 м²",
    ] {
        assert!(
            notes[0].contains(expected),
            "{expected} missing in {}",
            notes[0]
        );
    }
    let to_managers = s
        .telegram
        .calls
        .lock()
        .unwrap()
        .iter()
        .filter(|(_, b)| b["chat_id"] == MANAGERS_CHAT)
        .map(|(path, _)| path.clone())
        .collect::<Vec<_>>();
    assert_eq!(to_managers, [format!("bot{BOT_TOKEN}/sendMessage")]);
    assert!(texts_to(&s.telegram, PLATFORM_CHAT).is_empty());
    assert_eq!(texts_to(&s.telegram, "600").len(), 1);

    // The same lead version again (a re-run job): still one notification.
    let (tenant, bot_user, lead, version): (uuid::Uuid, uuid::Uuid, uuid::Uuid, i32) =
        sqlx::query_as("SELECT tenant_id, bot_user_id, id, version FROM leads")
            .fetch_one(&pool)
            .await
            .unwrap();
    salesbot::queue::enqueue(
        &pool,
        &salesbot::jobs::NotifyManager {
            tenant_id: tenant.into(),
            lead_id: lead.into(),
            version,
            event: LeadEvent::Qualified,
        }
        .job(bot_user.into()),
    )
    .await
    .unwrap();
    workers.run_once().await.unwrap();
    assert_eq!(texts_to(&s.telegram, MANAGERS_CHAT).len(), 1);
}

#[sqlx::test]
async fn a_lead_change_is_queued_for_managers_only_when_a_chat_can_take_it(pool: PgPool) {
    let s = setup(&pool).await;
    let workers = telegram_workers(&pool, s.addr); // companies' bots; no platform chat
    let (jwt, _) = s.app.register_ok("q@stroy.kz", "Тихий").await;
    let bot = connect_bot(&s, &jwt, &workers, BOT_TOKEN).await;
    sqlx::query("UPDATE telegram_bots SET managers_chat_id = NULL")
        .execute(&pool)
        .await
        .unwrap();
    // Turns only: a queued notification stays in the table to be seen.
    let turns = WorkerPool::new(
        service(&pool),
        salesbot::workers::Registry::new().with(TurnHandler {
            deps: telegram_deps(s.addr, None),
        }),
        fast_config(),
    );
    let notifications = || {
        count(
            &pool,
            "SELECT count(*) FROM jobs WHERE kind = 'notify_manager'",
        )
    };

    post_update(
        &s,
        &bot,
        &bot.secret,
        text_update(1, 700, "Хочу дом 120 м2 в Алматы"),
    )
    .await;
    turns.run_once().await.unwrap();
    assert_eq!(count(&pool, "SELECT count(*) FROM leads").await, 1);
    assert_eq!(notifications().await, 0, "no chat would take it");

    sqlx::query("UPDATE telegram_bots SET managers_chat_id = $1")
        .bind(MANAGERS_CHAT)
        .execute(&pool)
        .await
        .unwrap();
    post_update(
        &s,
        &bot,
        &bot.secret,
        text_update(2, 700, "Ерлан, 8 701 234 56 78"),
    )
    .await;
    turns.run_once().await.unwrap();
    assert_eq!(
        notifications().await,
        1,
        "the managers' chat gets the new version"
    );
}

#[sqlx::test]
async fn a_failing_managers_chat_never_delays_the_customers_reply(pool: PgPool) {
    let s = setup(&pool).await;
    let config = PoolConfig {
        backoff: salesbot::queue::Backoff {
            base: Duration::from_secs(3600),
            cap: Duration::from_secs(3600),
        },
        ..fast_config()
    };
    let workers = WorkerPool::new(service(&pool), registry(notifying_deps(s.addr)), config);
    let (jwt, _) = s.app.register_ok("n@stroy.kz", "Stroy").await;
    let bot = connect_bot(&s, &jwt, &workers, BOT_TOKEN).await;
    s.telegram.fail_chat(
        MANAGERS_CHAT,
        502,
        json!({"ok": false, "error_code": 502, "description": "Bad Gateway"}),
    );

    post_update(
        &s,
        &bot,
        &bot.secret,
        text_update(1, 601, "Баня в Семее, 6 на 4"),
    )
    .await;
    let report = workers.run_once().await.unwrap();
    assert_eq!(report.retried, 1, "the notification waits for its retry");
    post_update(
        &s,
        &bot,
        &bot.secret,
        text_update(2, 601, "Меня зовут Алия"),
    )
    .await;
    workers.run_once().await.unwrap();

    assert_eq!(
        texts_to(&s.telegram, "601").len(),
        2,
        "both replies reached the customer"
    );
    assert_eq!(
        count(
            &pool,
            "SELECT count(*) FROM jobs WHERE kind = 'notify_manager'"
        )
        .await,
        2
    );
}

#[sqlx::test]
async fn the_customer_sees_typing_before_the_reply(pool: PgPool) {
    let s = setup(&pool).await;
    let workers = telegram_workers(&pool, s.addr);
    let (jwt, _) = s.app.register_ok("t@stroy.kz", "Stroy").await;
    let bot = connect_bot(&s, &jwt, &workers, BOT_TOKEN).await;

    post_update(&s, &bot, &bot.secret, text_update(1, 700, "Дом в Алматы")).await;
    workers.run_once().await.unwrap();

    let calls = s.telegram.calls.lock().unwrap().clone();
    let typing = calls
        .iter()
        .position(|(path, body)| {
            path == &format!("bot{BOT_TOKEN}/sendChatAction")
                && body["chat_id"] == "700"
                && body["action"] == "typing"
        })
        .expect("sendChatAction typing");
    let reply = calls
        .iter()
        .position(|(path, body)| path.ends_with("/sendMessage") && body["chat_id"] == "700")
        .expect("the reply");
    assert!(typing < reply);
}

#[sqlx::test]
async fn an_album_is_one_message(pool: PgPool) {
    let s = setup(&pool).await;
    let workers = telegram_workers(&pool, s.addr);
    let (jwt, _) = s.app.register_ok("p@stroy.kz", "Stroy").await;
    let bot = connect_bot(&s, &jwt, &workers, BOT_TOKEN).await;
    let photo = |update_id: i64, group: &str, caption: Option<&str>| {
        let mut message = json!({"message_id": update_id, "date": 1,
            "chat": {"id": 800, "type": "private"}, "media_group_id": group,
            "photo": [{"file_id": format!("p{update_id}"), "width": 90, "height": 90}]});
        if let Some(caption) = caption {
            message["caption"] = json!(caption);
        }
        json!({"update_id": update_id, "message": message})
    };

    // Three photos without words: one polite answer.
    for id in 1..=3 {
        let resp = post_update(&s, &bot, &bot.secret, photo(id, "album-a", None)).await;
        assert_eq!(resp.status(), 200);
    }
    workers.run_once().await.unwrap();
    let sent = texts_to(&s.telegram, "800");
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert!(sent[0].contains("только текст"));

    // An album with a caption: the caption is the customer's one message.
    post_update(
        &s,
        &bot,
        &bot.secret,
        photo(4, "album-b", Some("Хочу такую баню в Алматы")),
    )
    .await;
    post_update(&s, &bot, &bot.secret, photo(5, "album-b", None)).await;
    workers.run_once().await.unwrap();
    let contents: Vec<String> =
        sqlx::query_scalar("SELECT content FROM messages WHERE role = 'user'")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(contents, ["Хочу такую баню в Алматы"]);
    let sent = texts_to(&s.telegram, "800");
    assert_eq!(sent.len(), 2, "only the caption's answer: {sent:?}");
}

#[sqlx::test]
async fn the_long_poll_mode_feeds_the_same_ingest_and_stores_its_offset(pool: PgPool) {
    let s = setup(&pool).await;
    let mut deps = telegram_deps(s.addr, None);
    let telegram = Arc::new(Telegram {
        client: TelegramClient::new(&format!("http://{}", s.addr), Duration::from_secs(5)),
        secrets: SecretBox::new(&salesbot::config::Secret::new(TEST_SECRET), None),
        public_url: PUBLIC_URL.into(),
        polling: true,
    });
    deps.telegram = Some(telegram.clone());
    let workers = WorkerPool::new(service(&pool), registry(deps), fast_config());
    let (jwt, body) = s.app.register_ok("poll@stroy.kz", "Stroy").await;
    let tenant = TenantId(
        body["user"]["tenant"]["id"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap(),
    );
    let resp = s
        .app
        .client
        .put(s.app.url("/api/settings/telegram"))
        .bearer_auth(&jwt)
        .json(&json!({"bot_token": BOT_TOKEN}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    workers.run_once().await.unwrap();
    // getUpdates works only without a webhook: saving the bot removed it instead of setting it.
    assert_eq!(s.telegram.calls_to("deleteWebhook").len(), 1);
    assert!(s.telegram.calls_to("setWebhook").is_empty());

    s.telegram.then_reply_to(
        "getUpdates",
        200,
        json!({"ok": true, "result": [text_update(10, 900, "Хочу баню"), text_update(11, 900, "/start")]}),
    );
    let polled =
        salesbot::workers::telegram_poll::poll_once(&pool, &telegram, tenant, Duration::ZERO)
            .await
            .unwrap();
    assert_eq!(polled, Some(2));
    // Telegram sends update 11 again (our offset was lost, say): it is not recorded twice.
    s.telegram.then_reply_to(
        "getUpdates",
        200,
        json!({"ok": true, "result": [text_update(11, 900, "/start")]}),
    );
    salesbot::workers::telegram_poll::poll_once(&pool, &telegram, tenant, Duration::ZERO)
        .await
        .unwrap();
    salesbot::workers::telegram_poll::poll_once(&pool, &telegram, tenant, Duration::ZERO)
        .await
        .unwrap();
    let offsets: Vec<i64> = s
        .telegram
        .calls_to("getUpdates")
        .iter()
        .map(|b| b["offset"].as_i64().unwrap())
        .collect();
    assert_eq!(offsets, [0, 12, 12]);
    workers.run_once().await.unwrap();

    assert_eq!(
        count(&pool, "SELECT count(*) FROM messages WHERE role = 'user'").await,
        1
    );
    let sent = texts_to(&s.telegram, "900");
    assert_eq!(sent.len(), 2, "the reply and the greeting: {sent:?}");
}
