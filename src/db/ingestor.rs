//! Group commit for the chat API's text messages: the messages that arrive while earlier ones are
//! being recorded go to the database together, in one statement and one transaction
//! (`message_ingest_batch`, sql/functions/message_ingest_batch.sql).
//!
//! Nothing waits for a batch to fill: a request alone is recorded at once (by `message_ingest`,
//! the one-message statement, as is each message of a batch that failed). Under
//! load, requests queue up while [`IN_FLIGHT`] batches are committing, and the next batch takes
//! them all (up to [`MAX_BATCH`]). Each message's answer is the one it would get alone: a batch
//! that fails is retried one message at a time, so a bad message fails only its own request.

use crate::supervisor::TaskScope;
use std::collections::{HashSet, VecDeque};
use std::sync::Arc;

use sqlx::PgPool;
use tokio::sync::{Semaphore, mpsc, oneshot};
use uuid::Uuid;

use crate::domain::{BotUserId, MessageId, TenantId};

use super::messages::{Body, Incoming, Ingested, ingest};
use crate::jobs::{self, JobPayload};

/// Batches being recorded at once, each on its own connection.
const IN_FLIGHT: usize = 4;
/// Messages in one batch at most.
const MAX_BATCH: usize = 64;

/// Records customer messages like [`ingest`], batching concurrent text messages.
#[derive(Clone)]
pub struct Ingestor {
    pool: PgPool,
    queue: mpsc::UnboundedSender<Waiting>,
}

struct Waiting {
    tenant: TenantId,
    incoming: Incoming,
    answer: oneshot::Sender<Result<Ingested, sqlx::Error>>,
}

impl Waiting {
    fn conversation(&self) -> (TenantId, &'static str, &str) {
        (
            self.tenant,
            self.incoming.channel.as_str(),
            &self.incoming.external_id,
        )
    }
}

impl Ingestor {
    /// Starts the batching task; it ends when the last clone is dropped and the queue is recorded
    /// (after `tasks` is told to stop: earlier, every chat message would fail).
    pub fn spawn(pool: PgPool, tasks: &TaskScope) -> Self {
        let (queue, arrivals) = mpsc::unbounded_channel();
        let batcher = gather(pool.clone(), arrivals);
        tasks.spawn("ingest-batcher", async move {
            batcher.await;
            Ok(())
        });
        Self { pool, queue }
    }

    /// Records one message (see [`ingest`] for what that means); voice notes are recorded alone.
    pub async fn ingest(
        &self,
        tenant: TenantId,
        incoming: Incoming,
    ) -> Result<Ingested, sqlx::Error> {
        if !matches!(incoming.body, Body::Text(_)) {
            return ingest(&self.pool, tenant, incoming).await;
        }
        let (answer, answered) = oneshot::channel();
        let waiting = Waiting {
            tenant,
            incoming,
            answer,
        };
        self.queue
            .send(waiting)
            .map_err(|_| sqlx::Error::PoolClosed)?;
        // The batching task answers every message it takes (it ends only when no sender is left).
        answered.await.unwrap_or(Err(sqlx::Error::PoolClosed))
    }
}

/// Forms batches: waits for a free slot, then takes every message waiting (up to [`MAX_BATCH`], one
/// per conversation; a conversation's later messages wait for the next batch, in order).
async fn gather(pool: PgPool, mut arrivals: mpsc::UnboundedReceiver<Waiting>) {
    let slots = Arc::new(Semaphore::new(IN_FLIGHT));
    let mut held_back: VecDeque<Waiting> = VecDeque::new();
    loop {
        let slot = slots.clone().acquire_owned().await.expect("never closed");
        let first = match held_back.pop_front() {
            Some(waiting) => waiting,
            None => match arrivals.recv().await {
                Some(waiting) => waiting,
                None => break,
            },
        };
        let mut batch = vec![first];
        let mut conversations: HashSet<(TenantId, &'static str, String)> = HashSet::new();
        let (tenant, channel, external_id) = batch[0].conversation();
        conversations.insert((tenant, channel, external_id.to_owned()));
        let earlier = std::mem::take(&mut held_back);
        let mut candidates = earlier.into_iter();
        loop {
            let next = match candidates.next() {
                Some(waiting) => waiting,
                None => match arrivals.try_recv() {
                    Ok(waiting) => waiting,
                    Err(_) => break,
                },
            };
            let (tenant, channel, external_id) = next.conversation();
            if batch.len() < MAX_BATCH
                && conversations.insert((tenant, channel, external_id.to_owned()))
            {
                batch.push(next);
            } else {
                held_back.push_back(next);
            }
            if batch.len() == MAX_BATCH {
                held_back.extend(candidates.by_ref());
                break;
            }
        }
        let pool = pool.clone();
        tokio::spawn(async move {
            record(&pool, batch).await;
            drop(slot);
        });
    }
}

async fn record(pool: &PgPool, batch: Vec<Waiting>) {
    if batch.len() > 1 {
        match ingest_batch(pool, &batch).await {
            Ok(rows) => {
                crate::metrics::ingest_batch(batch.len());
                let mut answers: Vec<Option<Ingested>> = vec![None; batch.len()];
                for (item, ingested) in rows {
                    answers[item] = Some(ingested);
                }
                for (waiting, ingested) in batch.into_iter().zip(answers) {
                    if ingested.as_ref().is_some_and(|i| !i.duplicate) {
                        crate::metrics::message_ingested(waiting.incoming.channel.as_str(), "text");
                    }
                    let answer = ingested.ok_or_else(|| {
                        sqlx::Error::Protocol("message_ingest_batch skipped a message".into())
                    });
                    let _ = waiting.answer.send(answer);
                }
                return;
            }
            Err(err @ (sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed)) => {
                tracing::error!(error = %err, size = batch.len(), "ingest batch got no connection");
                for waiting in batch {
                    let _ = waiting.answer.send(Err(sqlx::Error::PoolTimedOut));
                }
                return;
            }
            Err(err) => {
                tracing::warn!(error = %err, size = batch.len(), "ingest batch failed; recording its messages one by one");
            }
        }
    }
    for waiting in batch {
        crate::metrics::ingest_batch(1);
        let answer = ingest(pool, waiting.tenant, waiting.incoming).await;
        let _ = waiting.answer.send(answer);
    }
}

/// One `message_ingest_batch` call: each message's index in `batch` and what was recorded.
async fn ingest_batch(
    pool: &PgPool,
    batch: &[Waiting],
) -> Result<Vec<(usize, Ingested)>, sqlx::Error> {
    let mut tenants = Vec::with_capacity(batch.len());
    let mut channels = Vec::with_capacity(batch.len());
    let mut external_ids = Vec::with_capacity(batch.len());
    let mut new_bot_users = Vec::with_capacity(batch.len());
    let mut messages = Vec::with_capacity(batch.len());
    let mut contents = Vec::with_capacity(batch.len());
    let mut idempotency_keys = Vec::with_capacity(batch.len());
    let mut shared_phones = Vec::with_capacity(batch.len());
    for waiting in batch {
        let Body::Text(text) = &waiting.incoming.body else {
            unreachable!("only text messages are batched")
        };
        tenants.push(waiting.tenant.0);
        channels.push(waiting.incoming.channel.as_str());
        external_ids.push(waiting.incoming.external_id.as_str());
        new_bot_users.push(Uuid::now_v7());
        messages.push(MessageId::new().0);
        contents.push(text.as_str());
        idempotency_keys.push(waiting.incoming.idempotency_key.as_deref());
        shared_phones.push(waiting.incoming.shared_phone.as_ref().map(|p| p.as_str()));
    }
    let rows = sqlx::query!(
        r#"SELECT item AS "item!", message_id AS "message_id!", bot_user_id AS "bot_user_id!",
                  seq AS "seq!", duplicate AS "duplicate!", turn_job AS "turn_job!"
           FROM message_ingest_batch($1, $2, $3, $4, $5, $6, $7, $8)"#,
        &tenants,
        &channels as &[&str],
        &external_ids as &[&str],
        &new_bot_users,
        &messages,
        &contents as &[&str],
        &idempotency_keys as &[Option<&str>],
        &shared_phones as &[Option<&str>],
    )
    .fetch_all(pool)
    .await?;
    let turns = rows.iter().filter(|row| row.turn_job).count();
    if turns > 0 {
        crate::metrics::job_enqueued(jobs::Turn::KIND, turns as u64);
    }
    Ok(rows
        .into_iter()
        .map(|row| {
            (
                row.item as usize - 1,
                Ingested {
                    message_id: MessageId(row.message_id),
                    bot_user_id: BotUserId(row.bot_user_id),
                    seq: row.seq,
                    duplicate: row.duplicate,
                },
            )
        })
        .collect())
}
