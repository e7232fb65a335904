//! A private PostgreSQL cluster for the zero-configuration start.
//!
//! When DATABASE_URL is unset and nothing answers at 127.0.0.1:5432, but PostgreSQL's server programs
//! are installed, salesbot runs its own cluster in a data folder (default `.salesbot/pg`) on
//! 127.0.0.1:[`PRIVATE_PORT`], so `cargo run -- all` works on a fresh machine. It is never used when
//! DATABASE_URL is set. The cluster is left running when salesbot exits (like any local database), so
//! the next start is instant; `pg_ctl -D .salesbot/pg stop` stops it.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

use crate::config::DatabaseUrl;

/// Port of the private cluster: off the default, so it never shadows a real server.
pub const PRIVATE_PORT: u16 = 54329;

pub struct Cluster {
    data_dir: PathBuf,
    port: u16,
}

impl Cluster {
    /// Initialises (first time) and starts the cluster in `data_dir`, or reuses it if it runs already.
    pub async fn start(data_dir: &Path) -> anyhow::Result<Self> {
        Self::start_on(data_dir, PRIVATE_PORT).await
    }

    pub async fn start_on(data_dir: &Path, port: u16) -> anyhow::Result<Self> {
        let data_dir = std::path::absolute(data_dir)
            .with_context(|| format!("resolving {}", data_dir.display()))?;
        let dir = data_dir.clone();
        tokio::task::spawn_blocking(move || start_blocking(&dir, port))
            .await
            .context("starting the private PostgreSQL cluster")??;
        Ok(Self { data_dir, port })
    }

    pub fn url(&self, database: &str) -> DatabaseUrl {
        DatabaseUrl::parse(&format!(
            "postgres://postgres@127.0.0.1:{}/{database}",
            self.port
        ))
        .expect("valid private cluster URL")
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// Stops the cluster (fast shutdown: open sessions are ended).
    pub fn stop(&self) -> anyhow::Result<()> {
        let bin = server_bin_dir()?;
        run_as_owner(
            Command::new(bin.join("pg_ctl"))
                .arg("stop")
                .arg("-D")
                .arg(&self.data_dir)
                .args(["-m", "fast", "-w"]),
        )
    }
}

fn start_blocking(data_dir: &Path, port: u16) -> anyhow::Result<()> {
    let bin = server_bin_dir()?;
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("creating {}", data_dir.display()))?;
    if running_as_root() {
        // The server refuses to run as root; the folder must belong to the account that runs it.
        let status = Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .arg(data_dir)
            .status()
            .context("running chown")?;
        if !status.success() {
            bail!(
                "cannot hand {} to the postgres account (running as root, and PostgreSQL refuses to run as root)",
                data_dir.display()
            );
        }
    }
    if !data_dir.join("PG_VERSION").exists() {
        tracing::info!(dir = %data_dir.display(), "initialising a private PostgreSQL cluster");
        run_as_owner(
            Command::new(bin.join("initdb"))
                .arg("-D")
                .arg(data_dir)
                .args([
                    "-U",
                    "postgres",
                    "--auth=trust",
                    "-E",
                    "UTF8",
                    "--no-instructions",
                ]),
        )?;
    }
    let running = owner_command(
        Command::new(bin.join("pg_ctl"))
            .arg("status")
            .arg("-D")
            .arg(data_dir),
    )
    .output()
    .map(|o| o.status.success())
    .unwrap_or(false);
    if !running {
        let options = format!(
            "-p {port} -c listen_addresses=127.0.0.1 -k {}",
            data_dir.display()
        );
        run_as_owner(
            Command::new(bin.join("pg_ctl"))
                .arg("start")
                .arg("-D")
                .arg(data_dir)
                .arg("-l")
                .arg(data_dir.join("server.log"))
                .args(["-w", "-t", "60", "-o", &options]),
        )?;
        tracing::info!(port, dir = %data_dir.display(), "private PostgreSQL cluster started");
    }
    Ok(())
}

/// The folder holding `initdb` and `pg_ctl`: on PATH, or Debian's /usr/lib/postgresql/<version>/bin
/// (newest version first).
pub fn server_bin_dir() -> anyhow::Result<PathBuf> {
    let on_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default();
    let mut versioned: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .map(|e| e.path().join("bin"))
                .collect()
        })
        .unwrap_or_default();
    versioned.sort_by_key(|p| {
        let version = p
            .parent()
            .and_then(|v| v.file_name())
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok());
        std::cmp::Reverse(version)
    });
    on_path
        .into_iter()
        .chain(versioned)
        .find(|dir| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file())
        .ok_or_else(|| {
            anyhow::anyhow!(
                "no PostgreSQL answers at 127.0.0.1:5432 and its server programs (initdb, pg_ctl) are not installed: \
                 install PostgreSQL (e.g. `apt-get install postgresql`) or set DATABASE_URL"
            )
        })
}

fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|euid| euid == "0"))
        })
        .unwrap_or(false)
}

/// As root, runs the command as the `postgres` account; otherwise as is.
fn owner_command(cmd: &mut Command) -> Command {
    if running_as_root() {
        let mut wrapped = Command::new("runuser");
        wrapped
            .args(["-u", "postgres", "--"])
            .arg(cmd.get_program())
            .args(cmd.get_args());
        wrapped
    } else {
        let mut plain = Command::new(cmd.get_program());
        plain.args(cmd.get_args());
        plain
    }
}

fn run_as_owner(cmd: &mut Command) -> anyhow::Result<()> {
    let mut cmd = owner_command(cmd);
    let output = cmd
        .output()
        .with_context(|| format!("running {:?}", cmd.get_program()))?;
    if !output.status.success() {
        bail!(
            "{:?} failed: {}",
            cmd.get_program(),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(())
}
