//! The monitoring in `grafana/` against a real Prometheus (Debian's `prometheus`, which
//! scripts/test installs): it scrapes a running salesbot under a little traffic of every kind
//! (chat messages answered by the OpenAI engine against its fake, a Telegram bot, a webhook
//! endpoint, the worker's housekeeping), and every dashboard panel's query must be valid and
//! return data. The alert rules pass `promtool check rules`, and their unit tests
//! (grafana/alerts_test.yml) prove each alert fires and resolves.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use salesbot::workers::{WorkerPool, pipeline_deps, registry};
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::fake_openai::FakeOpenAi;
use crate::fakes::{FakeReceiver, FakeTelegram};
use crate::helpers::{fast_config, service, spawn_app_with, test_config};

fn grafana() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("grafana")
}

/// `prometheus` or `promtool`, if installed; a test without them says so and passes only when
/// the package cannot be installed here (scripts/test installs it).
fn tool(name: &str) -> Option<PathBuf> {
    let path = Path::new("/usr/bin").join(name);
    if path.exists() {
        Some(path)
    } else {
        eprintln!(
            "SKIPPED: `{name}` is not installed (Debian package `prometheus`; scripts/test installs it)"
        );
        None
    }
}

#[test]
fn alert_rules_are_valid_and_each_fires_and_resolves() {
    let Some(promtool) = tool("promtool") else {
        return;
    };
    for args in [
        ["check", "rules", "alerts.yml"],
        ["test", "rules", "alerts_test.yml"],
    ] {
        let out = Command::new(&promtool)
            .args(args)
            .current_dir(grafana())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "promtool {args:?}:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Every panel's query, with the dashboard and panel it is from.
fn panel_queries() -> Vec<(String, String)> {
    let mut queries = Vec::new();
    let dir = grafana().join("dashboards");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    for file in files {
        let dashboard: Value =
            serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        for panel in dashboard["panels"].as_array().unwrap() {
            for target in panel["targets"].as_array().unwrap() {
                queries.push((
                    format!("{} / {}", dashboard["title"], panel["title"]),
                    target["expr"].as_str().unwrap().to_owned(),
                ));
            }
        }
    }
    assert!(queries.len() >= 20, "the four dashboards' panels");
    queries
}

struct Prometheus {
    child: Child,
    base: String,
    _dir: tempfile_dir::TempDir,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A throwaway folder (std only): removed when dropped.
mod tempfile_dir {
    pub struct TempDir(pub std::path::PathBuf);
    impl TempDir {
        pub fn new() -> Self {
            let dir = std::env::temp_dir().join(format!("salesbot-prom-{}", uuid::Uuid::now_v7()));
            std::fs::create_dir_all(&dir).unwrap();
            Self(dir)
        }
    }
    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

impl Prometheus {
    /// Scrapes `target` (host:port) every second, with the alert rules loaded.
    fn start(binary: &Path, target: &str) -> Self {
        let dir = tempfile_dir::TempDir::new();
        let config = format!(
            "global: {{scrape_interval: 1s, evaluation_interval: 1s}}\n\
             rule_files: [{rules}]\n\
             scrape_configs:\n  - job_name: salesbot\n    static_configs: [{{targets: ['{target}']}}]\n",
            rules = grafana().join("alerts.yml").display()
        );
        std::fs::write(dir.0.join("prometheus.yml"), config).unwrap();
        let port = crate::helpers::free_port();
        let child = Command::new(binary)
            .arg(format!(
                "--config.file={}",
                dir.0.join("prometheus.yml").display()
            ))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.0.join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus starts");
        Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
            _dir: dir,
        }
    }

    async fn query(&self, client: &reqwest::Client, expr: &str) -> Value {
        let resp = client
            .get(format!("{}/api/v1/query", self.base))
            .query(&[("query", expr)])
            .send()
            .await;
        match resp {
            Ok(resp) => resp.json().await.unwrap_or(Value::Null),
            Err(_) => Value::Null,
        }
    }

    /// Polls until `expr` has a result (Prometheus scrapes each second), for at most a minute.
    async fn wait_for(&self, client: &reqwest::Client, expr: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let answer = self.query(client, expr).await;
            if answer["data"]["result"]
                .as_array()
                .is_some_and(|r| !r.is_empty())
            {
                return answer;
            }
            assert!(Instant::now() < deadline, "no data for {expr}: {answer}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

#[sqlx::test]
async fn every_dashboard_panel_returns_data_from_a_real_prometheus(pool: PgPool) {
    let Some(binary) = tool("prometheus") else {
        return;
    };
    salesbot::metrics::handle();
    let (openai, openai_url) = FakeOpenAi::start().await;
    openai.always_reply("Здравствуйте! Уточните, пожалуйста, площадь дома.");
    let (telegram, telegram_addr) = FakeTelegram::start().await;
    let (receiver, receiver_url) = FakeReceiver::start().await;
    let mut config = test_config();
    config.dev_mode = true; // /metrics open on the API port
    config.telegram_api_base = format!("http://{telegram_addr}");
    config.openai = Some(crate::openai::openai_settings(&openai_url));
    let app = spawn_app_with(config.clone(), pool.clone()).await;
    let registry = registry(pipeline_deps(&config, &pool, None));
    let kinds = registry.kinds();
    let workers = WorkerPool::new(service(&pool), registry, fast_config());
    let shutdown = tokio_util::sync::CancellationToken::new();
    let _stop = shutdown.clone().drop_guard();
    tokio::spawn(salesbot::workers::maintenance::run(
        service(&pool),
        Duration::from_secs(3600),
        kinds.clone(),
        shutdown.clone(),
    ));

    let target = app
        .url("")
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();
    let prometheus = Prometheus::start(&binary, &target);
    let client = crate::helpers::client_builder().build().unwrap();
    prometheus
        .wait_for(&client, "up{job=\"salesbot\"} == 1")
        .await;

    // Traffic of every kind.
    let (owner, _) = app.register_ok("owner@stroy.kz", "Stroy").await;
    let resp = app
        .client
        .put(app.url("/api/settings/telegram"))
        .bearer_auth(&owner)
        .json(
            &json!({"bot_token": "123456:ABCdefGhIJKlmnOPQRstuVWxyz0123456789", "language": "ru"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let resp = app
        .client
        .post(app.url("/api/webhooks"))
        .bearer_auth(&owner)
        .json(&json!({"url": receiver_url, "events": ["reply.created"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    for user in ["client_1", "client_2", "client_3"] {
        app.send_text(&owner, user, "Дом 120 м² в Алматы").await;
    }
    let _ = app.get("/api/leads", Some(&owner)).await;
    let _ = app.get("/no-such-page", None).await;
    // The queue's gauges with jobs in it, then the jobs done.
    salesbot::workers::maintenance::sample_gauges(&service(&pool), &kinds).await;
    crate::helpers::run_workers_until_idle(&workers, &pool).await;
    assert!(!receiver.received().is_empty(), "a webhook was delivered");
    assert!(!telegram.paths().is_empty(), "the bot's webhook was set");
    assert!(openai.chat_count() > 0, "the OpenAI engine answered");

    // Two scrapes after the traffic, so every rate has samples to work with.
    prometheus
        .wait_for(&client, "salesbot_webhook_attempts_total")
        .await;
    let after = prometheus
        .wait_for(&client, "timestamp(salesbot_build_info)")
        .await;
    let first = after["data"]["result"][0]["value"][1]
        .as_str()
        .unwrap()
        .parse::<f64>()
        .unwrap();
    prometheus
        .wait_for(
            &client,
            &format!("timestamp(salesbot_build_info) > {first}"),
        )
        .await;

    let mut empty = Vec::new();
    for (panel, expr) in panel_queries() {
        let answer = prometheus.query(&client, &expr).await;
        assert_eq!(answer["status"], "success", "{panel}: {expr}: {answer}");
        if answer["data"]["result"]
            .as_array()
            .is_none_or(|r| r.is_empty())
        {
            empty.push(format!("{panel}: {expr}"));
        }
    }
    assert!(
        empty.is_empty(),
        "panels without data:\n{}",
        empty.join("\n")
    );
}
