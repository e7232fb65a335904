//! Managers' Telegram notifications (the prototype's TELEGRAM_BOT_TOKEN / TELEGRAM_CHAT_ID): one per
//! lead version, never delaying the customer's reply.

use std::sync::Arc;
use std::time::Duration;

use salesbot::config::Secret;
use salesbot::jobs::LeadEvent;
use salesbot::workers::engine::OfflineEngine;
use salesbot::workers::integrations::telegram::TelegramClient;
use salesbot::workers::pipeline::notify::Notifier;
use salesbot::workers::{WorkerPool, registry};
use serde_json::json;
use sqlx::PgPool;

use crate::fakes::FakeTelegram;
use crate::helpers::deps;
use crate::helpers::fast_config;
use crate::helpers::service;
use crate::helpers::spawn_app;

const TOKEN: &str = "123456:platform-bot-token";

fn notifying_workers(pool: &PgPool, telegram: std::net::SocketAddr) -> WorkerPool {
    notifying_workers_with(pool, telegram, fast_config())
}

fn notifying_workers_with(
    pool: &PgPool,
    telegram: std::net::SocketAddr,
    config: salesbot::workers::PoolConfig,
) -> WorkerPool {
    let mut deps = deps(None, Arc::new(OfflineEngine::new()));
    deps.notifier = Some(Arc::new(Notifier {
        telegram: TelegramClient::new(&format!("http://{telegram}"), Duration::from_secs(5)),
        bot_token: Secret::new(TOKEN),
        chat_id: "-1001234567".into(),
        public_url: "https://salesbot.example.kz".into(),
    }));
    WorkerPool::new(service(pool), registry(deps), config)
}

async fn send(app: &crate::helpers::TestApp, token: &str, user: &str, text: &str) {
    let resp = app
        .client
        .post(app.url("/api/chat"))
        .bearer_auth(token)
        .header("prefer", "respond-async")
        .json(&json!({"user_id": user, "text": text}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 202);
}

#[sqlx::test]
async fn a_qualified_lead_is_notified_once(pool: PgPool) {
    let (telegram, addr) = FakeTelegram::start().await;
    let app = spawn_app(pool.clone()).await;
    let (token, _) = app.register_ok("n@stroy.kz", "ТОО Құрылыс").await;
    let workers = notifying_workers(&pool, addr);
    send(
        &app,
        &token,
        "c1",
        "Хочу дом 120 м2 в Алматы. Ерлан, 8 701 234 56 78",
    )
    .await;
    workers.run_once().await.unwrap();

    let sent = telegram.calls_to("sendMessage");
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["chat_id"], "-1001234567");
    assert_eq!(sent[0]["parse_mode"], "HTML");
    let text = sent[0]["text"].as_str().unwrap();
    for expected in [
        "квалифицирована",
        "Ерлан",
        "+77012345678",
        "Алматы",
        "120 м²",
        "ТОО Құрылыс",
        "https://salesbot.example.kz/api/leads/",
    ] {
        assert!(text.contains(expected), "{expected} missing in {text}");
    }
    assert!(
        telegram.calls.lock().unwrap()[0]
            .0
            .starts_with(&format!("bot{TOKEN}/"))
    );

    // The same version again (a retried or re-run job): nothing more is sent.
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
    assert_eq!(telegram.calls_to("sendMessage").len(), 1);

    // A message that changes nothing about the lead sends nothing.
    send(&app, &token, "c1", "Спасибо!").await;
    workers.run_once().await.unwrap();
    assert_eq!(telegram.calls_to("sendMessage").len(), 1);
}

#[sqlx::test]
async fn a_failing_telegram_never_delays_the_reply(pool: PgPool) {
    let (telegram, addr) = FakeTelegram::start().await;
    let app = spawn_app(pool.clone()).await;
    let (token, _) = app.register_ok("f@stroy.kz", "Fail").await;
    // Retries wait an hour, so the test can look at the conversation while one is pending.
    let config = salesbot::workers::PoolConfig {
        backoff: salesbot::queue::Backoff {
            base: Duration::from_secs(3600),
            cap: Duration::from_secs(3600),
        },
        ..fast_config()
    };
    let workers = notifying_workers_with(&pool, addr, config);
    telegram.then_reply(
        502,
        json!({"ok": false, "error_code": 502, "description": "Bad Gateway"}),
    );
    send(&app, &token, "c2", "Баня в Семее, 6 на 4").await;
    let report = workers.run_once().await.unwrap();
    assert_eq!(report.retried, 1, "the notification waits for its retry");

    // The customer was answered anyway, and the next message of the conversation too.
    let answered: i64 =
        sqlx::query_scalar("SELECT count(*) FROM messages WHERE role = 'assistant'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(answered, 1);
    send(&app, &token, "c2", "Меня зовут Алия").await;
    workers.run_once().await.unwrap();
    let answered: i64 =
        sqlx::query_scalar("SELECT count(*) FROM messages WHERE role = 'assistant'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(answered, 2);

    // 429: Telegram's retry_after is honoured durably, without using an attempt.
    telegram.then_reply(
        429,
        json!({"ok": false, "error_code": 429,
        "description": "Too Many Requests: retry after 120", "parameters": {"retry_after": 120}}),
    );
    sqlx::query("UPDATE jobs SET run_at = now() WHERE kind = 'notify_manager'")
        .execute(&pool)
        .await
        .unwrap();
    let report = workers.run_once().await.unwrap();
    assert_eq!(report.deferred, 1);
    let wait: f64 = sqlx::query_scalar(
        "SELECT min(extract(epoch FROM run_at - now()))::float8 FROM jobs WHERE kind = 'notify_manager' AND state = 'available'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!((100.0..=120.0).contains(&wait), "{wait}");

    // Once Telegram answers, every version is delivered, in order.
    sqlx::query("UPDATE jobs SET run_at = now() WHERE kind = 'notify_manager'")
        .execute(&pool)
        .await
        .unwrap();
    workers.run_once().await.unwrap();
    let texts: Vec<String> = telegram
        .calls_to("sendMessage")
        .iter()
        .map(|b| b["text"].as_str().unwrap().to_owned())
        .collect();
    let delivered: Vec<&String> = texts.iter().skip(2).collect();
    assert_eq!(delivered.len(), 2, "{texts:?}");
    assert!(delivered[0].contains("Новая заявка"));
    assert!(delivered[1].contains("Алия"));
    // The reply's follow-up is a day away (tests/api/follow_ups.rs).
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM jobs WHERE kind <> 'follow_up'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(left, 0);
}
