//! The `salesbot` binary: parses the command line, sets up logging, dispatches the subcommand.
//! Everything it calls lives in the library so tests can drive it the same way.

use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;

use salesbot::config::{Config, SecretOrigin, Settings};
use salesbot::startup::Application;
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
    let config = match cli.settings.resolve() {
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
    if config.secret_origin == SecretOrigin::Generated {
        tracing::warn!(
            "DEV_MODE: SECRET_KEY is not set, using a temporary one; tokens will not survive a restart"
        );
    }
    let database = db::locate(&config).await?;
    let pool = db::connect(&database.url, config.db_max_connections).await?;
    tracing::info!(database = %database.url, "connected");
    warn_if_rls_is_bypassed(&pool).await;
    let no_migrate = match &command {
        Command::Serve(args) | Command::Work(args) | Command::All(args) => args.no_migrate,
        Command::Migrate => false,
    };
    if !no_migrate {
        db::migrate(&pool).await?;
        tracing::info!(version = db::expected_migration(), "migrations applied");
    }
    let shutdown = shutdown::on_signal();
    match command {
        Command::Migrate => Ok(()),
        Command::Serve(_) => serve(&config, pool, shutdown).await,
        Command::Work(_) => workers::run(pool, shutdown).await,
        Command::All(_) => {
            let worker = tokio::spawn(workers::run(pool.clone(), shutdown.clone()));
            let served = serve(&config, pool, shutdown.clone()).await;
            shutdown.cancel();
            worker.await.context("worker task panicked")??;
            served
        }
    }
}

async fn serve(
    config: &Config,
    pool: sqlx::PgPool,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let app = Application::build(config, pool)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    app.run_until_stopped(shutdown).await?;
    Ok(())
}

/// Row-level security does not apply to superusers or BYPASSRLS roles (docs/architecture.md, Tenancy).
async fn warn_if_rls_is_bypassed(pool: &sqlx::PgPool) {
    let bypass: Result<bool, _> = sqlx::query_scalar(
        "SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user",
    )
    .fetch_one(pool)
    .await;
    if let Ok(true) = bypass {
        tracing::warn!(
            "connected as a superuser or BYPASSRLS role: row-level security is not enforced; production must use an ordinary role"
        );
    }
}
