//! The OpenAPI document lists every route, and Swagger UI is served without network access.

use std::collections::BTreeSet;

use serde_json::Value;
use sqlx::PgPool;

use crate::helpers::spawn_app;

/// Every API route. A route added without being listed here (or without OpenAPI) fails this test.
const ROUTES: &[(&str, &str)] = &[
    ("get", "/health"),
    ("get", "/ready"),
    ("get", "/metrics"),
    ("post", "/api/auth/register"),
    ("post", "/api/auth/login"),
    ("get", "/api/me"),
    ("get", "/api/leads"),
    ("get", "/api/leads.csv"),
    ("get", "/api/leads/{id}"),
    ("patch", "/api/leads/{id}"),
    ("get", "/api/conversations"),
    ("post", "/api/chat"),
    ("get", "/api/messages/{id}"),
    ("get", "/api/conversations/{user_id}/messages"),
    ("get", "/api/admin/diagnostics/db/schema"),
    ("get", "/api/usage"),
    ("get", "/api/settings/assistant"),
    ("put", "/api/settings/assistant"),
    ("get", "/api/settings/telegram"),
    ("put", "/api/settings/telegram"),
    ("post", "/telegram/{webhook_id}"),
    ("post", "/api/conversations/{user_id}/handoff"),
    ("post", "/api/conversations/{user_id}/reply"),
    ("post", "/api/conversations/{user_id}/release"),
    ("post", "/api/keys"),
    ("get", "/api/keys"),
    ("delete", "/api/keys/{id}"),
    ("post", "/api/webhooks"),
    ("get", "/api/webhooks"),
    ("get", "/api/webhooks/{id}"),
    ("patch", "/api/webhooks/{id}"),
    ("delete", "/api/webhooks/{id}"),
    ("post", "/api/webhooks/{id}/rotate-secret"),
    ("get", "/api/webhooks/{id}/deliveries"),
    ("get", "/api/settings/amocrm"),
    ("put", "/api/settings/amocrm"),
    ("delete", "/api/settings/amocrm"),
    ("get", "/api/settings/prices"),
    ("put", "/api/settings/prices"),
    (
        "post",
        "/api/webhooks/{id}/deliveries/{delivery_id}/redeliver",
    ),
    ("post", "/api/webhooks/{id}/recover"),
    ("delete", "/api/conversations/{user_id}"),
    ("get", "/api/conversations/{user_id}/export"),
    ("get", "/api/settings/follow-ups"),
    ("put", "/api/settings/follow-ups"),
    ("get", "/api/settings/retention"),
    ("put", "/api/settings/retention"),
];

#[sqlx::test]
async fn openapi_lists_every_route(pool: PgPool) {
    // DEV_MODE, so that /metrics is served on the API port too.
    let mut config = crate::helpers::test_config();
    config.dev_mode = true;
    let app = crate::helpers::spawn_app_with(config, pool).await;
    let doc: Value = app.get("/openapi.json", None).await.json().await.unwrap();
    let documented: BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, ops)| {
            ops.as_object()
                .unwrap()
                .keys()
                .map(move |method| (method.clone(), path.clone()))
        })
        .collect();
    let expected: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    assert_eq!(documented, expected);

    // Each documented route is really served (not 404/405) by the running app.
    for (method, path) in ROUTES {
        let path = path
            .replace("{id}", "00000000-0000-0000-0000-000000000000")
            .replace("{delivery_id}", "00000000-0000-0000-0000-000000000000");
        let req = match *method {
            "get" => app.client.get(app.url(&path)),
            "patch" => app.client.patch(app.url(&path)),
            "put" => app.client.put(app.url(&path)),
            "delete" => app.client.delete(app.url(&path)),
            _ => app.client.post(app.url(&path)),
        };
        let status = req.send().await.unwrap().status().as_u16();
        assert!(
            status != 404 && status != 405,
            "{method} {path} -> {status}"
        );
    }
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    assert_eq!(
        doc["components"]["securitySchemes"]["api_key"]["name"],
        "X-API-Key"
    );
    // The routes an integration may call say which scope a key needs.
    assert_eq!(
        doc["paths"]["/api/chat"]["post"]["security"][1]["api_key"][0],
        "chat:write"
    );
}

#[sqlx::test]
async fn swagger_ui_is_served_offline(pool: PgPool) {
    let app = spawn_app(pool).await;
    let page = app.get("/docs/", None).await;
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("swagger"));
    // The UI's own script is vendored into the binary, not fetched from a CDN.
    let script = app.get("/docs/swagger-ui-bundle.js", None).await;
    assert_eq!(script.status(), 200);
    assert!(script.bytes().await.unwrap().len() > 100_000);
}
