//! amoCRM API v4, the calls the lead sync makes: create a lead with its contact
//! (`POST /api/v4/leads/complex`), then update them (`PATCH /api/v4/leads/{id}`,
//! `PATCH /api/v4/contacts/{id}`). Authenticated with the account's long-lived token.

use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};

/// Where the requests go: `https://<base domain>`, or AMOCRM_API_BASE for every account (a local
/// fake in tests).
pub struct AmoClient {
    http: reqwest::Client,
    api_base: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum AmoError {
    /// 429: over amoCRM's request rate; try again after this long.
    #[error("amoCRM rate limit: retry after {0:?}")]
    RateLimited(Duration),
    /// 401: the token is not (or no longer) valid.
    #[error("amoCRM refused the token")]
    Unauthorized,
    /// 5xx, timeouts, connection errors.
    #[error("amoCRM unavailable: {0}")]
    Retryable(String),
    /// Anything else (a request amoCRM will never take).
    #[error("amoCRM error: {0}")]
    Fatal(String),
}

/// What amoCRM gets of a lead.
pub struct AmoLead<'a> {
    pub title: &'a str,
    pub contact_name: &'a str,
    pub phone: Option<&'a str>,
    /// amoCRM's closing stages: 142 won, 143 lost (the same in every account); None leaves the
    /// lead in its stage.
    pub closing_status: Option<i64>,
}

/// The ids amoCRM gave a created lead and its contact.
#[derive(Debug, Deserialize)]
pub struct Created {
    pub id: i64,
    pub contact_id: Option<i64>,
}

impl AmoClient {
    pub fn new(api_base: Option<&str>, timeout: Duration) -> Self {
        Self {
            http: super::http_client(timeout),
            api_base: api_base.map(|b| b.trim_end_matches('/').to_owned()),
        }
    }

    fn url(&self, domain: &str, path: &str) -> String {
        match &self.api_base {
            Some(base) => format!("{base}{path}"),
            None => format!("https://{domain}{path}"),
        }
    }

    /// The lead's own fields, as created and as updated.
    fn lead(lead: &AmoLead<'_>) -> Value {
        let mut body = json!({"name": lead.title});
        if let Some(status) = lead.closing_status {
            body["status_id"] = json!(status);
        }
        body
    }

    fn contact(lead: &AmoLead<'_>) -> Value {
        let mut contact = json!({"first_name": lead.contact_name});
        if let Some(phone) = lead.phone {
            contact["custom_fields_values"] = json!([
                {"field_code": "PHONE", "values": [{"value": phone, "enum_code": "WORK"}]}
            ]);
        }
        contact
    }

    pub async fn create(
        &self,
        domain: &str,
        token: &str,
        lead: &AmoLead<'_>,
    ) -> Result<Created, AmoError> {
        let mut body = Self::lead(lead);
        body["_embedded"] =
            json!({"contacts": [Self::contact(lead)], "tags": [{"name": "salesbot"}]});
        let answer = self
            .send(
                self.http
                    .post(self.url(domain, "/api/v4/leads/complex"))
                    .json(&json!([body])),
                token,
            )
            .await?;
        let created: Vec<Created> = serde_json::from_value(answer)
            .map_err(|e| AmoError::Fatal(format!("unexpected answer to leads/complex: {e}")))?;
        created
            .into_iter()
            .next()
            .ok_or_else(|| AmoError::Fatal("leads/complex created nothing".into()))
    }

    pub async fn update_lead(
        &self,
        domain: &str,
        token: &str,
        id: i64,
        lead: &AmoLead<'_>,
    ) -> Result<(), AmoError> {
        let url = self.url(domain, &format!("/api/v4/leads/{id}"));
        self.send(self.http.patch(url).json(&Self::lead(lead)), token)
            .await?;
        Ok(())
    }

    pub async fn update_contact(
        &self,
        domain: &str,
        token: &str,
        id: i64,
        lead: &AmoLead<'_>,
    ) -> Result<(), AmoError> {
        let url = self.url(domain, &format!("/api/v4/contacts/{id}"));
        self.send(self.http.patch(url).json(&Self::contact(lead)), token)
            .await?;
        Ok(())
    }

    async fn send(&self, request: reqwest::RequestBuilder, token: &str) -> Result<Value, AmoError> {
        let response = request
            .bearer_auth(token)
            .send()
            .await
            .map_err(|e| AmoError::Retryable(e.without_url().to_string()))?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        let text = response.text().await.unwrap_or_default();
        match status.as_u16() {
            200..=299 => Ok(serde_json::from_str(&text).unwrap_or(Value::Null)),
            401 => Err(AmoError::Unauthorized),
            // amoCRM does not always say when; a second is its rate's window.
            429 => Err(AmoError::RateLimited(Duration::from_secs(
                retry_after.unwrap_or(1).clamp(1, 300),
            ))),
            500..=599 => Err(AmoError::Retryable(format!("{status}"))),
            _ => Err(AmoError::Fatal(format!(
                "{status}: {}",
                text.chars().take(300).collect::<String>()
            ))),
        }
    }
}
