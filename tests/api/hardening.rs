//! What a client sends cannot stop or break salesbot ([I]): the prototype's form bodies, the text
//! policy at every entry, and our error format for every refusal, whoever wrote it.

use std::sync::{Arc, Mutex};

use reqwest::Method;
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::helpers::fast_config;
use crate::helpers::{FakeTranscriber, OGG, deps, offline_workers, run_workers_until_idle};
use crate::helpers::{TestApp, error_code, service, spawn_app};
use crate::telegram::{connect_bot, post_update, setup, telegram_workers, text_update};
use salesbot::workers::engine::OfflineEngine;
use salesbot::workers::{WorkerPool, registry};

async fn count(pool: &PgPool, sql: &'static str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
}

/// Sends a request and returns its status and JSON body; every refusal must be our error format.
async fn call(
    app: &TestApp,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = app.client.request(method, app.url(path));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let resp = request.send().await.unwrap();
    let status = resp.status().as_u16();
    let content_type = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let text = resp.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    if status >= 400 {
        assert!(
            content_type.starts_with("application/json"),
            "{path}: {status} answered {content_type:?}: {text}"
        );
        assert!(
            body["error"]["code"].is_string() && body["error"]["message"].is_string(),
            "{path}: {status} {text}"
        );
    }
    (status, body)
}

#[sqlx::test]
async fn a_form_urlencoded_message_is_answered_like_multipart(pool: PgPool) {
    let app = Arc::new(spawn_app(pool.clone()).await);
    let (token, _) = app.register_ok("form@stroy.kz", "Form").await;
    let workers = offline_workers(&pool);
    // The conversation exists (seq 1 and its reply, 2), so a long-poll can wait on it.
    app.send_text(&token, "client_form", "Здравствуйте").await;
    run_workers_until_idle(&workers, &pool).await;
    // What `curl -d` and Python's requests.post(data=…) send; the prototype's FastAPI took it.
    let waiting = {
        let (app, token) = (app.clone(), token.clone());
        tokio::spawn(async move {
            app.client
                .post(app.url("/api/chat"))
                .bearer_auth(&token)
                .form(&[
                    ("user_id", "client_form"),
                    ("text", "Баня 6 на 4 в Караганде"),
                ])
                .send()
                .await
                .unwrap()
        })
    };
    let recorded: Value = app
        .get_json(
            "/api/conversations/client_form/messages?after_seq=2&wait=20",
            Some(&token),
        )
        .await;
    assert_eq!(
        recorded["messages"][0]["content"],
        "Баня 6 на 4 в Караганде"
    );
    run_workers_until_idle(&workers, &pool).await;
    let resp = waiting.await.unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["status"], "answered", "{body}");
    assert_eq!(body["user_id"], "client_form");
    assert_eq!(body["kind"], "text");
    assert_eq!(body["transcript"], Value::Null);
    assert_eq!(body["lead"]["object_type"], "bathhouse");

    // The form is held to the same rules as JSON: a blank text and an unknown field are 422.
    for form in [
        vec![("user_id", "u"), ("text", "   ")],
        vec![("user_id", "u"), ("text", "hi"), ("extra", "1")],
        vec![("text", "hi")],
    ] {
        let resp = app
            .client
            .post(app.url("/api/chat"))
            .bearer_auth(&token)
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(error_code(resp, 422).await, "validation_error", "{form:?}");
    }
}

#[sqlx::test]
async fn a_voice_notes_answer_carries_what_was_heard(pool: PgPool) {
    let app = Arc::new(spawn_app(pool.clone()).await);
    let (token, _) = app.register_ok("voice@stroy.kz", "Voice").await;
    let transcriber = Arc::new(FakeTranscriber {
        calls: Mutex::default(),
        text: "Хочу гараж в Астане".into(),
    });
    let workers = WorkerPool::new(
        service(&pool),
        registry(deps(Some(transcriber), Arc::new(OfflineEngine::new()))),
        fast_config(),
    );
    app.send_text(&token, "client_voice", "Здравствуйте").await;
    run_workers_until_idle(&workers, &pool).await;
    let waiting = {
        let (app, token) = (app.clone(), token.clone());
        tokio::spawn(async move {
            let part = reqwest::multipart::Part::bytes(OGG.to_vec())
                .file_name("note.ogg")
                .mime_str("audio/ogg")
                .unwrap();
            let form = reqwest::multipart::Form::new()
                .text("user_id", "client_voice")
                .part("audio", part);
            app.client
                .post(app.url("/api/chat"))
                .bearer_auth(&token)
                .multipart(form)
                .send()
                .await
                .unwrap()
        })
    };
    let recorded: Value = app
        .get_json(
            "/api/conversations/client_voice/messages?after_seq=2&wait=20",
            Some(&token),
        )
        .await;
    assert_eq!(recorded["messages"][0]["kind"], "voice", "{recorded}");
    // Transcribe, then the turn (its coalescing window skipped).
    run_workers_until_idle(&workers, &pool).await;
    let resp = waiting.await.unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["kind"], "voice", "{body}");
    assert_eq!(body["transcript"], "Хочу гараж в Астане");
    let status: Value = app
        .get_json(
            &format!("/api/messages/{}", body["message_id"].as_str().unwrap()),
            Some(&token),
        )
        .await;
    assert_eq!(status["transcript"], "Хочу гараж в Астане");
}

/// Every place a client's text enters, with a NUL (PostgreSQL cannot store it) and with another
/// control character: a 422 in our format, never a 500, and nothing stored.
#[sqlx::test]
async fn control_characters_are_refused_at_every_api_entry(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let (jwt, _) = app.register_ok("nul@stroy.kz", "Nul").await;
    let token = Some(jwt.as_str());
    // A conversation and a lead to aim the path and PATCH cases at.
    let resp = app.send_text(&jwt, "c1", "Дом в Алматы").await;
    assert_eq!(resp.status(), 202);
    run_workers_until_idle(&offline_workers(&pool), &pool).await;
    let lead_id: String = sqlx::query_scalar("SELECT id::text FROM leads")
        .fetch_one(&pool)
        .await
        .unwrap();
    let messages_before = count(&pool, "SELECT count(*) FROM messages").await;

    for bad in ["a\u{0}b", "a\u{1b}[31mb"] {
        let encoded = bad.replace('\u{0}', "%00").replace('\u{1b}', "%1B");
        let json_cases: Vec<(Method, &str, Value)> = vec![
            (
                Method::POST,
                "/api/chat",
                json!({"user_id": "c1", "text": bad}),
            ),
            (
                Method::POST,
                "/api/chat",
                json!({"user_id": bad, "text": "hi"}),
            ),
            (
                Method::POST,
                "/api/auth/register",
                json!({"email": "x@stroy.kz", "password": "long enough", "company_name": bad}),
            ),
            (
                Method::POST,
                "/api/auth/register",
                json!({"email": "y@stroy.kz", "password": format!("long {bad} enough"), "company_name": "Y"}),
            ),
            (
                Method::PUT,
                "/api/settings/assistant",
                json!({"about": bad, "coalesce_ms": 0}),
            ),
            (
                Method::PUT,
                "/api/settings/assistant",
                json!({"greeting": bad, "coalesce_ms": 0}),
            ),
            (
                Method::PUT,
                "/api/settings/telegram",
                json!({"bot_token": format!("123456:{bad}AAAAAAAAAAAAAAAAAAAAAAA")}),
            ),
            (
                Method::PUT,
                "/api/settings/telegram",
                json!({"working_hours": bad}),
            ),
        ];
        let mut cases = json_cases;
        for field in [
            "name",
            "summary",
            "loss_reason",
            "phone",
            "city",
            "object_type",
        ] {
            cases.push((Method::PATCH, "/api/leads/LEAD", json!({ field: bad })));
        }
        for (method, path, body) in cases {
            let path = path.replace("LEAD", &lead_id);
            let (status, answer) =
                call(&app, method.clone(), &path, token, Some(body.clone())).await;
            assert_eq!(status, 422, "{method} {path} {body}: {answer}");
        }
        let query_cases = [
            format!("/api/leads?q={encoded}"),
            format!("/api/leads?city={encoded}"),
            format!("/api/leads.csv?q={encoded}"),
            format!("/api/conversations/{encoded}/messages"),
        ];
        for path in query_cases {
            let (status, answer) = call(&app, Method::GET, &path, token, None).await;
            assert_eq!(status, 422, "{path}: {answer}");
        }
        for action in ["handoff", "release"] {
            let path = format!("/api/conversations/{encoded}/{action}");
            let (status, answer) = call(&app, Method::POST, &path, token, None).await;
            assert_eq!(status, 422, "{path}: {answer}");
        }
        let (status, answer) = call(
            &app,
            Method::POST,
            "/api/conversations/c1/reply",
            token,
            Some(json!({"text": bad})),
        )
        .await;
        assert_eq!(status, 422, "reply: {answer}");

        // Multipart and form bodies go through the same policy.
        for (field, value) in [("user_id", bad), ("text", bad)] {
            let other = if field == "user_id" {
                ("text", "hi")
            } else {
                ("user_id", "c1")
            };
            let form = reqwest::multipart::Form::new()
                .text(field, value.to_owned())
                .text(other.0, other.1);
            let resp = app
                .client
                .post(app.url("/api/chat"))
                .bearer_auth(&jwt)
                .multipart(form)
                .send()
                .await
                .unwrap();
            assert_eq!(
                error_code(resp, 422).await,
                "validation_error",
                "multipart {field}"
            );
            let resp = app
                .client
                .post(app.url("/api/chat"))
                .bearer_auth(&jwt)
                .form(&[(field, value), other])
                .send()
                .await
                .unwrap();
            assert_eq!(
                error_code(resp, 422).await,
                "validation_error",
                "form {field}"
            );
        }
        let resp = app
            .client
            .post(app.url("/api/auth/login"))
            .form(&[
                ("username", format!("nul@stroy.kz{bad}")),
                ("password", bad.into()),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(error_code(resp, 401).await, "invalid_credentials");
    }
    assert_eq!(
        count(&pool, "SELECT count(*) FROM messages").await,
        messages_before
    );
    assert_eq!(count(&pool, "SELECT count(*) FROM tenants").await, 1);
    // The lead and settings are as they were.
    let lead: (Option<String>, Option<String>) = sqlx::query_as("SELECT name, summary FROM leads")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(!format!("{lead:?}").contains('\u{0}'));
    let about: Option<String> = sqlx::query_scalar("SELECT about FROM tenants")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(about, None);
}

#[sqlx::test]
async fn texts_longer_than_their_limit_are_refused(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let (token, _) = app.register_ok("long@stroy.kz", "Long").await;
    let token = Some(token.as_str());
    let cases = [
        (
            Method::POST,
            "/api/chat",
            json!({"user_id": "c", "text": "я".repeat(4097)}),
        ),
        (
            Method::POST,
            "/api/chat",
            json!({"user_id": "я".repeat(201), "text": "hi"}),
        ),
        (
            Method::PUT,
            "/api/settings/assistant",
            json!({"about": "я".repeat(2001), "coalesce_ms": 0}),
        ),
    ];
    for (method, path, body) in cases {
        let (status, answer) = call(&app, method, path, token, Some(body)).await;
        assert_eq!(status, 422, "{path}: {answer}");
        assert!(
            answer["error"]["message"]
                .as_str()
                .unwrap()
                .contains("at most"),
            "{answer}"
        );
    }
    // The limit is the OpenAPI document's: exactly the maximum is accepted.
    let (status, _) = call(
        &app,
        Method::POST,
        "/api/chat",
        token,
        Some(json!({"user_id": "c", "text": "я".repeat(4096)})),
    )
    .await;
    assert_ne!(status, 422);
    // A lead's summary of 5 MB was accepted before: now it is 422 like every other long text.
    let lead = "00000000-0000-7000-8000-000000000000";
    let (status, _) = call(
        &app,
        Method::PATCH,
        &format!("/api/leads/{lead}"),
        token,
        Some(json!({"summary": "x".repeat(5 << 20)})),
    )
    .await;
    assert!(status == 422 || status == 413, "{status}");
}

#[sqlx::test]
async fn a_json_body_is_an_object_never_an_array_of_fields(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let (token, _) = app.register_ok("owner@stroy.kz", "Stroy").await;
    // serde reads a struct from an array of its fields in order: `["c1", "hi"]` was a message.
    for (method, path, body) in [
        (Method::POST, "/api/chat", r#"["c1", "hi"]"#),
        (Method::PUT, "/api/settings/retention", "[null]"),
        (Method::PUT, "/api/settings/prices", "[]"),
        (Method::PUT, "/api/settings/assistant", "42"),
    ] {
        let resp = app
            .client
            .request(method, app.url(path))
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(
            error_code(resp, 422).await,
            "validation_error",
            "{path} {body}"
        );
    }
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM messages")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(stored, 0);
    // Not JSON at all is still a 400.
    let resp = app
        .client
        .post(app.url("/api/chat"))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body("[\"c1\",")
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(resp, 400).await, "bad_request");
}

#[sqlx::test]
async fn dates_outside_the_window_are_422_not_500(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let (token, _) = app.register_ok("dates@stroy.kz", "Dates").await;
    let token = Some(token.as_str());
    for path in [
        "/api/usage?from=-4714-01-01",
        "/api/usage?to=9999-12-31",
        "/api/usage?from=1999-12-31",
        "/api/usage?from=2026-02-30",
        "/api/leads?created_from=-4714-01-01T00:00:00Z",
        "/api/leads?created_to=2100-01-01T00:00:00Z",
    ] {
        let (status, answer) = call(&app, Method::GET, path, token, None).await;
        assert_eq!(status, 422, "{path}: {answer}");
    }
    // Inside the window any range is fine, even one that ends before it starts (empty).
    for path in [
        "/api/usage?from=2000-01-01",
        "/api/usage?from=2030-01-01&to=2020-01-01",
        "/api/leads?created_from=2000-01-01T00:00:00%2B05:00",
    ] {
        let (status, answer) = call(&app, Method::GET, path, token, None).await;
        assert_eq!(status, 200, "{path}: {answer}");
    }
}

/// Refusals nobody's handler wrote — the router's, the extractors', the body limit's — answer in
/// our format too, and never repeat what the client sent.
#[sqlx::test]
async fn every_refusal_is_json_and_repeats_no_input(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let (token, _) = app.register_ok("errors@stroy.kz", "Errors").await;
    let marker = "ZZMARKERZZ";
    let cases: Vec<(Method, String, Option<Value>, u16)> = vec![
        (Method::GET, format!("/api/leads/{marker}"), None, 422),
        (Method::GET, format!("/api/messages/{marker}"), None, 422),
        (Method::GET, format!("/api/leads?limit={marker}"), None, 422),
        (Method::GET, "/api/leads?limit=0".into(), None, 422),
        (Method::GET, "/api/leads?limit=501".into(), None, 422),
        (
            Method::GET,
            format!("/api/leads?status={marker}"),
            None,
            422,
        ),
        (Method::GET, format!("/api/leads?sort={marker}"), None, 422),
        (
            Method::GET,
            format!("/api/leads?cursor={marker}"),
            None,
            422,
        ),
        (
            Method::GET,
            format!("/api/leads?qualified={marker}"),
            None,
            422,
        ),
        (
            Method::GET,
            "/api/conversations/c/messages?wait=-1".into(),
            None,
            422,
        ),
        (
            Method::GET,
            "/api/conversations/c/messages?wait=31".into(),
            None,
            422,
        ),
        (Method::GET, format!("/api/usage?from={marker}"), None, 422),
        (
            Method::POST,
            "/api/chat".into(),
            Some(json!({"user_id": marker, "text": 5})),
            422,
        ),
        (
            Method::POST,
            "/api/chat".into(),
            Some(json!({"user_id": "u", "text": "hi", marker: 1})),
            422,
        ),
        (
            Method::PATCH,
            "/api/leads/00000000-0000-7000-8000-000000000000".into(),
            Some(json!({"status": marker})),
            422,
        ),
        (Method::GET, format!("/no/such/{marker}"), None, 404),
        (Method::DELETE, "/api/leads".into(), None, 405),
        (
            Method::GET,
            format!("/api/{}", marker.repeat(1000)),
            None,
            414,
        ),
    ];
    for (method, path, body, expected) in cases {
        let (status, answer) = call(&app, method.clone(), &path, Some(&token), body).await;
        assert_eq!(
            status,
            expected,
            "{method} {}: {answer}",
            &path[..path.len().min(80)]
        );
        assert!(
            !answer.to_string().contains(marker),
            "{method} {path} echoes the input: {answer}"
        );
    }
    // Malformed JSON, and a body over the limit.
    let resp = app
        .client
        .post(app.url("/api/chat"))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(format!("{{\"user_id\": \"{marker}"))
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(resp, 400).await, "bad_request");
    let resp = app
        .client
        .post(app.url("/api/leads.csv"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(resp, 405).await, "method_not_allowed");
    let resp = app
        .client
        .post(app.url("/api/auth/register"))
        .header("content-type", "application/json")
        .body(vec![b' '; 27 * 1024 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(resp, 413).await, "payload_too_large");
}

#[sqlx::test]
async fn a_telegram_update_with_control_characters_is_stored_without_them(pool: PgPool) {
    let s = setup(&pool).await;
    let (jwt, _) = s.app.register_ok("tg-nul@stroy.kz", "TgNul").await;
    let workers = telegram_workers(&pool, s.addr);
    let bot = connect_bot(
        &s,
        &jwt,
        &workers,
        "123456:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw",
    )
    .await;
    let long = format!("Дом\u{0} в Алматы\u{1}{}", "я".repeat(100_000));
    // Telegram must not be told to resend it: 200, and the text is kept without what it cannot hold.
    let resp = post_update(&s, &bot, &bot.secret, text_update(7001, 555, &long)).await;
    assert_eq!(resp.status(), 200);
    let resp = post_update(&s, &bot, &bot.secret, text_update(7002, 555, "\u{0}\u{0}")).await;
    assert_eq!(resp.status(), 200);
    let stored: Vec<String> =
        sqlx::query_scalar("SELECT content FROM messages WHERE role = 'user' ORDER BY seq")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(stored.len(), 1, "a text of nothing but NULs is no message");
    assert!(
        stored[0].starts_with("Дом в Алматы"),
        "{}",
        &stored[0][..40]
    );
    assert_eq!(stored[0].chars().count(), 4096);
    assert!(!stored[0].contains(['\u{0}', '\u{1}']));
}

#[sqlx::test]
async fn security_headers_on_every_answer(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let (token, _) = app.register_ok("headers@stroy.kz", "Headers").await;
    let login = app
        .login_form("headers@stroy.kz", "correct horse battery")
        .await;
    let answers = [
        ("/api/me", app.get("/api/me", Some(&token)).await),
        ("/api/auth/login", login),
        (
            "/api/leads/x (422)",
            app.get("/api/leads/x", Some(&token)).await,
        ),
        ("/nowhere (404)", app.get("/nowhere", None).await),
        ("/health", app.get("/health", None).await),
        ("/login", app.get("/login", None).await),
        ("/docs/", app.get("/docs/", None).await),
    ];
    for (what, resp) in answers {
        let headers = resp.headers();
        assert_eq!(headers["x-content-type-options"], "nosniff", "{what}");
        assert!(
            !headers.contains_key("strict-transport-security"),
            "{what}: http only"
        );
        let html = headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html");
        if html {
            let csp = headers["content-security-policy"].to_str().unwrap();
            assert!(csp.contains("frame-ancestors 'none'"), "{what}: {csp}");
            assert_eq!(headers["x-frame-options"], "DENY", "{what}");
        }
        if what.starts_with("/api/") {
            assert_eq!(headers["cache-control"], "no-store", "{what}");
        }
    }

    // Behind HTTPS browsers are told to stay there.
    let mut config = crate::helpers::test_config();
    config.public_url = "https://salesbot.example.kz".into();
    let secure = crate::helpers::spawn_app_with(config, pool.clone()).await;
    let resp = secure.get("/health", None).await;
    assert!(
        resp.headers()["strict-transport-security"]
            .to_str()
            .unwrap()
            .starts_with("max-age=")
    );
}

/// Forgets every throttle: the window has passed (the test does not wait for it).
async fn let_the_window_pass(pool: &PgPool) {
    sqlx::query("UPDATE throttle SET tat = now() - interval '1 second'")
        .execute(pool)
        .await
        .unwrap();
}

#[sqlx::test]
async fn wrong_passwords_are_throttled_per_account_then_the_right_one_works(pool: PgPool) {
    let mut config = crate::helpers::test_config();
    config.limits.trusted_proxies = 1;
    let app = crate::helpers::spawn_app_with(config, pool.clone()).await;
    app.register_ok("target@stroy.kz", "Target").await;
    // An attacker with an address per attempt: only the account's own limit can stop it.
    let login = |address: String, email: &'static str, password: &'static str| {
        app.client
            .post(app.url("/api/auth/login"))
            .header("x-forwarded-for", address)
            .form(&[("username", email), ("password", password)])
            .send()
    };
    let mut statuses = Vec::new();
    let mut retry_after = None;
    for n in 0..40 {
        let resp = login(
            format!("198.51.100.{n}"),
            "target@stroy.kz",
            "wrong password!",
        )
        .await
        .unwrap();
        if resp.status() == 429 {
            retry_after = resp.headers().get("retry-after").map(|v| v.to_owned());
        }
        statuses.push(resp.status().as_u16());
    }
    // LOGIN_RATE_LIMIT's default: ten attempts, then refusals without a password check.
    assert_eq!(
        statuses.iter().filter(|s| **s == 401).count(),
        10,
        "{statuses:?}"
    );
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 30);
    let seconds: u64 = retry_after.unwrap().to_str().unwrap().parse().unwrap();
    assert!((1..=90).contains(&seconds), "{seconds}");
    // The owner, while the account is throttled, is refused too: the limit counts attempts.
    let owner = || {
        login(
            "203.0.113.7".into(),
            "target@stroy.kz",
            "correct horse battery",
        )
    };
    assert_eq!(
        error_code(owner().await.unwrap(), 429).await,
        "rate_limited"
    );
    // Another account is not affected.
    app.register_ok("other@stroy.kz", "Other").await;
    let other = login(
        "203.0.113.8".into(),
        "other@stroy.kz",
        "correct horse battery",
    );
    assert_eq!(other.await.unwrap().status(), 200);
    let_the_window_pass(&pool).await;
    assert_eq!(owner().await.unwrap().status(), 200);
}

#[sqlx::test]
async fn logins_and_registrations_are_throttled_per_client_address(pool: PgPool) {
    let mut config = crate::helpers::test_config();
    // Behind Render: Cloudflare appends the client, Render's proxy the Cloudflare edge.
    config.limits.trusted_proxies = 2;
    let app = crate::helpers::spawn_app_with(config, pool.clone()).await;
    let register = |n: usize, client: &'static str| {
        app.client
            .post(app.url("/api/auth/register"))
            .header("x-forwarded-for", format!("6.6.6.{n}, {client}, 104.22.17.40"))
            .json(&json!({"email": format!("c{n}@stroy.kz"), "password": "long enough", "company_name": "C"}))
            .send()
    };
    for n in 0..10 {
        // The spoofed leftmost entry changes every time; the address our proxies saw does not.
        assert_eq!(
            register(n, "203.0.113.9").await.unwrap().status(),
            201,
            "{n}"
        );
    }
    let resp = register(10, "203.0.113.9").await.unwrap();
    assert!(resp.headers().contains_key("retry-after"));
    assert_eq!(error_code(resp, 429).await, "rate_limited");
    assert_eq!(register(11, "198.51.100.4").await.unwrap().status(), 201);
    assert_eq!(count(&pool, "SELECT count(*) FROM tenants").await, 11);

    let login = |client: &'static str, n: usize| {
        app.client
            .post(app.url("/api/auth/login"))
            .header("x-forwarded-for", format!("{client}, 104.22.17.40"))
            .form(&[
                ("username", format!("nobody{n}@stroy.kz")),
                ("password", "x".into()),
            ])
            .send()
    };
    // LOGIN_IP_RATE_LIMIT's default: thirty a minute from one address, whatever the accounts.
    for n in 0..30 {
        assert_eq!(login("192.0.2.1", n).await.unwrap().status(), 401, "{n}");
    }
    let resp = login("192.0.2.1", 30).await.unwrap();
    assert_eq!(error_code(resp, 429).await, "rate_limited");
    assert_eq!(login("192.0.2.2", 31).await.unwrap().status(), 401);
    // Nothing that identifies a client is stored: keys are digests.
    let keys: Vec<Vec<u8>> = sqlx::query_scalar("SELECT key FROM throttle")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert!(keys.iter().all(|k| k.len() == 32));
    // Rows whose time has passed say nothing: housekeeping deletes them.
    let_the_window_pass(&pool).await;
    let forgotten = salesbot::db::throttle::forget_expired(&pool).await.unwrap();
    assert_eq!(forgotten, keys.len() as u64);
}

#[sqlx::test]
async fn a_company_over_its_chat_limit_gets_429(pool: PgPool) {
    let mut config = crate::helpers::test_config();
    config.limits.chat_per_tenant = Some(salesbot::config::RateLimit {
        burst: 3,
        period: std::time::Duration::from_secs(60),
    });
    let app = crate::helpers::spawn_app_with(config, pool.clone()).await;
    let (busy, _) = app.register_ok("busy@stroy.kz", "Busy").await;
    let (quiet, _) = app.register_ok("quiet@stroy.kz", "Quiet").await;
    for n in 0..3 {
        assert_eq!(
            app.send_text(&busy, &format!("c{n}"), "hi").await.status(),
            202
        );
    }
    let resp = app.send_text(&busy, "c3", "hi").await;
    assert!(resp.headers().contains_key("retry-after"));
    assert_eq!(error_code(resp, 429).await, "rate_limited");
    assert_eq!(app.send_text(&quiet, "c0", "hi").await.status(), 202);
    assert_eq!(count(&pool, "SELECT count(*) FROM messages").await, 4);
}
