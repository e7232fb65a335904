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
    let url = format!(
        "postgres://postgres@127.0.0.1:5432/{}",
        pool.connect_options().get_database().unwrap()
    );
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
