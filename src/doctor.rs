//! `salesbot doctor`: is this deployment able to work? One line per check with a clear verdict:
//! the configuration, the database (reachable, migrated, its schema this build's: the same
//! comparison as `GET /api/admin/diagnostics/db/schema`), OpenAI and Telegram (reachable, and the
//! keys accepted). No secret is printed. A failed check makes the command exit non-zero.

use std::fmt;
use std::time::Duration;

use crate::config::{Config, SecretOrigin};
use crate::db;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Ok,
    /// Works, but not as production should.
    Warn,
    Fail,
}

#[derive(Debug)]
pub struct Check {
    pub verdict: Verdict,
    pub subject: &'static str,
    pub detail: String,
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verdict = match self.verdict {
            Verdict::Ok => "ok",
            Verdict::Warn => "warn",
            Verdict::Fail => "FAIL",
        };
        write!(f, "{verdict:<5} {:<10} {}", self.subject, self.detail)
    }
}

fn check(verdict: Verdict, subject: &'static str, detail: impl Into<String>) -> Check {
    Check {
        verdict,
        subject,
        detail: detail.into(),
    }
}

/// How long one outside service may take to answer.
const PATIENCE: Duration = Duration::from_secs(10);

pub async fn run(config: &Config) -> Vec<Check> {
    let mut checks = configuration(config);
    checks.push(database(config).await);
    checks.push(openai(config).await);
    checks.push(telegram(config).await);
    checks
}

fn configuration(config: &Config) -> Vec<Check> {
    use Verdict::{Ok, Warn};
    let mut checks = vec![match config.secret_origin {
        SecretOrigin::Configured => check(Ok, "secret", "SECRET_KEY is set"),
        SecretOrigin::Generated => check(
            Warn,
            "secret",
            "SECRET_KEY is not set: DEV_MODE made one up, and tokens die with the process",
        ),
    }];
    checks.push(if config.public_url.starts_with("https://") {
        check(
            Ok,
            "public url",
            format!("PUBLIC_URL is {}", config.public_url),
        )
    } else {
        check(
            Warn,
            "public url",
            format!(
                "PUBLIC_URL is {}: Telegram sends webhooks to https addresses only",
                config.public_url
            ),
        )
    });
    checks.push(
        match (&config.metrics.token, config.metrics.addr, config.dev_mode) {
            (Some(_), _, _) => check(Ok, "metrics", "/metrics needs METRICS_TOKEN"),
            (None, Some(addr), _) => check(Ok, "metrics", format!("/metrics on {addr}, open")),
            (None, None, true) => {
                check(Warn, "metrics", "/metrics open on the API port (DEV_MODE)")
            }
            (None, None, false) => check(
                Warn,
                "metrics",
                "/metrics is not served: set METRICS_TOKEN (or METRICS_ADDR)",
            ),
        },
    );
    checks
}

async fn database(config: &Config) -> Check {
    let found = async {
        let database = db::locate(config).await?;
        let pool = db::connect(&database.url, 2).await?;
        let drift = db::diagnostics::schema_drift(&pool).await?;
        pool.close().await;
        anyhow::Ok(drift)
    };
    let drift = match tokio::time::timeout(PATIENCE * 3, found).await {
        Err(_) => return check(Verdict::Fail, "database", "no answer within 30 s"),
        Ok(Err(err)) => return check(Verdict::Fail, "database", format!("{err:#}")),
        Ok(Ok(drift)) => drift,
    };
    let migrations = format!(
        "migration {} of {}",
        drift
            .migration_applied
            .map_or("none".into(), |m| m.to_string()),
        drift.migration_expected
    );
    if drift.status == "ok" {
        return check(
            Verdict::Ok,
            "database",
            format!("reachable, {migrations}, schema as this build expects"),
        );
    }
    let mut missing = Vec::new();
    for (what, names) in [
        ("tables", &drift.missing_tables),
        ("columns", &drift.missing_columns),
        ("indexes", &drift.missing_indexes),
        ("functions", &drift.missing_functions),
        (
            "row-level security off on",
            &drift.tables_without_row_level_security,
        ),
    ] {
        if !names.is_empty() {
            missing.push(format!("{what}: {}", names.join(", ")));
        }
    }
    check(
        Verdict::Fail,
        "database",
        format!(
            "{migrations} (run `salesbot migrate`); missing {}",
            if missing.is_empty() {
                "nothing else".to_owned()
            } else {
                missing.join("; ")
            }
        ),
    )
}

fn client() -> reqwest::Client {
    crate::crypto::install_tls_provider();
    reqwest::Client::builder()
        .timeout(PATIENCE)
        .build()
        .expect("TLS backend available")
}

async fn openai(config: &Config) -> Check {
    let Some(openai) = &config.openai else {
        return check(
            Verdict::Warn,
            "openai",
            "OPENAI_API_KEY is not set: the offline engine answers, voice notes are not transcribed",
        );
    };
    let answer = client()
        .get(format!("{}/models", openai.base_url))
        .bearer_auth(openai.api_key.expose())
        .send()
        .await;
    match answer {
        Ok(r) if r.status().is_success() => check(
            Verdict::Ok,
            "openai",
            format!(
                "{} accepts the key (model {})",
                openai.base_url, openai.chat_model
            ),
        ),
        Ok(r) if r.status().as_u16() == 401 => check(
            Verdict::Fail,
            "openai",
            format!("{} refuses OPENAI_API_KEY (401)", openai.base_url),
        ),
        Ok(r) => check(
            Verdict::Fail,
            "openai",
            format!("{} answered {}", openai.base_url, r.status()),
        ),
        Err(e) => check(
            Verdict::Fail,
            "openai",
            format!("{} unreachable: {}", openai.base_url, e.without_url()),
        ),
    }
}

async fn telegram(config: &Config) -> Check {
    let Some(token) = &config.telegram_bot_token else {
        return check(
            Verdict::Ok,
            "telegram",
            "no platform bot (TELEGRAM_BOT_TOKEN): companies' own bots notify their managers",
        );
    };
    // The token is part of the URL: the error is printed without it.
    let answer = client()
        .post(format!(
            "{}/bot{}/getMe",
            config.telegram_api_base,
            token.expose()
        ))
        .json(&serde_json::json!({}))
        .send()
        .await;
    match answer {
        Ok(r) if r.status().is_success() => {
            let me: serde_json::Value = r.json().await.unwrap_or_default();
            let name = me["result"]["username"].as_str().unwrap_or("?").to_owned();
            let chat = match &config.telegram_chat_id {
                Some(_) => "",
                None => "; TELEGRAM_CHAT_ID is not set, so it notifies nobody",
            };
            check(
                if chat.is_empty() {
                    Verdict::Ok
                } else {
                    Verdict::Warn
                },
                "telegram",
                format!("the platform bot is @{name}{chat}"),
            )
        }
        Ok(r) if r.status().as_u16() == 401 => check(
            Verdict::Fail,
            "telegram",
            "Telegram refuses TELEGRAM_BOT_TOKEN (401)",
        ),
        Ok(r) => check(
            Verdict::Fail,
            "telegram",
            format!("Telegram answered {}", r.status()),
        ),
        Err(e) => check(
            Verdict::Fail,
            "telegram",
            format!(
                "{} unreachable: {}",
                config.telegram_api_base,
                e.without_url()
            ),
        ),
    }
}
