//! Webhook deliveries ([E2]): the events a conversation makes reach a tenant's endpoint signed (the
//! Standard Webhooks reference library verifies what the service really sent), in order, with
//! payloads that read back with the documented types; a receiver that is down gets the retry
//! schedule and one success; an endpoint failing too long is disabled and the tenant's other
//! endpoints told; failed deliveries are sent again on request with the same `webhook-id`.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use reqwest::Method;
use salesbot::domain::webhook_payload::{
    EndpointStatus, LeadChanged, MessageReceived, ReplyCreated, WebhookEvent, WebhookLead,
};
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::fakes::{FakeReceiver, Received};
use crate::helpers::{
    TestApp, accepted_id, error_code, offline_workers, run_workers_until_idle, spawn_app,
};
use crate::jobs::{assert_same_contract, stored_jobs};
use crate::webhooks::verify_with_reference_library;

impl TestApp {
    /// Creates an endpoint and returns (its id, its secret).
    async fn endpoint(&self, owner: &str, url: &str, events: &[&str]) -> (String, String) {
        let resp = self
            .webhook_request(
                Method::POST,
                "/api/webhooks",
                owner,
                Some(json!({"url": url, "events": events})),
            )
            .await;
        assert_eq!(resp.status(), 201);
        let body: Value = resp.json().await.unwrap();
        (
            body["id"].as_str().unwrap().to_owned(),
            body["secret"].as_str().unwrap().to_owned(),
        )
    }

    async fn edit_lead_name(&self, owner: &str, lead: &str, name: &str) {
        let resp = self
            .client
            .patch(self.url(&format!("/api/leads/{lead}")))
            .bearer_auth(owner)
            .json(&json!({ "name": name }))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
    }

    async fn deliveries(&self, owner: &str, endpoint: &str) -> Vec<Value> {
        let resp = self
            .webhook_request(
                Method::GET,
                &format!("/api/webhooks/{endpoint}/deliveries"),
                owner,
                None,
            )
            .await;
        assert_eq!(resp.status(), 200);
        let body: Value = resp.json().await.unwrap();
        body["deliveries"].as_array().unwrap().clone()
    }
}

fn event(received: &Received) -> WebhookEvent {
    serde_json::from_str(&received.body).expect("a delivery's body is a WebhookEvent")
}

fn types(received: &[Received]) -> Vec<String> {
    received
        .iter()
        .map(|r| event(r).event_type.to_string())
        .collect()
}

/// Retried webhook jobs waiting out their pause become due now: the test moves the clock, it does
/// not wait.
async fn make_retries_due(pool: &PgPool) {
    sqlx::query("UPDATE jobs SET run_at = now() WHERE kind = 'webhook' AND state = 'available'")
        .execute(pool)
        .await
        .unwrap();
}

/// The reference library verifies each request as the receiver got it with `secret`.
fn verified(received: &[Received], secret: &str) -> Vec<String> {
    let cases: Vec<Value> = received
        .iter()
        .map(|r| {
            json!({"secret": secret, "id": r.webhook_id, "timestamp": r.timestamp.parse::<i64>().unwrap(),
                   "body": r.body, "signature": r.signature})
        })
        .collect();
    verify_with_reference_library(&Value::Array(cases))
}

#[sqlx::test]
async fn a_conversations_events_reach_the_endpoint_signed_in_order(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let workers = offline_workers(&pool);
    let (receiver, url) = FakeReceiver::start().await;
    let (owner, _) = app.register_ok("owner@stroy.kz", "Stroy").await;
    let all = [
        "message.received",
        "reply.created",
        "lead.created",
        "lead.updated",
        "lead.qualified",
        "message.failed",
    ];
    let (endpoint, secret) = app.endpoint(&owner, &url, &all).await;

    let message = accepted_id(
        app.send_text(
            &owner,
            "client_77",
            "Здравствуйте! Меня зовут Ерлан, дом 120 м² в Алматы, телефон 8 701 234 56 78",
        )
        .await,
    )
    .await;
    // The message's event was written with the message, its job with the contract's key.
    let jobs = stored_jobs(&pool).await;
    assert!(jobs.iter().any(|j| j.kind == "webhook"));
    assert_same_contract(&jobs);
    run_workers_until_idle(&workers, &pool).await;

    let received = receiver.received();
    let kinds = types(&received);
    assert_eq!(kinds[0], "message.received");
    assert_eq!(kinds[1], "lead.created", "{kinds:?}");
    assert_eq!(kinds.last().unwrap(), "reply.created", "{kinds:?}");
    assert!(!kinds.contains(&"message.failed".to_owned()));

    // Every request verifies with the reference library; a body changed on the way does not.
    assert!(verified(&received, &secret).iter().all(|v| v == "ok"));
    let mut tampered = received[0].clone();
    tampered.body = tampered.body.replace("Ерлан", "Ерлан (скидка 50%)");
    assert_eq!(verified(&[tampered], &secret), ["WebhookVerificationError"]);
    // One event, one id.
    let ids: HashSet<_> = received.iter().map(|r| r.webhook_id.clone()).collect();
    assert_eq!(ids.len(), received.len());

    // The payloads read back with their documented types.
    let first = event(&received[0]);
    assert_eq!(first.version, 1);
    let got: MessageReceived = serde_json::from_value(first.data).unwrap();
    assert_eq!(got.message_id.to_string(), message);
    assert_eq!(got.user_id, "client_77");
    assert_eq!(got.channel, "api");
    assert!(got.text.unwrap().contains("Ерлан"));

    let reply: ReplyCreated = serde_json::from_value(event(received.last().unwrap()).data).unwrap();
    assert_eq!(reply.in_reply_to.len(), 1);
    assert_eq!(reply.in_reply_to[0].to_string(), message);
    assert_eq!(reply.author, "bot");
    assert_eq!(reply.user_id, "client_77");
    let status: Value = app
        .get_json(&format!("/api/messages/{message}"), Some(&owner))
        .await;
    assert_eq!(reply.text, status["reply"]["content"].as_str().unwrap());
    assert_eq!(
        reply.message_id.to_string(),
        status["reply"]["id"].as_str().unwrap()
    );

    // The lead a reply carries is the API's lead, plus its version.
    let lead = reply.lead.expect("the turn made a lead");
    let mut api_lead: Value = app
        .get_json(&format!("/api/leads/{}", lead.id), Some(&owner))
        .await;
    // Beside the lead, the API shows its conversation.
    api_lead.as_object_mut().unwrap().remove("conversation");
    api_lead["version"] = json!(lead.version);
    let api_lead: WebhookLead = serde_json::from_value(api_lead).unwrap();
    assert_eq!(lead, api_lead);
    assert_eq!(lead.name.as_deref(), Some("Ерлан"));
    let created: LeadChanged = serde_json::from_value(event(&received[1]).data).unwrap();
    assert_eq!(created.lead.id, lead.id);

    // A manager's change of the lead is an event too.
    let resp = app
        .client
        .patch(app.url(&format!("/api/leads/{}", lead.id)))
        .bearer_auth(&owner)
        .json(&json!({"status": "in_work"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    run_workers_until_idle(&workers, &pool).await;
    let last = receiver.received().last().cloned().unwrap();
    let updated = event(&last);
    assert_eq!(updated.event_type.to_string(), "lead.updated");
    let updated: LeadChanged = serde_json::from_value(updated.data).unwrap();
    assert_eq!(updated.lead.status.as_str(), "in_work");
    assert_eq!(updated.lead.version, lead.version + 1);

    // The deliveries list shows each one succeeded at the first attempt, under the id it was sent
    // with.
    let sent: HashSet<_> = receiver
        .received()
        .into_iter()
        .map(|r| r.webhook_id)
        .collect();
    let deliveries = app.deliveries(&owner, &endpoint).await;
    assert_eq!(deliveries.len(), sent.len());
    for d in &deliveries {
        assert_eq!(d["state"], "succeeded", "{d}");
        assert_eq!(d["attempts"], 1);
        assert_eq!(d["attempt_log"][0]["status_code"], 200);
        assert_eq!(d["attempt_log"][0]["response_body"], "receiver says 200");
        assert!(sent.contains(d["event_id"].as_str().unwrap()));
    }

    // After a rotation both secrets sign, so a receiver still holding the old one verifies.
    let resp = app
        .webhook_request(
            Method::POST,
            &format!("/api/webhooks/{endpoint}/rotate-secret"),
            &owner,
            None,
        )
        .await;
    let rotated: Value = resp.json().await.unwrap();
    let new_secret = rotated["secret"].as_str().unwrap().to_owned();
    app.edit_lead_name(&owner, &lead.id.to_string(), "Ерлан Сейткали")
        .await;
    run_workers_until_idle(&workers, &pool).await;
    let last = receiver.received().last().cloned().unwrap();
    assert_eq!(last.signature.split(' ').count(), 2, "{}", last.signature);
    assert_eq!(verified(std::slice::from_ref(&last), &secret), ["ok"]);
    assert_eq!(verified(&[last], &new_secret), ["ok"]);
}

#[sqlx::test]
async fn a_receiver_that_is_down_gets_the_retry_schedule_then_one_success(pool: PgPool) {
    // The process's recorder, installed before the attempts count.
    salesbot::metrics::handle();
    let app = spawn_app(pool.clone()).await;
    let workers = offline_workers(&pool);
    let (receiver, url) = FakeReceiver::start().await;
    let (owner, _) = app.register_ok("owner@stroy.kz", "Stroy").await;
    let (endpoint, _) = app.endpoint(&owner, &url, &["reply.created"]).await;
    receiver.then_answer(503);
    receiver.then_answer(500);

    app.send_text(&owner, "client_1", "Сколько стоит баня 30 м²?")
        .await;
    run_workers_until_idle(&workers, &pool).await;
    assert_eq!(receiver.received().len(), 1);
    let pending = &app.deliveries(&owner, &endpoint).await[0];
    assert_eq!(pending["state"], "pending");
    assert_eq!(pending["last_status"], 503);
    // The next attempt is due after the schedule's first pause (200 ms in the tests' settings).
    let at = |field: &str| {
        pending[field]
            .as_str()
            .unwrap()
            .parse::<DateTime<Utc>>()
            .unwrap()
    };
    let pause = at("next_attempt_at") - at("last_attempt_at");
    assert!(pause >= chrono::TimeDelta::milliseconds(200), "{pause}");

    make_retries_due(&pool).await;
    run_workers_until_idle(&workers, &pool).await;
    make_retries_due(&pool).await;
    run_workers_until_idle(&workers, &pool).await;

    let received = receiver.received();
    assert_eq!(received.len(), 3);
    // One event: the same id and body on every attempt.
    assert!(
        received
            .iter()
            .all(|r| r.webhook_id == received[0].webhook_id)
    );
    assert!(received.iter().all(|r| r.body == received[0].body));
    let delivery = &app.deliveries(&owner, &endpoint).await[0];
    assert_eq!(delivery["state"], "succeeded");
    let statuses: Vec<_> = delivery["attempt_log"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["status_code"].as_i64().unwrap())
        .collect();
    assert_eq!(statuses, [503, 500, 200]);
    let metrics = salesbot::metrics::render();
    for outcome in ["retried", "succeeded"] {
        let series = format!(
            "salesbot_webhook_attempts_total{{event=\"reply.created\",outcome=\"{outcome}\"}}"
        );
        assert!(metrics.contains(&series), "{series} missing");
    }
    assert!(metrics.contains("salesbot_webhook_attempt_duration_seconds_bucket"));
    // Nothing left to send.
    make_retries_due(&pool).await;
    run_workers_until_idle(&workers, &pool).await;
    assert_eq!(receiver.received().len(), 3);
}

#[sqlx::test]
async fn a_failing_endpoint_is_disabled_the_tenant_told_and_its_failures_sent_again(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let workers = offline_workers(&pool);
    let (crm, crm_url) = FakeReceiver::start().await;
    let (ops, ops_url) = FakeReceiver::start().await;
    let (owner, _) = app.register_ok("owner@stroy.kz", "Stroy").await;
    let (crm_id, _) = app.endpoint(&owner, &crm_url, &["reply.created"]).await;
    let (_, _) = app
        .endpoint(
            &owner,
            &ops_url,
            &["endpoint.disabled", "endpoint.recovered"],
        )
        .await;
    let run_out_the_schedule = || async {
        run_workers_until_idle(&workers, &pool).await;
        for _ in 0..2 {
            make_retries_due(&pool).await;
            run_workers_until_idle(&workers, &pool).await;
        }
    };

    // Every attempt of a delivery fails: it has failed, and the endpoint is failing since then.
    crm.answer_otherwise(500);
    app.send_text(&owner, "client_1", "Дом в Астане").await;
    run_out_the_schedule().await;
    assert_eq!(crm.received().len(), 3);
    let first = &app.deliveries(&owner, &crm_id).await[0];
    assert_eq!(first["state"], "failed");
    assert_eq!(first["attempts"], 3);
    let endpoint: Value = app
        .get_json(&format!("/api/webhooks/{crm_id}"), Some(&owner))
        .await;
    assert!(endpoint["failing_since"].is_string());
    assert_eq!(endpoint["enabled"], true);

    // It answers again: recovered, and the ops endpoint hears of it.
    crm.answer_otherwise(200);
    app.send_text(&owner, "client_2", "Баня 30 м²").await;
    run_out_the_schedule().await;
    let told = ops.received();
    assert_eq!(types(&told), ["endpoint.recovered"]);
    let recovered: EndpointStatus = serde_json::from_value(event(&told[0]).data).unwrap();
    assert_eq!(recovered.endpoint_id.to_string(), crm_id);

    // Failing again, and for longer than WEBHOOK_DISABLE_AFTER (the test moves the start of the
    // failure six days back): disabled, and the ops endpoint told why.
    crm.answer_otherwise(500);
    let since = Utc::now();
    app.send_text(&owner, "client_3", "Коттедж 200 м²").await;
    run_workers_until_idle(&workers, &pool).await;
    sqlx::query(
        "UPDATE webhook_endpoints SET failing_since = now() - interval '6 days' WHERE id = $1::uuid",
    )
    .bind(&crm_id)
    .execute(&pool)
    .await
    .unwrap();
    for _ in 0..2 {
        make_retries_due(&pool).await;
        run_workers_until_idle(&workers, &pool).await;
    }
    let endpoint: Value = app
        .get_json(&format!("/api/webhooks/{crm_id}"), Some(&owner))
        .await;
    assert_eq!(endpoint["enabled"], false);
    assert!(endpoint["disabled_at"].is_string());
    assert!(
        endpoint["disabled_reason"]
            .as_str()
            .unwrap()
            .contains("failed")
    );
    let told = ops.received();
    assert_eq!(types(&told), ["endpoint.recovered", "endpoint.disabled"]);
    let disabled: EndpointStatus = serde_json::from_value(event(&told[1]).data).unwrap();
    assert_eq!(disabled.endpoint_id.to_string(), crm_id);
    assert!(disabled.reason.is_some());

    // A disabled endpoint gets no new events, and cannot be redelivered to.
    let before = crm.received().len();
    app.send_text(&owner, "client_4", "Ещё вопрос").await;
    run_workers_until_idle(&workers, &pool).await;
    assert_eq!(crm.received().len(), before);
    let failed = app.deliveries(&owner, &crm_id).await[0].clone();
    assert_eq!(failed["state"], "failed");
    let redeliver = format!(
        "/api/webhooks/{crm_id}/deliveries/{}/redeliver",
        failed["id"].as_str().unwrap()
    );
    let resp = app
        .webhook_request(Method::POST, &redeliver, &owner, None)
        .await;
    assert_eq!(error_code(resp, 409).await, "endpoint_disabled");

    // Enabled again and fixed: the failures since T are sent again, under their own ids.
    crm.answer_otherwise(200);
    let resp = app
        .webhook_request(
            Method::PATCH,
            &format!("/api/webhooks/{crm_id}"),
            &owner,
            Some(json!({"enabled": true})),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let endpoint: Value = resp.json().await.unwrap();
    assert!(endpoint["disabled_at"].is_null());
    let resp = app
        .webhook_request(
            Method::POST,
            &format!("/api/webhooks/{crm_id}/recover"),
            &owner,
            Some(json!({"since": since.to_rfc3339()})),
        )
        .await;
    assert_eq!(resp.status(), 202);
    assert_eq!(resp.json::<Value>().await.unwrap()["deliveries"], 1);
    run_workers_until_idle(&workers, &pool).await;
    let last = crm.received().last().cloned().unwrap();
    assert_eq!(last.webhook_id, failed["event_id"].as_str().unwrap());
    let resent = &app.deliveries(&owner, &crm_id).await[0];
    assert_eq!(resent["state"], "succeeded");
    assert_eq!(resent["attempts"], 4);

    // One delivery at a time too; a delivery already sent has nothing pending.
    let resp = app
        .webhook_request(Method::POST, &redeliver, &owner, None)
        .await;
    assert_eq!(resp.status(), 202);
    run_workers_until_idle(&workers, &pool).await;
    assert_eq!(crm.received().last().unwrap().webhook_id, last.webhook_id);

    // Another company sees none of it; a key without webhooks:manage neither.
    let (stranger, _) = app.register_ok("other@beton.kz", "Beton").await;
    for (method, path) in [
        (Method::GET, format!("/api/webhooks/{crm_id}/deliveries")),
        (Method::POST, redeliver.clone()),
    ] {
        let resp = app.webhook_request(method, &path, &stranger, None).await;
        assert_eq!(resp.status(), 404, "{path}");
    }
    let (key, _) = app.create_key_ok(&owner, &["leads:read"]).await;
    let resp = app
        .webhook_request(
            Method::GET,
            &format!("/api/webhooks/{crm_id}/deliveries"),
            &key,
            None,
        )
        .await;
    assert_eq!(resp.status(), 403);
}

#[sqlx::test]
async fn a_url_that_resolves_to_a_private_address_at_send_time_is_not_sent_to(pool: PgPool) {
    // The endpoint was saved while its host was allowed (the app allows loopback); the worker,
    // which does not, checks again when it sends, as it would after a DNS rebinding.
    let app = spawn_app(pool.clone()).await;
    let mut strict = crate::helpers::test_config();
    strict.webhook_delivery.allow_private = false;
    let deps = salesbot::workers::pipeline::Deps {
        webhooks: Some(salesbot::workers::webhooks(&strict)),
        ..crate::helpers::deps(
            None,
            std::sync::Arc::new(salesbot::workers::engine::OfflineEngine::new()),
        )
    };
    let workers = crate::helpers::pipeline_workers(&pool, deps);
    let (receiver, url) = FakeReceiver::start().await;
    let (owner, _) = app.register_ok("owner@stroy.kz", "Stroy").await;
    let (endpoint, _) = app.endpoint(&owner, &url, &["message.received"]).await;

    app.send_text(&owner, "client_1", "Дом в Алматы").await;
    run_workers_until_idle(&workers, &pool).await;
    assert!(receiver.received().is_empty());
    let delivery = &app.deliveries(&owner, &endpoint).await[0];
    assert_eq!(delivery["attempts"], 1);
    assert!(delivery["attempt_log"][0]["status_code"].is_null());
    let error = delivery["attempt_log"][0]["error"].as_str().unwrap();
    assert!(
        error.contains("127.0.0.1") && error.contains("not a public address"),
        "{error}"
    );
}

#[sqlx::test]
async fn an_endpoints_rate_limit_defers_deliveries_without_spending_attempts(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let workers = offline_workers(&pool);
    let (receiver, url) = FakeReceiver::start().await;
    let (owner, _) = app.register_ok("owner@stroy.kz", "Stroy").await;
    let (endpoint, _) = app.endpoint(&owner, &url, &["message.received"]).await;
    let resp = app
        .webhook_request(
            Method::PATCH,
            &format!("/api/webhooks/{endpoint}"),
            &owner,
            Some(json!({"rate_limit_per_second": 1})),
        )
        .await;
    assert_eq!(
        resp.json::<Value>().await.unwrap()["rate_limit_per_second"],
        1
    );

    // Three conversations' events, due together: one goes now, the others wait their turn.
    for user in ["client_1", "client_2", "client_3"] {
        app.send_text(&owner, user, "Дом в Алматы").await;
    }
    let report = workers.run_once().await.unwrap();
    assert!(report.deferred >= 2, "{report:?}");
    assert_eq!(receiver.received().len(), 1);
    let deliveries = app.deliveries(&owner, &endpoint).await;
    let waiting: Vec<_> = deliveries
        .iter()
        .filter(|d| d["state"] == "pending")
        .collect();
    assert_eq!(waiting.len(), 2);
    assert!(waiting.iter().all(|d| d["attempts"] == 0));
}

#[sqlx::test]
async fn a_company_without_endpoints_stores_no_events(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let workers = offline_workers(&pool);
    let (owner, _) = app.register_ok("owner@stroy.kz", "Stroy").await;
    app.send_text(&owner, "client_1", "Меня зовут Ерлан, дом 120 м² в Алматы")
        .await;
    run_workers_until_idle(&workers, &pool).await;
    let stored: i64 = sqlx::query_scalar(
        "SELECT (SELECT count(*) FROM webhook_events) + (SELECT count(*) FROM jobs WHERE kind = 'webhook')",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(stored, 0);
    let leads: i64 = sqlx::query_scalar("SELECT count(*) FROM leads")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(leads, 1, "the conversation did run");
}

#[sqlx::test]
async fn a_dead_turn_tells_the_endpoint_which_messages_failed(pool: PgPool) {
    struct Broken;
    impl salesbot::workers::engine::Engine for Broken {
        fn name(&self) -> &'static str {
            "broken"
        }
        fn turn<'a>(
            &'a self,
            _: &'a salesbot::workers::engine::TurnInput,
        ) -> salesbot::workers::engine::EngineFuture<'a> {
            Box::pin(async {
                Err(salesbot::workers::engine::EngineError::Retryable {
                    message: "upstream 503".into(),
                })
            })
        }
    }
    let app = spawn_app(pool.clone()).await;
    let (receiver, url) = FakeReceiver::start().await;
    let (owner, _) = app.register_ok("owner@stroy.kz", "Stroy").await;
    app.endpoint(&owner, &url, &["reply.created", "message.failed"])
        .await;
    let message = accepted_id(app.send_text(&owner, "client_d", "Нужен склад").await).await;
    sqlx::query("UPDATE jobs SET max_attempts = 1")
        .execute(&pool)
        .await
        .unwrap();
    let mut broken = crate::helpers::deps(None, std::sync::Arc::new(Broken));
    broken.fallback = std::sync::Arc::new(Broken);
    let workers = crate::helpers::pipeline_workers(&pool, broken);
    run_workers_until_idle(&workers, &pool).await;

    let received = receiver.received();
    assert_eq!(types(&received), ["reply.created", "message.failed"]);
    let reply: ReplyCreated = serde_json::from_value(event(&received[0]).data).unwrap();
    let failed: salesbot::domain::webhook_payload::MessageFailed =
        serde_json::from_value(event(&received[1]).data).unwrap();
    assert_eq!(failed.message_ids.len(), 1);
    assert_eq!(failed.message_ids[0].to_string(), message);
    assert_eq!(failed.reply_id, reply.message_id);
    assert_eq!(failed.user_id, "client_d");
    assert_eq!(failed.channel, "api");
}
