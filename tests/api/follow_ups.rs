//! Follow-ups ([J]): a customer who goes quiet before the lead is qualified hears from the bot once
//! more, through the conversation's own channel, in the managers' working hours — and never after
//! answering, in human mode, once blocked, or beyond the company's count. No test waits: a
//! follow-up is made due by setting its job's `run_at`, and working hours are set around now.

use salesbot::domain::follow_up::default_text;
use salesbot::domain::language::Language;
use salesbot::jobs::{FollowUp, JobPayload};
use salesbot::workers::pipeline::follow_up::FollowUpHandler;
use salesbot::workers::{Registry, WorkerPool};
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::helpers::{
    TestApp, fast_config, offline_workers, run_workers_until_idle, service, spawn_app,
};
use crate::jobs::{assert_same_contract, stored_jobs};
use crate::telegram::{connect_bot, post_update, setup, telegram_workers, text_update};

const OWNER: &str = "owner@stroy.kz";
const CUSTOMER: &str = "client-7";
/// Not qualified: an object type, but no phone and no city.
const QUESTION: &str = "Хочу построить дом";

/// The pending follow-ups: (payload, due within the next minute).
async fn pending(pool: &PgPool) -> Vec<(FollowUp, bool)> {
    let rows: Vec<(Value, bool)> = sqlx::query_as(
        "SELECT payload, run_at <= now() + interval '1 minute' FROM jobs
          WHERE kind = 'follow_up' ORDER BY id",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    rows.into_iter()
        .map(|(p, due)| (FollowUp::read(&p).unwrap(), due))
        .collect()
}

async fn make_due(pool: &PgPool) {
    sqlx::query("UPDATE jobs SET run_at = now() WHERE kind = 'follow_up'")
        .execute(pool)
        .await
        .unwrap();
}

/// Workers that run follow-ups only, so a test decides what else has run.
fn follow_up_workers(pool: &PgPool) -> WorkerPool {
    WorkerPool::new(
        service(pool),
        Registry::new().with(FollowUpHandler),
        fast_config(),
    )
}

async fn follow_ups_sent(pool: &PgPool) -> Vec<String> {
    sqlx::query_scalar("SELECT content FROM messages WHERE engine = 'follow_up' ORDER BY seq")
        .fetch_all(pool)
        .await
        .unwrap()
}

async fn last_seq(pool: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT last_seq FROM bot_users")
        .fetch_one(pool)
        .await
        .unwrap()
}

/// A customer asked, the bot answered, and the customer went quiet.
async fn quiet_customer(app: &TestApp, pool: &PgPool, workers: &WorkerPool) -> String {
    let (jwt, _) = app.register_ok(OWNER, "Stroy").await;
    assert_eq!(app.send_text(&jwt, CUSTOMER, QUESTION).await.status(), 202);
    run_workers_until_idle(workers, pool).await;
    jwt
}

async fn put_settings(app: &TestApp, jwt: &str, body: Value) -> reqwest::Response {
    app.client
        .put(app.url("/api/settings/follow-ups"))
        .bearer_auth(jwt)
        .json(&body)
        .send()
        .await
        .unwrap()
}

#[sqlx::test]
async fn a_quiet_customer_hears_once_more_through_the_api_channel(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let workers = offline_workers(&pool);
    let (jwt, _) = app.register_ok(OWNER, "Stroy").await;
    let endpoint = app
        .client
        .post(app.url("/api/webhooks"))
        .bearer_auth(&jwt)
        .json(&json!({"url": "http://127.0.0.1:9/hooks", "events": ["reply.created"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(endpoint.status(), 201);
    assert_eq!(app.send_text(&jwt, CUSTOMER, QUESTION).await.status(), 202);
    run_workers_until_idle(&workers, &pool).await;

    // Scheduled by the turn's commit, a day later (the default), after the bot's reply.
    let reply_seq = last_seq(&pool).await;
    let scheduled = pending(&pool).await;
    assert_eq!(scheduled.len(), 1, "{scheduled:?}");
    assert_eq!(
        (scheduled[0].0.after_seq, scheduled[0].0.number),
        (reply_seq, 1)
    );
    assert!(!scheduled[0].1, "not due before the delay");
    let late: bool = sqlx::query_scalar(
        "SELECT run_at > now() + interval '23 hours' AND run_at <= now() + interval '24 hours'
           FROM jobs WHERE kind = 'follow_up'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(late, "due 24 h after the reply");
    assert_same_contract(
        &stored_jobs(&pool)
            .await
            .into_iter()
            .filter(|j| j.kind == FollowUp::KIND)
            .collect::<Vec<_>>(),
    );

    // The customer's long-poll is waiting when the follow-up goes out.
    let poll = {
        let (client, url, jwt) = (
            app.client.clone(),
            app.url(&format!(
                "/api/conversations/{CUSTOMER}/messages?after_seq={reply_seq}&wait=30"
            )),
            jwt.clone(),
        );
        tokio::spawn(async move {
            let resp = client.get(url).bearer_auth(jwt).send().await.unwrap();
            assert_eq!(resp.status(), 200);
            resp.json::<Value>().await.unwrap()
        })
    };
    make_due(&pool).await;
    run_workers_until_idle(&workers, &pool).await;
    let seen = poll.await.unwrap();
    let messages = seen["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 1, "{seen}");
    assert_eq!(messages[0]["role"], "assistant");
    assert_eq!(messages[0]["content"], default_text(Language::Ru));
    assert_eq!(follow_ups_sent(&pool).await, [default_text(Language::Ru)]);

    // reply.created for the webhook endpoint, like any bot reply.
    let events: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM webhook_events
          WHERE type = 'reply.created' AND payload->'data'->>'message_id' = $1",
    )
    .bind(messages[0]["id"].as_str().unwrap())
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(events, 1);
    // The default is one: nothing more is scheduled.
    assert!(pending(&pool).await.is_empty());
}

#[sqlx::test]
async fn a_customer_message_cancels_the_follow_up_and_the_next_reply_re_arms_it(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let workers = offline_workers(&pool);
    let jwt = quiet_customer(&app, &pool, &workers).await;
    let first = pending(&pool).await;
    assert_eq!(first.len(), 1);

    // The customer writes before the turn has answered: the due follow-up ends without sending.
    assert_eq!(
        app.send_text(&jwt, CUSTOMER, "А ещё баню хотим")
            .await
            .status(),
        202
    );
    make_due(&pool).await;
    follow_up_workers(&pool).run_once().await.unwrap();
    assert!(follow_ups_sent(&pool).await.is_empty());
    assert!(pending(&pool).await.is_empty(), "cancelled, not retried");

    // The turn answers and schedules a follow-up of its own reply.
    run_workers_until_idle(&workers, &pool).await;
    let rearmed = pending(&pool).await;
    assert_eq!(rearmed.len(), 1);
    assert_eq!(rearmed[0].0.after_seq, last_seq(&pool).await);
    assert!(!rearmed[0].1);

    // A newer turn while one is pending re-arms that one in place: still one, about the newest
    // reply, due a whole delay later again.
    sqlx::query("UPDATE jobs SET run_at = now() + interval '1 hour' WHERE kind = 'follow_up'")
        .execute(&pool)
        .await
        .unwrap();
    let id_before: i64 = sqlx::query_scalar("SELECT id FROM jobs WHERE kind = 'follow_up'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(
        app.send_text(&jwt, CUSTOMER, "Дом из газоблока, два этажа")
            .await
            .status(),
        202
    );
    run_workers_until_idle(&workers, &pool).await;
    let again = pending(&pool).await;
    assert_eq!(again.len(), 1, "{again:?}");
    assert_eq!(again[0].0.after_seq, last_seq(&pool).await);
    let (id_after, far): (i64, bool) = sqlx::query_as(
        "SELECT id, run_at > now() + interval '23 hours' FROM jobs WHERE kind = 'follow_up'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(
        id_after, id_before,
        "the pending job was re-armed, not doubled"
    );
    assert!(far, "its due time moved to a delay after the newest reply");
    make_due(&pool).await;
    run_workers_until_idle(&workers, &pool).await;
    assert_eq!(follow_ups_sent(&pool).await.len(), 1);
}

#[sqlx::test]
async fn no_follow_up_in_human_mode_or_to_a_blocked_customer_or_for_a_qualified_lead(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let workers = offline_workers(&pool);
    let jwt = quiet_customer(&app, &pool, &workers).await;
    let only_follow_ups = follow_up_workers(&pool);

    // A manager takes over: the follow-up ends without sending.
    let resp = app
        .client
        .post(app.url(&format!("/api/conversations/{CUSTOMER}/handoff")))
        .bearer_auth(&jwt)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    make_due(&pool).await;
    only_follow_ups.run_once().await.unwrap();
    assert!(follow_ups_sent(&pool).await.is_empty());
    assert!(pending(&pool).await.is_empty());

    // Back to the bot, answered again; then the customer blocks the bot.
    let resp = app
        .client
        .post(app.url(&format!("/api/conversations/{CUSTOMER}/release")))
        .bearer_auth(&jwt)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(app.send_text(&jwt, CUSTOMER, QUESTION).await.status(), 202);
    run_workers_until_idle(&workers, &pool).await;
    assert_eq!(pending(&pool).await.len(), 1);
    sqlx::query("UPDATE bot_users SET blocked_at = now()")
        .execute(&pool)
        .await
        .unwrap();
    make_due(&pool).await;
    only_follow_ups.run_once().await.unwrap();
    assert!(follow_ups_sent(&pool).await.is_empty());
    assert!(pending(&pool).await.is_empty());

    // A qualified lead: the turn schedules nothing.
    assert_eq!(
        app.send_text(&jwt, "client-8", "Дом 120 м² в Алматы, 8 701 234 56 78")
            .await
            .status(),
        202
    );
    run_workers_until_idle(&workers, &pool).await;
    let qualified: i64 =
        sqlx::query_scalar("SELECT count(*) FROM leads WHERE status = 'qualified'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(qualified, 1);
    assert!(pending(&pool).await.is_empty());
}

#[sqlx::test]
async fn the_company_sets_how_many_and_its_own_words(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let workers = offline_workers(&pool);
    let (jwt, _) = app.register_ok(OWNER, "Stroy").await;
    let defaults: Value = app.get_json("/api/settings/follow-ups", Some(&jwt)).await;
    assert_eq!(
        defaults,
        json!({"max_count": 1, "delay_minutes": 1440, "text_ru": null, "text_kk": null, "text_en": null})
    );
    let own = "Добрый день! Напомню о себе — будем рады помочь с проектом.";
    let resp = put_settings(
        &app,
        &jwt,
        json!({"max_count": 2, "delay_minutes": 60, "text_ru": own, "text_kk": " "}),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let saved: Value = resp.json().await.unwrap();
    assert_eq!(saved["text_kk"], Value::Null, "blank is the built-in text");
    for bad in [
        json!({"max_count": 4, "delay_minutes": 60}),
        json!({"max_count": 1, "delay_minutes": 9}),
        json!({"max_count": 1, "delay_minutes": 20161}),
        json!({"max_count": 1}),
        json!([1, 60]),
    ] {
        assert_eq!(
            put_settings(&app, &jwt, bad.clone()).await.status(),
            422,
            "{bad}"
        );
    }
    let manager = app.add_manager(OWNER, "manager@stroy.kz").await;
    let resp = put_settings(&app, &manager, json!({"max_count": 0, "delay_minutes": 60})).await;
    assert_eq!(resp.status(), 403);

    // Two in a row, in the company's words, an hour apart; then no third.
    assert_eq!(app.send_text(&jwt, CUSTOMER, QUESTION).await.status(), 202);
    run_workers_until_idle(&workers, &pool).await;
    let in_an_hour: bool = sqlx::query_scalar(
        "SELECT run_at > now() + interval '59 minutes' AND run_at <= now() + interval '60 minutes'
           FROM jobs WHERE kind = 'follow_up'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(in_an_hour);
    for n in 1..=2 {
        make_due(&pool).await;
        run_workers_until_idle(&workers, &pool).await;
        assert_eq!(follow_ups_sent(&pool).await.len(), n);
    }
    assert_eq!(follow_ups_sent(&pool).await, [own, own]);
    assert!(pending(&pool).await.is_empty(), "the count is respected");

    // Off (0): a new conversation gets none.
    let resp = put_settings(&app, &jwt, json!({"max_count": 0, "delay_minutes": 60})).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        app.send_text(&jwt, "client-9", QUESTION).await.status(),
        202
    );
    run_workers_until_idle(&workers, &pool).await;
    assert!(pending(&pool).await.is_empty());
}

#[sqlx::test]
async fn a_telegram_follow_up_waits_for_working_hours_and_goes_through_the_bot(pool: PgPool) {
    let s = setup(&pool).await;
    let workers = telegram_workers(&pool, s.addr);
    let (jwt, _) = s.app.register_ok(OWNER, "Stroy").await;
    let bot = connect_bot(&s, &jwt, &workers, crate::telegram::BOT_TOKEN).await;
    // Working hours that start six hours from now (Kazakhstan time): closed now.
    let local_now = chrono::Utc::now().timestamp() / 60 + 5 * 60;
    let from = (local_now + 360).rem_euclid(1440);
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
        .json(&json!({"managers_chat_id": "-1009876543210", "working_hours": hours}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    post_update(&s, &bot, &bot.secret, text_update(1, 4242, QUESTION)).await;
    run_workers_until_idle(&workers, &pool).await;
    let to_customer = || {
        s.telegram
            .calls_to("sendMessage")
            .iter()
            .filter(|b| b["chat_id"] == "4242")
            .map(|b| b["text"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(to_customer().len(), 1, "the bot's reply");

    // Due, but the managers are not working: deferred to the start of their hours, no attempt
    // spent, nothing sent.
    make_due(&pool).await;
    let report = run_workers_until_idle(&workers, &pool).await;
    assert_eq!(report.deferred, 1);
    let (attempts, wait_minutes): (i32, f64) = sqlx::query_as(
        "SELECT attempts, extract(epoch FROM run_at - now())::float8 / 60 FROM jobs
          WHERE kind = 'follow_up'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(attempts, 0);
    assert!(
        (5.0 * 60.0..=6.0 * 60.0).contains(&wait_minutes),
        "until the hours start: {wait_minutes} minutes"
    );
    assert_eq!(to_customer().len(), 1);

    // Around the clock: it goes out through the company's bot.
    let resp = s
        .app
        .client
        .put(s.app.url("/api/settings/telegram"))
        .bearer_auth(&jwt)
        .json(&json!({"managers_chat_id": "-1009876543210", "working_hours": "00:00-00:00"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    make_due(&pool).await;
    run_workers_until_idle(&workers, &pool).await;
    let sent = to_customer();
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert_eq!(sent[1], default_text(Language::Ru));
}
