//! Tenant isolation through the API: rows of tenant B never reach tenant A.

use serde_json::Value;
use sqlx::PgPool;
use uuid::Uuid;

use crate::helpers::{seed_conversation, spawn_app};

fn tenant_of(body: &Value) -> Uuid {
    body["user"]["tenant"]["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap()
}

#[sqlx::test]
async fn a_tenant_sees_only_its_own_bot_users_and_leads(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let (token_a, body_a) = app.register_ok("a@stroy.kz", "A").await;
    let (token_b, body_b) = app.register_ok("b@stroy.kz", "B").await;
    seed_conversation(&pool, tenant_of(&body_a), "client_a_1", "Айгерим").await;
    seed_conversation(&pool, tenant_of(&body_b), "client_b_1", "Bob").await;
    seed_conversation(&pool, tenant_of(&body_b), "client_b_2", "Berik").await;

    let leads_a: Vec<Value> = app
        .get("/api/leads", Some(&token_a))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(leads_a.len(), 1);
    assert_eq!(leads_a[0]["name"], "Айгерим");
    assert_eq!(leads_a[0]["user_id"], "client_a_1");

    let leads_b: Vec<Value> = app
        .get("/api/leads", Some(&token_b))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(leads_b.len(), 2);
    assert!(leads_b.iter().all(|l| l["name"] != "Айгерим"));

    let conversations_a: Vec<Value> = app
        .get("/api/conversations", Some(&token_a))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(conversations_a.len(), 1);
    assert_eq!(conversations_a[0]["user_id"], "client_a_1");
    assert_eq!(conversations_a[0]["lead_status"], "new");

    // Without a token there is nothing at all.
    assert_eq!(app.get("/api/leads", None).await.status(), 401);
}
