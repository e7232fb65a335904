//! amoCRM ([E2]): a company that connects its amoCRM gets each lead created there once with its
//! contact and updated on every change, within amoCRM's request rate; a 429 is waited out, and a
//! refused token flags the connection until a new one is saved. Against a fake amoCRM API v4.

use std::sync::Arc;

use salesbot::workers::WorkerPool;
use salesbot::workers::engine::OfflineEngine;
use salesbot::workers::pipeline::Deps;
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::fakes::{AmoCall, FakeAmo};
use crate::helpers::{
    TestApp, deps, error_code, pipeline_workers, run_workers_until_idle, spawn_app, test_config,
};
use crate::jobs::{assert_same_contract, stored_jobs};

/// The pipeline's workers, syncing to the fake amoCRM at `base`.
fn workers_syncing_to(pool: &PgPool, base: &str) -> WorkerPool {
    let mut config = test_config();
    config.amocrm_api_base = Some(base.to_owned());
    let deps = Deps {
        crm: Some(salesbot::workers::crm(&config)),
        ..deps(None, Arc::new(OfflineEngine::new()))
    };
    pipeline_workers(pool, deps)
}

impl TestApp {
    async fn connect_amocrm(&self, owner: &str, token: &str) -> reqwest::Response {
        self.client
            .put(self.url("/api/settings/amocrm"))
            .bearer_auth(owner)
            .json(&json!({"base_domain": "stroy.amocrm.ru", "access_token": token}))
            .send()
            .await
            .unwrap()
    }

    async fn edit_lead(&self, owner: &str, lead: &str, edit: Value) {
        let resp = self
            .client
            .patch(self.url(&format!("/api/leads/{lead}")))
            .bearer_auth(owner)
            .json(&edit)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
    }
}

fn creates(calls: &[AmoCall]) -> Vec<&AmoCall> {
    calls
        .iter()
        .filter(|c| c.path == "/api/v4/leads/complex")
        .collect()
}

async fn only_lead(app: &TestApp, owner: &str) -> String {
    let leads: Value = app.get_json("/api/leads", Some(owner)).await;
    assert_eq!(leads.as_array().unwrap().len(), 1);
    leads[0]["id"].as_str().unwrap().to_owned()
}

#[sqlx::test]
async fn a_lead_is_created_in_amocrm_once_then_updated_on_change(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let (amo, base) = FakeAmo::start().await;
    let workers = workers_syncing_to(&pool, &base);
    let (owner, _) = app.register_ok("owner@stroy.kz", "Stroy").await;
    let resp = app.connect_amocrm(&owner, FakeAmo::TOKEN).await;
    assert_eq!(resp.status(), 200);
    let saved: Value = resp.json().await.unwrap();
    assert_eq!(saved["base_domain"], "stroy.amocrm.ru");
    assert!(saved["unauthorized_at"].is_null());
    assert!(
        !saved.to_string().contains(FakeAmo::TOKEN),
        "the token is never shown"
    );

    app.send_text(
        &owner,
        "client_1",
        "Меня зовут Ерлан, дом 120 м² в Алматы, 8 701 234 56 78",
    )
    .await;
    run_workers_until_idle(&workers, &pool).await;
    // The sync job the leads trigger queued is the contract's.
    assert_same_contract(&stored_jobs(&pool).await);
    let calls = amo.calls();
    let created = creates(&calls);
    assert_eq!(created.len(), 1, "{calls:#?}");
    let lead = &created[0].body[0];
    assert_eq!(created[0].auth, format!("Bearer {}", FakeAmo::TOKEN));
    assert!(
        lead["name"].as_str().unwrap().starts_with("Ерлан"),
        "{lead}"
    );
    let contact = &lead["_embedded"]["contacts"][0];
    assert_eq!(contact["first_name"], "Ерлан");
    assert_eq!(
        contact["custom_fields_values"][0]["values"][0]["value"],
        "+77012345678"
    );
    assert_eq!(lead["_embedded"]["tags"][0]["name"], "salesbot");

    // A sync of a version amoCRM has already sends nothing.
    let lead_id = only_lead(&app, &owner).await;
    let sent = amo.calls().len();
    sqlx::query("UPDATE leads SET updated_at = updated_at")
        .execute(&pool)
        .await
        .unwrap();
    let report = run_workers_until_idle(&workers, &pool).await;
    assert_eq!(report.completed, 1, "the sync ran");
    assert_eq!(amo.calls().len(), sent);

    // A manager closes the deal: amoCRM's lead moves to its "won" stage, and the contact follows.
    app.edit_lead(&owner, &lead_id, json!({"status": "in_work"}))
        .await;
    app.edit_lead(
        &owner,
        &lead_id,
        json!({"status": "won", "name": "Ерлан Сейткали"}),
    )
    .await;
    run_workers_until_idle(&workers, &pool).await;
    let calls = amo.calls();
    assert_eq!(creates(&calls).len(), 1, "created once");
    let patches: Vec<_> = calls.iter().filter(|c| c.method == "PATCH").collect();
    assert_eq!(patches.len(), 2, "{calls:#?}");
    assert_eq!(patches[0].path, "/api/v4/leads/1002");
    assert_eq!(patches[0].body["status_id"], 142);
    assert!(
        patches[0].body["name"]
            .as_str()
            .unwrap()
            .starts_with("Ерлан Сейткали")
    );
    assert_eq!(patches[1].path, "/api/v4/contacts/2002");
    assert_eq!(patches[1].body["first_name"], "Ерлан Сейткали");

    // Another company sees no amoCRM settings, and its leads are not synced.
    let (stranger, _) = app.register_ok("other@beton.kz", "Beton").await;
    let resp = app.get("/api/settings/amocrm", Some(&stranger)).await;
    assert_eq!(error_code(resp, 404).await, "not_found");
    let before = amo.calls().len();
    app.send_text(&stranger, "client_9", "Меня зовут Асан, баня 30 м²")
        .await;
    run_workers_until_idle(&workers, &pool).await;
    assert_eq!(amo.calls().len(), before);
}

#[sqlx::test]
async fn a_429_is_waited_out_and_a_refused_token_flags_the_connection(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let (amo, base) = FakeAmo::start().await;
    let workers = workers_syncing_to(&pool, &base);
    let (owner, _) = app.register_ok("owner@stroy.kz", "Stroy").await;
    // A lead from before the connection is brought along when amoCRM is connected.
    app.send_text(&owner, "client_1", "Меня зовут Ерлан, дом в Алматы")
        .await;
    run_workers_until_idle(&workers, &pool).await;
    assert!(amo.calls().is_empty());
    amo.then_answer(429, Some(7));
    assert_eq!(
        app.connect_amocrm(&owner, FakeAmo::TOKEN).await.status(),
        200
    );

    let report = run_workers_until_idle(&workers, &pool).await;
    assert_eq!(report.deferred, 1, "{report:?}");
    let waiting: (i32, f64) = sqlx::query_as(
        "SELECT attempts, extract(epoch FROM run_at - now())::float8 FROM jobs WHERE kind = 'crm_sync'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    // Deferred by amoCRM's Retry-After, without spending an attempt.
    assert_eq!(waiting.0, 0, "{waiting:?}");
    assert!(waiting.1 > 5.0, "{waiting:?}");
    sqlx::query("UPDATE jobs SET run_at = now() WHERE kind = 'crm_sync'")
        .execute(&pool)
        .await
        .unwrap();
    run_workers_until_idle(&workers, &pool).await;
    let calls = amo.calls();
    assert_eq!(creates(&calls).len(), 2, "the 429, then the create");
    let linked: i64 = sqlx::query_scalar("SELECT count(*) FROM amocrm_links")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(linked, 1);

    // The token is revoked in amoCRM: the sync stops and the settings say why.
    amo.then_answer(401, None);
    let lead = only_lead(&app, &owner).await;
    app.edit_lead(&owner, &lead, json!({"name": "Ерлан С."}))
        .await;
    run_workers_until_idle(&workers, &pool).await;
    let settings: Value = app.get_json("/api/settings/amocrm", Some(&owner)).await;
    assert!(settings["unauthorized_at"].is_string(), "{settings}");
    let after_refusal = amo.calls().len();
    app.edit_lead(&owner, &lead, json!({"name": "Ерлан Сейткали"}))
        .await;
    run_workers_until_idle(&workers, &pool).await;
    assert_eq!(
        amo.calls().len(),
        after_refusal,
        "nothing sent with a refused token"
    );

    // A new token clears the flag and catches the lead up.
    let saved: Value = app
        .connect_amocrm(&owner, FakeAmo::TOKEN)
        .await
        .json()
        .await
        .unwrap();
    assert!(saved["unauthorized_at"].is_null());
    app.edit_lead(&owner, &lead, json!({"phone": "+77012345678"}))
        .await;
    run_workers_until_idle(&workers, &pool).await;
    let last = amo.calls().into_iter().rev().find(|c| c.method == "PATCH");
    assert_eq!(
        last.unwrap().body["custom_fields_values"][0]["values"][0]["value"],
        "+77012345678"
    );
}

#[sqlx::test]
async fn only_the_owner_connects_amocrm_and_only_to_an_amocrm_domain(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let (owner, _) = app.register_ok("owner@stroy.kz", "Stroy").await;
    let manager = app.add_manager("owner@stroy.kz", "manager@stroy.kz").await;
    let resp = app.connect_amocrm(&manager, FakeAmo::TOKEN).await;
    assert_eq!(resp.status(), 403);
    let resp = app
        .client
        .put(app.url("/api/settings/amocrm"))
        .bearer_auth(&owner)
        .json(&json!({"base_domain": "evil.example.com", "access_token": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(resp, 422).await, "validation_error");
    assert_eq!(
        app.connect_amocrm(&owner, FakeAmo::TOKEN).await.status(),
        200
    );
    let resp = app
        .client
        .delete(app.url("/api/settings/amocrm"))
        .bearer_auth(&owner)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    let resp = app.get("/api/settings/amocrm", Some(&owner)).await;
    assert_eq!(resp.status(), 404);
}
