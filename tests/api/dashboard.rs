//! The managers' dashboard in a real browser: headless Chromium from Debian, driven over
//! chromedriver's W3C WebDriver protocol (plain HTTP: a few calls, no client crate). Screenshots of
//! the main pages are saved under target/screenshots/. The tests say SKIPPED, and pass, only
//! where the `chromium` and `chromium-driver` packages are missing (scripts/test installs them).

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::helpers::{TestApp, offline_workers, run_workers_until_idle, spawn_app};

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

struct Browser {
    http: reqwest::Client,
    session: String,
    driver: Child,
    _profile: PathBuf,
}

impl Drop for Browser {
    /// Kills chromedriver's whole process group: killing chromedriver alone orphaned the Chromium
    /// it started (dozens of them, busy, after a few suite runs).
    fn drop(&mut self) {
        let group = format!("-{}", self.driver.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        let _ = std::fs::remove_dir_all(&self._profile);
    }
}

impl Browser {
    async fn start() -> Option<Self> {
        for tool in ["/usr/bin/chromium", "/usr/bin/chromedriver"] {
            if !Path::new(tool).exists() {
                eprintln!("SKIPPED: {tool} is not installed (Debian chromium, chromium-driver)");
                return None;
            }
        }
        let port = crate::helpers::free_port();
        // In a process group of its own, which Chromium joins: Drop kills them together.
        let driver = Command::new("/usr/bin/chromedriver")
            .process_group(0)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let http = crate::helpers::client_builder().build().unwrap();
        let base = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        while http.get(format!("{base}/status")).send().await.is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let profile =
            std::env::temp_dir().join(format!("salesbot-chromium-{}", uuid::Uuid::now_v7()));
        let created: Value = http
            .post(format!("{base}/session"))
            .json(&json!({"capabilities": {"alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": {
                    "binary": "/usr/bin/chromium",
                    "args": ["--headless", "--no-sandbox", "--disable-gpu",
                             "--disable-background-networking", "--disable-component-update",
                             "--no-first-run", "--disable-dev-shm-usage",
                             "--window-size=1280,900",
                             format!("--user-data-dir={}", profile.display())]
                }
            }}}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let session = created["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {created}"))
            .to_owned();
        Some(Self {
            http,
            session: format!("{base}/session/{session}"),
            driver,
            _profile: profile,
        })
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self.http.request(method, format!("{}{path}", self.session));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let answer: Value = request.send().await.unwrap().json().await.unwrap();
        assert!(
            answer["value"]["error"].is_null(),
            "WebDriver {path}: {answer}"
        );
        answer["value"].clone()
    }

    async fn goto(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", Some(json!({"url": url})))
            .await;
    }

    async fn path(&self) -> String {
        let url = self.call(reqwest::Method::GET, "/url", None).await;
        reqwest::Url::parse(url.as_str().unwrap())
            .unwrap()
            .path()
            .to_owned()
    }

    async fn find(&self, css: &str) -> String {
        let found = self
            .call(
                reqwest::Method::POST,
                "/element",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await;
        found[ELEMENT].as_str().unwrap().to_owned()
    }

    async fn type_into(&self, css: &str, text: &str) {
        let element = self.find(css).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{element}/value"),
            Some(json!({"text": text})),
        )
        .await;
    }

    /// Replaces what a field holds.
    async fn fill(&self, css: &str, text: &str) {
        let element = self.find(css).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{element}/clear"),
            Some(json!({})),
        )
        .await;
        self.type_into(css, text).await;
    }

    /// How many elements `css` matches on the page.
    async fn count(&self, css: &str) -> usize {
        self.call(
            reqwest::Method::POST,
            "/elements",
            Some(json!({"using": "css selector", "value": css})),
        )
        .await
        .as_array()
        .unwrap()
        .len()
    }

    async fn click(&self, css: &str) {
        let element = self.find(css).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{element}/click"),
            Some(json!({})),
        )
        .await;
    }

    /// Clicks something that loads a new page, and waits until the new document is there (the
    /// click may return before the form's navigation has replaced the old one).
    async fn click_to_load(&self, css: &str) {
        let before = self.find("html").await;
        self.click(css).await;
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let now = self
                .http
                .post(format!("{}/element", self.session))
                .json(&json!({"using": "css selector", "value": "html"}))
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap();
            let loaded = now["value"][ELEMENT]
                .as_str()
                .is_some_and(|id| id != before);
            let ready = self
                .http
                .post(format!("{}/execute/sync", self.session))
                .json(&json!({"script": "return document.readyState", "args": []}))
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap();
            if loaded && ready["value"] == "complete" {
                return;
            }
            assert!(Instant::now() < deadline, "{css}: no new page");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn text(&self, css: &str) -> String {
        let element = self.find(css).await;
        self.call(
            reqwest::Method::GET,
            &format!("/element/{element}/text"),
            None,
        )
        .await
        .as_str()
        .unwrap()
        .to_owned()
    }

    /// Waits (polling the page, up to 30 s) until `css`'s text contains `needle`: for what the
    /// page's script adds without a reload.
    async fn wait_for_text(&self, css: &str, shown: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let text = self.text(css).await;
            if shown(&text) {
                return text;
            }
            assert!(Instant::now() < deadline, "{css} never showed it: {text}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn script(&self, script: &str) -> Value {
        self.call(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({"script": script, "args": []})),
        )
        .await
    }

    /// Resizes the window, e.g. to a phone's screen.
    async fn window(&self, width: u32, height: u32) {
        self.call(
            reqwest::Method::POST,
            "/window/rect",
            Some(json!({"width": width, "height": height})),
        )
        .await;
    }

    /// Whether the page is wider than the window (a phone would scroll it sideways).
    async fn overflows(&self) -> bool {
        self.script("return document.documentElement.scrollWidth > window.innerWidth")
            .await
            .as_bool()
            .unwrap()
    }

    async fn screenshot(&self, name: &str) {
        let png = self.call(reqwest::Method::GET, "/screenshot", None).await;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(png.as_str().unwrap())
            .unwrap();
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{name}.png")), bytes).unwrap();
    }

    async fn forget_cookies(&self) {
        self.call(reqwest::Method::DELETE, "/cookie", None).await;
    }
}

/// Signs up through the page's form.
async fn register(browser: &Browser, app: &TestApp, company: &str, email: &str) {
    browser.goto(&app.url("/register")).await;
    browser.type_into("#company_name", company).await;
    browser.type_into("#email", email).await;
    browser
        .type_into("#password", "correct horse battery")
        .await;
    browser.click_to_load("#submit").await;
}

/// A session as a form sign-in gives it, for requests outside the browser: the Cookie header.
pub(crate) async fn form_session(app: &TestApp, email: &str) -> String {
    let client = crate::helpers::client_builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = client.get(app.url("/login")).send().await.unwrap();
    let csrf = set_cookie(&page, "salesbot_csrf");
    let signed_in = client
        .post(app.url("/login"))
        .header("cookie", format!("salesbot_csrf={csrf}"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("email", email),
            ("password", "correct horse battery"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), 303);
    let session = set_cookie(&signed_in, "salesbot_session");
    format!("salesbot_csrf={csrf}; salesbot_session={session}")
}

fn set_cookie(response: &reqwest::Response, name: &str) -> String {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix(&format!("{name}=")))
        .and_then(|v| v.split(';').next())
        .unwrap_or_else(|| panic!("no {name} cookie"))
        .to_owned()
}

#[sqlx::test]
async fn a_manager_signs_up_sees_the_first_lead_and_its_conversation(pool: PgPool) {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let app = spawn_app(pool.clone()).await;
    let workers = offline_workers(&pool);

    // Sign-up lands on the empty state, which teaches the first message.
    register(&browser, &app, "СтройДом", "owner@stroy.kz").await;
    assert_eq!(browser.path().await, "/");
    let empty = browser.text("#empty-state").await;
    assert!(empty.contains("Заявок пока нет"), "{empty}");
    assert!(empty.contains("/api/chat"), "{empty}");
    browser.screenshot("empty-state").await;

    // Sign out, sign in again.
    browser.click_to_load("form.inline button").await;
    assert_eq!(browser.path().await, "/login");
    browser.screenshot("login").await;
    browser.type_into("#email", "owner@stroy.kz").await;
    browser.type_into("#password", "wrong password").await;
    browser.click_to_load("#submit").await;
    assert!(browser.text(".error").await.contains("Неверный"));
    browser
        .type_into("#password", "correct horse battery")
        .await;
    browser.click_to_load("#submit").await;
    assert_eq!(browser.path().await, "/");

    // A customer writes through the API: the lead is in the table, its conversation on its page.
    let login: Value = app
        .client
        .post(app.url("/api/auth/login"))
        .form(&[
            ("username", "owner@stroy.kz"),
            ("password", "correct horse battery"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["access_token"].as_str().unwrap();
    app.send_text(token, "client_1", "Меня зовут Ерлан, дом 120 м² в Алматы")
        .await;
    run_workers_until_idle(&workers, &pool).await;
    browser.goto(&app.url("/")).await;
    let table = browser.text("#leads").await;
    assert!(
        table.contains("Ерлан") && table.contains("almaty"),
        "{table}"
    );
    browser.screenshot("leads").await;

    // Filters, and the same leads as CSV.
    browser.type_into("#q", "Ерлан").await;
    browser.click_to_load("#apply").await;
    assert!(browser.text("#leads").await.contains("Ерлан"));
    browser.goto(&app.url("/?q=никого&status=new")).await;
    assert!(browser.text("#no-match").await.contains("Нет заявок"));
    let owner = form_session(&app, "owner@stroy.kz").await;
    let csv = |query: &'static str| {
        let (app, owner) = (&app, owner.clone());
        async move {
            let resp = app
                .client
                .get(app.url(&format!("/leads.csv?{query}")))
                .header("cookie", owner)
                .send()
                .await
                .unwrap();
            assert_eq!(resp.headers()["content-type"], "text/csv; charset=utf-8");
            resp.text().await.unwrap()
        }
    };
    assert!(csv("status=new").await.contains("Ерлан"));
    assert!(!csv("status=won").await.contains("Ерлан"));
    browser.goto(&app.url("/")).await;
    browser.click_to_load("#leads a").await;
    assert!(browser.path().await.starts_with("/leads/"));
    let lead_url = app.url(&browser.path().await);
    assert_eq!(browser.text("#lead td.status").await, "new");
    let conversation = browser.text("#conversation").await;
    assert!(
        conversation.contains("дом 120 м² в Алматы"),
        "{conversation}"
    );
    assert!(
        conversation.contains("Бот"),
        "the bot's reply: {conversation}"
    );
    browser.screenshot("lead").await;

    // The customer writes again: the open page shows it, and the bot's answer, without a reload.
    let page = browser.find("html").await;
    app.send_text(token, "client_1", "А баню 30 м² тоже строите?")
        .await;
    run_workers_until_idle(&workers, &pool).await;
    // The message and the bot's second answer.
    browser
        .wait_for_text("#conversation", |t| {
            t.contains("баню 30 м²") && t.matches("Бот").count() >= 2
        })
        .await;
    assert_eq!(
        browser.find("html").await,
        page,
        "the same document: no reload"
    );

    // The manager moves the lead on, takes the conversation over, answers, and hands it back.
    browser.click("#status option[value=in_work]").await;
    browser.click_to_load("#save-status").await;
    assert_eq!(browser.text("#lead td.status").await, "in_work");
    browser.click_to_load("#take-over").await;
    assert!(browser.text("#mode").await.contains("менеджер"));
    browser
        .type_into(
            "#text",
            "Здравствуйте, Ерлан! Это Айгуль, менеджер. Когда удобно созвониться?",
        )
        .await;
    browser.click_to_load("#send").await;
    let conversation = browser.text("#conversation").await;
    assert!(
        conversation.contains("Менеджер") && conversation.contains("Это Айгуль"),
        "{conversation}"
    );
    browser.screenshot("lead-handoff").await;
    browser.click_to_load("#release").await;
    assert!(browser.text("#mode").await.contains("бот"));
    let status: Value = app
        .client
        .get(app.url(&format!(
            "/api/leads/{}",
            lead_url.rsplit('/').next().unwrap()
        )))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        status["status"], "in_work",
        "the API sees the dashboard's change"
    );

    // English on request, remembered.
    browser.goto(&app.url("/?lang=en")).await;
    assert!(browser.text("h1").await.contains("Leads"));
    browser.goto(&app.url("/")).await;
    assert!(browser.text("h1").await.contains("Leads"));

    // Another company's manager cannot open the lead: a 404 page.
    browser.forget_cookies().await;
    register(&browser, &app, "Бетон", "owner@beton.kz").await;
    browser.goto(&lead_url).await;
    assert!(browser.text("main").await.contains("Такой страницы нет"));
    let stranger = form_session(&app, "owner@beton.kz").await;
    let resp = app
        .client
        .get(&lead_url)
        .header("cookie", &stranger)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    let resp = app
        .client
        .get(&lead_url)
        .header("cookie", &owner)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}

#[sqlx::test]
async fn a_form_post_without_its_csrf_token_is_refused(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    app.register_ok("owner@stroy.kz", "Stroy").await;
    let session = form_session(&app, "owner@stroy.kz").await;
    let no_redirects = crate::helpers::client_builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    // Signed in, but the form lacks the token (as a forged cross-site form would).
    let resp = no_redirects
        .post(app.url("/logout"))
        .header("cookie", &session)
        .form(&[("csrf", "")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    // A token without its cookie is refused too, and so is a sign-in form without either.
    let csrf = session
        .split("; ")
        .find_map(|c| c.strip_prefix("salesbot_csrf="))
        .unwrap();
    let resp = no_redirects
        .post(app.url("/logout"))
        .form(&[("csrf", csrf)])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    let resp = no_redirects
        .post(app.url("/login"))
        .form(&[
            ("email", "owner@stroy.kz"),
            ("password", "correct horse battery"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    // With both, it works: the session cookie is cleared.
    let resp = no_redirects
        .post(app.url("/logout"))
        .header("cookie", &session)
        .form(&[("csrf", csrf)])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    assert!(set_cookie(&resp, "salesbot_session").is_empty());
}

/// The API's bearer token of an account (the password every test account has).
async fn api_token(app: &TestApp, email: &str) -> String {
    let login: Value = app
        .login_form(email, "correct horse battery")
        .await
        .json()
        .await
        .unwrap();
    login["access_token"].as_str().unwrap().to_owned()
}

/// A page fetched outside the browser with a session's cookies: (status, HTML).
async fn get_page(app: &TestApp, session: &str, path: &str) -> (u16, String) {
    let resp = app
        .client
        .get(app.url(path))
        .header("cookie", session)
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

/// A form posted outside the browser with a session's cookies and its CSRF token:
/// (status, page).
async fn post_form(
    app: &TestApp,
    session: &str,
    path: &str,
    fields: &[(&str, &str)],
) -> (u16, String) {
    let csrf = session
        .split("; ")
        .find_map(|c| c.strip_prefix("salesbot_csrf="))
        .unwrap();
    let resp = crate::helpers::client_builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(app.url(path))
        .header("cookie", session)
        .form(&[[("csrf", csrf)].as_slice(), fields].concat())
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

#[sqlx::test]
async fn conversations_are_listed_and_handled_from_their_own_page(pool: PgPool) {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let app = spawn_app(pool.clone()).await;
    let workers = offline_workers(&pool);
    register(&browser, &app, "СтройДом", "owner@stroy.kz").await;
    browser.goto(&app.url("/conversations")).await;
    assert!(
        browser
            .text("#no-conversations")
            .await
            .contains("Диалогов пока нет")
    );

    let token = api_token(&app, "owner@stroy.kz").await;
    app.send_text(&token, "client_1", "Меня зовут Ерлан, дом 120 м² в Алматы")
        .await;
    run_workers_until_idle(&workers, &pool).await;
    browser.goto(&app.url("/conversations")).await;
    let list = browser.text("#conversations").await;
    assert!(
        list.contains("client_1") && list.contains("дом, Алматы") && list.contains("api"),
        "{list}"
    );
    assert_eq!(browser.text("td.mode").await, "Бот");
    browser.screenshot("conversations").await;

    // The conversation's own page, updated live.
    browser.click_to_load("#conversations a").await;
    assert!(browser.path().await.starts_with("/conversations/"));
    let conversation_url = app.url(&browser.path().await);
    assert!(
        browser
            .text("#conversation")
            .await
            .contains("дом 120 м² в Алматы")
    );
    let page = browser.find("html").await;
    app.send_text(&token, "client_1", "А баню 30 м² тоже строите?")
        .await;
    run_workers_until_idle(&workers, &pool).await;
    browser
        .wait_for_text("#conversation", |t| t.contains("баню 30 м²"))
        .await;
    assert_eq!(browser.find("html").await, page, "no reload");

    // Taken over, answered and handed back from here, each form coming back to this page.
    browser.click_to_load("#take-over").await;
    assert_eq!(app.url(&browser.path().await), conversation_url);
    assert!(browser.text("#mode").await.contains("менеджер"));
    browser
        .type_into("#text", "Здравствуйте, Ерлан! Это Айгуль, менеджер.")
        .await;
    browser.click_to_load("#send").await;
    assert!(browser.text("#conversation").await.contains("Это Айгуль"));
    browser.screenshot("conversation").await;
    browser.goto(&app.url("/conversations")).await;
    assert_eq!(browser.text("td.mode").await, "Менеджер");
    assert!(browser.text("td.last").await.contains("Это Айгуль"));

    // The lead's page shows the same conversation; handing back from there returns there.
    browser.goto(&conversation_url).await;
    browser.click_to_load("#lead-link").await;
    assert!(browser.path().await.starts_with("/leads/"));
    let lead_path = browser.path().await;
    assert!(browser.text("#conversation").await.contains("Это Айгуль"));
    browser.click_to_load("#release").await;
    assert_eq!(browser.path().await, lead_path);
    assert!(browser.text("#mode").await.contains("бот"));

    // On a phone's screen no page is wider than the screen.
    browser.window(390, 844).await;
    for path in [
        "/",
        "/conversations",
        &lead_path,
        "/settings",
        "/queue",
        "/usage",
    ] {
        browser.goto(&app.url(path)).await;
        assert!(
            !browser.overflows().await,
            "{path} scrolls sideways on a phone"
        );
    }
    browser.goto(&app.url(&lead_path)).await;
    browser.screenshot("phone-lead").await;
    browser.goto(&app.url("/conversations")).await;
    browser.screenshot("phone-conversations").await;

    // Another company sees neither the page nor its live messages.
    app.register_ok("owner@beton.kz", "Бетон").await;
    let stranger = form_session(&app, "owner@beton.kz").await;
    let path = conversation_url.strip_prefix(&app.url("")).unwrap();
    assert_eq!(get_page(&app, &stranger, path).await.0, 404);
    assert_eq!(
        get_page(&app, &stranger, &format!("{path}/messages"))
            .await
            .0,
        404
    );
    let owner = form_session(&app, "owner@stroy.kz").await;
    let (status, messages) = get_page(&app, &owner, &format!("{path}/messages")).await;
    assert_eq!(status, 200);
    assert!(messages.contains("Это Айгуль"), "{messages}");
}

#[sqlx::test]
async fn an_owner_sets_the_company_up_on_the_settings_page(pool: PgPool) {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let app = spawn_app(pool.clone()).await;
    let workers = offline_workers(&pool);
    register(&browser, &app, "СтройДом", "owner@stroy.kz").await;
    let token = api_token(&app, "owner@stroy.kz").await;
    browser.goto(&app.url("/settings")).await;
    assert!(browser.text("#no-bot").await.contains("Бот не подключён"));

    // Telegram: what the API refuses is said beside the form; then saved as the API saves it.
    let bot_token = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw";
    browser.fill("#bot_token", bot_token).await;
    browser.fill("#managers_chat_id", "не чат").await;
    browser.click_to_load("#save-telegram").await;
    let refused = browser.text("#telegram .error").await;
    assert!(refused.contains("managers_chat_id"), "{refused}");
    browser.fill("#bot_token", bot_token).await;
    browser.fill("#managers_chat_id", "-1001234567890").await;
    browser.click("#language option[value=kk]").await;
    browser.fill("#working_hours", "09:00-18:00").await;
    browser.click_to_load("#save-telegram").await;
    assert!(
        browser
            .text("#telegram .notice")
            .await
            .contains("Сохранено")
    );
    assert!(browser.text("#bot-hint").await.starts_with("123456789:"));
    let telegram: Value = app.get_json("/api/settings/telegram", Some(&token)).await;
    assert_eq!(telegram["managers_chat_id"], "-1001234567890");
    assert_eq!(telegram["language"], "kk");
    assert_eq!(telegram["working_hours"], "09:00-18:00");

    // Assistant: coalescing and the budget, with the API's limits (which the page's own
    // min/max keep a browser from sending, so the refusal is posted by hand).
    let session = form_session(&app, "owner@stroy.kz").await;
    let (status, page) = post_form(
        &app,
        &session,
        "/settings/assistant",
        &[("coalesce_ms", "70000")],
    )
    .await;
    assert_eq!(status, 422);
    assert!(page.contains("coalesce_ms"), "{page}");
    browser.fill("#coalesce_ms", "1500").await;
    browser.fill("#monthly_budget_usd", "25").await;
    browser.fill("#company_phone", "+7 727 000 00 00").await;
    browser.click_to_load("#save-assistant").await;
    let assistant: Value = app.get_json("/api/settings/assistant", Some(&token)).await;
    assert_eq!(assistant["coalesce_ms"], 1500);
    assert_eq!(assistant["monthly_budget_usd"], 25.0);
    assert_eq!(assistant["company_phone"], "+7 727 000 00 00");

    // The price list: a range the API refuses is said beside the form; a good one is the list.
    browser.fill("input[name=min_house]", "150000").await;
    browser.fill("input[name=max_house]", "2000000000").await;
    browser.click_to_load("#save-prices").await;
    assert!(browser.text("#prices .error").await.contains("1000000000"));
    // Bounds given the other way round are the same range.
    browser.fill("input[name=min_house]", "250000").await;
    browser.fill("input[name=max_house]", "150000").await;
    browser
        .fill("input[name=conditions_house]", "коробка без отделки")
        .await;
    browser.click_to_load("#save-prices").await;
    assert!(browser.text("#prices .notice").await.contains("Сохранено"));
    let prices: Value = app.get_json("/api/settings/prices", Some(&token)).await;
    assert_eq!(
        prices,
        json!({"house": {"min_per_m2": 150000, "max_per_m2": 250000,
                         "conditions": "коробка без отделки"},
               "cottage": null, "apartment_renovation": null, "bathhouse": null, "garage": null,
               "commercial": null, "other": null})
    );

    // Follow-ups: two, two days apart, with the company's own Kazakh words.
    browser.fill("#max_count", "2").await;
    browser.fill("#delay_minutes", "2880").await;
    browser
        .fill("#text_kk", "Сәлеметсіз бе! Сұрақтарыңыз қалды ма?")
        .await;
    browser.click_to_load("#save-follow-ups").await;
    assert!(
        browser
            .text("#follow_ups .notice")
            .await
            .contains("Сохранено")
    );
    let follow_ups: Value = app.get_json("/api/settings/follow-ups", Some(&token)).await;
    assert_eq!(follow_ups["max_count"], 2, "{follow_ups}");
    assert_eq!(follow_ups["delay_minutes"], 2880);
    assert_eq!(
        follow_ups["text_kk"],
        "Сәлеметсіз бе! Сұрақтарыңыз қалды ма?"
    );
    assert_eq!(
        follow_ups["text_ru"],
        Value::Null,
        "an empty field is the built-in text"
    );

    // amoCRM: only amoCRM's domains; connected, then disconnected.
    browser.fill("#base_domain", "evil.example.com").await;
    browser.fill("#access_token", "amo-long-lived-token").await;
    browser.click_to_load("#save-amocrm").await;
    assert!(browser.text("#amocrm .error").await.contains("base_domain"));
    browser.fill("#base_domain", "stroy.amocrm.ru").await;
    browser.fill("#access_token", "amo-long-lived-token").await;
    browser.click_to_load("#save-amocrm").await;
    assert!(
        browser
            .text("#amo-connected")
            .await
            .contains("stroy.amocrm.ru")
    );
    browser.click_to_load("#amo-disconnect").await;
    assert_eq!(browser.count("#amo-connected").await, 0);
    assert_eq!(
        app.get("/api/settings/amocrm", Some(&token)).await.status(),
        404
    );

    // An API key, shown once, works until it is revoked.
    browser.fill("#key_name", "CRM").await;
    browser
        .click("#keys input[name=scope][value='chat:write']")
        .await;
    browser.click_to_load("#create-key").await;
    let key = browser.text("#secret").await;
    assert!(key.starts_with("sk_"), "{key}");
    browser.screenshot("settings-key-created").await;
    assert!(
        app.send_text(&key, "key_client", "Здравствуйте")
            .await
            .status()
            .is_success()
    );
    browser.goto(&app.url("/settings")).await;
    assert_eq!(browser.count("#secret").await, 0, "shown once");
    assert!(browser.text("#key-list").await.contains("CRM"));
    browser.click_to_load("#key-list button.revoke").await;
    assert!(browser.text("#key-list").await.contains("отозван"));
    assert_eq!(
        app.send_text(&key, "key_client", "Ещё раз").await.status(),
        401
    );

    // A webhook endpoint: its secret shown once, its deliveries listed and sent again.
    let (receiver, url) = crate::fakes::FakeReceiver::start().await;
    browser.fill("#url", &url).await;
    browser
        .click("#webhooks input[name=event][value='message.received']")
        .await;
    browser.click_to_load("#create-endpoint").await;
    assert!(browser.text("#secret").await.starts_with("whsec_"));
    app.send_text(&token, "client_1", "Дом 120 м² в Алматы")
        .await;
    run_workers_until_idle(&workers, &pool).await;
    assert_eq!(receiver.received().len(), 1);
    browser.goto(&app.url("/settings")).await;
    browser.click_to_load("#endpoint-list a").await;
    let endpoint_path = browser.path().await;
    assert_eq!(browser.text("#deliveries td.state").await, "succeeded");
    browser.click_to_load("#deliveries button.redeliver").await;
    assert!(browser.text("main").await.contains("снова"));
    assert_eq!(browser.text("#deliveries td.state").await, "pending");
    run_workers_until_idle(&workers, &pool).await;
    let received = receiver.received();
    assert_eq!(received.len(), 2);
    assert_eq!(received[0].webhook_id, received[1].webhook_id);
    browser.screenshot("settings-deliveries").await;

    // An endpoint salesbot disabled says why, and is enabled again from its page.
    sqlx::query(
        "UPDATE webhook_endpoints SET enabled = false, disabled_at = now(),
                disabled_reason = 'deliveries failed for 5 days'",
    )
    .execute(&pool)
    .await
    .unwrap();
    browser.goto(&app.url(&endpoint_path)).await;
    assert!(
        browser
            .text("#disabled-reason")
            .await
            .contains("failed for 5 days")
    );
    browser.click_to_load("#enable").await;
    assert!(browser.text("#endpoint-state").await.contains("включён"));
    let endpoint_id = endpoint_path.rsplit('/').next().unwrap();
    let endpoint: Value = app
        .get_json(&format!("/api/webhooks/{endpoint_id}"), Some(&token))
        .await;
    assert_eq!(endpoint["enabled"], true);

    // Every page in every language renders (a word missing from the dashboard's table fails
    // the debug build's check); Kazakh is Kazakh.
    let conversations: Value = app.get_json("/api/conversations", Some(&token)).await;
    let conversation = conversations[0]["bot_user_id"].as_str().unwrap().to_owned();
    let lead = conversations[0]["lead_id"].as_str().unwrap().to_owned();
    for path in [
        "/".to_owned(),
        "/conversations".to_owned(),
        format!("/conversations/{conversation}"),
        format!("/leads/{lead}"),
        "/settings".to_owned(),
        endpoint_path.clone(),
        "/usage".to_owned(),
        "/queue".to_owned(),
    ] {
        for lang in ["ru", "kk", "en"] {
            let (status, _) = get_page(&app, &session, &format!("{path}?lang={lang}")).await;
            assert_eq!(status, 200, "{path} in {lang}");
        }
    }
    let (_, kazakh) = get_page(&app, &session, "/?lang=kk").await;
    assert!(kazakh.contains("Өтінімдер") && kazakh.contains("lang=\"kk\""));
}

#[sqlx::test]
async fn usage_and_the_queue_panel_show_only_the_company_s_own(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    app.register_ok("owner@stroy.kz", "Stroy").await;
    app.register_ok("owner@beton.kz", "Beton").await;
    let stroy_id: uuid::Uuid =
        sqlx::query_scalar("SELECT tenant_id FROM users WHERE email = 'owner@stroy.kz'")
            .fetch_one(&pool)
            .await
            .unwrap();
    let owner = form_session(&app, "owner@stroy.kz").await;
    let stranger = form_session(&app, "owner@beton.kz").await;

    // Usage: the month's calls and cost, against the budget.
    sqlx::query(
        "INSERT INTO llm_usage (tenant_id, day, model, calls, prompt_tokens, completion_tokens,
                                cost_usd)
         VALUES ($1, (now() AT TIME ZONE 'UTC')::date, 'gpt-4o-mini', 42, 12000, 3400, 1.2345)",
    )
    .bind(stroy_id)
    .execute(&pool)
    .await
    .unwrap();
    sqlx::query("UPDATE tenants SET monthly_budget_usd = 10 WHERE id = $1")
        .bind(stroy_id)
        .execute(&pool)
        .await
        .unwrap();
    let (status, usage) = get_page(&app, &owner, "/usage").await;
    assert_eq!(status, 200);
    assert!(
        usage.contains("gpt-4o-mini") && usage.contains("1.2345") && usage.contains("$10.00"),
        "{usage}"
    );
    let (_, theirs) = get_page(&app, &stranger, "/usage").await;
    assert!(!theirs.contains("gpt-4o-mini"));

    // The queue panel: the company's dead job, with a retry only the company can use.
    let job = salesbot::queue::enqueue(
        &pool,
        &salesbot::queue::NewJob::new("crm_sync", json!({"lead_id": uuid::Uuid::now_v7()}))
            .tenant(salesbot::domain::TenantId(stroy_id)),
    )
    .await
    .unwrap();
    sqlx::query(
        "UPDATE jobs SET state = 'dead', attempts = 8, last_error = 'amoCRM answered 502'
          WHERE id = $1",
    )
    .bind(job.id.0)
    .execute(&pool)
    .await
    .unwrap();
    let (status, panel) = get_page(&app, &owner, "/queue").await;
    assert_eq!(status, 200);
    assert!(panel.contains("amoCRM answered 502"), "{panel}");
    let (_, theirs) = get_page(&app, &stranger, "/queue").await;
    assert!(!theirs.contains("amoCRM answered 502") && !theirs.contains("crm_sync"));
    let retry = format!("/queue/dead/{}/retry", job.id);
    assert_eq!(post_form(&app, &stranger, &retry, &[]).await.0, 404);
    let manager = {
        app.add_manager("owner@stroy.kz", "manager@stroy.kz").await;
        form_session(&app, "manager@stroy.kz").await
    };
    assert_eq!(get_page(&app, &manager, "/queue").await.0, 403);
    assert_eq!(get_page(&app, &manager, "/settings").await.0, 403);
    assert_eq!(post_form(&app, &manager, &retry, &[]).await.0, 403);
    let dead: i64 = sqlx::query_scalar("SELECT count(*) FROM jobs WHERE state = 'dead'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(dead, 1, "refused retries left it dead");
    assert_eq!(post_form(&app, &owner, &retry, &[]).await.0, 303);
    let states: Vec<String> = sqlx::query_scalar(
        "SELECT state::text FROM jobs WHERE kind = 'crm_sync' AND tenant_id = $1",
    )
    .bind(stroy_id)
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(
        states,
        ["available"],
        "the dead job runs again as a new one"
    );
}
