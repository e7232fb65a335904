//! The operator's subcommands that are not a process of their own — `salesbot queue …` and the
//! arguments of `salesbot telegram …` — and what they print (text, or JSON with `--json`). The
//! Telegram commands run in `workers::telegram`, which acts as the companies' bots.

use clap::Subcommand;

use crate::domain::TenantId;
use crate::queue::{self, ops};

#[derive(clap::Args)]
pub struct TelegramArgs {
    #[command(subcommand)]
    pub command: TelegramCommand,
}

#[derive(Subcommand)]
pub enum TelegramCommand {
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
pub struct QueueArgs {
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: QueueCommand,
}

#[derive(Subcommand)]
pub enum QueueCommand {
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
pub struct PauseArgs {
    /// The job kind.
    pub kind: Option<String>,
    /// A tenant id instead of a kind.
    #[arg(long)]
    pub tenant: Option<uuid::Uuid>,
}

impl PauseArgs {
    pub fn target(&self) -> ops::PauseTarget {
        match (&self.kind, self.tenant) {
            (_, Some(tenant)) => ops::PauseTarget::Tenant(TenantId(tenant)),
            (Some(kind), None) => ops::PauseTarget::Kind(kind.clone()),
            (None, None) => unreachable!("clap requires one"),
        }
    }
}

/// Runs `salesbot queue …` and prints its answer.
pub async fn queue(pool: &sqlx::PgPool, args: QueueArgs) -> anyhow::Result<()> {
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
            let stats = ops::stats(pool, ops::JobScope::All).await?;
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
            let dead = ops::dead(pool, ops::JobScope::All, kind.as_deref(), limit).await?;
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
            match ops::redrive(pool, ops::JobScope::All, queue::JobId(id)).await? {
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
