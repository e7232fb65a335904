//! The command line: configuration errors are one clear line, and `--help` lists every setting.

use std::process::Command;

use crate::helpers::salesbot_bin;

/// Runs salesbot with a clean environment (no `.env`: the working directory is a temp dir).
fn run(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let dir = std::env::temp_dir();
    Command::new(salesbot_bin())
        .args(args)
        .env_clear()
        .envs(env.iter().copied())
        .current_dir(dir)
        .output()
        .unwrap()
}

#[test]
fn missing_secret_key_is_one_clear_line() {
    let out = run(&["serve"], &[]);
    assert!(!out.status.success());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("SECRET_KEY"), "{stderr}");
    assert!(stderr.contains("DEV_MODE"), "{stderr}");
    assert!(!stderr.contains("panicked"));
}

#[test]
fn bad_database_url_is_one_clear_line() {
    let out = run(
        &["migrate"],
        &[
            ("SECRET_KEY", "0123456789abcdef0123456789abcdef"),
            ("DATABASE_URL", "mysql://root@localhost/app"),
        ],
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("DATABASE_URL"), "{stderr}");
    assert!(!stderr.contains("panicked"));
}

#[test]
fn unreachable_database_is_a_clear_error_not_a_panic() {
    let out = run(
        &["migrate"],
        &[
            ("SECRET_KEY", "0123456789abcdef0123456789abcdef"),
            (
                "DATABASE_URL",
                "postgresql+asyncpg://u:hunter2@127.0.0.1:1/app",
            ),
        ],
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("error: connecting to postgres://u:***@127.0.0.1:1/app"),
        "{stderr}"
    );
    assert!(!stderr.contains("hunter2"), "the password leaked: {stderr}");
    assert!(!stderr.contains("panicked"));
}

#[test]
fn help_lists_every_setting_with_its_env_name() {
    let out = run(&["--help"], &[]);
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for env in [
        "DATABASE_URL",
        "SECRET_KEY",
        "DEV_MODE",
        "OPENAI_API_KEY",
        "TELEGRAM_BOT_TOKEN",
        "TELEGRAM_CHAT_ID",
        "HOST",
        "PORT",
        "CORS_ORIGINS",
        "LOG_FORMAT",
        "JWT_TTL",
        "BCRYPT_COST",
        "SECRET_KEY_PREVIOUS",
        "TELEGRAM_FILE_BASE",
        "TELEGRAM_POLLING",
        "HANDOFF_TIMEOUT",
    ] {
        assert!(help.contains(&format!("env: {env}")), "--help misses {env}");
    }
    for default in [
        "default: 8000",
        "default: 7d",
        "default: 12",
        "default: pretty",
    ] {
        assert!(help.contains(default), "--help misses `{default}`");
    }
    for command in ["serve", "work", "all", "migrate"] {
        assert!(
            help.contains(command),
            "--help misses the {command} command"
        );
    }
}

#[test]
fn secret_values_from_the_environment_never_show_in_help() {
    let out = run(
        &["--help"],
        &[
            ("SECRET_KEY", "super-secret-value-0123456789abcdef"),
            ("OPENAI_API_KEY", "sk-live-abc"),
        ],
    );
    let help = String::from_utf8(out.stdout).unwrap();
    assert!(!help.contains("super-secret-value"));
    assert!(!help.contains("sk-live-abc"));
}

/// `salesbot queue …` against a test database: stats, dead, retry, cancel, pause/resume, as JSON.
#[sqlx::test]
async fn queue_ops_commands(pool: sqlx::PgPool) {
    use salesbot::queue::{self, Lease, NewJob};
    let url = crate::helpers::database_url(&pool);
    let queue_cmd = |args: &[&str]| {
        let mut all = vec!["queue", "--json"];
        all.extend_from_slice(args);
        let out = run(&all, &[("DATABASE_URL", url.as_str())]);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<serde_json::Value>(&out.stdout)
            .unwrap_or_else(|e| panic!("{args:?}: {e}: {}", String::from_utf8_lossy(&out.stdout)))
    };
    queue::enqueue(&pool, &NewJob::new("mail", serde_json::json!({})))
        .await
        .unwrap();
    let doomed = queue::enqueue(&pool, &NewJob::new("mail", serde_json::json!({})))
        .await
        .unwrap()
        .id;
    let claimed = queue::claim(
        &pool,
        &["mail".into()],
        1,
        0,
        std::time::Duration::from_secs(30),
    )
    .await
    .unwrap();
    queue::bury(
        &pool,
        &[(Lease::from(&claimed[0]), "401 from upstream".into())],
    )
    .await
    .unwrap();

    let stats = queue_cmd(&["stats"]);
    assert_eq!(stats["kinds"][0]["kind"], "mail");
    assert_eq!(stats["kinds"][0]["dead"], 1);
    assert_eq!(stats["kinds"][0]["runnable"], 1);
    let dead = queue_cmd(&["dead", "--kind", "mail"]);
    assert_eq!(dead[0]["last_error"], "401 from upstream");
    let dead_id = dead[0]["id"].as_i64().unwrap();
    let retried = queue_cmd(&["retry", &dead_id.to_string()]);
    assert_eq!(retried["redriven"], dead_id);
    assert_eq!(queue_cmd(&["stats"])["kinds"][0]["dead"], 0);
    assert_eq!(
        queue_cmd(&["cancel", &doomed.to_string()])["outcome"],
        "cancelled"
    );
    queue_cmd(&["pause", "mail"]);
    assert_eq!(queue_cmd(&["stats"])["paused_kinds"][0], "mail");
    assert_eq!(queue_cmd(&["resume", "mail"])["resumed"], true);
    let tenant = uuid::Uuid::now_v7().to_string();
    queue_cmd(&["pause", "--tenant", &tenant]);
    assert_eq!(queue_cmd(&["stats"])["paused_tenants"][0], tenant.as_str());
    // A job that is not dead cannot be retried: a clear error, non-zero exit.
    let out = run(
        &["queue", "retry", "999999"],
        &[("DATABASE_URL", url.as_str())],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a dead job"));
}

/// `salesbot telegram set-webhook` registers a company's webhook; after a SECRET_KEY rotation
/// `salesbot telegram reencrypt` rewrites the stored token under the new key, which then opens it.
#[sqlx::test]
async fn telegram_commands_register_webhooks_and_rotate_the_key(pool: sqlx::PgPool) {
    use crate::telegram::{BOT_TOKEN, PUBLIC_URL, setup};
    let s = setup(&pool).await;
    let (jwt, body) = s.app.register_ok("cli@stroy.kz", "Stroy").await;
    let tenant = body["user"]["tenant"]["id"].as_str().unwrap().to_owned();
    let resp = s
        .app
        .client
        .put(s.app.url("/api/settings/telegram"))
        .bearer_auth(&jwt)
        .json(&serde_json::json!({"bot_token": BOT_TOKEN}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let url = crate::helpers::database_url(&pool);
    let api = format!("http://{}", s.addr);
    // The command runs off the test's runtime thread: the fake Bot API answers on that runtime.
    let telegram = |args: &[&str], secret: &str, previous: Option<&str>| {
        let mut env = vec![
            ("DATABASE_URL".to_owned(), url.clone()),
            ("SECRET_KEY".to_owned(), secret.to_owned()),
            ("TELEGRAM_API_BASE".to_owned(), api.clone()),
            ("PUBLIC_URL".to_owned(), PUBLIC_URL.to_owned()),
        ];
        if let Some(previous) = previous {
            env.push(("SECRET_KEY_PREVIOUS".to_owned(), previous.to_owned()));
        }
        let mut all = vec!["telegram".to_owned()];
        all.extend(args.iter().map(|a| a.to_string()));
        tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = all.iter().map(String::as_str).collect();
            let env: Vec<(&str, &str)> =
                env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            run(&args, &env)
        })
    };

    let out = telegram(&["set-webhook"], crate::helpers::TEST_SECRET, None)
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8(out.stdout).unwrap().trim(),
        format!("{tenant}: webhook registered")
    );
    let calls = s.telegram.calls_to("setWebhook");
    assert_eq!(calls.len(), 1);
    assert!(
        calls[0]["url"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{PUBLIC_URL}/telegram/"))
    );

    // A new SECRET_KEY alone cannot open the token: the command fails, saying so.
    let new_key = "rotated-secret-0123456789abcdef0123456789abcdef";
    let out = telegram(&["set-webhook"], new_key, None).await.unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("cannot be decrypted"));
    // With the old key as SECRET_KEY_PREVIOUS, reencrypt moves it to the new key…
    let out = telegram(&["reencrypt"], new_key, Some(crate::helpers::TEST_SECRET))
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(
        String::from_utf8(out.stdout).unwrap().trim(),
        format!("{tenant}: re-encrypted")
    );
    // …after which the new key alone works.
    let out = telegram(&["set-webhook"], new_key, None).await.unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(s.telegram.calls_to("setWebhook").len(), 2);
}

/// A worker started with --no-migrate on a database without this build's newest migration waits
/// for it, and gives up with a clear error rather than running against the older schema.
#[sqlx::test]
async fn a_worker_does_not_start_on_an_older_schema(pool: sqlx::PgPool) {
    sqlx::query(
        "DELETE FROM _sqlx_migrations WHERE version = (SELECT max(version) FROM _sqlx_migrations)",
    )
    .execute(&pool)
    .await
    .unwrap();
    let url = crate::helpers::database_url(&pool);
    let out = run(
        &["work", "--no-migrate"],
        &[
            ("DATABASE_URL", url.as_str()),
            ("SECRET_KEY", "0123456789abcdef0123456789abcdef"),
            ("MIGRATION_WAIT", "1s"),
        ],
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let expected = salesbot::db::expected_migration();
    assert!(
        stderr.contains(&format!("does not carry migration {expected}")),
        "{stderr}"
    );
}

/// `LOG_FORMAT=json`: every line a run writes is one JSON object; requests have their access
/// line (route template, status, latency, request id), the pipeline's lines carry the job and
/// tenant; and none of the secrets the run used shows anywhere: SECRET_KEY, METRICS_TOKEN, the
/// OpenAI key, the platform bot's token, a password, an access token.
#[sqlx::test]
async fn json_logs_are_one_object_per_line_and_never_show_a_secret(pool: sqlx::PgPool) {
    use std::process::Stdio;

    use serde_json::{Value, json};

    let (openai, openai_url) = crate::fake_openai::FakeOpenAi::start().await;
    openai.then(crate::fake_openai::Answer::tool(
        "register_lead",
        json!({"name": "Ерлан", "phone": "8 701 234 56 78", "city": "Алматы",
               "object_type": "house", "area_m2": 120, "summary": "Дом 120 м² в Алматы"}),
    ));
    openai.always_reply("Спасибо, Ерлан! Менеджер позвонит вам.");
    let (telegram, telegram_addr) = crate::fakes::FakeTelegram::start().await;
    let url = crate::helpers::database_url(&pool);
    let port = crate::helpers::free_port();
    let secrets = [
        ("SECRET_KEY", "s3cr3t-key-0123456789abcdef-0123456789"),
        ("METRICS_TOKEN", "metrics-t0ken-9f8e7d6c5b4a"),
        ("OPENAI_API_KEY", crate::fake_openai::API_KEY),
        (
            "TELEGRAM_BOT_TOKEN",
            "987654:PLATFORMsecretTOKENabcdefghijklmnopq",
        ),
    ];
    let log_path =
        std::env::temp_dir().join(format!("salesbot-log-{}.jsonl", uuid::Uuid::now_v7()));
    let log = std::fs::File::create(&log_path).unwrap();
    let child = Command::new(salesbot_bin())
        .arg("all")
        .env_clear()
        .envs(secrets)
        .envs([
            ("DATABASE_URL", url.as_str()),
            ("HOST", "127.0.0.1"),
            ("PORT", &port.to_string()),
            ("LOG_FORMAT", "json"),
            ("OPENAI_BASE_URL", openai_url.as_str()),
            ("TELEGRAM_API_BASE", &format!("http://{telegram_addr}")),
            ("TELEGRAM_CHAT_ID", "-100123"),
        ])
        .current_dir(std::env::temp_dir())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    // Killed if the test fails before it stops the service itself.
    struct Running(std::process::Child);
    impl Drop for Running {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut child = Running(child);
    let base = format!("http://127.0.0.1:{port}");
    let client = crate::helpers::client_builder().build().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while client.get(format!("{base}/health")).send().await.is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "the service never answered"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }

    let password = "correct horse battery staple 42";
    let registered: Value = client
        .post(format!("{base}/api/auth/register"))
        .json(&json!({"email": "owner@stroy.kz", "password": password, "company_name": "Stroy"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = registered["access_token"].as_str().unwrap().to_owned();
    let login = client
        .post(format!("{base}/api/auth/login"))
        .form(&[("username", "owner@stroy.kz"), ("password", password)])
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 200);
    let reply = client
        .post(format!("{base}/api/chat"))
        .bearer_auth(&token)
        .json(&json!({"user_id": "client_1", "text": "Меня зовут Ерлан, дом 120 м² в Алматы, +7 701 234 56 78"}))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 200, "answered within the wait");
    let metrics = client
        .get(format!("{base}/metrics"))
        .bearer_auth(secrets[1].1)
        .send()
        .await
        .unwrap();
    assert_eq!(metrics.status(), 200);
    // The platform's managers' notification reaches Telegram before the run ends.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while telegram.calls_to("sendMessage").is_empty() {
        assert!(std::time::Instant::now() < deadline, "no notification sent");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    Command::new("kill")
        .args(["-TERM", &child.0.id().to_string()])
        .status()
        .unwrap();
    let exit = child.0.wait().unwrap();
    let text = std::fs::read_to_string(&log_path).unwrap();
    assert!(exit.success(), "a clean shutdown: {exit}\n{text}");

    let _ = std::fs::remove_file(&log_path);
    let lines: Vec<Value> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let chat = lines
        .iter()
        .find(|l| l["message"] == "request" && l["route"] == "/api/chat")
        .expect("an access line for POST /api/chat");
    assert_eq!(chat["level"], "INFO");
    assert_eq!(chat["method"], "POST");
    assert_eq!(chat["status"], 200);
    assert!(chat["latency_ms"].is_number() && chat["request_id"].is_string());
    assert!(
        lines
            .iter()
            .any(|l| l["span"]["job_id"].is_string() && l["span"]["tenant_id"].is_string()),
        "the pipeline's lines carry the job and the tenant:\n{text}"
    );
    for (name, value) in secrets.iter().copied().chain([
        ("a password", password),
        ("an access token", token.as_str()),
    ]) {
        assert!(!text.contains(value), "the logs show {name}");
    }
}

/// `salesbot doctor` gives one verdict per check and fails when one fails: a healthy deployment
/// (against the fakes) passes; a database missing an index and a refused OpenAI key fail, by name;
/// no secret is printed.
#[sqlx::test]
async fn doctor_checks_the_deployment_and_names_what_is_wrong(pool: sqlx::PgPool) {
    let (_openai, openai_url) = crate::fake_openai::FakeOpenAi::start().await;
    let (_telegram, telegram_addr) = crate::fakes::FakeTelegram::start().await;
    let url = crate::helpers::database_url(&pool);
    let telegram_base = format!("http://{telegram_addr}");
    let token = "987654:PLATFORMsecretTOKENabcdefghijklmnopq";
    // The fakes answer on this test's runtime: the command runs off it.
    let doctor = |openai_key: &'static str| {
        let env: Vec<(String, String)> = [
            ("DATABASE_URL", url.as_str()),
            ("SECRET_KEY", "0123456789abcdef0123456789abcdef"),
            ("PUBLIC_URL", "https://salesbot.example.kz"),
            ("METRICS_TOKEN", "metrics-t0ken-9f8e7d6c5b4a"),
            ("OPENAI_API_KEY", openai_key),
            ("OPENAI_BASE_URL", openai_url.as_str()),
            ("TELEGRAM_BOT_TOKEN", token),
            ("TELEGRAM_CHAT_ID", "-100123"),
            ("TELEGRAM_API_BASE", telegram_base.as_str()),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        tokio::task::spawn_blocking(move || {
            let env: Vec<(&str, &str)> =
                env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            run(&["doctor"], &env)
        })
    };
    let out = doctor(crate::fake_openai::API_KEY).await.unwrap();
    let report = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{report}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for line in [
        "ok    database",
        "ok    openai",
        "ok    telegram   the platform bot is @salesbot_platform_bot",
        "ok    secret",
        "ok    public url",
        "ok    metrics",
    ] {
        assert!(report.contains(line), "{line}:\n{report}");
    }

    sqlx::query("DROP INDEX webhook_deliveries_event")
        .execute(&pool)
        .await
        .unwrap();
    let out = doctor("sk-wrong-key").await.unwrap();
    let report = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(!out.status.success(), "{report}");
    assert!(report.contains("FAIL  database"), "{report}");
    assert!(
        report.contains("indexes: webhook_deliveries_event"),
        "{report}"
    );
    assert!(report.contains("FAIL  openai"), "{report}");
    for secret in [
        token,
        "sk-wrong-key",
        "metrics-t0ken-9f8e7d6c5b4a",
        "0123456789abcdef0123456789abcdef",
    ] {
        assert!(!report.contains(secret), "the report shows a secret");
    }
}
