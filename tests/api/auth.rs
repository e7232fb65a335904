//! Registration, login (form and JSON), tokens.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{EncodingKey, Header};
use salesbot::domain::UserId;
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::helpers::{TEST_SECRET, error_code, spawn_app};

#[sqlx::test]
async fn register_then_login_with_form_and_json(pool: PgPool) {
    let app = spawn_app(pool).await;
    let resp = app
        .register("Owner@Stroy.kz", "correct horse battery", "ТОО Құрылыс")
        .await;
    assert_eq!(resp.status(), 201);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["user"]["email"], "owner@stroy.kz");
    assert_eq!(body["user"]["role"], "owner");
    assert_eq!(body["user"]["tenant"]["name"], "ТОО Құрылыс");

    // The token from registration works.
    let me: Value = app
        .get("/api/me", body["access_token"].as_str())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["email"], "owner@stroy.kz");
    assert_eq!(me["tenant"]["id"], body["user"]["tenant"]["id"]);

    // The prototype's form login, any case of the email.
    let resp = app
        .login_form("OWNER@stroy.kz", "correct horse battery")
        .await;
    assert_eq!(resp.status(), 200);
    let token: Value = resp.json().await.unwrap();
    assert_eq!(token["token_type"], "bearer");
    let me: Value = app
        .get("/api/me", token["access_token"].as_str())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["email"], "owner@stroy.kz");

    // JSON login, with `username` or `email`.
    for field in ["username", "email"] {
        let resp = app
            .client
            .post(app.url("/api/auth/login"))
            .json(&json!({field: "owner@stroy.kz", "password": "correct horse battery"}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "JSON login with {field}");
        let token: Value = resp.json().await.unwrap();
        assert!(token["access_token"].as_str().unwrap().len() > 20);
    }
}

#[sqlx::test]
async fn token_claims_are_prototype_compatible(pool: PgPool) {
    let app = spawn_app(pool).await;
    let (token, body) = app.register_ok("claims@stroy.kz", "Claims").await;
    let payload = token.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    assert_eq!(claims["sub"], "claims@stroy.kz");
    assert!(claims["exp"].as_i64().unwrap() > chrono::Utc::now().timestamp());
    assert_eq!(claims["tid"], body["user"]["tenant"]["id"]);
    assert_eq!(claims["uid"], body["user"]["id"]);
    let header: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(token.split('.').next().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(header["alg"], "HS256");
}

#[sqlx::test]
async fn duplicate_email_in_any_case_is_409(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    app.register_ok("dup@stroy.kz", "First").await;
    let resp = app
        .register("DUP@Stroy.KZ", "another password", "Second")
        .await;
    assert_eq!(error_code(resp, 409).await, "email_taken");
    // The failed registration left no tenant behind.
    let tenants: i64 = sqlx::query_scalar("SELECT count(*) FROM tenants")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(tenants, 1);
}

#[sqlx::test]
async fn wrong_password_and_unknown_email_get_the_same_401(pool: PgPool) {
    let app = spawn_app(pool).await;
    app.register_ok("known@stroy.kz", "Known").await;
    let wrong = app.login_form("known@stroy.kz", "wrong password!").await;
    let unknown = app.login_form("nobody@stroy.kz", "wrong password!").await;
    assert_eq!(wrong.status(), 401);
    assert_eq!(unknown.status(), 401);
    let wrong: Value = wrong.json().await.unwrap();
    let unknown: Value = unknown.json().await.unwrap();
    assert_eq!(wrong, unknown);
    assert_eq!(wrong["error"]["code"], "invalid_credentials");
}

#[sqlx::test]
async fn invalid_registrations_are_422_and_store_nothing(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let cases = [
        json!({"email": "not-an-email", "password": "long enough pw", "company_name": "A"}),
        json!({"email": "a@b.kz", "password": "short", "company_name": "A"}),
        json!({"email": "a@b.kz", "password": "long enough pw", "company_name": "   "}),
        json!({"email": "a@b.kz", "password": "long enough pw"}),
        json!({"email": "a@b.kz", "password": "long enough pw", "company_name": "A", "plan": "pro"}),
    ];
    for case in cases {
        let resp = app
            .client
            .post(app.url("/api/auth/register"))
            .json(&case)
            .send()
            .await
            .unwrap();
        assert_eq!(
            error_code(resp, 422).await,
            "validation_error",
            "case {case}"
        );
    }
    let resp = app
        .client
        .post(app.url("/api/auth/register"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(resp, 400).await, "bad_request");
    let users: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(users, 0);
}

fn b64(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap())
}

#[sqlx::test]
async fn forged_expired_and_malformed_tokens_are_401(pool: PgPool) {
    let app = spawn_app(pool).await;
    let (token, body) = app.register_ok("victim@stroy.kz", "Victim").await;
    let claims = json!({
        "sub": "victim@stroy.kz",
        "exp": chrono::Utc::now().timestamp() + 3600,
        "iat": chrono::Utc::now().timestamp(),
        "uid": body["user"]["id"],
        "tid": body["user"]["tenant"]["id"],
    });
    let sign = |claims: &Value, key: &str| {
        jsonwebtoken::encode(
            &Header::default(),
            claims,
            &EncodingKey::from_secret(key.as_bytes()).unwrap(),
        )
        .unwrap()
    };
    // Tokens whose header we write ourselves, signed with the right key: the signature is good, so
    // only the header can be why they are refused.
    let sign_with_header = |header: &Value, claims: &Value, mac: &str| {
        use hmac::{Hmac, KeyInit, Mac};
        let message = format!("{}.{}", b64(header), b64(claims));
        let signature = match mac {
            "sha256" => {
                let mut m = Hmac::<sha2::Sha256>::new_from_slice(TEST_SECRET.as_bytes()).unwrap();
                m.update(message.as_bytes());
                m.finalize().into_bytes().to_vec()
            }
            _ => {
                let mut m = Hmac::<sha2::Sha384>::new_from_slice(TEST_SECRET.as_bytes()).unwrap();
                m.update(message.as_bytes());
                m.finalize().into_bytes().to_vec()
            }
        };
        format!("{message}.{}", URL_SAFE_NO_PAD.encode(signature))
    };
    let well_formed = sign_with_header(&json!({"alg": "HS256", "typ": "JWT"}), &claims, "sha256");
    assert_eq!(app.get("/api/me", Some(&well_formed)).await.status(), 200);
    let hs384 = sign_with_header(&json!({"alg": "HS384", "typ": "JWT"}), &claims, "sha384");
    let unknown_crit = sign_with_header(
        &json!({"alg": "HS256", "typ": "JWT", "crit": ["x-unknown"], "x-unknown": 1}),
        &claims,
        "sha256",
    );
    // Sanity: our own signature with the right key is accepted, so the refusals below mean something.
    assert_eq!(
        app.get("/api/me", Some(&sign(&claims, TEST_SECRET)))
            .await
            .status(),
        200
    );

    let alg_none = format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "typ": "JWT"})),
        b64(&claims)
    );
    let wrong_key = sign(&claims, "some-other-secret-0123456789abcdef");
    let mut expired_claims = claims.clone();
    expired_claims["exp"] = json!(chrono::Utc::now().timestamp() - 10);
    let expired = sign(&expired_claims, TEST_SECRET);
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let mut admin_claims = claims.clone();
    admin_claims["sub"] = json!("someone-else@stroy.kz");
    parts[1] = b64(&admin_claims);
    let tampered = parts.join(".");

    for (what, bad) in [
        ("alg none", alg_none.as_str()),
        ("wrong key", wrong_key.as_str()),
        ("expired", expired.as_str()),
        ("tampered payload", tampered.as_str()),
        ("garbage", "not.a.jwt"),
        ("another HMAC algorithm", hs384.as_str()),
        ("a critical header we do not know", unknown_crit.as_str()),
    ] {
        let resp = app.get("/api/me", Some(bad)).await;
        assert_eq!(error_code(resp, 401).await, "invalid_token", "{what}");
    }
    let missing = app.get("/api/me", None).await;
    assert_eq!(error_code(missing, 401).await, "invalid_token");
    let garbled_header = app
        .client
        .get(app.url("/api/me"))
        .header("authorization", format!("Token {token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(garbled_header, 401).await, "invalid_token");
}

#[sqlx::test]
async fn tokens_of_deactivated_users_are_refused(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let (token, _) = app.register_ok("leaver@stroy.kz", "Leaver").await;
    // Twice: the second request is answered from the app's account cache.
    let me: Value = app.get_json("/api/me", Some(&token)).await;
    assert_eq!(app.get("/api/me", Some(&token)).await.status(), 200);
    let id = UserId(me["id"].as_str().unwrap().parse().unwrap());
    assert!(app.accounts.get(id).is_some(), "the account is cached");
    app.change_accounts("UPDATE users SET is_active = false WHERE email = 'leaver@stroy.kz'")
        .await;
    let resp = app.get("/api/me", Some(&token)).await;
    assert_eq!(error_code(resp, 401).await, "invalid_token");
    let resp = app
        .login_form("leaver@stroy.kz", "correct horse battery")
        .await;
    assert_eq!(error_code(resp, 401).await, "invalid_credentials");
}

#[sqlx::test]
async fn a_renamed_company_shows_in_cached_accounts(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let (token, _) = app.register_ok("owner@stroy.kz", "Old Name").await;
    for _ in 0..2 {
        let me: Value = app.get_json("/api/me", Some(&token)).await;
        assert_eq!(me["tenant"]["name"], "Old Name");
    }
    app.change_accounts("UPDATE tenants SET name = 'New Name'")
        .await;
    let me: Value = app.get_json("/api/me", Some(&token)).await;
    assert_eq!(me["tenant"]["name"], "New Name");
}

#[sqlx::test]
async fn schema_diagnostics_are_for_platform_admins_only(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let (token, _) = app.register_ok("admin@salesbot.kz", "Platform").await;
    let resp = app
        .get("/api/admin/diagnostics/db/schema", Some(&token))
        .await;
    assert_eq!(error_code(resp, 403).await, "forbidden");
    app.change_accounts("UPDATE users SET is_platform_admin = true")
        .await;
    let report: Value = app
        .get("/api/admin/diagnostics/db/schema", Some(&token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(report["status"], "ok", "{report}");
    assert!(
        report["columns"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["present"] == true)
    );
    for list in [
        "missing_tables",
        "missing_columns",
        "missing_indexes",
        "missing_functions",
        "tables_without_row_level_security",
    ] {
        assert_eq!(report[list], serde_json::json!([]), "{list}");
    }
    assert_eq!(report["migration_applied"], report["migration_expected"]);
    // Drift is reported, not hidden: what is missing, by name.
    for change in [
        "ALTER TABLE leads DROP COLUMN summary",
        "DROP INDEX webhook_deliveries_event",
        "ALTER TABLE messages DISABLE ROW LEVEL SECURITY",
        "DROP TABLE amocrm_links",
    ] {
        sqlx::query(change).execute(&pool).await.unwrap();
    }
    let report: Value = app
        .get("/api/admin/diagnostics/db/schema", Some(&token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(report["status"], "drift");
    assert_eq!(
        report["missing_columns"],
        serde_json::json!(["leads.summary"])
    );
    // The table's own index went with it.
    assert_eq!(
        report["missing_indexes"],
        serde_json::json!(["amocrm_links_pkey", "webhook_deliveries_event"])
    );
    assert_eq!(
        report["missing_tables"],
        serde_json::json!(["amocrm_links"])
    );
    assert_eq!(
        report["tables_without_row_level_security"],
        serde_json::json!(["messages"])
    );
    let summary = report["columns"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["table"] == "leads" && c["column"] == "summary")
        .unwrap();
    assert_eq!(summary["present"], false);
}
