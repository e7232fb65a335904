//! Human handoff over Telegram: a manager takes over (or the customer asks for a person), the bot is
//! silent, the customer's messages reach the managers' chat, the manager's replies reach the
//! customer in order, release gives the conversation back — with no double answer and no loop.

use serde_json::{Value, json};
use sqlx::PgPool;

use crate::helpers::error_code;
use crate::telegram::{
    Bot, Setup, connect_bot, patient_workers, post_update, setup, telegram_workers, text_update,
};

const CUSTOMER: &str = "4242";
const MANAGERS: &str = "-1009876543210";

fn texts_to(s: &Setup, chat: &str) -> Vec<String> {
    s.telegram
        .calls_to("sendMessage")
        .iter()
        .filter(|b| b["chat_id"] == chat)
        .map(|b| b["text"].as_str().unwrap().to_owned())
        .collect()
}

async fn post(s: &Setup, jwt: &str, path: &str, body: Option<Value>) -> reqwest::Response {
    let mut req = s.app.client.post(s.app.url(path)).bearer_auth(jwt);
    if let Some(body) = body {
        req = req.json(&body);
    }
    req.send().await.unwrap()
}

async fn mode(pool: &PgPool) -> String {
    sqlx::query_scalar("SELECT mode FROM bot_users")
        .fetch_one(pool)
        .await
        .unwrap()
}

async fn started(s: &Setup, workers: &salesbot::workers::WorkerPool) -> (String, Bot) {
    let (jwt, _) = s.app.register_ok("m@stroy.kz", "Stroy").await;
    let bot = connect_bot(s, &jwt, workers, crate::telegram::BOT_TOKEN).await;
    post_update(s, &bot, &bot.secret, text_update(1, 4242, "Здравствуйте")).await;
    workers.run_once().await.unwrap();
    assert_eq!(texts_to(s, CUSTOMER).len(), 1);
    (jwt, bot)
}

#[sqlx::test]
async fn a_manager_takes_over_answers_in_order_and_gives_back(pool: PgPool) {
    let s = setup(&pool).await;
    let workers = telegram_workers(&pool, s.addr);
    let (jwt, bot) = started(&s, &workers).await;

    let resp = post(
        &s,
        &jwt,
        "/api/conversations/4242/reply",
        Some(json!({"text": "Я тут"})),
    )
    .await;
    assert_eq!(error_code(resp, 409).await, "not_in_human_mode");

    let resp = post(&s, &jwt, "/api/conversations/4242/handoff", None).await;
    assert_eq!(resp.status(), 200);
    let state: Value = resp.json().await.unwrap();
    assert_eq!(state["mode"], "human");
    assert_eq!(state["channel"], "telegram");
    workers.run_once().await.unwrap();
    let alerts = texts_to(&s, MANAGERS);
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert!(alerts[0].contains("4242"), "{}", alerts[0]);

    // The bot is silent; the managers get the customer's words.
    post_update(
        &s,
        &bot,
        &bot.secret,
        text_update(2, 4242, "Сколько стоит дом 100 м2?"),
    )
    .await;
    workers.run_once().await.unwrap();
    assert_eq!(texts_to(&s, CUSTOMER).len(), 1, "the bot stayed silent");
    let forwarded = texts_to(&s, MANAGERS);
    assert_eq!(forwarded.len(), 2, "{forwarded:?}");
    assert!(forwarded[1].contains("Сколько стоит дом 100 м2?"));
    // Re-running forwards nothing twice.
    salesbot::queue::enqueue(
        &pool,
        &salesbot::db::handoff::forward_job(tenant(&pool).await, bot_user(&pool).await, None),
    )
    .await
    .unwrap();
    workers.run_once().await.unwrap();
    assert_eq!(texts_to(&s, MANAGERS).len(), 2);

    for text in ["Добрый день, это Анна.", "Дом 100 м² — от 12 млн ₸."]
    {
        let resp = post(
            &s,
            &jwt,
            "/api/conversations/4242/reply",
            Some(json!({"text": text})),
        )
        .await;
        assert_eq!(resp.status(), 201);
    }
    workers.run_once().await.unwrap();
    let to_customer = texts_to(&s, CUSTOMER);
    assert_eq!(
        &to_customer[1..],
        ["Добрый день, это Анна.", "Дом 100 м² — от 12 млн ₸."]
    );
    let unanswered: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM messages WHERE role = 'user' AND reply_id IS NULL",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(
        unanswered, 0,
        "the manager's reply answered the customer's question"
    );

    // Released: nothing is waiting, so the bot says nothing now — and answers the next message.
    let resp = post(&s, &jwt, "/api/conversations/4242/release", None).await;
    assert_eq!(resp.status(), 200);
    workers.run_once().await.unwrap();
    assert_eq!(texts_to(&s, CUSTOMER).len(), 3);
    assert_eq!(mode(&pool).await, "bot");
    post_update(&s, &bot, &bot.secret, text_update(3, 4242, "Спасибо!")).await;
    workers.run_once().await.unwrap();
    assert_eq!(texts_to(&s, CUSTOMER).len(), 4);
    let forwards = texts_to(&s, MANAGERS)
        .into_iter()
        .filter(|t| t.starts_with("💬"))
        .count();
    assert_eq!(forwards, 1, "nothing forwarded in bot mode");

    // Another company cannot take this conversation over.
    let (other, _) = s.app.register_ok("other@stroy.kz", "Other").await;
    let resp = post(&s, &other, "/api/conversations/4242/handoff", None).await;
    assert_eq!(error_code(resp, 404).await, "not_found");
    assert_eq!(mode(&pool).await, "bot");
}

#[sqlx::test]
async fn asking_for_a_person_hands_off_and_release_does_not_loop(pool: PgPool) {
    let s = setup(&pool).await;
    let workers = telegram_workers(&pool, s.addr);
    let (jwt, bot) = started(&s, &workers).await;

    post_update(
        &s,
        &bot,
        &bot.secret,
        text_update(2, 4242, "Позовите менеджера, пожалуйста"),
    )
    .await;
    workers.run_once().await.unwrap();
    assert_eq!(mode(&pool).await, "human");
    assert_eq!(
        texts_to(&s, CUSTOMER).len(),
        2,
        "the bot said a manager will answer"
    );
    assert_eq!(texts_to(&s, MANAGERS).len(), 1, "the managers were alerted");

    // Asked again in human mode, unanswered, then released without an answer: the bot answers that
    // message once, and the old request does not hand the conversation over again.
    post_update(
        &s,
        &bot,
        &bot.secret,
        text_update(3, 4242, "Позовите менеджера!"),
    )
    .await;
    workers.run_once().await.unwrap();
    assert_eq!(texts_to(&s, CUSTOMER).len(), 2);
    let resp = post(&s, &jwt, "/api/conversations/4242/release", None).await;
    assert_eq!(resp.status(), 200);
    workers.run_once().await.unwrap();
    assert_eq!(mode(&pool).await, "bot");
    assert_eq!(texts_to(&s, CUSTOMER).len(), 3);
    let answers: Vec<(i64, Option<uuid::Uuid>)> =
        sqlx::query_as("SELECT seq, reply_id FROM messages WHERE role = 'user' ORDER BY seq")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert!(
        answers.iter().all(|(_, reply)| reply.is_some()),
        "{answers:?}"
    );
    assert_eq!(
        // (and the follow-up the last reply scheduled, a day away: tests/api/follow_ups.rs)
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM jobs WHERE kind <> 'follow_up'")
            .fetch_one(&pool)
            .await
            .unwrap(),
        1,
        "only the first handoff's no-answer timer is left"
    );
}

#[sqlx::test]
async fn a_customer_nobody_answers_is_told_when_to_expect_an_answer(pool: PgPool) {
    let s = setup(&pool).await;
    let workers = patient_workers(&pool, s.addr);
    let (jwt, _bot) = started(&s, &workers).await;

    post(&s, &jwt, "/api/conversations/4242/handoff", None).await;
    workers.run_once().await.unwrap();
    let due = "UPDATE jobs SET run_at = now() WHERE kind = 'handoff_timeout'";
    sqlx::query(due).execute(&pool).await.unwrap();
    workers.run_once().await.unwrap();
    let sent = texts_to(&s, CUSTOMER);
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert!(sent[1].contains("рабочее время"), "{}", sent[1]);

    // A second handoff that the manager answers in time: no such message.
    post(&s, &jwt, "/api/conversations/4242/release", None).await;
    post(&s, &jwt, "/api/conversations/4242/handoff", None).await;
    let resp = post(
        &s,
        &jwt,
        "/api/conversations/4242/reply",
        Some(json!({"text": "Отвечаю"})),
    )
    .await;
    assert_eq!(resp.status(), 201);
    workers.run_once().await.unwrap();
    sqlx::query(due).execute(&pool).await.unwrap();
    workers.run_once().await.unwrap();
    let sent = texts_to(&s, CUSTOMER);
    assert_eq!(sent.len(), 3, "{sent:?}");
    assert_eq!(sent[2], "Отвечаю");
}

async fn tenant(pool: &PgPool) -> salesbot::domain::TenantId {
    let id: uuid::Uuid = sqlx::query_scalar("SELECT tenant_id FROM bot_users")
        .fetch_one(pool)
        .await
        .unwrap();
    id.into()
}

async fn bot_user(pool: &PgPool) -> salesbot::domain::BotUserId {
    let id: uuid::Uuid = sqlx::query_scalar("SELECT id FROM bot_users")
        .fetch_one(pool)
        .await
        .unwrap();
    id.into()
}

#[sqlx::test]
async fn outside_working_hours_the_customer_hears_when_managers_answer(pool: PgPool) {
    let s = setup(&pool).await;
    let workers = patient_workers(&pool, s.addr);
    let (jwt, _bot) = started(&s, &workers).await;
    // A one-hour window six hours from now (Kazakhstan time, UTC+5): closed now, whatever the time.
    let now = chrono::Utc::now().timestamp() / 60 + 5 * 60;
    let from = (now + 360).rem_euclid(1440);
    let to = (from + 60) % 1440;
    let hours = format!(
        "{:02}:{:02}-{:02}:{:02}",
        from / 60,
        from % 60,
        to / 60,
        to % 60
    );
    let resp = s
        .app
        .client
        .put(s.app.url("/api/settings/telegram"))
        .bearer_auth(&jwt)
        .json(&json!({"managers_chat_id": MANAGERS, "working_hours": hours}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);

    post(&s, &jwt, "/api/conversations/4242/handoff", None).await;
    workers.run_once().await.unwrap();
    let sent = texts_to(&s, CUSTOMER);
    assert_eq!(
        sent.len(),
        2,
        "told at once, not after HANDOFF_TIMEOUT: {sent:?}"
    );
    assert!(sent[1].starts_with("Сейчас нерабочее время"), "{}", sent[1]);
    let (from_text, to_text) = hours.split_once('-').unwrap();
    assert!(
        sent[1].contains(&format!("с {from_text} до {to_text}")),
        "{}",
        sent[1]
    );
}
