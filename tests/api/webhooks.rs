//! Outbound webhooks: our signatures verify with the Standard Webhooks reference library (Python,
//! `standardwebhooks` from PyPI), and a tampered body or a wrong secret does not.

use std::io::Write;
use std::process::{Command, Stdio};

use salesbot::domain::webhook::{SigningSecret, signature_header};
use serde_json::{Value, json};

use crate::helpers::venv_tool;

/// Each case is verified by the reference library; it prints one line per case: "ok" or the
/// verification error's class.
const VERIFY: &str = r#"
import json, sys
from standardwebhooks.webhooks import Webhook
for case in json.load(sys.stdin):
    headers = {"webhook-id": case["id"], "webhook-timestamp": str(case["timestamp"]),
               "webhook-signature": case["signature"]}
    try:
        Webhook(case["secret"]).verify(case["body"].encode(), headers)
        print("ok")
    except Exception as error:
        print(type(error).__name__)
"#;

pub(crate) fn verify_with_reference_library(cases: &Value) -> Vec<String> {
    let mut child = Command::new(venv_tool("python"))
        .args(["-c", VERIFY])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the venv's python runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(cases.to_string().as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn signatures_verify_with_the_standard_webhooks_reference_library() {
    let (current, previous, stranger) = (
        SigningSecret::generate(),
        SigningSecret::generate(),
        SigningSecret::generate(),
    );
    // The library refuses timestamps more than five minutes away from its clock.
    let now = chrono::Utc::now().timestamp();
    let id = "msg_01J9Z3Q2WZ8Y7X6V5T4S3R2Q1P";
    let body =
        r#"{"type":"reply.created","data":{"text":"Здравствуйте! Дом 120 м² — хороший выбор."}}"#;
    let signed_by =
        |secrets: &[&SigningSecret]| signature_header(secrets, id, now, body.as_bytes());
    let case = |secret: &SigningSecret, body: &str, signature: String| {
        json!({"secret": secret.expose(), "id": id, "timestamp": now, "body": body,
               "signature": signature})
    };
    let cases = json!([
        // The current secret's signature.
        case(&current, body, signed_by(&[&current])),
        // During a rotation both signatures travel: a receiver holding either secret verifies.
        case(&current, body, signed_by(&[&current, &previous])),
        case(&previous, body, signed_by(&[&current, &previous])),
        // A body changed on the way, and a receiver with another secret, fail.
        case(
            &current,
            &body.replace("120", "220"),
            signed_by(&[&current])
        ),
        case(&stranger, body, signed_by(&[&current, &previous])),
    ]);
    assert_eq!(
        verify_with_reference_library(&cases),
        [
            "ok",
            "ok",
            "ok",
            "WebhookVerificationError",
            "WebhookVerificationError"
        ]
    );
}

impl crate::helpers::TestApp {
    pub(crate) async fn webhook_request(
        &self,
        method: reqwest::Method,
        path: &str,
        credential: &str,
        body: Option<Value>,
    ) -> reqwest::Response {
        let mut req = self
            .client
            .request(method, self.url(path))
            .bearer_auth(credential);
        if let Some(body) = body {
            req = req.json(&body);
        }
        req.send().await.unwrap()
    }
}

#[sqlx::test]
async fn endpoints_are_managed_with_their_secret_shown_only_when_made(pool: sqlx::PgPool) {
    use reqwest::Method;
    let app = crate::helpers::spawn_app(pool.clone()).await;
    let (owner, _) = app.register_ok("owner@stroy.kz", "Stroy").await;
    let resp = app
        .webhook_request(
            Method::POST,
            "/api/webhooks",
            &owner,
            Some(json!({"url": "http://127.0.0.1:9/hooks", "events": ["reply.created", "lead.created", "reply.created"],
                        "description": "CRM bridge"})),
        )
        .await;
    assert_eq!(resp.status(), 201);
    let created: Value = resp.json().await.unwrap();
    let id = created["id"].as_str().unwrap().to_owned();
    let secret = created["secret"].as_str().unwrap();
    assert!(SigningSecret::parse(secret).is_ok(), "{secret}");
    assert_eq!(created["events"], json!(["reply.created", "lead.created"]));
    assert_eq!(created["enabled"], true);
    // Stored sealed: the database never holds the secret.
    let stored: Vec<u8> = sqlx::query_scalar("SELECT secret FROM webhook_endpoints")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(!String::from_utf8_lossy(&stored).contains(&secret[6..]));

    // Listed and read without the secret.
    let list: Value = app
        .webhook_request(Method::GET, "/api/webhooks", &owner, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["endpoints"][0]["id"], id.as_str());
    assert!(
        !list.to_string().contains(secret),
        "the list shows the secret"
    );
    let one: Value = app
        .webhook_request(Method::GET, &format!("/api/webhooks/{id}"), &owner, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(one["description"], "CRM bridge");
    assert!(one.get("secret").is_none());

    // Changed: events and off; absent fields stay.
    let patched: Value = app
        .webhook_request(
            Method::PATCH,
            &format!("/api/webhooks/{id}"),
            &owner,
            Some(json!({"events": ["lead.qualified"], "enabled": false})),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(patched["events"], json!(["lead.qualified"]));
    assert_eq!(patched["enabled"], false);
    assert_eq!(patched["url"], "http://127.0.0.1:9/hooks");

    // Rotation: a new secret; the old one keeps signing for about a day.
    let rotated: Value = app
        .webhook_request(
            Method::POST,
            &format!("/api/webhooks/{id}/rotate-secret"),
            &owner,
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    let new_secret = rotated["secret"].as_str().unwrap();
    assert!(SigningSecret::parse(new_secret).is_ok());
    assert_ne!(new_secret, secret);
    let expires: chrono::DateTime<chrono::Utc> = rotated["previous_secret_expires_at"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let left = expires - chrono::Utc::now();
    assert!(
        left > chrono::TimeDelta::hours(23) && left <= chrono::TimeDelta::hours(24),
        "{left}"
    );

    let resp = app
        .webhook_request(Method::DELETE, &format!("/api/webhooks/{id}"), &owner, None)
        .await;
    assert_eq!(resp.status(), 204);
    let resp = app
        .webhook_request(Method::GET, &format!("/api/webhooks/{id}"), &owner, None)
        .await;
    assert_eq!(crate::helpers::error_code(resp, 404).await, "not_found");
}

#[sqlx::test]
async fn private_urls_are_refused_unless_allowed(pool: sqlx::PgPool) {
    use reqwest::Method;
    let mut config = crate::helpers::test_config();
    config.webhook_delivery.allow_private = false;
    let app = crate::helpers::spawn_app_with(config, pool).await;
    let (owner, _) = app.register_ok("owner@stroy.kz", "Stroy").await;
    for url in [
        "http://127.0.0.1:8000/hook",
        "http://localhost/hook",
        "http://[::1]/hook",
        "http://10.0.0.5/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::ffff:192.168.1.1]/hook",
        "https://no-such-host.invalid/hook",
    ] {
        let resp = app
            .webhook_request(
                Method::POST,
                "/api/webhooks",
                &owner,
                Some(json!({"url": url, "events": ["reply.created"]})),
            )
            .await;
        assert_eq!(
            crate::helpers::error_code(resp, 422).await,
            "validation_error",
            "{url}"
        );
    }
    // A public address passes (no request is made to it).
    let resp = app
        .webhook_request(
            Method::POST,
            "/api/webhooks",
            &owner,
            Some(json!({"url": "https://8.8.8.8/hook", "events": ["reply.created"]})),
        )
        .await;
    assert_eq!(resp.status(), 201);
    let id = resp.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // A change of URL is checked the same way.
    let resp = app
        .webhook_request(
            Method::PATCH,
            &format!("/api/webhooks/{id}"),
            &owner,
            Some(json!({"url": "http://127.0.0.1/hook"})),
        )
        .await;
    assert_eq!(
        crate::helpers::error_code(resp, 422).await,
        "validation_error"
    );
    // Malformed ones never get as far as a lookup.
    for url in [
        "ftp://example.kz/x",
        "https://u:p@example.kz/x",
        "not a url",
    ] {
        let resp = app
            .webhook_request(
                Method::POST,
                "/api/webhooks",
                &owner,
                Some(json!({"url": url, "events": ["reply.created"]})),
            )
            .await;
        assert_eq!(resp.status(), 422, "{url}");
    }
}

#[sqlx::test]
async fn endpoints_belong_to_their_company_and_need_the_scope(pool: sqlx::PgPool) {
    use reqwest::Method;
    let app = crate::helpers::spawn_app(pool.clone()).await;
    let (owner_a, _) = app.register_ok("a@stroy.kz", "A").await;
    let (owner_b, _) = app.register_ok("b@stroy.kz", "B").await;
    let created: Value = app
        .webhook_request(
            Method::POST,
            "/api/webhooks",
            &owner_a,
            Some(json!({"url": "http://127.0.0.1:9/a", "events": ["reply.created"]})),
        )
        .await
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap();

    // Company B sees nothing of A's and can change nothing.
    let list_b: Value = app
        .webhook_request(Method::GET, "/api/webhooks", &owner_b, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list_b["endpoints"], json!([]));
    for (method, path, body) in [
        (Method::GET, format!("/api/webhooks/{id}"), None),
        (
            Method::PATCH,
            format!("/api/webhooks/{id}"),
            Some(json!({"enabled": false})),
        ),
        (
            Method::POST,
            format!("/api/webhooks/{id}/rotate-secret"),
            None,
        ),
        (Method::DELETE, format!("/api/webhooks/{id}"), None),
    ] {
        let resp = app
            .webhook_request(method.clone(), &path, &owner_b, body)
            .await;
        assert_eq!(
            crate::helpers::error_code(resp, 404).await,
            "not_found",
            "{method} {path}"
        );
    }
    let still: Value = app
        .webhook_request(Method::GET, &format!("/api/webhooks/{id}"), &owner_a, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(still["enabled"], true);

    // An API key manages endpoints with `webhooks:manage`, and only with it.
    let key = |scopes: Value| {
        let (app, owner_a) = (&app, owner_a.clone());
        async move {
            let body: Value = app
                .client
                .post(app.url("/api/keys"))
                .bearer_auth(owner_a)
                .json(&json!({"name": "bridge", "scopes": scopes}))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            body["key"].as_str().unwrap().to_owned()
        }
    };
    let manager_key = key(json!(["webhooks:manage"])).await;
    let chat_key = key(json!(["chat:write"])).await;
    let resp = app
        .webhook_request(Method::GET, "/api/webhooks", &manager_key, None)
        .await;
    assert_eq!(resp.status(), 200);
    let resp = app
        .webhook_request(Method::GET, "/api/webhooks", &chat_key, None)
        .await;
    assert_eq!(crate::helpers::error_code(resp, 403).await, "forbidden");

    // A manager's sign-in may not send the company's data to a new place.
    let manager = app.add_manager("a@stroy.kz", "manager@stroy.kz").await;
    let resp = app
        .webhook_request(
            Method::POST,
            "/api/webhooks",
            &manager,
            Some(json!({"url": "http://127.0.0.1:9/m", "events": ["lead.created"]})),
        )
        .await;
    assert_eq!(crate::helpers::error_code(resp, 403).await, "forbidden");
}
