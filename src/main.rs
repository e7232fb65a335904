//! The `salesbot` binary: parses the command line, sets up logging, dispatches the subcommand.
//! Everything it calls lives in the library so tests can drive it the same way.

use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

use salesbot::cli::{QueueArgs, TelegramArgs};
use salesbot::config::{Config, SecretOrigin, Settings};
use salesbot::startup::Application;
use salesbot::supervisor::{Supervisor, WorkerPulse};
use salesbot::{db, shutdown, telemetry, workers};

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
    /// Check this deployment: configuration, database (migrations, schema), OpenAI and Telegram,
    /// one verdict per line; exits non-zero if a check fails.
    Doctor,
    /// Extract leads from conversations with the offline engine: JSON Lines on stdin (the format of
    /// shared/eval/dev.jsonl), one `{"id","lead"}` line per conversation on stdout.
    Extract,
}

#[derive(clap::Args)]
struct RunArgs {
    /// Do not apply migrations at start (when a release phase runs `salesbot migrate`).
    #[arg(long, env = "NO_MIGRATE", default_value = "false", value_parser = clap::builder::BoolishValueParser::new(),
          action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    no_migrate: bool,

    /// With --no-migrate, how long a worker waits for the release step to apply the migrations
    /// its build needs before it gives up.
    #[arg(long, env = "MIGRATION_WAIT", default_value = "15m")]
    migration_wait: salesbot::config::HumanDuration,
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
    if let Command::Doctor = cli.command {
        let checks = runtime.block_on(salesbot::doctor::run(&config));
        for check in &checks {
            println!("{check}");
        }
        let failed = checks
            .iter()
            .any(|c| c.verdict == salesbot::doctor::Verdict::Fail);
        return if failed {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        };
    }
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
        Command::Extract | Command::Doctor => unreachable!("handled before start-up"),
    };
    // Before the pool: the role the pool's connections take is created by a migration.
    if !no_migrate {
        db::migrate_at(&database.url).await?;
        tracing::info!(version = db::expected_migration(), "migrations applied");
    } else if let Command::Work(args) = &command {
        // The web service's release step migrates; a worker of a newer build waits for it.
        db::wait_for_migrations(
            &database.url,
            std::time::Duration::from_secs(5).min(args.migration_wait.0),
            args.migration_wait.0,
        )
        .await?;
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
        let metrics = salesbot::http::routes::health::serve_metrics(
            listener,
            access,
            pool.clone(),
            shutdown.clone(),
        );
        supervisor
            .scope(shutdown.clone())
            .spawn("metrics", async move { Ok(metrics.await??) });
    }
    let outcome = match command {
        Command::Migrate => Ok(()),
        Command::Queue(args) => salesbot::cli::queue(&pool, args).await,
        Command::Telegram(args) => workers::telegram::run_command(&config, &pool, args).await,
        Command::Extract | Command::Doctor => unreachable!("handled before start-up"),
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
