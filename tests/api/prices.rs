//! The company's price list: set by its owner, seen by nobody else, and the only prices the
//! offline engine quotes (the OpenAI engine's guard is in tests/api/openai.rs).

use serde_json::{Value, json};
use sqlx::PgPool;

use crate::helpers::{accepted_id, offline_workers, run_workers_until_idle, spawn_app};

async fn put(app: &crate::helpers::TestApp, token: &str, body: Value) -> reqwest::Response {
    app.client
        .put(app.url("/api/settings/prices"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap()
}

#[sqlx::test]
async fn the_owner_sets_the_list_and_only_the_company_sees_it(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let (owner, _) = app.register_ok("owner@stroy.kz", "СтройДом").await;
    let list = json!({
        "garage": {"min_per_m2": 60000, "max_per_m2": 90000, "conditions": null},
        "house": {"min_per_m2": 250000, "max_per_m2": 150000, "conditions": "  коробка без отделки  "}
    });
    let resp = put(&app, &owner, list).await;
    assert_eq!(resp.status(), 200);
    let saved: Value = resp.json().await.unwrap();
    // Bounds in order, conditions trimmed, every object type named.
    assert_eq!(
        saved["house"],
        json!({"min_per_m2": 150000, "max_per_m2": 250000, "conditions": "коробка без отделки"})
    );
    assert_eq!(saved["bathhouse"], Value::Null);
    let read: Value = app.get_json("/api/settings/prices", Some(&owner)).await;
    assert_eq!(read, saved);

    for (bad, why) in [
        (json!({"house": {"min_per_m2": 0, "max_per_m2": 1}}), "zero"),
        (
            json!({"house": {"min_per_m2": 1, "max_per_m2": 2000000000}}),
            "too much",
        ),
        (
            json!({"castle": {"min_per_m2": 1, "max_per_m2": 2}}),
            "unknown object",
        ),
        (
            json!({"house": {"min_per_m2": 1, "max_per_m2": 2, "conditions": "a\u{0}b"}}),
            "NUL",
        ),
    ] {
        let resp = put(&app, &owner, bad).await;
        assert_eq!(resp.status(), 422, "{why}");
    }
    let unchanged: Value = app.get_json("/api/settings/prices", Some(&owner)).await;
    assert_eq!(unchanged, saved, "a refused list changes nothing");

    let manager = app.add_manager("owner@stroy.kz", "manager@stroy.kz").await;
    assert_eq!(put(&app, &manager, json!({})).await.status(), 403);
    let (other, _) = app.register_ok("owner@beton.kz", "Бетон").await;
    let theirs: Value = app.get_json("/api/settings/prices", Some(&other)).await;
    assert!(
        theirs.as_object().unwrap().values().all(Value::is_null),
        "{theirs}"
    );

    // An empty list removes it.
    assert_eq!(put(&app, &owner, json!({})).await.status(), 200);
    let gone: Value = app.get_json("/api/settings/prices", Some(&owner)).await;
    assert!(
        gone.as_object().unwrap().values().all(Value::is_null),
        "{gone}"
    );
}

#[sqlx::test]
async fn the_offline_bot_quotes_the_list_and_leaves_the_rest_to_a_manager(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let (owner, _) = app.register_ok("owner@stroy.kz", "СтройДом").await;
    let resp = put(
        &app,
        &owner,
        json!({"garage": {"min_per_m2": 60000, "max_per_m2": 90000,
                          "conditions": "фундамент отдельно"}}),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let workers = offline_workers(&pool);
    let garage = accepted_id(
        app.send_text(&owner, "c1", "Сколько стоит гараж в Алматы?")
            .await,
    )
    .await;
    let house = accepted_id(
        app.send_text(&owner, "c2", "Сколько стоит построить дом?")
            .await,
    )
    .await;
    run_workers_until_idle(&workers, &pool).await;
    let reply = |id: String| {
        let app = &app;
        let owner = owner.clone();
        async move {
            let s: Value = app
                .get_json(&format!("/api/messages/{id}"), Some(&owner))
                .await;
            s["reply"]["content"].as_str().unwrap().to_owned()
        }
    };
    let quoted = reply(garage).await;
    assert!(
        quoted.contains("60 000–90 000 ₸ за м²") && quoted.contains("фундамент отдельно"),
        "{quoted}"
    );
    let calculated = reply(house).await;
    assert!(
        calculated.contains("рассчитает менеджер") && !calculated.contains('₸'),
        "{calculated}"
    );
}
