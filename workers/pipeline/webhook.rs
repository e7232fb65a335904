//! `webhook`: delivers one event to one endpoint (a `webhook_deliveries` row written by
//! webhook_emit() in the transaction that made the event true).
//!
//! Each run is one attempt: sign the stored body (the same bytes every time) with every secret in
//! force, POST it, and record the attempt with the delivery's new state in one fenced transaction
//! after the HTTP call (never across it). A 2xx ends the delivery; otherwise the next attempt is
//! due after the next pause of WEBHOOK_RETRY_SCHEDULE, and when the schedule has run out the
//! delivery has failed, which may disable its endpoint (db::webhooks::record_attempt). The job's
//! key (endpoint + conversation) holds the conversation's later events for this endpoint back
//! until this one has ended, so they arrive in order. A crash between the POST and the record
//! repeats the POST: receivers deduplicate by `webhook-id`, which is why it is the event's.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;

use crate::config::{RateLimit, WebhookDelivery};
use crate::crypto::SecretBox;
use crate::db::throttle::{self, Decision, Rule};
use crate::db::webhooks::{self, Attempt, AttemptOutcome, DeliveryState, EndpointChange};
use crate::domain::webhook::signature_header;
use crate::jobs::{self, JobPayload};
use crate::workers::integrations::webhook::{Signed, WebhookSender};
use crate::workers::{Handler, JobContext, JobError, JobFuture};

#[derive(Clone)]
pub struct WebhookHandler {
    pub sender: Arc<WebhookSender>,
    pub secrets: SecretBox,
    pub settings: WebhookDelivery,
}

impl Handler for WebhookHandler {
    fn kind(&self) -> &'static str {
        jobs::DeliverWebhook::KIND
    }

    fn deadline(&self) -> Duration {
        // The POST's own timeout, and room for the records around it.
        self.settings.timeout + Duration::from_secs(10)
    }

    fn run(&self, ctx: JobContext) -> JobFuture {
        let sender = self.sender.clone();
        let secrets = self.secrets.clone();
        let settings = self.settings.clone();
        Box::pin(async move {
            let p = jobs::DeliverWebhook::read(&ctx.job.payload)
                .map_err(|e| JobError::fatal(anyhow::anyhow!("bad webhook payload: {e}")))?;
            deliver(&sender, &secrets, &settings, &ctx, p).await
        })
    }
}

async fn deliver(
    sender: &WebhookSender,
    secrets: &SecretBox,
    settings: &WebhookDelivery,
    ctx: &JobContext,
    p: jobs::DeliverWebhook,
) -> Result<(), JobError> {
    let tenant = p.tenant_id;
    let delivery = match webhooks::delivery(&ctx.db, secrets, tenant, p.delivery_id).await {
        Ok(Some(delivery)) => delivery,
        // The endpoint was removed, and its deliveries with it.
        Ok(None) => return Ok(()),
        Err(webhooks::DeliveryError::Db(e)) => return Err(e.into()),
        Err(e @ webhooks::DeliveryError::Secret(_)) => {
            let mut tx = crate::db::fenced_tx(&ctx.db, tenant, ctx.lease()).await?;
            webhooks::abandon(&mut tx, tenant, p.delivery_id, &e.to_string()).await?;
            tx.commit().await?;
            return Err(JobError::fatal(e));
        }
    };
    if delivery.state != DeliveryState::Pending {
        return Ok(()); // an earlier attempt ended it
    }
    if !delivery.enabled {
        let mut tx = crate::db::fenced_tx(&ctx.db, tenant, ctx.lease()).await?;
        webhooks::abandon(&mut tx, tenant, p.delivery_id, "the endpoint is disabled").await?;
        tx.commit().await?;
        return Ok(());
    }
    if let Some(rate) = delivery.rate_limit_per_second {
        let limit = RateLimit {
            burst: rate as u32,
            period: Duration::from_secs(1),
        };
        let subject = delivery.endpoint_id.to_string();
        if let Decision::Wait(wait) =
            throttle::take(&ctx.db, Rule::WebhookEndpoint, &subject, limit).await?
        {
            return Err(JobError::defer(wait, "the endpoint's rate limit"));
        }
    }

    let started_at = Utc::now();
    let webhook_id = delivery.event_id.to_string();
    let timestamp = started_at.timestamp();
    let secrets: Vec<_> = delivery.secrets.iter().collect();
    let signature = signature_header(&secrets, &webhook_id, timestamp, delivery.body.as_bytes());
    let signed = Signed {
        webhook_id: &webhook_id,
        timestamp,
        signature: &signature,
    };
    let answer = sender
        .send(&delivery.url, &signed, delivery.body.clone())
        .await;

    // Attempt n failed: the pause before attempt n + 1, if the schedule has one.
    let pause = usize::try_from(ctx.job.attempts - 1)
        .ok()
        .and_then(|n| settings.retry_schedule.get(n).copied());
    let outcome = match (answer.succeeded(), pause) {
        (true, _) => AttemptOutcome::Succeeded,
        (false, Some(pause)) => AttemptOutcome::RetryAt(
            Utc::now() + chrono::TimeDelta::from_std(pause).unwrap_or(chrono::TimeDelta::MAX),
        ),
        (false, None) => AttemptOutcome::Failed,
    };
    let attempt = Attempt {
        started_at,
        duration_ms: i32::try_from(answer.elapsed.as_millis()).unwrap_or(i32::MAX),
        status_code: answer.status.map(i32::from),
        error: answer.error.clone(),
        response_body: answer.body,
    };
    let mut tx = crate::db::fenced_tx(&ctx.db, tenant, ctx.lease()).await?;
    let change = webhooks::record_attempt(
        &mut tx,
        tenant,
        &delivery,
        &attempt,
        outcome,
        settings.disable_after,
    )
    .await?;
    tx.commit().await?;

    crate::metrics::webhook_attempt(&delivery.event_type, outcome, answer.elapsed);
    tracing::info!(tenant_id = %tenant, endpoint_id = %delivery.endpoint_id,
        delivery_id = %delivery.id, webhook_id = %webhook_id, event = %delivery.event_type,
        job_id = %ctx.job.id, status = ?attempt.status_code, outcome = ?outcome,
        error = attempt.error.as_deref().unwrap_or(""), "webhook attempt");
    match &change {
        EndpointChange::Disabled(status) => {
            crate::metrics::webhook_endpoint_disabled();
            tracing::warn!(tenant_id = %tenant, endpoint_id = %delivery.endpoint_id,
                failing_since = %status.failing_since, "webhook endpoint disabled for failing");
        }
        EndpointChange::Recovered(_) => {
            tracing::info!(tenant_id = %tenant, endpoint_id = %delivery.endpoint_id,
                "webhook endpoint recovered");
        }
        EndpointChange::None => {}
    }
    match (outcome, pause) {
        (AttemptOutcome::RetryAt(_), Some(pause)) => Err(JobError::retry_after(
            anyhow::anyhow!(
                "{}",
                attempt.error.unwrap_or_else(|| "delivery failed".into())
            ),
            pause,
        )),
        _ => Ok(()),
    }
}
