//! salesbot: an AI sales manager for construction companies in Kazakhstan.
//!
//! The map of the crate (data flows one way, top to bottom):
//! - [`http`]: the web API — accepts, validates, records and enqueues; never calls an LLM.
//! - [`db`]: queries grouped by aggregate; every tenant-owned query runs in [`db::tenant_tx`].
//! - [`jobs`]: the job contract: every job kind, its payload and how it is enqueued.
//! - [`queue`]: the durable job queue (enqueue in the caller's transaction; claim, lease, ack).
//! - [`workers`] (`workers/`): the worker pool, pipeline stages, conversation engines and thin
//!   integration clients. `src/` never imports `workers::`; only `main.rs` starts them.
//! - [`domain`]: newtypes and pure logic, no IO.
//! - [`telegram_api`]: the Telegram updates salesbot receives, what each means, the API's limits.
//! - [`crypto`]: encryption at rest of tenants' secrets (their bot tokens).
//! - [`cli`]: the operator's queue and Telegram subcommands and what they print.
//! - [`config`], [`telemetry`], [`shutdown`], [`supervisor`], [`startup`], [`error`]: process
//!   plumbing.
//!
//! `docs/architecture.md` describes the design and why it is so.

pub mod cli;
pub mod config;
pub mod crypto;
pub mod db;
pub mod doctor;
pub mod domain;
pub mod error;
pub mod http;
pub mod jobs;
pub mod metrics;
pub mod queue;
pub mod reachable;
pub mod shutdown;
pub mod startup;
pub mod supervisor;
pub mod telegram_api;
pub mod telemetry;

#[path = "../workers/mod.rs"]
pub mod workers;
