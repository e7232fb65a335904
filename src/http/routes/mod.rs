//! One file per resource; each handler carries its OpenAPI description (`#[utoipa::path]`).

pub mod admin;
pub mod api_keys;
pub mod auth;
pub mod chat;
pub mod follow_ups;
pub mod handoff;
pub mod health;
pub mod leads;
pub mod lifecycle;
pub mod me;
pub mod settings;
pub mod telegram;
pub mod usage;
pub mod webhooks;
