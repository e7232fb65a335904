//! Ingest and the ordered pipeline end to end: `POST /api/chat` → transcribe → turn → reply and lead,
//! with the offline engine and workers driven by `run_once()`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use salesbot::queue;
use salesbot::workers::engine::{Engine, EngineFuture, OfflineEngine, TurnInput};
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::helpers::{
    FakeTranscriber, OGG, accepted_id, deps, error_code, offline_workers, pipeline_workers,
    spawn_app,
};

async fn count(pool: &PgPool, sql: &'static str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
}

#[sqlx::test]
async fn text_voice_text_are_answered_in_order_with_one_qualified_lead(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let (token, _) = app.register_ok("sales@stroy.kz", "Stroy").await;
    let transcriber = Arc::new(FakeTranscriber {
        calls: Mutex::default(),
        text: "Дом сто пятьдесят квадратов".into(),
    });
    let workers = pipeline_workers(
        &pool,
        deps(Some(transcriber.clone()), Arc::new(OfflineEngine::new())),
    );

    let first = accepted_id(
        app.send_text(
            &token,
            "client_1",
            "Здравствуйте! Хочу построить дом в Алматы",
        )
        .await,
    )
    .await;
    let voice = accepted_id(app.send_voice(&token, "client_1", OGG, "note.ogg").await).await;
    let third = accepted_id(
        app.send_text(
            &token,
            "client_1",
            "Меня зовут Ерлан, мой номер 8 701 234 56 78",
        )
        .await,
    )
    .await;
    workers.run_once().await.unwrap();

    let mut replies = Vec::new();
    for id in [&first, &voice, &third] {
        let status: Value = app
            .get_json(&format!("/api/messages/{id}"), Some(&token))
            .await;
        assert_eq!(status["status"], "answered", "{status}");
        replies.push((
            status["seq"].as_i64().unwrap(),
            status["reply"]["id"].clone(),
        ));
    }
    let voice_status: Value = app
        .get_json(&format!("/api/messages/{voice}"), Some(&token))
        .await;
    assert_eq!(voice_status["transcript"], "Дом сто пятьдесят квадратов");
    assert_eq!(voice_status["transcript_status"], "done");
    assert_eq!(transcriber.calls.lock().unwrap()[0].0, "audio/ogg");

    // The conversation reads in seq order: every reply comes after the messages it answers.
    let conversation: Value = app
        .get_json(
            "/api/conversations/client_1/messages?after_seq=0",
            Some(&token),
        )
        .await;
    let messages = conversation["messages"].as_array().unwrap();
    let seqs: Vec<i64> = messages
        .iter()
        .map(|m| m["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(seqs, (1..=seqs.len() as i64).collect::<Vec<_>>());
    for (seq, reply_id) in &replies {
        let reply = messages.iter().find(|m| m["id"] == *reply_id).unwrap();
        assert!(reply["seq"].as_i64().unwrap() > *seq);
        assert_eq!(reply["role"], "assistant");
    }
    assert_eq!(messages.last().unwrap()["role"], "assistant");

    let leads: Vec<Value> = app.get_json("/api/leads", Some(&token)).await;
    assert_eq!(leads.len(), 1);
    let lead = &leads[0];
    assert_eq!(lead["name"], "Ерлан");
    assert_eq!(lead["phone"], "+77012345678");
    assert_eq!(lead["city"], "almaty");
    assert_eq!(lead["object_type"], "house");
    assert_eq!(lead["area_m2"], 150.0);
    assert_eq!(lead["status"], "qualified");
    assert_eq!(count(&pool, "SELECT count(*) FROM jobs").await, 0);
}

#[sqlx::test]
async fn a_waiting_request_gets_the_reply_and_long_poll_wakes_on_it(pool: PgPool) {
    let app = Arc::new(spawn_app(pool.clone()).await);
    let (token, _) = app.register_ok("wait@stroy.kz", "Wait").await;
    let workers = offline_workers(&pool);

    // A first exchange, so the conversation exists (customer seq 1, reply seq 2).
    accepted_id(app.send_text(&token, "client_sync", "Здравствуйте").await).await;
    workers.run_once().await.unwrap();

    // The prototype's synchronous style: the request waits for the reply.
    let waiting = {
        let (app, token) = (app.clone(), token.clone());
        tokio::spawn(async move {
            let form = reqwest::multipart::Form::new()
                .text("user_id", "client_sync")
                .text("text", "Сколько стоит баня 6 на 4 в Караганде?");
            app.client
                .post(app.url("/api/chat"))
                .bearer_auth(&token)
                .multipart(form)
                .send()
                .await
                .unwrap()
        })
    };
    // Long-poll until the customer's message is recorded (event-driven, no sleeping)…
    let recorded: Value = app
        .get_json(
            "/api/conversations/client_sync/messages?after_seq=2&wait=20",
            Some(&token),
        )
        .await;
    assert_eq!(recorded["messages"][0]["role"], "user", "{recorded}");
    assert_eq!(recorded["last_seq"], 3);
    // …then long-poll for what comes after it, and let a worker answer.
    let long_poll = {
        let (app, token) = (app.clone(), token.clone());
        tokio::spawn(async move {
            app.get(
                "/api/conversations/client_sync/messages?after_seq=3&wait=20",
                Some(&token),
            )
            .await
            .json::<Value>()
            .await
            .unwrap()
        })
    };
    assert_eq!(workers.run_once().await.unwrap().completed, 1);

    let resp = waiting.await.unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert!(!body["response"].as_str().unwrap().is_empty());
    assert_eq!(body["status"], "answered");
    assert_eq!(body["lead"]["city"], "karaganda");
    assert_eq!(body["lead"]["object_type"], "bathhouse");
    assert_eq!(body["lead"]["area_m2"], 24.0);

    let polled = long_poll.await.unwrap();
    let messages = polled["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 1, "{polled}");
    assert_eq!(messages[0]["role"], "assistant");
    assert_eq!(messages[0]["content"], body["response"]);
    assert_eq!(polled["last_seq"], 4);
}

#[sqlx::test]
async fn respond_async_and_idempotency_key(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let (token, _) = app.register_ok("idem@stroy.kz", "Idem").await;
    let send = |key: &'static str| {
        app.client
            .post(app.url("/api/chat"))
            .bearer_auth(&token)
            .header("prefer", "respond-async")
            .header("idempotency-key", key)
            .json(&json!({"user_id": "client_idem", "text": "Нужен ремонт квартиры в Астане"}))
            .send()
    };
    let first = accepted_id(send("retry-1").await.unwrap()).await;
    let again = accepted_id(send("retry-1").await.unwrap()).await;
    assert_eq!(first, again);
    assert_eq!(count(&pool, "SELECT count(*) FROM messages").await, 1);
    assert_eq!(
        count(&pool, "SELECT last_seq FROM bot_users").await,
        1,
        "no seq was burnt"
    );
    // The key names the message, whoever the retry claims to be from: a conversation the retry
    // would have opened is not left behind.
    let from_elsewhere = app
        .client
        .post(app.url("/api/chat"))
        .bearer_auth(&token)
        .header("prefer", "respond-async")
        .header("idempotency-key", "retry-1")
        .json(&json!({"user_id": "client_elsewhere", "text": "Нужен ремонт квартиры в Астане"}))
        .send()
        .await
        .unwrap();
    assert_eq!(accepted_id(from_elsewhere).await, first);
    assert_eq!(count(&pool, "SELECT count(*) FROM bot_users").await, 1);
    let other = accepted_id(send("retry-2").await.unwrap()).await;
    assert_ne!(first, other);

    // Once answered, the same key returns the first answer — 200 with the reply, nothing new stored.
    offline_workers(&pool).run_once().await.unwrap();
    let resp = app
        .client
        .post(app.url("/api/chat"))
        .bearer_auth(&token)
        .header("idempotency-key", "retry-1")
        .json(&json!({"user_id": "client_idem", "text": "Нужен ремонт квартиры в Астане"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["message_id"], first.as_str());
    assert_eq!(
        count(&pool, "SELECT count(*) FROM messages WHERE role = 'user'").await,
        2
    );
}

#[sqlx::test]
async fn conversations_do_not_wait_for_each_other_and_tenants_see_nothing_of_each_other(
    pool: PgPool,
) {
    let app = spawn_app(pool.clone()).await;
    let (a, _) = app.register_ok("a@stroy.kz", "A").await;
    let (b, _) = app.register_ok("b@stroy.kz", "B").await;
    let a1 = accepted_id(app.send_text(&a, "alice", "Хочу гараж в Шымкенте").await).await;
    accepted_id(app.send_text(&a, "bob", "Need a cottage in Almaty").await).await;
    let b1 = accepted_id(app.send_text(&b, "carol", "Баня керек, Ақтөбеде").await).await;

    // One batch holds all three conversations' turns: none waits for another.
    let claimed = queue::claim(&pool, &["turn".into()], 10, 2, Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(claimed.len(), 3);
    for job in &claimed {
        queue::reschedule(
            &pool,
            queue::Lease::from(job),
            queue::Reschedule::Release,
            None,
        )
        .await
        .unwrap();
    }
    offline_workers(&pool).run_once().await.unwrap();

    // B cannot see A's message, conversation or lead: 404, not 403.
    let resp = app.get(&format!("/api/messages/{a1}"), Some(&b)).await;
    assert_eq!(error_code(resp, 404).await, "not_found");
    let resp = app.get("/api/conversations/alice/messages", Some(&b)).await;
    assert_eq!(error_code(resp, 404).await, "not_found");
    let leads_b: Vec<Value> = app.get("/api/leads", Some(&b)).await.json().await.unwrap();
    assert!(leads_b.iter().all(|l| l["user_id"] == "carol"));
    let conversations_b: Vec<Value> = app.get_json("/api/conversations", Some(&b)).await;
    assert_eq!(conversations_b.len(), 1);
    assert_eq!(conversations_b[0]["last_message_role"], "assistant");
    assert!(
        !conversations_b[0]["last_message"]
            .as_str()
            .unwrap()
            .is_empty()
    );
    // The same user id in another tenant is another conversation.
    let status: Value = app.get_json(&format!("/api/messages/{b1}"), Some(&b)).await;
    assert_eq!(status["status"], "answered");
    // Replies are in the customer's language.
    let carol: Value = app
        .get_json("/api/conversations/carol/messages", Some(&b))
        .await;
    let reply = carol["messages"][1]["content"]
        .as_str()
        .unwrap()
        .to_lowercase();
    assert!(
        reply.chars().any(|c| "әіңғүұқөһ".contains(c)),
        "not Kazakh: {reply}"
    );
}

/// An engine that lets the worker lose its lease during the call (as if it stalled past the lease
/// or was killed), before it could commit.
struct StallingEngine {
    pool: PgPool,
    calls: Mutex<u32>,
}

impl Engine for StallingEngine {
    fn name(&self) -> &'static str {
        "stalling"
    }

    fn turn<'a>(&'a self, input: &'a TurnInput) -> EngineFuture<'a> {
        Box::pin(async move {
            let first = {
                let mut calls = self.calls.lock().unwrap();
                *calls += 1;
                *calls == 1
            };
            if first {
                // Another worker takes the job over: the lease this attempt holds is gone.
                sqlx::query("UPDATE jobs SET lease_token = gen_random_uuid() WHERE kind = 'turn'")
                    .execute(&self.pool)
                    .await
                    .unwrap();
                sqlx::query("UPDATE jobs SET state = 'available', run_at = now() - interval '1 s' WHERE kind = 'turn'")
                    .execute(&self.pool)
                    .await
                    .unwrap();
            }
            OfflineEngine::new().turn(input).await
        })
    }
}

#[sqlx::test]
async fn a_worker_that_lost_its_lease_cannot_commit_so_there_is_one_reply(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let (token, _) = app.register_ok("crash@stroy.kz", "Crash").await;
    accepted_id(
        app.send_text(
            &token,
            "client_c",
            "Дом в Таразе, 120 м2, Айгуль 87771234567",
        )
        .await,
    )
    .await;
    let engine = Arc::new(StallingEngine {
        pool: pool.clone(),
        calls: Mutex::default(),
    });
    let report = pipeline_workers(&pool, deps(None, engine.clone()))
        .run_once()
        .await
        .unwrap();
    assert_eq!(
        *engine.calls.lock().unwrap(),
        2,
        "the turn ran again after losing its lease"
    );
    assert_eq!(report.completed, 1);
    assert_eq!(
        count(
            &pool,
            "SELECT count(*) FROM messages WHERE role = 'assistant'"
        )
        .await,
        1
    );
    assert_eq!(count(&pool, "SELECT count(*) FROM leads").await, 1);
    assert_eq!(count(&pool, "SELECT version::int8 FROM leads").await, 1);

    // A turn that finds nothing unanswered (e.g. re-run after a crash between commit and ack)
    // writes nothing.
    queue::enqueue(
        &pool,
        &queue::NewJob::new("turn", json!({
            "tenant_id": sqlx::query_scalar::<_, uuid::Uuid>("SELECT tenant_id FROM bot_users").fetch_one(&pool).await.unwrap(),
            "bot_user_id": sqlx::query_scalar::<_, uuid::Uuid>("SELECT id FROM bot_users").fetch_one(&pool).await.unwrap(),
        })),
    )
    .await
    .unwrap();
    offline_workers(&pool).run_once().await.unwrap();
    assert_eq!(
        count(
            &pool,
            "SELECT count(*) FROM messages WHERE role = 'assistant'"
        )
        .await,
        1
    );
}

#[sqlx::test]
async fn voice_without_speech_to_text_gets_a_please_write_reply(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let (token, _) = app.register_ok("voice@stroy.kz", "Voice").await;
    let id = accepted_id(app.send_voice(&token, "client_v", OGG, "hello.ogg").await).await;
    offline_workers(&pool).run_once().await.unwrap();
    let status: Value = app
        .get_json(&format!("/api/messages/{id}"), Some(&token))
        .await;
    assert_eq!(status["transcript_status"], "unavailable");
    assert_eq!(status["status"], "answered");
    let reply = status["reply"]["content"].as_str().unwrap().to_lowercase();
    assert!(
        reply.contains("напиш") || reply.contains("текст"),
        "{reply}"
    );
}

#[sqlx::test]
async fn a_dead_turn_fails_its_messages_and_still_answers(pool: PgPool) {
    struct Broken;
    impl Engine for Broken {
        fn name(&self) -> &'static str {
            "broken"
        }
        fn turn<'a>(&'a self, _: &'a TurnInput) -> EngineFuture<'a> {
            Box::pin(async {
                Err(salesbot::workers::engine::EngineError::Retryable {
                    message: "upstream 503".into(),
                })
            })
        }
    }
    let app = spawn_app(pool.clone()).await;
    let (token, _) = app.register_ok("dead@stroy.kz", "Dead").await;
    let id = accepted_id(
        app.send_text(&token, "client_d", "Нужен склад в Павлодаре")
            .await,
    )
    .await;
    sqlx::query("UPDATE jobs SET max_attempts = 1")
        .execute(&pool)
        .await
        .unwrap();
    // The offline fallback fails too, so the turn dies (a fatal engine error or the last attempt's
    // retryable one alone is answered by the fallback, see tests/api/openai.rs).
    let mut broken = deps(None, Arc::new(Broken));
    broken.fallback = Arc::new(Broken);
    let report = pipeline_workers(&pool, broken).run_once().await.unwrap();
    assert_eq!(report.dead, 1);
    let status: Value = app
        .get_json(&format!("/api/messages/{id}"), Some(&token))
        .await;
    assert_eq!(status["status"], "failed");
    assert!(
        status["reply"]["content"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("менеджер"),
        "{status}"
    );
    // The conversation is not blocked: the next message is answered normally.
    let next = accepted_id(app.send_text(&token, "client_d", "Площадь 500 м2").await).await;
    offline_workers(&pool).run_once().await.unwrap();
    let status: Value = app
        .get_json(&format!("/api/messages/{next}"), Some(&token))
        .await;
    assert_eq!(status["status"], "answered");
}

#[sqlx::test]
async fn stale_backlog_gets_one_catch_up_reply(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let (token, _) = app.register_ok("stale@stroy.kz", "Stale").await;
    for text in ["Здравствуйте", "Хочу дом", "Алло?"] {
        accepted_id(app.send_text(&token, "client_s", text).await).await;
    }
    sqlx::query("UPDATE messages SET created_at = now() - interval '3 days'")
        .execute(&pool)
        .await
        .unwrap();
    offline_workers(&pool).run_once().await.unwrap();
    assert_eq!(
        count(
            &pool,
            "SELECT count(*) FROM messages WHERE role = 'assistant'"
        )
        .await,
        1
    );
    let reply: String = sqlx::query_scalar("SELECT content FROM messages WHERE role = 'assistant'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(reply.contains("задержк"), "{reply}");
    assert_eq!(
        count(
            &pool,
            "SELECT count(*) FROM messages WHERE role = 'user' AND status = 'answered'"
        )
        .await,
        3
    );
}

#[sqlx::test]
async fn burst_coalescing_gives_three_quick_messages_one_reply(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let (token, _) = app.register_ok("burst@stroy.kz", "Burst").await;
    sqlx::query("UPDATE tenants SET coalesce_ms = 60000")
        .execute(&pool)
        .await
        .unwrap();
    for text in ["Добрый день", "Хочу баню", "В Семее"] {
        accepted_id(app.send_text(&token, "client_b", text).await).await;
    }
    // One pending turn, due a quiet period after the last message.
    assert_eq!(
        count(&pool, "SELECT count(*) FROM jobs WHERE kind = 'turn'").await,
        1
    );
    // Each message of the burst stretched the window: the turn is due 60 s after the LAST one.
    assert_eq!(
        count(
            &pool,
            "SELECT count(*) FROM jobs WHERE kind = 'turn'
               AND run_at = (SELECT max(created_at) FROM messages) + interval '60 seconds'"
        )
        .await,
        1
    );
    let workers = offline_workers(&pool);
    assert_eq!(
        workers.run_once().await.unwrap().attempts(),
        0,
        "still inside the window"
    );
    sqlx::query("UPDATE jobs SET run_at = now()")
        .execute(&pool)
        .await
        .unwrap();
    workers.run_once().await.unwrap();
    assert_eq!(
        count(
            &pool,
            "SELECT count(*) FROM messages WHERE role = 'assistant'"
        )
        .await,
        1
    );
}

#[sqlx::test]
async fn bad_chat_input_is_a_clear_4xx_and_stores_nothing(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let (token, _) = app.register_ok("bad@stroy.kz", "Bad").await;
    let post = |form: reqwest::multipart::Form| {
        app.client
            .post(app.url("/api/chat"))
            .bearer_auth(&token)
            .multipart(form)
            .send()
    };
    let form = || reqwest::multipart::Form::new();
    let cases: Vec<(&str, reqwest::multipart::Form, u16)> = vec![
        ("missing user_id", form().text("text", "Привет"), 422),
        (
            "empty text, no audio",
            form().text("user_id", "u").text("text", "   "),
            422,
        ),
        (
            "unknown field",
            form()
                .text("user_id", "u")
                .text("text", "hi")
                .text("phone", "1"),
            422,
        ),
        (
            "1 MB text",
            form()
                .text("user_id", "u")
                .text("text", "а".repeat(1 << 19)),
            422,
        ),
        (
            "a PNG named voice.ogg",
            form().text("user_id", "u").part(
                "voice",
                reqwest::multipart::Part::bytes(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec())
                    .file_name("voice.ogg")
                    .mime_str("audio/ogg")
                    .unwrap(),
            ),
            415,
        ),
        (
            "26 MB audio",
            form().text("user_id", "u").part(
                "audio",
                reqwest::multipart::Part::bytes({
                    let mut big = OGG.to_vec();
                    big.resize(26 * 1024 * 1024, 0);
                    big
                })
                .file_name("long.ogg"),
            ),
            413,
        ),
    ];
    for (what, form, status) in cases {
        let resp = post(form).await.unwrap();
        assert_eq!(resp.status(), status, "{what}");
        let body: Value = resp.json().await.unwrap();
        assert!(body["error"]["message"].is_string(), "{what}: {body}");
    }
    let resp = app
        .client
        .post(app.url("/api/chat"))
        .bearer_auth(&token)
        .json(&json!({"user_id": "u", "text": "hi", "extra": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(resp, 422).await, "validation_error");
    let resp = app
        .client
        .post(app.url("/api/chat"))
        .bearer_auth(&token)
        .header("content-type", "text/plain")
        .body("hello")
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(resp, 415).await, "unsupported_media_type");
    assert_eq!(count(&pool, "SELECT count(*) FROM messages").await, 0);
    assert_eq!(count(&pool, "SELECT count(*) FROM bot_users").await, 0);
    assert_eq!(count(&pool, "SELECT count(*) FROM jobs").await, 0);
}
