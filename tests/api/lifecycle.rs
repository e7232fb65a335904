//! The customer's data lifecycle ([J]): erasure of one customer leaves nothing of them in any
//! tenant table (found from the catalog, so a table added later without erasure support fails
//! here) and leaves everyone else alone; the retention period deletes old messages and webhook
//! logs but keeps the lead and the seq allocator going; export returns everything; voice notes'
//! audio is deleted once transcription is done or given up.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use chrono::{Duration, Utc};
use salesbot::domain::language::Language;
use salesbot::workers::engine::OfflineEngine;
use salesbot::workers::pipeline::transcribe::TranscribeFuture;
use salesbot::workers::pipeline::{TranscribeError, Transcriber};
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use crate::fakes::FakeReceiver;
use crate::helpers::{
    FakeTranscriber, OGG, TestApp, deps, error_code, offline_workers, pipeline_workers,
    run_workers_until_idle, service, spawn_app,
};

const CUSTOMER_EVENTS: [&str; 5] = [
    "message.received",
    "reply.created",
    "lead.created",
    "lead.updated",
    "lead.qualified",
];

/// Every table that carries a tenant id, from the catalog: whatever is added later is checked.
async fn tenant_tables(pool: &PgPool) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT c.table_name::text FROM information_schema.columns c
         JOIN information_schema.tables t USING (table_schema, table_name)
         WHERE c.table_schema = 'public' AND c.column_name = 'tenant_id'
           AND t.table_type = 'BASE TABLE'
         ORDER BY 1",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

/// Per tenant table, the rows of `tenant` whose any column mentions any of `needles` (ids, the
/// channel id, words the customer wrote, their phone); tables with none are left out.
async fn rows_mentioning(pool: &PgPool, tenant: Uuid, needles: &[String]) -> BTreeMap<String, i64> {
    let patterns: Vec<String> = needles.iter().map(|n| format!("%{n}%")).collect();
    let mut found = BTreeMap::new();
    for table in tenant_tables(pool).await {
        // The table's name comes from the catalog.
        let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT count(*) FROM {table} t
             WHERE t.tenant_id = $1 AND row_to_json(t)::text LIKE ANY ($2)"
        )))
        .bind(tenant)
        .bind(&patterns)
        .fetch_one(pool)
        .await
        .unwrap();
        if n > 0 {
            found.insert(table, n);
        }
    }
    found
}

/// Every tenant table's rows of `tenant`.
async fn rows_of(pool: &PgPool, tenant: Uuid) -> BTreeMap<String, i64> {
    let mut found = BTreeMap::new();
    for table in tenant_tables(pool).await {
        let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT count(*) FROM {table} WHERE tenant_id = $1"
        )))
        .bind(tenant)
        .fetch_one(pool)
        .await
        .unwrap();
        found.insert(table, n);
    }
    found
}

async fn tenant_of(pool: &PgPool, email: &str) -> Uuid {
    sqlx::query_scalar("SELECT tenant_id FROM users WHERE email = $1")
        .bind(email)
        .fetch_one(pool)
        .await
        .unwrap()
}

async fn conversation(pool: &PgPool, tenant: Uuid, external_id: &str) -> (Uuid, Option<Uuid>) {
    sqlx::query_as(
        "SELECT b.id, l.id FROM bot_users b
         LEFT JOIN leads l ON l.tenant_id = b.tenant_id AND l.bot_user_id = b.id
         WHERE b.tenant_id = $1 AND b.external_id = $2",
    )
    .bind(tenant)
    .bind(external_id)
    .fetch_one(pool)
    .await
    .unwrap()
}

async fn message_ids(pool: &PgPool, bot_user: Uuid) -> Vec<Uuid> {
    sqlx::query_scalar("SELECT id FROM messages WHERE bot_user_id = $1 ORDER BY seq")
        .bind(bot_user)
        .fetch_all(pool)
        .await
        .unwrap()
}

/// The webhook logs about a conversation: its events and their deliveries (attempts name their
/// delivery, deliveries their event).
async fn webhook_ids(pool: &PgPool, bot_user: Uuid) -> Vec<String> {
    let ids: Vec<Uuid> = sqlx::query_scalar(
        "SELECT e.id FROM webhook_events e WHERE e.bot_user_id = $1
         UNION ALL SELECT d.id FROM webhook_deliveries d
           JOIN webhook_events e ON e.tenant_id = d.tenant_id AND e.id = d.event_id
          WHERE e.bot_user_id = $1",
    )
    .bind(bot_user)
    .fetch_all(pool)
    .await
    .unwrap();
    ids.iter().map(Uuid::to_string).collect()
}

async fn add_endpoint(app: &TestApp, owner: &str, url: &str) {
    let resp = app
        .client
        .post(app.url("/api/webhooks"))
        .bearer_auth(owner)
        .json(&json!({"url": url, "events": CUSTOMER_EVENTS}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
}

async fn send_ok(app: &TestApp, token: &str, user_id: &str, text: &str) {
    assert_eq!(app.send_text(token, user_id, text).await.status(), 202);
}

/// What the integrations and the Telegram side would have recorded about a conversation, written
/// directly: a voice note's Telegram file, a delivered part, the managers' forwards, a lead
/// notification and the amoCRM link.
async fn integration_rows(pool: &PgPool, tenant: Uuid, bot_user: Uuid, lead: Uuid) {
    let messages = message_ids(pool, bot_user).await;
    let statements = [
        "INSERT INTO telegram_files (tenant_id, message_id, file_id, mime)
         VALUES ($1, $3, 'file-' || $3::text, 'audio/ogg')",
        "INSERT INTO telegram_sent_parts (tenant_id, message_id, part) VALUES ($1, $3, 0)",
        "INSERT INTO manager_forwards (tenant_id, key) VALUES ($1, 'msg:' || $3::text)",
        "INSERT INTO manager_forwards (tenant_id, key) VALUES ($1, 'handoff:' || $2::text || ':1')",
        "INSERT INTO lead_notifications (tenant_id, lead_id, version) VALUES ($1, $4, 1)",
        "INSERT INTO amocrm_links (tenant_id, lead_id, amo_lead_id, synced_version)
         VALUES ($1, $4, 77, 1)",
    ];
    for sql in statements {
        sqlx::query(sql)
            .bind(tenant)
            .bind(bot_user)
            .bind(messages[0])
            .bind(lead)
            .execute(pool)
            .await
            .unwrap();
    }
}

async fn erase(app: &TestApp, token: &str, path: &str) -> reqwest::Response {
    app.client
        .delete(app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

#[sqlx::test]
async fn erasure_leaves_nothing_of_the_customer_and_spares_everyone_else(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let workers = offline_workers(&pool);
    let (receiver, url) = FakeReceiver::start().await;
    let (owner, _) = app.register_ok("owner@stroy.kz", "Stroy").await;
    let a = tenant_of(&pool, "owner@stroy.kz").await;
    add_endpoint(&app, &owner, &url).await;
    let (other, _) = app.register_ok("owner@other.kz", "Other").await;
    let b = tenant_of(&pool, "owner@other.kz").await;

    send_ok(
        &app,
        &owner,
        "alice-1",
        "Здравствуйте, меня зовут Алия. ALIYA-MARKER",
    )
    .await;
    send_ok(
        &app,
        &owner,
        "alice-1",
        "Дом 120 м2 в Алматы, телефон +7 701 123 45 67",
    )
    .await;
    send_ok(
        &app,
        &owner,
        "bob-2",
        "Меня зовут Бекзат, баня 40 м2 в Астане, +7 702 765 43 21",
    )
    .await;
    // Another company's customer with the same channel id and words.
    send_ok(
        &app,
        &other,
        "alice-1",
        "ALIYA-MARKER, дом 90 м2 в Шымкенте",
    )
    .await;
    run_workers_until_idle(&workers, &pool).await;
    assert!(
        !receiver.received().is_empty(),
        "the webhooks were delivered"
    );

    let (alice, alice_lead) = conversation(&pool, a, "alice-1").await;
    let (bob, bob_lead) = conversation(&pool, a, "bob-2").await;
    integration_rows(&pool, a, alice, alice_lead.expect("alice's lead")).await;
    integration_rows(&pool, a, bob, bob_lead.expect("bob's lead")).await;
    // Her voice note is still waiting: its audio is stored, its jobs are queued, and its
    // transcription is running (as a worker's claim leaves it).
    let resp = app.send_voice(&owner, "alice-1", OGG, "voice.ogg").await;
    assert_eq!(resp.status(), 202);
    let (running, old_token): (i64, Uuid) = sqlx::query_as(
        "UPDATE jobs SET state = 'running', attempts = 1, lease_token = gen_random_uuid(),
                lease_until = now() + interval '1 minute', run_at = now() + interval '1 minute'
         WHERE kind = 'transcribe' RETURNING id, lease_token",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    // And a dead notification of her lead, kept for inspection.
    sqlx::query(
        "INSERT INTO jobs (kind, tenant_id, state, attempts, payload, last_error)
         VALUES ('notify_manager', $1, 'dead', 8,
                 jsonb_build_object('tenant_id', $1, 'lead_id', $2, 'version', 1, 'event', 'created'),
                 'gave up')",
    )
    .bind(a)
    .bind(alice_lead)
    .execute(&pool)
    .await
    .unwrap();

    let mut needles = vec![
        alice.to_string(),
        alice_lead.unwrap().to_string(),
        "alice-1".into(),
        "ALIYA-MARKER".into(),
        "+77011234567".into(),
    ];
    needles.extend(message_ids(&pool, alice).await.iter().map(Uuid::to_string));
    needles.extend(webhook_ids(&pool, alice).await);
    let before = rows_mentioning(&pool, a, &needles).await;
    // The set-up reaches every table the erasure must clear, or the check below proves nothing.
    for table in [
        "amocrm_links",
        "bot_users",
        "jobs",
        "lead_notifications",
        "leads",
        "manager_forwards",
        "message_audio",
        "messages",
        "telegram_files",
        "telegram_sent_parts",
        "webhook_attempts",
        "webhook_deliveries",
        "webhook_events",
    ] {
        assert!(
            before.contains_key(table),
            "no {table} row of alice: {before:?}"
        );
    }
    let mut bob_needles = vec![
        bob.to_string(),
        bob_lead.unwrap().to_string(),
        "bob-2".into(),
    ];
    bob_needles.extend(message_ids(&pool, bob).await.iter().map(Uuid::to_string));
    bob_needles.extend(webhook_ids(&pool, bob).await);
    let bob_before = rows_mentioning(&pool, a, &bob_needles).await;
    let other_before = rows_of(&pool, b).await;

    // Who may not: a manager, any API key (all scopes), another company (404 for its customer).
    let manager = app.add_manager("owner@stroy.kz", "manager@stroy.kz").await;
    let resp = erase(&app, &manager, "/api/conversations/alice-1").await;
    assert_eq!(error_code(resp, 403).await, "forbidden");
    let (key, _) = app
        .create_key_ok(
            &owner,
            &["chat:write", "leads:read", "leads:write", "webhooks:manage"],
        )
        .await;
    let resp = erase(&app, &key, "/api/conversations/alice-1").await;
    assert_eq!(error_code(resp, 403).await, "forbidden");
    let resp = erase(&app, &other, "/api/conversations/bob-2").await;
    assert_eq!(error_code(resp, 404).await, "not_found");
    assert_eq!(
        rows_mentioning(&pool, a, &needles).await,
        before,
        "a refusal erased something"
    );

    let resp = erase(&app, &owner, "/api/conversations/alice-1").await;
    assert_eq!(resp.status(), 200);
    let erased: Value = resp.json().await.unwrap();
    assert_eq!(erased["bot_user_id"], alice.to_string());
    assert_eq!(erased["channel"], "api");
    assert_eq!(erased["deleted"]["messages"], before["messages"]);
    assert_eq!(erased["deleted"]["bot_users"], 1);
    assert_eq!(erased["deleted"]["leads"], 1);
    assert_eq!(erased["deleted"]["message_audio"], 1);
    assert_eq!(erased["jobs_revoked"], 1);
    assert!(erased["jobs_cancelled"].as_i64().unwrap() >= 3, "{erased}");

    // Left: the audit record, and the running job, which can no longer write anything.
    let left = rows_mentioning(&pool, a, &needles).await;
    assert_eq!(
        left,
        BTreeMap::from([("audit_log".into(), 1), ("jobs".into(), 1)]),
        "{left:?}"
    );
    let (token, expired): (Uuid, bool) =
        sqlx::query_as("SELECT lease_token, lease_until <= now() FROM jobs WHERE id = $1")
            .bind(running)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_ne!(token, old_token, "the running job kept its lease");
    assert!(expired);
    // Its next run finds nothing, and leaves nothing.
    run_workers_until_idle(&workers, &pool).await;
    let left = rows_mentioning(&pool, a, &needles).await;
    assert_eq!(left, BTreeMap::from([("audit_log".into(), 1)]), "{left:?}");
    let keys: i64 = sqlx::query_scalar("SELECT count(*) FROM job_keys WHERE key LIKE $1")
        .bind(format!("%{alice}%"))
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(keys, 0, "the conversation's job keys are left");

    // The audit record: who, what, the counts, and nothing personal.
    let (action, actor, subject, detail): (String, Uuid, Uuid, Value) = sqlx::query_as(
        "SELECT action, actor_user_id, subject, detail FROM audit_log WHERE tenant_id = $1",
    )
    .bind(a)
    .fetch_one(&pool)
    .await
    .unwrap();
    let owner_id: Uuid = sqlx::query_scalar("SELECT id FROM users WHERE email = 'owner@stroy.kz'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(
        (action.as_str(), actor, subject),
        ("conversation.erased", owner_id, alice)
    );
    assert_eq!(detail["deleted"], erased["deleted"]);
    for personal in ["alice", "ALIYA", "Алия", "7701"] {
        assert!(!detail.to_string().contains(personal), "{detail}");
    }

    // Everyone else is untouched: the other customer, the other company (same channel id).
    assert_eq!(rows_mentioning(&pool, a, &bob_needles).await, bob_before);
    assert_eq!(rows_of(&pool, b).await, other_before);
    let resp = app
        .get("/api/conversations/alice-1/export", Some(&owner))
        .await;
    assert_eq!(error_code(resp, 404).await, "not_found");
    let resp = app
        .get("/api/conversations/alice-1/export", Some(&other))
        .await;
    assert_eq!(resp.status(), 200);
    // And the erased customer may write again: a new conversation from seq 1.
    send_ok(&app, &owner, "alice-1", "Снова здравствуйте").await;
    let seq: i64 = sqlx::query_scalar(
        "SELECT m.seq FROM messages m JOIN bot_users b ON b.id = m.bot_user_id
         WHERE b.tenant_id = $1 AND b.external_id = 'alice-1'",
    )
    .bind(a)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(seq, 1);
}

#[sqlx::test]
async fn a_user_id_on_two_channels_needs_its_channel(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let (owner, _) = app.register_ok("owner@stroy.kz", "Stroy").await;
    let a = tenant_of(&pool, "owner@stroy.kz").await;
    send_ok(&app, &owner, "4242", "Здравствуйте").await;
    sqlx::query(
        "INSERT INTO bot_users (id, tenant_id, channel, external_id, name)
         VALUES ($1, $2, 'telegram', '4242', 'Telegram customer')",
    )
    .bind(Uuid::now_v7())
    .bind(a)
    .execute(&pool)
    .await
    .unwrap();

    let resp = app
        .get("/api/conversations/4242/export", Some(&owner))
        .await;
    assert_eq!(error_code(resp, 409).await, "ambiguous_conversation");
    let resp = erase(&app, &owner, "/api/conversations/4242").await;
    assert_eq!(error_code(resp, 409).await, "ambiguous_conversation");

    let resp = erase(&app, &owner, "/api/conversations/4242?channel=telegram").await;
    assert_eq!(resp.status(), 200);
    let export: Value = app
        .get_json("/api/conversations/4242/export", Some(&owner))
        .await;
    assert_eq!(export["customer"]["channel"], "api");
}

#[sqlx::test]
async fn export_holds_the_customer_the_lead_and_every_message(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let workers = offline_workers(&pool);
    let (owner, _) = app.register_ok("owner@stroy.kz", "Stroy").await;
    let (other, _) = app.register_ok("owner@other.kz", "Other").await;
    send_ok(&app, &owner, "alice-1", "Здравствуйте, меня зовут Алия").await;
    send_ok(
        &app,
        &owner,
        "alice-1",
        "Дом 120 м2 в Алматы, телефон +7 701 123 45 67",
    )
    .await;
    run_workers_until_idle(&workers, &pool).await;

    let resp = app
        .get("/api/conversations/alice-1/export", Some(&owner))
        .await;
    assert_eq!(resp.status(), 200);
    let export: Value = resp.json().await.unwrap();
    let customer = &export["customer"];
    assert_eq!(customer["external_id"], "alice-1");
    assert_eq!(customer["channel"], "api");
    assert_eq!(export["handoff"]["mode"], "bot");
    let lead = &export["lead"];
    assert_eq!(lead["name"], "Алия");
    assert_eq!(lead["phone"], "+77011234567");
    assert_eq!(lead["city"], "almaty");
    assert_eq!(lead["area_m2"], 120.0);
    assert_eq!(lead["status"], "qualified");
    let messages = export["messages"].as_array().unwrap();
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM messages")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(messages.len() as i64, stored);
    assert_eq!(messages[0]["role"], "user");
    assert_eq!(messages[0]["text"], "Здравствуйте, меня зовут Алия");
    assert!(
        messages.iter().any(|m| m["role"] == "assistant"),
        "{messages:?}"
    );
    let seqs: Vec<i64> = messages
        .iter()
        .map(|m| m["seq"].as_i64().unwrap())
        .collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");

    // A key with leads:read may; a manager, a key without it and another company may not.
    let (reader, _) = app.create_key_ok(&owner, &["leads:read"]).await;
    let resp = app
        .get("/api/conversations/alice-1/export", Some(&reader))
        .await;
    assert_eq!(resp.status(), 200);
    let (writer, _) = app
        .create_key_ok(&owner, &["chat:write", "leads:write"])
        .await;
    let resp = app
        .get("/api/conversations/alice-1/export", Some(&writer))
        .await;
    assert_eq!(error_code(resp, 403).await, "forbidden");
    let manager = app.add_manager("owner@stroy.kz", "manager@stroy.kz").await;
    let resp = app
        .get("/api/conversations/alice-1/export", Some(&manager))
        .await;
    assert_eq!(error_code(resp, 403).await, "forbidden");
    let resp = app
        .get("/api/conversations/alice-1/export", Some(&other))
        .await;
    assert_eq!(error_code(resp, 404).await, "not_found");
}

async fn put_retention(app: &TestApp, token: &str, body: Value) -> reqwest::Response {
    app.client
        .put(app.url("/api/settings/retention"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap()
}

#[sqlx::test]
async fn retention_removes_old_messages_and_webhook_logs_but_keeps_the_lead(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let workers = offline_workers(&pool);
    let (_receiver, url) = FakeReceiver::start().await;
    let (owner, _) = app.register_ok("owner@stroy.kz", "Stroy").await;
    let a = tenant_of(&pool, "owner@stroy.kz").await;
    add_endpoint(&app, &owner, &url).await;
    let (other, _) = app.register_ok("owner@other.kz", "Other").await;

    // The setting: the owner's, 1–3650 days or null.
    let settings: Value = app.get_json("/api/settings/retention", Some(&owner)).await;
    assert_eq!(settings, json!({"retention_days": null}));
    let manager = app.add_manager("owner@stroy.kz", "manager@stroy.kz").await;
    let resp = put_retention(&app, &manager, json!({"retention_days": 30})).await;
    assert_eq!(error_code(resp, 403).await, "forbidden");
    for refused in [json!(0), json!(3651), json!("30"), json!(1.5)] {
        let resp = put_retention(&app, &owner, json!({ "retention_days": refused })).await;
        assert_eq!(resp.status(), 422, "{refused}");
    }
    let resp = put_retention(&app, &owner, json!({"retention_days": 30})).await;
    assert_eq!(resp.status(), 200);
    let settings: Value = app.get_json("/api/settings/retention", Some(&owner)).await;
    assert_eq!(settings, json!({"retention_days": 30}));

    send_ok(&app, &owner, "alice-1", "Здравствуйте, меня зовут Алия").await;
    send_ok(
        &app,
        &owner,
        "alice-1",
        "Дом 120 м2 в Алматы, телефон +7 701 123 45 67",
    )
    .await;
    send_ok(&app, &other, "bob-2", "Баня 40 м2 в Астане").await;
    run_workers_until_idle(&workers, &pool).await;
    let lead_id: Uuid = sqlx::query_scalar("SELECT id FROM leads WHERE tenant_id = $1")
        .bind(a)
        .fetch_one(&pool)
        .await
        .unwrap();
    let lead_before: Value = app
        .get_json(&format!("/api/leads/{lead_id}"), Some(&owner))
        .await;
    // A message still in the pipeline when the pass runs: the next turn's input.
    send_ok(&app, &owner, "alice-1", "И ещё баня").await;
    let count = |sql: &'static str| {
        let pool = pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>(sql)
                .bind(a)
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    let messages = count("SELECT count(*) FROM messages WHERE tenant_id = $1").await;
    let finished_events = count(
        "SELECT count(*) FROM webhook_events e WHERE tenant_id = $1 AND NOT EXISTS
           (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = e.id AND d.state = 'pending')",
    )
    .await;
    let attempts = count("SELECT count(*) FROM webhook_attempts WHERE tenant_id = $1").await;
    let last_seq = count("SELECT last_seq FROM bot_users WHERE tenant_id = $1").await;
    let other_messages = count("SELECT count(*) FROM messages WHERE tenant_id <> $1").await;
    assert!(
        finished_events >= 3 && attempts >= 3,
        "{finished_events} {attempts}"
    );

    // As the worker runs it: the service's role, under the policies, tenant by tenant.
    let worker_pool = service(&pool);
    let pass =
        salesbot::db::lifecycle::retention_pass(&worker_pool, Utc::now() + Duration::days(29))
            .await
            .unwrap();
    assert!(pass.is_empty(), "{pass:?}");
    let pass =
        salesbot::db::lifecycle::retention_pass(&worker_pool, Utc::now() + Duration::days(31))
            .await
            .unwrap();
    assert_eq!(pass.messages as i64, messages - 1);
    assert_eq!(pass.webhook_events as i64, finished_events);
    assert_eq!(pass.webhook_attempts as i64, attempts);
    assert!(pass.webhook_deliveries as i64 >= finished_events);

    let left: Vec<(i64, String)> =
        sqlx::query_as("SELECT seq, content FROM messages WHERE tenant_id = $1")
            .bind(a)
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(left, [(last_seq, "И ещё баня".to_owned())]);
    assert_eq!(
        count("SELECT count(*) FROM webhook_attempts WHERE tenant_id = $1").await,
        0
    );
    assert_eq!(
        count("SELECT count(*) FROM messages WHERE tenant_id <> $1").await,
        other_messages,
        "a company without a retention period lost messages"
    );
    // The lead keeps every field.
    let mut lead_after: Value = app
        .get_json(&format!("/api/leads/{lead_id}"), Some(&owner))
        .await;
    let mut lead_before = lead_before;
    lead_before.as_object_mut().unwrap().remove("conversation");
    lead_after.as_object_mut().unwrap().remove("conversation");
    assert_eq!(lead_after, lead_before);
    assert_eq!(lead_after["phone"], "+77011234567");

    // The conversation goes on from its last seq: the waiting message is answered, new ones
    // follow, and no seq repeats.
    run_workers_until_idle(&workers, &pool).await;
    send_ok(&app, &owner, "alice-1", "Когда сможете приехать?").await;
    run_workers_until_idle(&workers, &pool).await;
    let seqs: Vec<i64> =
        sqlx::query_scalar("SELECT seq FROM messages WHERE tenant_id = $1 ORDER BY seq")
            .bind(a)
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(seqs, (last_seq..last_seq + 4).collect::<Vec<_>>());
    assert_eq!(
        count("SELECT last_seq FROM bot_users WHERE tenant_id = $1").await,
        last_seq + 3
    );
}

/// A customer, the speech-to-text the workers have, and the transcript status it ends in.
type Case = (&'static str, Option<Arc<dyn Transcriber>>, &'static str);

/// Speech-to-text that refuses the audio for good.
struct RefusingTranscriber;

impl Transcriber for RefusingTranscriber {
    fn model(&self) -> &str {
        "refusing-transcriber"
    }

    fn transcribe<'a>(
        &'a self,
        _audio: &'a [u8],
        _mime: &'a str,
        _file_name: &'a str,
        _language_hint: Option<Language>,
    ) -> TranscribeFuture<'a> {
        Box::pin(async { Err(TranscribeError::Fatal("unsupported audio".into())) })
    }
}

#[sqlx::test]
async fn a_voice_notes_audio_is_deleted_once_transcription_is_done_or_given_up(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let (owner, _) = app.register_ok("owner@stroy.kz", "Stroy").await;
    let hears: Arc<dyn Transcriber> = Arc::new(FakeTranscriber {
        calls: Mutex::new(Vec::new()),
        text: "Дом 120 квадратов".into(),
    });
    let cases: [Case; 3] = [
        ("heard", Some(hears), "done"),
        ("refused", Some(Arc::new(RefusingTranscriber)), "failed"),
        // The default build: no speech-to-text at all.
        ("offline", None, "unavailable"),
    ];
    for (customer, transcriber, status) in cases {
        let workers = pipeline_workers(&pool, deps(transcriber, Arc::new(OfflineEngine::new())));
        let resp = app.send_voice(&owner, customer, OGG, "voice.ogg").await;
        assert_eq!(resp.status(), 202);
        let audio = "SELECT count(*) FROM message_audio a JOIN messages m ON m.id = a.message_id
                     JOIN bot_users b ON b.id = m.bot_user_id WHERE b.external_id = $1";
        let stored: i64 = sqlx::query_scalar(audio)
            .bind(customer)
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(
            stored, 1,
            "{customer}: the audio is stored until transcription"
        );
        run_workers_until_idle(&workers, &pool).await;
        let (transcript_status,): (String,) = sqlx::query_as(
            "SELECT m.transcript_status FROM messages m JOIN bot_users b ON b.id = m.bot_user_id
             WHERE b.external_id = $1 AND m.kind = 'voice'",
        )
        .bind(customer)
        .fetch_one(&pool)
        .await
        .unwrap();
        assert_eq!(transcript_status, status, "{customer}");
        let kept: i64 = sqlx::query_scalar(audio)
            .bind(customer)
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(kept, 0, "{customer}: the audio outlived its transcription");
    }
}

/// The dashboard's forms: the owner exports and erases from the conversation's page (the erasure
/// only with the customer's id typed), and sets the retention period in settings; a manager can
/// do neither.
#[sqlx::test]
async fn the_owner_exports_erases_and_sets_retention_on_the_dashboard(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let (owner, _) = app.register_ok("owner@stroy.kz", "Stroy").await;
    let a = tenant_of(&pool, "owner@stroy.kz").await;
    send_ok(&app, &owner, "alice-1", "Дом 120 м2 в Алматы").await;
    run_workers_until_idle(&offline_workers(&pool), &pool).await;
    let (alice, _) = conversation(&pool, a, "alice-1").await;
    app.add_manager("owner@stroy.kz", "manager@stroy.kz").await;
    let session = crate::dashboard::form_session(&app, "owner@stroy.kz").await;
    let manager = crate::dashboard::form_session(&app, "manager@stroy.kz").await;
    let csrf = |session: &str| {
        session
            .split("; ")
            .find_map(|c| c.strip_prefix("salesbot_csrf="))
            .unwrap()
            .to_owned()
    };
    let get = |path: String, cookie: String| {
        let app = &app;
        async move {
            app.client
                .get(app.url(&path))
                .header("cookie", cookie)
                .send()
                .await
                .unwrap()
        }
    };
    let post = |path: String, cookie: String, form: Vec<(&'static str, String)>| {
        let app = &app;
        async move {
            app.client
                .post(app.url(&path))
                .header("cookie", cookie)
                .form(&form)
                .send()
                .await
                .unwrap()
        }
    };
    let bot_users = || async {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM bot_users")
            .fetch_one(&pool)
            .await
            .unwrap()
    };
    let page = format!("/conversations/{alice}");

    let html = get(page.clone(), session.clone())
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains(r#"id="erase-form""#) && html.contains(r#"id="export""#));
    let html = get(page.clone(), manager.clone())
        .await
        .text()
        .await
        .unwrap();
    assert!(
        !html.contains(r#"id="erase-form""#),
        "a manager is offered the erasure"
    );

    let resp = get(format!("{page}/export"), session.clone()).await;
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment")
    );
    let export: Value = resp.json().await.unwrap();
    assert_eq!(export["customer"]["external_id"], "alice-1");
    let resp = get(format!("{page}/export"), manager.clone()).await;
    assert_eq!(resp.status(), 403);

    // Refused: no token, a manager, the wrong id typed. Nothing is erased.
    let erase_path = format!("{page}/erase");
    let resp = post(
        erase_path.clone(),
        session.clone(),
        vec![("confirm", "alice-1".into())],
    )
    .await;
    assert_eq!(resp.status(), 403);
    let resp = post(
        erase_path.clone(),
        manager.clone(),
        vec![("csrf", csrf(&manager)), ("confirm", "alice-1".into())],
    )
    .await;
    assert_eq!(resp.status(), 403);
    let resp = post(
        erase_path.clone(),
        session.clone(),
        vec![("csrf", csrf(&session)), ("confirm", "alice".into())],
    )
    .await;
    assert_eq!(resp.status(), 303);
    assert_eq!(
        resp.headers()["location"],
        format!("{page}?error=err_erase_confirm").as_str()
    );
    assert_eq!(bot_users().await, 1);

    let resp = post(
        erase_path,
        session.clone(),
        vec![("csrf", csrf(&session)), ("confirm", "alice-1".into())],
    )
    .await;
    assert_eq!(resp.status(), 303);
    assert_eq!(resp.headers()["location"], "/conversations?erased=1");
    assert_eq!(bot_users().await, 0);
    let html = get("/conversations?erased=1".into(), session.clone())
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains(r#"id="erased""#));

    // The retention period: a number of days, empty for forever, refused beside the form.
    let retention = || async {
        sqlx::query_scalar::<_, Option<i32>>("SELECT retention_days FROM tenants WHERE id = $1")
            .bind(a)
            .fetch_one(&pool)
            .await
            .unwrap()
    };
    let form = |days: &str| {
        vec![
            ("csrf", csrf(&session)),
            ("retention_days", days.to_owned()),
        ]
    };
    let resp = post("/settings/retention".into(), session.clone(), form("45")).await;
    assert_eq!(resp.status(), 303);
    assert_eq!(retention().await, Some(45));
    let resp = post("/settings/retention".into(), session.clone(), form("0")).await;
    assert_eq!(resp.status(), 422);
    assert_eq!(retention().await, Some(45));
    let resp = post("/settings/retention".into(), session.clone(), form("")).await;
    assert_eq!(resp.status(), 303);
    assert_eq!(retention().await, None);
    let html = get("/settings".into(), session.clone())
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains(r#"id="retention_days""#));
}
