//! The leads API: filters, cursor pagination, one lead with its conversation, managers' edits, CSV.

use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use crate::helpers::{TestApp, error_code, spawn_app};

async fn seed(
    pool: &PgPool,
    tenant: Uuid,
    external_id: &str,
    name: &str,
    city: &str,
    qualified: bool,
) -> Uuid {
    let bot_user = Uuid::now_v7();
    sqlx::query("INSERT INTO bot_users (id, tenant_id, external_id) VALUES ($1, $2, $3)")
        .bind(bot_user)
        .bind(tenant)
        .bind(external_id)
        .execute(pool)
        .await
        .unwrap();
    let lead = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO leads (id, tenant_id, bot_user_id, name, city, phone, summary, status, qualified_at)
         VALUES ($1, $2, $3, $4, $5, '+77012345678', 'Баня, 24 м²', $6, CASE WHEN $7 THEN now() END)",
    )
    .bind(lead)
    .bind(tenant)
    .bind(bot_user)
    .bind(name)
    .bind(city)
    .bind(if qualified { "qualified" } else { "new" })
    .bind(qualified)
    .execute(pool)
    .await
    .unwrap();
    lead
}

async fn tenant_of(app: &TestApp, token: &str) -> Uuid {
    let me: Value = app.get("/api/me", Some(token)).await.json().await.unwrap();
    me["tenant"]["id"].as_str().unwrap().parse().unwrap()
}

#[sqlx::test]
async fn list_filters_and_paginates_with_a_cursor(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let (token, _) = app.register_ok("list@stroy.kz", "List").await;
    let tenant = tenant_of(&app, &token).await;
    let names = ["Айгерим", "Болат", "Вера", "Гульнар", "Данияр"];
    for (i, name) in names.iter().enumerate() {
        seed(
            &pool,
            tenant,
            &format!("c{i}"),
            name,
            if i % 2 == 0 { "almaty" } else { "astana" },
            i < 2,
        )
        .await;
    }
    // Page through, newest first, two at a time.
    let mut seen = Vec::new();
    let mut url = "/api/leads?limit=2".to_owned();
    loop {
        let resp = app.get(&url, Some(&token)).await;
        assert_eq!(resp.status(), 200);
        let next = resp
            .headers()
            .get("link")
            .map(|l| l.to_str().unwrap().to_owned());
        let cursor = resp.headers().get("x-next-cursor").is_some();
        let page: Vec<Value> = resp.json().await.unwrap();
        seen.extend(page.iter().map(|l| l["name"].as_str().unwrap().to_owned()));
        match next {
            Some(link) => {
                assert!(cursor);
                assert!(link.ends_with("; rel=\"next\""), "{link}");
                url = link[1..link.find('>').unwrap()].to_owned();
            }
            None => break,
        }
    }
    let mut newest_first: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    newest_first.reverse();
    assert_eq!(seen, newest_first);

    let by = |q: &'static str| {
        let app = &app;
        let token = token.clone();
        async move {
            let leads: Vec<Value> = app
                .get(&format!("/api/leads?{q}"), Some(&token))
                .await
                .json()
                .await
                .unwrap();
            leads
                .iter()
                .map(|l| l["name"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        by("status=qualified&sort=created_at").await,
        vec!["Айгерим", "Болат"]
    );
    assert_eq!(
        by("qualified=false&city=almaty&sort=created_at").await,
        vec!["Вера", "Данияр"]
    );
    assert_eq!(by("q=гульн").await, vec!["Гульнар"]);
    assert_eq!(by("q=c3").await, vec!["Гульнар"]);
    let resp = app.get("/api/leads?status=done", Some(&token)).await;
    assert_eq!(error_code(resp, 422).await, "validation_error");
    let resp = app.get("/api/leads?cursor=garbage", Some(&token)).await;
    assert_eq!(error_code(resp, 422).await, "validation_error");
}

#[sqlx::test]
async fn managers_move_leads_along_and_bad_transitions_are_409(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let (token, _) = app.register_ok("edit@stroy.kz", "Edit").await;
    let (other, _) = app.register_ok("other@stroy.kz", "Other").await;
    let lead = seed(
        &pool,
        tenant_of(&app, &token).await,
        "c1",
        "Ерлан",
        "almaty",
        false,
    )
    .await;
    let patch = |token: &str, body: Value| {
        app.client
            .patch(app.url(&format!("/api/leads/{lead}")))
            .bearer_auth(token.to_owned())
            .json(&body)
            .send()
    };
    let resp = patch(
        &token,
        json!({"status": "in_work", "phone": "8 (777) 123-45-67", "area_m2": 120}),
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["status"], "in_work");
    assert_eq!(body["phone"], "+77771234567");
    assert_eq!(body["area_m2"], 120.0);
    assert_eq!(body["version"], 2);

    let resp = patch(&token, json!({"status": "new"})).await.unwrap();
    assert_eq!(error_code(resp, 409).await, "invalid_transition");
    // Whether a reason is needed depends on the lead (a lost one keeps its own): a conflict.
    let resp = patch(&token, json!({"status": "lost"})).await.unwrap();
    assert_eq!(error_code(resp, 409).await, "loss_reason_required");
    let resp = patch(&token, json!({"phone": "12345"})).await.unwrap();
    assert_eq!(error_code(resp, 422).await, "validation_error");
    let resp = patch(&token, json!({"city": "atlantis"})).await.unwrap();
    assert_eq!(error_code(resp, 422).await, "validation_error");
    let resp = patch(&token, json!({"colour": "red"})).await.unwrap();
    assert_eq!(error_code(resp, 422).await, "validation_error");
    let resp = patch(
        &token,
        json!({"status": "lost", "loss_reason": "chose a cheaper builder"}),
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), 200);
    let resp = patch(&token, json!({"status": "won"})).await.unwrap();
    assert_eq!(error_code(resp, 409).await, "invalid_transition");

    // Another tenant: the lead does not exist for them.
    let resp = patch(&other, json!({"status": "in_work"})).await.unwrap();
    assert_eq!(error_code(resp, 404).await, "not_found");
    let resp = app.get(&format!("/api/leads/{lead}"), Some(&other)).await;
    assert_eq!(error_code(resp, 404).await, "not_found");
    let detail: Value = app
        .get(&format!("/api/leads/{lead}"), Some(&token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(detail["status"], "lost");
    assert_eq!(detail["loss_reason"], "chose a cheaper builder");
    assert!(detail["conversation"].is_array());
}

#[sqlx::test]
async fn csv_export_opens_in_excel(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let (token, _) = app.register_ok("csv@stroy.kz", "Csv").await;
    let tenant = tenant_of(&app, &token).await;
    seed(&pool, tenant, "c1", "Айгерім", "almaty", true).await;
    seed(&pool, tenant, "c2", "=cmd|' /C calc'!A0", "astana", false).await;
    let resp = app
        .get("/api/leads.csv?sort=created_at", Some(&token))
        .await;
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let bytes = resp.bytes().await.unwrap();
    assert_eq!(&bytes[..3], b"\xEF\xBB\xBF", "UTF-8 byte-order mark");
    let text = String::from_utf8(bytes[3..].to_vec()).unwrap();
    let lines: Vec<&str> = text.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(lines.len(), 3);
    assert!(lines[0].starts_with("id,user_id,name,phone,city"));
    assert!(lines[1].contains(",Айгерім,+77012345678,almaty,"));
    assert!(lines[1].contains("\"Баня, 24 м²\""));
    assert!(lines[2].contains(",'=cmd"), "formula defused: {}", lines[2]);
}
