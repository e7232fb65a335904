//! One job contract (src/jobs.rs): every job the SQL functions enqueue — `message_record()`,
//! `message_ingest_batch()`, `turn_commit()`, and `webhook_emit()` in
//! tests/api/webhook_deliveries.rs and `turn_commit()`'s follow-up in tests/api/follow_ups.rs — reads back with the payload type of its kind, and carries
//! the key, deduplication, attempts and tenant that the Rust builder of that job gives.

use salesbot::jobs::{self, JobPayload};
use salesbot::queue::NewJob;
use salesbot::workers::Registry;
use salesbot::workers::pipeline::turn::TurnHandler;
use serde_json::Value;
use sqlx::PgPool;
use uuid::Uuid;

use crate::helpers::{OGG, fast_config, service};
use crate::telegram::{BOT_TOKEN, connect_bot, post_update, setup, telegram_deps, text_update};

/// A job as the queue holds it.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct Stored {
    pub kind: String,
    key: Option<String>,
    dedup_key: Option<String>,
    tenant_id: Option<Uuid>,
    max_attempts: i32,
    priority: i16,
    payload: Value,
}

/// What the Rust builder makes of the stored job's own payload: the SQL must have built the same.
fn rebuilt(job: &Stored) -> NewJob {
    match job.kind.as_str() {
        jobs::Turn::KIND => jobs::Turn::read(&job.payload).unwrap().job(),
        jobs::Transcribe::KIND => jobs::Transcribe::read(&job.payload).unwrap().job(),
        jobs::DeliverReply::KIND => jobs::DeliverReply::read(&job.payload).unwrap().job(),
        jobs::NotifyManager::KIND => {
            let key = job.key.as_deref().unwrap();
            let bot_user = key
                .strip_prefix("notify:")
                .unwrap()
                .parse::<Uuid>()
                .unwrap();
            jobs::NotifyManager::read(&job.payload)
                .unwrap()
                .job(bot_user.into())
        }
        jobs::DeliverWebhook::KIND => jobs::DeliverWebhook::read(&job.payload).unwrap().job(),
        jobs::CrmSync::KIND => jobs::CrmSync::read(&job.payload).unwrap().job(),
        // Its due time is the company's delay, which the contract check does not compare.
        jobs::FollowUp::KIND => jobs::FollowUp::read(&job.payload)
            .unwrap()
            .job(std::time::Duration::ZERO),
        other => panic!("no SQL function enqueues `{other}`"),
    }
}

pub(crate) async fn stored_jobs(pool: &PgPool) -> Vec<Stored> {
    sqlx::query_as(
        "SELECT kind, key, dedup_key, tenant_id, max_attempts, priority, payload
           FROM jobs ORDER BY id",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

pub(crate) fn assert_same_contract(stored: &[Stored]) {
    for job in stored {
        let built = rebuilt(job);
        assert_eq!(built.kind, job.kind);
        assert_eq!(built.payload, job.payload, "{}", job.kind);
        assert_eq!(built.key, job.key, "{}", job.kind);
        assert_eq!(built.dedup_key, job.dedup_key, "{}", job.kind);
        assert_eq!(built.tenant_id.map(|t| t.0), job.tenant_id, "{}", job.kind);
        assert_eq!(built.max_attempts, job.max_attempts, "{}", job.kind);
        assert_eq!(built.priority, job.priority, "{}", job.kind);
    }
}

#[sqlx::test]
async fn jobs_enqueued_in_sql_are_the_jobs_the_contract_builds(pool: PgPool) {
    // message_record(): a voice note's transcribe job and its conversation's turn.
    let s = setup(&pool).await;
    let (jwt, _) = s.app.register_ok("jobs@stroy.kz", "Jobs").await;
    let resp = s
        .app
        .send_voice(&jwt, "client_voice", OGG, "note.ogg")
        .await;
    assert_eq!(resp.status(), 202);

    // message_ingest_batch(): turns of a batch of two conversations.
    let tenant: Uuid = sqlx::query_scalar("SELECT id FROM tenants")
        .fetch_one(&pool)
        .await
        .unwrap();
    let batch: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM message_ingest_batch($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(vec![tenant, tenant])
    .bind(vec!["api", "api"])
    .bind(vec!["batch_a", "batch_b"])
    .bind(vec![Uuid::now_v7(), Uuid::now_v7()])
    .bind(vec![Uuid::now_v7(), Uuid::now_v7()])
    .bind(vec!["Дом в Алматы", "Баня"])
    .bind(vec![None::<String>, None])
    .bind(vec![None::<String>, None])
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(batch, 2);

    // turn_commit(): a Telegram conversation's reply delivery and its lead's notification.
    let registry_for_bot = Registry::new().with(salesbot::workers::telegram::SetWebhookHandler {
        telegram: telegram_deps(s.addr, None).telegram.unwrap(),
    });
    let webhook_only =
        salesbot::workers::WorkerPool::new(service(&pool), registry_for_bot, fast_config());
    let bot = connect_bot(&s, &jwt, &webhook_only, BOT_TOKEN).await;
    let resp = post_update(
        &s,
        &bot,
        &bot.secret,
        text_update(
            9001,
            777,
            "Меня зовут Ерлан, дом 120 м² в Алматы, 8 701 234 56 78",
        ),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let before_turn = stored_jobs(&pool).await;
    assert_same_contract(&before_turn);

    // Only the Telegram conversation's turn runs, so what it enqueues stays in the queue.
    sqlx::query(
        "DELETE FROM jobs WHERE kind <> 'turn' OR key NOT IN
            (SELECT 'conversation:' || id FROM bot_users WHERE channel = 'telegram')",
    )
    .execute(&pool)
    .await
    .unwrap();
    sqlx::query("UPDATE jobs SET run_at = now()")
        .execute(&pool)
        .await
        .unwrap();
    let turns_only = salesbot::workers::WorkerPool::new(
        service(&pool),
        Registry::new().with(TurnHandler {
            deps: telegram_deps(s.addr, None),
        }),
        fast_config(),
    );
    assert_eq!(turns_only.run_once().await.unwrap().completed, 1);
    let after_turn = stored_jobs(&pool).await;

    let kinds = |jobs: &[Stored]| jobs.iter().map(|j| j.kind.clone()).collect::<Vec<_>>();
    assert_eq!(
        kinds(&before_turn),
        ["transcribe", "turn", "turn", "turn", "turn"],
        "the voice note's, the batch's two and the Telegram conversation's turns"
    );
    assert_eq!(kinds(&after_turn), ["deliver_reply", "notify_manager"]);
    assert_same_contract(&after_turn);
}
