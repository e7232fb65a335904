//! The `salesbot` binary: parses the command line, sets up logging, dispatches the subcommand.
//! Everything it calls lives in the library so tests can drive it the same way.

use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

use salesbot::config::{Config, SecretOrigin, Settings};
use salesbot::startup::Application;
use salesbot::supervisor::{Supervisor, WorkerPulse};
use salesbot::{db, queue, shutdown, telemetry, workers};

#[derive(Parser)]
#[command(
    name = "salesbot",
    version,
    about = "AI sales manager for construction companies"
)]
struct Cli {
    #[command(flatten)]
    settings: Settings,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// HTTP API and dashboard (the web process).
    Serve(RunArgs),
    /// Worker pool (the background worker process).
    Work(RunArgs),
    /// Web and workers in one process: the local default.
    All(RunArgs),
    /// Apply database migrations and exit (Render's release phase).
    Migrate,
    /// Operate the job queue.
    Queue(QueueArgs),
    /// Operate the companies' Telegram bots.
    Telegram(TelegramArgs),
    /// Extract leads from conversations with the offline engine: JSON Lines on stdin (the format of
    /// shared/eval/dev.jsonl), one `{"id","lead"}` line per conversation on stdout.
    Extract,
}

#[derive(clap::Args)]
struct TelegramArgs {
    #[command(subcommand)]
    command: TelegramCommand,
}

#[derive(Subcommand)]
enum TelegramCommand {
    /// Register the webhook (PUBLIC_URL/telegram/<webhook id>) of every company's bot, or of one.
    SetWebhook {
        #[arg(long)]
        tenant: Option<uuid::Uuid>,
    },
    /// After a SECRET_KEY rotation (old key in SECRET_KEY_PREVIOUS): re-encrypt every stored bot
    /// token under the new key.
    Reencrypt,
}

#[derive(clap::Args)]
struct QueueArgs {
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: QueueCommand,
}

#[derive(Subcommand)]
enum QueueCommand {
    /// Jobs per kind and state, lag, pauses.
    Stats,
    /// List dead jobs, newest first.
    Dead {
        #[arg(long)]
        kind: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
    /// Run a dead job again (or every dead job).
    Retry {
        id: Option<i64>,
        #[arg(long, conflicts_with = "id")]
        all_dead: bool,
        /// With --all-dead: only this kind.
        #[arg(long, requires = "all_dead")]
        kind: Option<String>,
    },
    /// Cancel a pending or dead job.
    Cancel { id: i64 },
    /// Stop claiming a job kind or a tenant's jobs (they are still accepted).
    Pause(PauseArgs),
    /// Undo a pause.
    Resume(PauseArgs),
}

#[derive(clap::Args)]
#[group(required = true, multiple = false)]
struct PauseArgs {
    /// The job kind.
    kind: Option<String>,
    /// A tenant id instead of a kind.
    #[arg(long)]
    tenant: Option<uuid::Uuid>,
}

impl PauseArgs {
    fn target(&self) -> queue::ops::PauseTarget {
        match (&self.kind, self.tenant) {
            (_, Some(tenant)) => {
                queue::ops::PauseTarget::Tenant(salesbot::domain::TenantId(tenant))
            }
            (Some(kind), None) => queue::ops::PauseTarget::Kind(kind.clone()),
            (None, None) => unreachable!("clap requires one"),
        }
    }
}

#[derive(clap::Args)]
struct RunArgs {
    /// Do not apply migrations at start (when a release phase runs `salesbot migrate`).
    #[arg(long, env = "NO_MIGRATE", default_value = "false", value_parser = clap::builder::BoolishValueParser::new(),
          action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    no_migrate: bool,
}

fn main() -> ExitCode {
    // Variables already in the environment win over `.env`.
    let _ = dotenvy::dotenv();
    let cli = Cli::parse();
    if let Command::Extract = cli.command {
        // Pure computation: no configuration, database or logging needed.
        let ok = workers::engine::extract::run(
            std::io::stdin().lock(),
            std::io::stdout().lock(),
            std::io::stderr().lock(),
        );
        return match ok {
            Ok(true) => ExitCode::SUCCESS,
            Ok(false) => ExitCode::FAILURE,
            Err(err) => {
                eprintln!("error: {err}");
                ExitCode::FAILURE
            }
        };
    }
    let needs_secret = matches!(
        cli.command,
        Command::Serve(_) | Command::Work(_) | Command::All(_) | Command::Telegram(_)
    );
    let config = match cli.settings.resolve(needs_secret) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("error: {err}");
            return ExitCode::from(2);
        }
    };
    telemetry::init(config.log_format);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command, config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(error = ?err, "salesbot stopped with an error");
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command, config: Config) -> anyhow::Result<()> {
    let signs_tokens = matches!(
        command,
        Command::Serve(_) | Command::Work(_) | Command::All(_)
    );
    if signs_tokens && config.secret_origin == SecretOrigin::Generated {
        tracing::warn!(
            "DEV_MODE: SECRET_KEY is not set, using a temporary one; tokens will not survive a restart"
        );
    }
    salesbot::metrics::handle();
    let database = db::locate(&config).await?;
    let no_migrate = match &command {
        Command::Serve(args) | Command::Work(args) | Command::All(args) => args.no_migrate,
        Command::Migrate => false,
        Command::Queue(_) | Command::Telegram(_) => true,
        Command::Extract => unreachable!("handled before start-up"),
    };
    // Before the pool: the role the pool's connections take is created by a migration.
    if !no_migrate {
        db::migrate_at(&database.url).await?;
        tracing::info!(version = db::expected_migration(), "migrations applied");
    }
    let pool = db::connect(&database.url, config.db_max_connections).await?;
    tracing::info!(database = %database.url, "connected");
    let shutdown = shutdown::on_signal();
    // Every long-running task of the process runs under it: one ending early stops the process,
    // which then exits non-zero for the platform to restart (src/supervisor.rs).
    let supervisor = Supervisor::new(shutdown.clone());
    let runs = matches!(
        command,
        Command::Serve(_) | Command::Work(_) | Command::All(_)
    );
    if let (true, Some(addr)) = (runs, config.metrics.addr) {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot serve metrics on {addr}"))?;
        let access = config.metrics_on_own_port();
        let metrics =
            salesbot::http::routes::health::serve_metrics(listener, access, shutdown.clone());
        supervisor
            .scope(shutdown.clone())
            .spawn("metrics", async move { Ok(metrics.await??) });
    }
    let outcome = match command {
        Command::Migrate => Ok(()),
        Command::Queue(args) => queue_command(&pool, args).await,
        Command::Telegram(args) => telegram_command(&config, &pool, args).await,
        Command::Extract => unreachable!("handled before start-up"),
        Command::Serve(_) => serve(&config, pool, &supervisor, None).await,
        Command::Work(_) => {
            let workers = workers::start(&config, pool, &supervisor).await;
            workers.run(shutdown).await
        }
        Command::All(_) => {
            let workers = workers::start(&config, pool.clone(), &supervisor).await;
            let pulse = workers.pulse();
            supervisor
                .scope(shutdown.clone())
                .spawn("worker", async move { workers.run(shutdown).await });
            serve(&config, pool, &supervisor, Some(pulse)).await
        }
    };
    match supervisor.failure() {
        Some(failure) => Err(anyhow::anyhow!(failure)),
        None => outcome,
    }
}

async fn serve(
    config: &Config,
    pool: sqlx::PgPool,
    supervisor: &Supervisor,
    worker: Option<WorkerPulse>,
) -> anyhow::Result<()> {
    let app = Application::build(config, pool, supervisor, worker)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    app.run_until_stopped(supervisor.process().clone()).await?;
    Ok(())
}

async fn telegram_command(
    config: &Config,
    pool: &sqlx::PgPool,
    args: TelegramArgs,
) -> anyhow::Result<()> {
    let telegram = workers::telegram(config);
    let tenants = match &args.command {
        TelegramCommand::SetWebhook {
            tenant: Some(tenant),
        } => vec![salesbot::domain::TenantId(*tenant)],
        _ => db::telegram::tenants_with_bots(pool).await?,
    };
    let mut failed = 0;
    for tenant in tenants {
        let outcome = match args.command {
            TelegramCommand::SetWebhook { .. } => telegram
                .set_webhook(pool, tenant)
                .await
                .map(|done| if done { "webhook registered" } else { "no bot" })
                .map_err(|e| anyhow::anyhow!("{e}")),
            TelegramCommand::Reencrypt => db::telegram::reencrypt(pool, &telegram.secrets, tenant)
                .await
                .map(|done| {
                    if done {
                        "re-encrypted"
                    } else {
                        "already current"
                    }
                }),
        };
        match outcome {
            Ok(what) => println!("{tenant}: {what}"),
            Err(err) => {
                failed += 1;
                println!("{tenant}: failed: {err:#}");
            }
        }
    }
    if failed > 0 {
        anyhow::bail!("{failed} bot(s) failed");
    }
    Ok(())
}

async fn queue_command(pool: &sqlx::PgPool, args: QueueArgs) -> anyhow::Result<()> {
    use queue::ops;
    let json = args.json;
    let print = |value: serde_json::Value, text: String| {
        if json {
            println!("{value}");
        } else {
            println!("{text}");
        }
    };
    match args.command {
        QueueCommand::Stats => {
            let stats = ops::stats(pool).await?;
            let mut text = format!(
                "{:<20} {:>9} {:>9} {:>8} {:>8} {:>6} {:>9}\n",
                "kind", "runnable", "scheduled", "running", "blocked", "dead", "lag (s)"
            );
            for k in &stats.kinds {
                text += &format!(
                    "{:<20} {:>9} {:>9} {:>8} {:>8} {:>6} {:>9.1}\n",
                    k.kind,
                    k.runnable,
                    k.scheduled,
                    k.running,
                    k.blocked,
                    k.dead,
                    k.oldest_runnable_secs.unwrap_or(0.0)
                );
            }
            text += &format!(
                "paused kinds: {:?}; paused tenants: {:?}",
                stats.paused_kinds, stats.paused_tenants
            );
            print(serde_json::to_value(&stats)?, text);
        }
        QueueCommand::Dead { kind, limit } => {
            let dead = ops::dead(pool, kind.as_deref(), limit).await?;
            let text = dead
                .iter()
                .map(|d| {
                    format!(
                        "{} {} key={} attempts={} died={} error={}",
                        d.id,
                        d.kind,
                        d.key.as_deref().unwrap_or("-"),
                        d.attempts,
                        d.died_at,
                        d.last_error.as_deref().unwrap_or("-")
                    )
                })
                .collect::<Vec<_>>()
                .join("\n");
            print(serde_json::to_value(&dead)?, text);
        }
        QueueCommand::Retry {
            all_dead: true,
            kind,
            ..
        } => {
            let count = ops::redrive_all(pool, kind.as_deref()).await?;
            print(
                serde_json::json!({ "redriven": count }),
                format!("redriven: {count}"),
            );
        }
        QueueCommand::Retry { id: Some(id), .. } => {
            match ops::redrive(pool, queue::JobId(id)).await? {
                Some(new_id) => print(
                    serde_json::json!({ "redriven": id, "new_id": new_id }),
                    format!("job {id} runs again as job {new_id}"),
                ),
                None => anyhow::bail!("job {id} is not a dead job"),
            }
        }
        QueueCommand::Retry { .. } => anyhow::bail!("give a job id or --all-dead"),
        QueueCommand::Cancel { id } => {
            let outcome = ops::cancel(pool, queue::JobId(id)).await?;
            print(
                serde_json::json!({ "id": id, "outcome": outcome }),
                format!("job {id}: {outcome:?}"),
            );
            if outcome != ops::CancelOutcome::Cancelled {
                anyhow::bail!("job {id} was not cancelled ({outcome:?})");
            }
        }
        QueueCommand::Pause(target) => {
            ops::pause(pool, &target.target()).await?;
            print(serde_json::json!({ "paused": true }), "paused".into());
        }
        QueueCommand::Resume(target) => {
            let was_paused = ops::resume(pool, &target.target()).await?;
            print(
                serde_json::json!({ "resumed": was_paused }),
                if was_paused {
                    "resumed".into()
                } else {
                    "was not paused".into()
                },
            );
        }
    }
    Ok(())
}
