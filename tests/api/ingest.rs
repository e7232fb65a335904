//! Group commit of chat messages (`db::ingestor`): concurrent text messages are recorded together,
//! and each request still gets exactly the answer it would get alone.

use salesbot::db::ingestor::Ingestor;
use salesbot::db::messages::{Body, Channel, Incoming, Ingested};
use salesbot::domain::TenantId;
use salesbot::supervisor::TaskScope;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

async fn tenant(pool: &PgPool) -> TenantId {
    let id = Uuid::now_v7();
    sqlx::query("INSERT INTO tenants (id, name) VALUES ($1, 'Stroy')")
        .bind(id)
        .execute(pool)
        .await
        .unwrap();
    TenantId(id)
}

fn text(user: &str, text: &str, idempotency_key: Option<&str>) -> Incoming {
    Incoming {
        channel: Channel::Api,
        external_id: user.to_owned(),
        body: Body::Text(text.to_owned()),
        idempotency_key: idempotency_key.map(str::to_owned),
        shared_phone: None,
    }
}

/// Sends every message at once (each from its own task, as concurrent requests would) and returns
/// the answers in the order given.
async fn ingest_all(
    ingestor: &Ingestor,
    messages: Vec<(TenantId, Incoming)>,
) -> Vec<Result<Ingested, sqlx::Error>> {
    let tasks: Vec<_> = messages
        .into_iter()
        .map(|(tenant, incoming)| {
            let ingestor = ingestor.clone();
            tokio::spawn(async move { ingestor.ingest(tenant, incoming).await })
        })
        .collect();
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.unwrap());
    }
    answers
}

/// Transactions that wrote the customer messages (each row's xmin is its inserting transaction).
async fn writing_transactions(pool: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(DISTINCT xmin::text) FROM messages WHERE role = 'user'")
        .fetch_one(pool)
        .await
        .unwrap()
}

#[sqlx::test]
async fn concurrent_messages_share_a_transaction_and_get_their_own_answers(pool: PgPool) {
    let tenant = tenant(&pool).await;
    let ingestor = Ingestor::spawn(
        pool.clone(),
        &TaskScope::standalone(CancellationToken::new()),
    );
    let messages = (0..12)
        .map(|i| {
            (
                tenant,
                text(&format!("user-{i}"), &format!("hello {i}"), None),
            )
        })
        .collect();
    let answers: Vec<Ingested> = ingest_all(&ingestor, messages)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();

    assert!(
        writing_transactions(&pool).await < 12,
        "concurrent messages were not batched"
    );
    for (i, answer) in answers.iter().enumerate() {
        assert_eq!(answer.seq, 1);
        assert!(!answer.duplicate);
        let (user, content): (String, String) = sqlx::query_as(
            "SELECT b.external_id, m.content FROM messages m
               JOIN bot_users b ON b.tenant_id = m.tenant_id AND b.id = m.bot_user_id
              WHERE m.tenant_id = $1 AND m.id = $2 AND b.id = $3",
        )
        .bind(tenant.0)
        .bind(answer.message_id.0)
        .bind(answer.bot_user_id.0)
        .fetch_one(&pool)
        .await
        .unwrap();
        assert_eq!((user, content), (format!("user-{i}"), format!("hello {i}")));
    }
    let turns: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM jobs WHERE kind = 'turn' AND key LIKE 'conversation:%'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(turns, 12, "one pending turn per conversation");
}

#[sqlx::test]
async fn one_conversation_s_concurrent_messages_get_gapless_seqs_and_one_turn(pool: PgPool) {
    let tenant = tenant(&pool).await;
    let ingestor = Ingestor::spawn(
        pool.clone(),
        &TaskScope::standalone(CancellationToken::new()),
    );
    let mut messages: Vec<(TenantId, Incoming)> = (0..5)
        .map(|i| (tenant, text("same", &format!("part {i}"), None)))
        .collect();
    messages.push((tenant, text("other", "hi", None)));
    let answers = ingest_all(&ingestor, messages).await;
    let mut seqs: Vec<i64> = answers[..5]
        .iter()
        .map(|a| a.as_ref().unwrap().seq)
        .collect();
    seqs.sort_unstable();
    assert_eq!(seqs, vec![1, 2, 3, 4, 5]);
    let bot_user = answers[0].as_ref().unwrap().bot_user_id;
    assert!(
        answers[..5]
            .iter()
            .all(|a| a.as_ref().unwrap().bot_user_id == bot_user)
    );
    let (last_seq, pending_turns): (i64, i64) = sqlx::query_as(
        "SELECT b.last_seq, (SELECT count(*) FROM jobs j
                              WHERE j.kind = 'turn' AND j.key = 'conversation:' || b.id)
           FROM bot_users b WHERE b.tenant_id = $1 AND b.id = $2",
    )
    .bind(tenant.0)
    .bind(bot_user.0)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!((last_seq, pending_turns), (5, 1));
}

#[sqlx::test]
async fn a_message_that_cannot_be_stored_fails_alone(pool: PgPool) {
    let tenant = tenant(&pool).await;
    let ingestor = Ingestor::spawn(
        pool.clone(),
        &TaskScope::standalone(CancellationToken::new()),
    );
    // A tenant that does not exist: its conversation row violates the foreign key, which fails
    // the whole batch's transaction; the others are then recorded one by one.
    let gone = TenantId(Uuid::now_v7());
    let answers = ingest_all(
        &ingestor,
        vec![
            (tenant, text("a", "one", None)),
            (gone, text("b", "two", None)),
            (tenant, text("c", "three", None)),
        ],
    )
    .await;
    assert!(answers[0].is_ok());
    assert!(matches!(&answers[1], Err(sqlx::Error::Database(e)) if e.is_foreign_key_violation()));
    assert!(answers[2].is_ok());
    let stored: Vec<String> = sqlx::query_scalar("SELECT content FROM messages ORDER BY content")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(stored, vec!["one", "three"]);
}

#[sqlx::test]
async fn an_idempotency_key_sent_twice_at_once_records_one_message(pool: PgPool) {
    let tenant = tenant(&pool).await;
    let ingestor = Ingestor::spawn(
        pool.clone(),
        &TaskScope::standalone(CancellationToken::new()),
    );
    let answers = ingest_all(
        &ingestor,
        vec![
            (tenant, text("first", "hello", Some("retry-1"))),
            (tenant, text("second", "hello", Some("retry-1"))),
        ],
    )
    .await;
    let (a, b) = (answers[0].as_ref().unwrap(), answers[1].as_ref().unwrap());
    assert_eq!(a.message_id, b.message_id);
    assert_eq!([a.duplicate, b.duplicate].iter().filter(|d| **d).count(), 1);
    let (messages, conversations): (i64, i64) =
        sqlx::query_as("SELECT (SELECT count(*) FROM messages), (SELECT count(*) FROM bot_users)")
            .fetch_one(&pool)
            .await
            .unwrap();
    // The duplicate's conversation, created by that request only, is removed again.
    assert_eq!((messages, conversations), (1, 1));
}

/// A turn's commit takes the conversation's row before its job's lease fence, the order an ingest
/// takes them in (the conversation's row, then the pending turn's row, following its update chain
/// to the running version). Fence first deadlocked with an ingest of the same conversation.
#[sqlx::test]
async fn a_turn_commit_waits_for_the_conversation_before_locking_its_job(pool: PgPool) {
    let tenant = tenant(&pool).await;
    let ingested = salesbot::db::messages::ingest(&pool, tenant, text("u", "hello", None))
        .await
        .unwrap();
    let claimed = salesbot::queue::claim(
        &pool,
        &["turn".into()],
        1,
        0,
        std::time::Duration::from_secs(60),
    )
    .await
    .unwrap();
    let lease = salesbot::queue::Lease::from(&claimed[0]);

    // An ingest of the same conversation holds its row.
    let mut ingest = pool.begin().await.unwrap();
    sqlx::query("SELECT 1 FROM bot_users WHERE tenant_id = $1 AND id = $2 FOR UPDATE")
        .bind(tenant.0)
        .bind(ingested.bot_user_id.0)
        .execute(&mut *ingest)
        .await
        .unwrap();
    let commit = tokio::spawn({
        let pool = pool.clone();
        async move {
            let pending = [ingested.message_id.0];
            let call = salesbot::db::turn::TurnCommit {
                tenant,
                bot_user: ingested.bot_user_id,
                lease,
                pending: &pending,
                reply_id: salesbot::domain::MessageId::new(),
                reply: "reply",
                engine: "offline",
                language: salesbot::domain::language::Language::Ru,
                status: salesbot::domain::conversation::MessageState::Answered,
                lead: None,
                new_lead_id: salesbot::domain::LeadId::new(),
                platform_chat: false,
                company_chats: false,
            };
            salesbot::db::turn::commit(&pool, &call).await.unwrap()
        }
    });
    // Until the commit is blocked on a lock.
    loop {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity
              WHERE wait_event_type = 'Lock' AND query LIKE '%turn_commit(%'",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        if waiting == 1 {
            break;
        }
        tokio::task::yield_now().await;
    }
    // The job's row is free: the ingest can still reach the pending turn, so no deadlock.
    sqlx::query("SELECT 1 FROM jobs WHERE id = $1 FOR UPDATE NOWAIT")
        .bind(lease.id.0)
        .execute(&mut *ingest)
        .await
        .expect("the turn's commit locked its job before the conversation");
    ingest.commit().await.unwrap();
    assert_eq!(
        commit.await.unwrap().outcome,
        salesbot::db::turn::Outcome::Committed
    );
}

/// One row of `message_ingest_batch`'s answer, by item (1-based).
#[derive(sqlx::FromRow, Debug)]
struct BatchRow {
    item: i32,
    message_id: Uuid,
    bot_user_id: Uuid,
    seq: i64,
    duplicate: bool,
    turn_job: bool,
}

/// The batch function itself, with every case a batch can hold at once: two tenants (one with
/// burst coalescing), a retry of a stored message, two requests with that key, a conversation
/// whose turn is running, a new one with a shared phone, and a pending turn to deduplicate against.
#[sqlx::test]
async fn a_batch_records_each_case_as_a_single_ingest_would(pool: PgPool) {
    let plain = tenant(&pool).await;
    let bursty = tenant(&pool).await;
    sqlx::query("UPDATE tenants SET coalesce_ms = 1500 WHERE id = $1")
        .bind(bursty.0)
        .execute(&pool)
        .await
        .unwrap();
    let ingest = |tenant: TenantId, incoming: Incoming| {
        let pool = pool.clone();
        async move {
            salesbot::db::messages::ingest(&pool, tenant, incoming)
                .await
                .unwrap()
        }
    };
    let stored = ingest(plain, text("old", "hello", Some("k-old"))).await;
    let running = ingest(plain, text("running", "hello", None)).await;
    sqlx::query(
        "UPDATE jobs SET state = 'running', attempts = 1, lease_token = gen_random_uuid(),
                         lease_until = now() + interval '1 minute'
          WHERE key = 'conversation:' || $1::text",
    )
    .bind(running.bot_user_id.0)
    .execute(&pool)
    .await
    .unwrap();
    let pending = ingest(bursty, text("b-old", "hello", None)).await;
    sqlx::query("UPDATE jobs SET run_at = now() - interval '1 hour' WHERE key = 'conversation:' || $1::text")
        .bind(pending.bot_user_id.0)
        .execute(&pool)
        .await
        .unwrap();
    let before: chrono::DateTime<chrono::Utc> = sqlx::query_scalar("SELECT now()")
        .fetch_one(&pool)
        .await
        .unwrap();

    let items = [
        (plain, "old", Some("k-old"), None),
        (plain, "new-dup", Some("k-old"), None),
        (plain, "running", None, None),
        (plain, "fresh", None, Some("+77011234567")),
        (bursty, "b-old", None, None),
        (bursty, "b-new", None, None),
    ];
    let messages: Vec<Uuid> = items.iter().map(|_| Uuid::now_v7()).collect();
    let mut rows: Vec<BatchRow> =
        sqlx::query_as("SELECT * FROM message_ingest_batch($1, $2, $3, $4, $5, $6, $7, $8)")
            .bind(items.iter().map(|i| i.0.0).collect::<Vec<_>>())
            .bind(vec!["api"; items.len()])
            .bind(items.iter().map(|i| i.1).collect::<Vec<_>>())
            .bind(items.iter().map(|_| Uuid::now_v7()).collect::<Vec<_>>())
            .bind(&messages)
            .bind(
                items
                    .iter()
                    .map(|i| format!("text of {}", i.1))
                    .collect::<Vec<_>>(),
            )
            .bind(items.iter().map(|i| i.2).collect::<Vec<_>>())
            .bind(items.iter().map(|i| i.3).collect::<Vec<_>>())
            .fetch_all(&pool)
            .await
            .unwrap();
    rows.sort_by_key(|r| r.item);
    assert_eq!(rows.len(), items.len(), "{rows:?}");
    let row = |item: i32| &rows[item as usize - 1];

    // The retry and the other request with its key get the stored message; nothing new is kept.
    for item in [1, 2] {
        assert!(
            row(item).duplicate && !row(item).turn_job,
            "{:?}",
            row(item)
        );
        assert_eq!(
            (row(item).message_id, row(item).seq),
            (stored.message_id.0, 1)
        );
    }
    // The running turn's conversation: the next seq, and a new turn that waits for it.
    assert_eq!(
        (
            row(3).bot_user_id,
            row(3).seq,
            row(3).duplicate,
            row(3).turn_job
        ),
        (running.bot_user_id.0, 2, false, true)
    );
    // The new conversation: seq 1, its turn, and the phone it shared.
    assert_eq!((row(4).seq, row(4).turn_job), (1, true));
    // The pending turn is reused; the new conversation of the bursty tenant gets a turn.
    assert_eq!(
        (row(5).bot_user_id, row(5).seq, row(5).turn_job),
        (pending.bot_user_id.0, 2, false)
    );
    assert_eq!((row(6).seq, row(6).turn_job), (1, true));
    for item in 3..=6 {
        assert_eq!(row(item).message_id, messages[item as usize - 1]);
    }

    let conversations: Vec<(String, i64, Option<String>)> =
        sqlx::query_as("SELECT external_id, last_seq, phone FROM bot_users ORDER BY external_id")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(
        conversations,
        vec![
            ("b-new".to_owned(), 1, None),
            ("b-old".to_owned(), 2, None),
            ("fresh".to_owned(), 1, Some("+77011234567".to_owned())),
            ("old".to_owned(), 1, None),
            ("running".to_owned(), 2, None),
        ],
        "the duplicates gave their seq back, and the conversation created only by one is gone"
    );
    let stored_texts: i64 = sqlx::query_scalar("SELECT count(*) FROM messages")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(stored_texts, 3 + 4);

    let turns: Vec<(String, String, bool, i32)> = sqlx::query_as(
        "SELECT b.external_id, j.state::text, j.run_at >= $1 + interval '1.5 seconds',
                (SELECT pending FROM job_keys k WHERE k.key = j.key)
           FROM jobs j JOIN bot_users b ON j.key = 'conversation:' || b.id
          WHERE j.kind = 'turn' ORDER BY b.external_id, j.id",
    )
    .bind(before)
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(
        turns,
        vec![
            ("b-new".to_owned(), "available".to_owned(), true, 1),
            ("b-old".to_owned(), "available".to_owned(), true, 1),
            ("fresh".to_owned(), "available".to_owned(), false, 1),
            ("old".to_owned(), "available".to_owned(), false, 1),
            ("running".to_owned(), "running".to_owned(), false, 2),
            ("running".to_owned(), "blocked".to_owned(), false, 2),
        ],
        "one pending turn per conversation; the bursty tenant's wait for the quiet period"
    );
}

/// conversation_next_seq() has a statement for one message and one for several
/// (migrations/0025_next_seq_one_message.sql): both open a conversation at seq 1, and on an
/// existing one take the next seq, move it up the list and clear a block.
#[sqlx::test]
async fn one_message_and_a_batch_allocate_seqs_alike(pool: PgPool) {
    let tenant = tenant(&pool).await;
    let next_seq = |users: Vec<&'static str>| {
        let pool = pool.clone();
        async move {
            let n = users.len();
            let rows: Vec<(i32, Uuid, i64, bool)> = sqlx::query_as(
                "SELECT item, bot_user_id, seq, created FROM conversation_next_seq($1, $2, $3, $4)
                 ORDER BY item",
            )
            .bind(tenant.0)
            .bind(vec!["api"; n])
            .bind(users)
            .bind((0..n).map(|_| Uuid::now_v7()).collect::<Vec<_>>())
            .fetch_all(&pool)
            .await
            .unwrap();
            rows
        }
    };
    let state = |user: &'static str| {
        let pool = pool.clone();
        async move {
            sqlx::query_as::<_, (i64, bool, chrono::DateTime<chrono::Utc>)>(
                "SELECT last_seq, blocked_at IS NOT NULL, updated_at FROM bot_users
                 WHERE external_id = $1",
            )
            .bind(user)
            .fetch_one(&pool)
            .await
            .unwrap()
        }
    };

    // New conversations: seq 1, created, one path and the other.
    let single = next_seq(vec!["solo"]).await;
    assert_eq!((single[0].0, single[0].2, single[0].3), (1, 1, true));
    let batch = next_seq(vec!["b2", "b1"]).await;
    assert_eq!(
        batch.iter().map(|r| (r.0, r.2, r.3)).collect::<Vec<_>>(),
        [(1, 1, true), (2, 1, true)]
    );
    assert_ne!(batch[0].1, batch[1].1, "each element its own conversation");

    // Existing, blocked, listed a while ago: the next seq, unblocked, moved up — by either path.
    sqlx::query("UPDATE bot_users SET blocked_at = now(), updated_at = now() - interval '1 hour'")
        .execute(&pool)
        .await
        .unwrap();
    let before = state("solo").await.2;
    let single_again = next_seq(vec!["solo"]).await;
    assert_eq!(
        (single_again[0].1, single_again[0].2, single_again[0].3),
        (single[0].1, 2, false)
    );
    let batch_again = next_seq(vec!["b1", "solo"]).await;
    assert_eq!(
        batch_again
            .iter()
            .map(|r| (r.0, r.2, r.3))
            .collect::<Vec<_>>(),
        [(1, 2, false), (2, 3, false)]
    );
    for user in ["solo", "b1"] {
        let (_, blocked, updated_at) = state(user).await;
        assert!(!blocked, "{user} unblocked");
        assert!(updated_at > before, "{user} moved up");
    }
    assert_eq!(state("b2").await.0, 1, "b2 untouched");
    assert!(state("b2").await.1, "b2 still blocked");
}
