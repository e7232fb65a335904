//! What a webhook endpoint receives: the body of every delivery is a [`WebhookEvent`],
//! `{"type", "version", "timestamp", "data"}`, whose `data` is the type's payload below. The bodies
//! are built in SQL by the transactions that make the events true (webhook_emit() and the
//! `webhook_*` functions in sql/functions/), so these types are their contract: the OpenAPI document
//! shows them, and tests/api/webhook_deliveries.rs reads every payload the service sent back with
//! them (unknown fields refused), so the two sides cannot drift apart unnoticed.
//!
//! `version` changes only when a payload changes incompatibly; fields may be added within one.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::webhook::EventType;

/// The payloads' current version.
pub const PAYLOAD_VERSION: u32 = 1;

/// The body of every webhook delivery. Its `webhook-id` header names the event: the same on every
/// retry, so a receiver can drop a duplicate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookEvent {
    #[serde(rename = "type")]
    pub event_type: EventType,
    pub version: u32,
    /// When the event happened.
    pub timestamp: DateTime<Utc>,
    /// `MessageReceived`, `ReplyCreated`, `LeadChanged` (the three `lead.*` types),
    /// `MessageFailed` or `EndpointStatus` (the two `endpoint.*` types), as `type` says.
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
}

/// `data` of `message.received`: a customer's message was recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MessageReceived {
    pub message_id: Uuid,
    /// The customer's id in its channel (the `user_id` of `POST /api/chat`).
    pub user_id: String,
    /// `api` or `telegram`.
    pub channel: String,
    /// `text` or `voice`.
    pub kind: String,
    /// The message's text; null for a voice note (its transcript comes with the reply).
    pub text: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// `data` of `reply.created`: the customer was answered, by the bot or by a manager.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplyCreated {
    pub message_id: Uuid,
    pub user_id: String,
    pub channel: String,
    /// `bot` or `manager`.
    pub author: String,
    pub text: String,
    /// The customer messages this reply answers, oldest first (the `message_id`s `POST /api/chat`
    /// returned).
    pub in_reply_to: Vec<Uuid>,
    pub created_at: DateTime<Utc>,
    /// The conversation's lead as it stands with this reply; null before there is one.
    pub lead: Option<WebhookLead>,
}

/// `data` of `lead.created`, `lead.updated` and `lead.qualified`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LeadChanged {
    pub lead: WebhookLead,
}

/// A lead as `GET /api/leads/{id}` shows it, with its `version` (one more per change: a receiver
/// keeps the highest it has seen).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookLead {
    pub id: Uuid,
    pub bot_user_id: Uuid,
    pub user_id: String,
    pub name: Option<String>,
    pub phone: Option<String>,
    pub city: Option<String>,
    pub object_type: Option<String>,
    pub area_m2: Option<f64>,
    pub summary: Option<String>,
    pub status: super::lead_status::LeadStatus,
    pub loss_reason: Option<String>,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// `data` of `message.failed`: the bot could not answer these messages (the customer got the
/// fallback reply, `reply_id`, and a manager should look).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MessageFailed {
    pub message_ids: Vec<Uuid>,
    pub reply_id: Uuid,
    pub user_id: String,
    pub channel: String,
}

/// `data` of `endpoint.disabled` and `endpoint.recovered`, sent to the tenant's other endpoints
/// that subscribe to them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndpointStatus {
    pub endpoint_id: Uuid,
    pub url: String,
    /// Since when its deliveries had been failing.
    pub failing_since: DateTime<Utc>,
    /// Why it was disabled (`endpoint.disabled` only).
    pub reason: Option<String>,
}
