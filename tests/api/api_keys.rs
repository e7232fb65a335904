//! API keys: integrations authenticate with a key of their company, limited to its scopes.

use serde_json::{Value, json};
use sqlx::PgPool;

use crate::helpers::{TestApp, error_code, offline_workers, run_workers_until_idle, spawn_app};

impl TestApp {
    async fn create_key(&self, owner: &str, name: &str, scopes: &[&str]) -> reqwest::Response {
        self.client
            .post(self.url("/api/keys"))
            .bearer_auth(owner)
            .json(&json!({"name": name, "scopes": scopes}))
            .send()
            .await
            .unwrap()
    }

    /// Creates a key and returns (the key, its id).
    pub(crate) async fn create_key_ok(&self, owner: &str, scopes: &[&str]) -> (String, String) {
        let resp = self.create_key(owner, "integration", scopes).await;
        assert_eq!(resp.status(), 201);
        let body: Value = resp.json().await.unwrap();
        (
            body["key"].as_str().unwrap().to_owned(),
            body["id"].as_str().unwrap().to_owned(),
        )
    }

    async fn chat_with_key(
        &self,
        key: &str,
        header: KeyHeader,
        user_id: &str,
    ) -> reqwest::Response {
        let req = self
            .client
            .post(self.url("/api/chat"))
            .header("prefer", "respond-async")
            .json(&json!({"user_id": user_id, "text": "Дом 120 м² в Алматы"}));
        let req = match header {
            KeyHeader::Bearer => req.bearer_auth(key),
            KeyHeader::XApiKey => req.header("x-api-key", key),
        };
        req.send().await.unwrap()
    }
}

#[derive(Clone, Copy)]
enum KeyHeader {
    Bearer,
    XApiKey,
}

#[sqlx::test]
async fn a_key_acts_for_its_company_within_its_scopes(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let (owner, _) = app.register_ok("owner@stroy.kz", "Stroy").await;
    let (key, _) = app.create_key_ok(&owner, &["chat:write"]).await;
    assert!(key.starts_with("sk_"), "{key}");

    // Both ways of presenting a key work for a route of its scope.
    for (header, user_id) in [
        (KeyHeader::Bearer, "site_1"),
        (KeyHeader::XApiKey, "site_2"),
    ] {
        let resp = app.chat_with_key(&key, header, user_id).await;
        assert_eq!(resp.status(), 202);
    }
    run_workers_until_idle(&offline_workers(&pool), &pool).await;
    let resp = app
        .client
        .get(app.url("/api/conversations/site_1/messages"))
        .header("x-api-key", &key)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["messages"].as_array().unwrap().len(), 2, "{body}");

    // The messages landed in the key's company: its owner sees both conversations.
    let conversations: Value = app.get_json("/api/conversations", Some(&owner)).await;
    let ids: Vec<&str> = conversations
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["user_id"].as_str().unwrap())
        .collect();
    assert!(
        ids.contains(&"site_1") && ids.contains(&"site_2"),
        "{conversations}"
    );

    // Another scope's route: 403, and the error says which scope is missing.
    let resp = app.get("/api/leads", Some(&key)).await;
    assert_eq!(resp.status(), 403);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "forbidden");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("leads:read"),
        "{body}"
    );
    // Routes for a manager's sign-in only refuse every key, whatever its scopes.
    let (all, _) = app
        .create_key_ok(
            &owner,
            &["chat:write", "leads:read", "leads:write", "webhooks:manage"],
        )
        .await;
    for path in [
        "/api/me",
        "/api/keys",
        "/api/settings/telegram",
        "/api/usage",
    ] {
        let resp = app.get(path, Some(&all)).await;
        assert_eq!(error_code(resp, 403).await, "forbidden", "{path}");
    }
    let resp = app.get("/api/leads", Some(&all)).await;
    assert_eq!(resp.status(), 200);
    // A key cannot make keys.
    let resp = app.create_key(&all, "escalation", &["chat:write"]).await;
    assert_eq!(resp.status(), 403);
}

#[sqlx::test]
async fn a_revoked_or_unknown_key_is_refused_and_the_key_is_shown_once(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let (owner, _) = app.register_ok("owner@stroy.kz", "Stroy").await;
    let (key, id) = app.create_key_ok(&owner, &["chat:write"]).await;

    // Stored hashed: the database never holds the key.
    let stored: Vec<u8> = sqlx::query_scalar("SELECT hash FROM api_keys")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(stored.len(), 32);
    let dump: String = sqlx::query_scalar("SELECT row_to_json(k)::text FROM api_keys k")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(!dump.contains(&key[3..]), "the key is stored: {dump}");

    let resp = app.chat_with_key(&key, KeyHeader::Bearer, "site_1").await;
    assert_eq!(resp.status(), 202);
    // Listed without the key, with its first characters and when it was last used.
    let list: Value = app.get_json("/api/keys", Some(&owner)).await;
    let listed = &list["keys"][0];
    assert_eq!(listed["id"], id.as_str());
    assert_eq!(listed["scopes"], json!(["chat:write"]));
    assert!(key.starts_with(listed["shown"].as_str().unwrap()));
    assert!(listed["last_used_at"].is_string(), "{list}");
    assert!(!list.to_string().contains(&key), "the list shows the key");

    let resp = app
        .client
        .delete(app.url(&format!("/api/keys/{id}")))
        .bearer_auth(&owner)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let revoked: Value = resp.json().await.unwrap();
    assert!(revoked["revoked_at"].is_string());
    let resp = app.chat_with_key(&key, KeyHeader::Bearer, "site_1").await;
    assert_eq!(error_code(resp, 401).await, "invalid_api_key");
    let resp = app.chat_with_key(&key, KeyHeader::XApiKey, "site_1").await;
    assert_eq!(error_code(resp, 401).await, "invalid_api_key");

    // A key that was never issued, and a malformed one.
    let made_up = format!("sk_{}", "A".repeat(43));
    let resp = app
        .chat_with_key(&made_up, KeyHeader::Bearer, "site_1")
        .await;
    assert_eq!(error_code(resp, 401).await, "invalid_api_key");
    let resp = app.get("/api/leads", Some("not-a-jwt")).await;
    assert_eq!(error_code(resp, 401).await, "invalid_token");
}

#[sqlx::test]
async fn keys_are_the_owners_and_their_companys_alone(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let (owner_a, _) = app.register_ok("a@stroy.kz", "A").await;
    let (owner_b, _) = app.register_ok("b@stroy.kz", "B").await;
    let (key_a, id_a) = app
        .create_key_ok(&owner_a, &["chat:write", "leads:read"])
        .await;

    // Company B neither sees nor revokes A's key.
    let list_b: Value = app.get_json("/api/keys", Some(&owner_b)).await;
    assert_eq!(list_b["keys"], json!([]));
    let resp = app
        .client
        .delete(app.url(&format!("/api/keys/{id_a}")))
        .bearer_auth(&owner_b)
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(resp, 404).await, "not_found");
    let resp = app.chat_with_key(&key_a, KeyHeader::Bearer, "site_1").await;
    assert_eq!(resp.status(), 202, "A's key still works");

    // A's key reads A's leads only: B's conversation stays out of sight.
    app.send_text(&owner_b, "b_customer", "Баня 30 м², Ерлан, 8 701 234 56 78")
        .await;
    run_workers_until_idle(&offline_workers(&pool), &pool).await;
    let conversations: Value = app.get_json("/api/conversations", Some(&key_a)).await;
    assert!(
        !conversations.to_string().contains("b_customer"),
        "{conversations}"
    );
    let b_message = sqlx::query_scalar::<_, uuid::Uuid>(
        "SELECT m.id FROM messages m JOIN bot_users b ON b.id = m.bot_user_id
         WHERE b.external_id = 'b_customer' AND m.role = 'user'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    let resp = app
        .client
        .get(app.url(&format!("/api/messages/{b_message}")))
        .bearer_auth(&key_a)
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(resp, 404).await, "not_found");

    // A manager works the leads but does not manage keys.
    let manager = &app.add_manager("a@stroy.kz", "manager@stroy.kz").await;
    let resp = app.create_key(manager, "mine", &["leads:read"]).await;
    assert_eq!(error_code(resp, 403).await, "forbidden");
    let resp = app.get("/api/keys", Some(manager)).await;
    assert_eq!(error_code(resp, 403).await, "forbidden");

    // Scopes are checked as they are written: an unknown one, or none, is refused.
    for scopes in [json!(["chat:read"]), json!([]), json!("chat:write")] {
        let resp = app
            .client
            .post(app.url("/api/keys"))
            .bearer_auth(&owner_a)
            .json(&json!({"name": "x", "scopes": scopes}))
            .send()
            .await
            .unwrap();
        assert_eq!(error_code(resp, 422).await, "validation_error", "{scopes}");
    }
}
