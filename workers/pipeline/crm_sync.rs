//! `crm_sync`: mirrors a lead and its contact into the company's amoCRM.
//!
//! The job reads the lead as it is when it runs (the `leads` trigger keeps one pending per lead),
//! creates it with its contact the first time (`leads/complex`) and records amoCRM's ids under the
//! lease, then sends changes with PATCH, recording the version amoCRM has, so a re-run sends
//! nothing new. At most 5 requests a second per company (GCRA on the `throttle` table): amoCRM
//! allows an integration 7 and counts every integration of an account together, so this leaves
//! the account's others room. A request over the rate, or a 429, defers the job without spending
//! an attempt; 5xx and timeouts retry; a 401 flags the connection (`unauthorized_at`, shown in
//! the settings) and ends the job: nothing is synced until a token is saved again, which queues
//! every lead not yet in amoCRM. A crash between amoCRM's create and its record can create the
//! lead twice; amoCRM's duplicate control (by the contact's phone) merges such a repeat when the
//! account has it on.

use std::sync::Arc;
use std::time::Duration;

use crate::config::RateLimit;
use crate::crypto::SecretBox;
use crate::db::amocrm::{self, LeadToSync};
use crate::db::throttle::{self, Decision, Rule};
use crate::domain::lead_status::LeadStatus;
use crate::jobs::{self, JobPayload};
use crate::workers::integrations::amocrm::{AmoClient, AmoError, AmoLead};
use crate::workers::{Handler, JobContext, JobError, JobFuture};

/// Requests per second to one company's amoCRM.
const RATE: RateLimit = RateLimit {
    burst: 5,
    period: Duration::from_secs(1),
};

#[derive(Clone)]
pub struct CrmSyncHandler {
    pub client: Arc<AmoClient>,
    pub secrets: SecretBox,
}

impl Handler for CrmSyncHandler {
    fn kind(&self) -> &'static str {
        jobs::CrmSync::KIND
    }

    fn deadline(&self) -> Duration {
        Duration::from_secs(25)
    }

    fn run(&self, ctx: JobContext) -> JobFuture {
        let handler = self.clone();
        Box::pin(async move {
            let p = jobs::CrmSync::read(&ctx.job.payload)
                .map_err(|e| JobError::fatal(anyhow::anyhow!("bad crm_sync payload: {e}")))?;
            handler.sync(&ctx, p).await
        })
    }
}

/// The lead's title in amoCRM: who and what, as the managers' notification says it.
fn title(lead: &LeadToSync) -> String {
    match (&lead.name, &lead.summary) {
        (Some(name), Some(summary)) => format!("{name}: {summary}"),
        (Some(name), None) => name.clone(),
        (None, Some(summary)) => summary.clone(),
        (None, None) => format!("Заявка из чата {}", lead.user_id),
    }
}

impl CrmSyncHandler {
    async fn sync(&self, ctx: &JobContext, p: jobs::CrmSync) -> Result<(), JobError> {
        let tenant = p.tenant_id;
        let Some(connection) = amocrm::connection(&ctx.db, &self.secrets, tenant)
            .await
            .map_err(JobError::retry)?
        else {
            return Ok(()); // disconnected since
        };
        if connection.refused {
            return Ok(()); // flagged; saving a token again queues the sync anew
        }
        let Some(lead) = amocrm::lead_to_sync(&ctx.db, tenant, p.lead_id).await? else {
            return Ok(()); // the lead is gone
        };
        if lead.synced_version.is_some_and(|v| v >= lead.version) {
            return Ok(());
        }
        let title = title(&lead);
        let amo = AmoLead {
            title: &title,
            contact_name: lead.name.as_deref().unwrap_or(&lead.user_id),
            phone: lead.phone.as_deref(),
            closing_status: match lead.status {
                LeadStatus::Won => Some(142),
                LeadStatus::Lost => Some(143),
                _ => None,
            },
        };
        let (domain, token) = (&connection.domain, &connection.token);
        let result = async {
            match lead.amo_lead_id {
                None => {
                    self.take(ctx, tenant).await?;
                    let created = self.client.create(domain, token, &amo).await?;
                    Ok((created.id, created.contact_id))
                }
                Some(id) => {
                    self.take(ctx, tenant).await?;
                    self.client.update_lead(domain, token, id, &amo).await?;
                    if let Some(contact) = lead.amo_contact_id {
                        self.take(ctx, tenant).await?;
                        self.client
                            .update_contact(domain, token, contact, &amo)
                            .await?;
                    }
                    Ok((id, None))
                }
            }
        }
        .await;
        let (amo_lead_id, amo_contact_id) = match result {
            Ok(ids) => ids,
            Err(SyncError::Job(e)) => return Err(e),
            Err(SyncError::Amo(AmoError::RateLimited(wait))) => {
                return Err(JobError::defer(wait, "amoCRM rate limit (429)"));
            }
            Err(SyncError::Amo(AmoError::Unauthorized)) => {
                let mut tx = crate::db::fenced_tx(&ctx.db, tenant, ctx.lease()).await?;
                amocrm::mark_refused(&mut tx, tenant).await?;
                tx.commit().await?;
                tracing::warn!(tenant_id = %tenant, lead_id = %p.lead_id, job_id = %ctx.job.id,
                    "amoCRM refused the token; the connection is flagged until a token is saved");
                return Err(JobError::fatal(AmoError::Unauthorized));
            }
            Err(SyncError::Amo(e @ AmoError::Retryable(_))) => return Err(JobError::retry(e)),
            Err(SyncError::Amo(e @ AmoError::Fatal(_))) => return Err(JobError::fatal(e)),
        };
        let mut tx = crate::db::fenced_tx(&ctx.db, tenant, ctx.lease()).await?;
        amocrm::record_sync(
            &mut tx,
            tenant,
            p.lead_id,
            amo_lead_id,
            amo_contact_id,
            lead.version,
        )
        .await?;
        tx.commit().await?;
        tracing::info!(tenant_id = %tenant, lead_id = %p.lead_id, job_id = %ctx.job.id,
            amo_lead_id, version = lead.version, created = lead.amo_lead_id.is_none(),
            "lead synced to amoCRM");
        Ok(())
    }

    /// One request's place in the company's rate.
    async fn take(
        &self,
        ctx: &JobContext,
        tenant: crate::domain::TenantId,
    ) -> Result<(), SyncError> {
        let subject = tenant.to_string();
        match throttle::take(&ctx.db, Rule::AmoCrm, &subject, RATE)
            .await
            .map_err(|e| SyncError::Job(e.into()))?
        {
            Decision::Allowed => Ok(()),
            Decision::Wait(wait) => Err(SyncError::Job(JobError::defer(
                wait,
                "the company's amoCRM request rate",
            ))),
        }
    }
}

enum SyncError {
    Job(JobError),
    Amo(AmoError),
}

impl From<AmoError> for SyncError {
    fn from(e: AmoError) -> Self {
        Self::Amo(e)
    }
}
