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
