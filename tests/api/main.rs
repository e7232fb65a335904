//! One integration-test binary (faster to build and link than one per file). Every test gets a fresh
//! database from `#[sqlx::test]` and talks to the real application over loopback HTTP.

mod amocrm;
mod api_keys;
mod auth;
mod chat;
mod cli;
mod contract;
mod dashboard;
mod deploy;
mod embedded_pg;
mod extract;
mod fake_openai;
mod fakes;
mod follow_ups;
mod handoff;
mod hardening;
mod health;
mod helpers;
mod ingest;
mod jobs;
mod leads;
mod lifecycle;
mod migrations;
mod notify;
mod openai;
mod openapi;
mod prices;
mod prometheus;
mod queue;
mod queue_crash;
mod rls;
mod supervision;
mod telegram;
mod tenancy;
mod webhook_deliveries;
mod webhooks;
