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
