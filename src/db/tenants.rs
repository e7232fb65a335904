//! Tenants (companies) and their first account.

use sqlx::PgPool;

use crate::domain::{Email, Role, TenantId, TenantName, UserId};

use super::users::User;

#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    #[error("an account with this email already exists")]
    EmailTaken,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// Creates a company and its owner account in one transaction: there is never a tenant without an
/// owner, nor an owner without a tenant.
pub async fn register(
    pool: &PgPool,
    company: &TenantName,
    email: &Email,
    password_hash: &str,
) -> Result<User, RegisterError> {
    let tenant_id = TenantId::new();
    let user_id = UserId::new();
    let mut tx = pool.begin().await?;
    sqlx::query!(
        "INSERT INTO tenants (id, name) VALUES ($1, $2)",
        tenant_id.0,
        company.as_str()
    )
    .execute(&mut *tx)
    .await?;
    let inserted = sqlx::query!(
        r#"INSERT INTO users (id, tenant_id, email, password_hash, role)
           VALUES ($1, $2, $3, $4, 'owner')
           RETURNING created_at"#,
        user_id.0,
        tenant_id.0,
        email.as_str(),
        password_hash
    )
    .fetch_one(&mut *tx)
    .await
    .map_err(|err| {
        if crate::error::is_constraint(&err, "users_email_key") {
            RegisterError::EmailTaken
        } else {
            RegisterError::Db(err)
        }
    })?;
    tx.commit().await?;
    Ok(User {
        id: user_id,
        tenant_id,
        tenant_name: company.as_str().to_owned(),
        email: email.as_str().to_owned(),
        role: Role::Owner,
        is_active: true,
        is_platform_admin: false,
        created_at: inserted.created_at,
    })
}

/// How the assistant speaks for the company, and what it may spend.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct AssistantSettings {
    /// What the company builds and offers, for the LLM's system prompt (≤ 2000 characters).
    pub about: Option<String>,
    /// A custom first greeting.
    pub greeting: Option<String>,
    /// The company's phone, offered to customers who prefer to call.
    pub company_phone: Option<String>,
    /// Burst coalescing: a turn waits this long after the customer's last message (0–60000).
    pub coalesce_ms: i32,
    /// Monthly LLM budget in USD; when spent, the offline engine answers until the month ends.
    pub monthly_budget_usd: Option<f64>,
}

pub async fn assistant_settings(
    pool: &PgPool,
    tenant: TenantId,
) -> Result<AssistantSettings, sqlx::Error> {
    sqlx::query_as!(
        AssistantSettings,
        r#"SELECT about, greeting, company_phone, coalesce_ms,
                  monthly_budget_usd::float8 AS monthly_budget_usd
           FROM tenants WHERE id = $1"#,
        tenant.0
    )
    .fetch_one(pool)
    .await
}

pub async fn set_assistant_settings(
    pool: &PgPool,
    tenant: TenantId,
    settings: &AssistantSettings,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE tenants SET about = $2, greeting = $3, company_phone = $4, coalesce_ms = $5,
                monthly_budget_usd = $6::float8::numeric(12, 2)
         WHERE id = $1",
        tenant.0,
        settings.about,
        settings.greeting,
        settings.company_phone,
        settings.coalesce_ms,
        settings.monthly_budget_usd
    )
    .execute(pool)
    .await?;
    Ok(())
}
