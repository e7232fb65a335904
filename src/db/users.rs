//! Accounts of tenants' owners and managers (the identity directory; see migrations/0001).

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use crate::domain::{Email, Role, TenantId, UserId};

#[derive(Debug, Clone)]
pub struct User {
    pub id: UserId,
    pub tenant_id: TenantId,
    pub tenant_name: String,
    pub email: String,
    pub role: Role,
    pub is_active: bool,
    pub is_platform_admin: bool,
    pub created_at: DateTime<Utc>,
}

/// A user with the password hash, for login only.
pub struct Credentials {
    pub user: User,
    pub password_hash: String,
}

struct Row {
    id: uuid::Uuid,
    tenant_id: uuid::Uuid,
    tenant_name: String,
    email: String,
    role: String,
    is_active: bool,
    is_platform_admin: bool,
    created_at: DateTime<Utc>,
}

impl Row {
    fn into_user(self) -> Result<User, sqlx::Error> {
        let role = Role::from_db(&self.role)
            .ok_or_else(|| sqlx::Error::Decode(format!("unknown role `{}`", self.role).into()))?;
        Ok(User {
            id: UserId(self.id),
            tenant_id: TenantId(self.tenant_id),
            tenant_name: self.tenant_name,
            email: self.email,
            role,
            is_active: self.is_active,
            is_platform_admin: self.is_platform_admin,
            created_at: self.created_at,
        })
    }
}

/// Finds an account by email (any case), with its password hash.
pub async fn credentials_by_email(
    pool: &PgPool,
    email: &Email,
) -> Result<Option<Credentials>, sqlx::Error> {
    let row = sqlx::query!(
        r#"SELECT u.id, u.tenant_id, t.name AS tenant_name, u.email, u.role, u.is_active,
                  u.is_platform_admin, u.created_at, u.password_hash
           FROM users u JOIN tenants t ON t.id = u.tenant_id
           WHERE lower(u.email) = lower($1)"#,
        email.as_str()
    )
    .fetch_optional(pool)
    .await?;
    row.map(|r| {
        let user = Row {
            id: r.id,
            tenant_id: r.tenant_id,
            tenant_name: r.tenant_name,
            email: r.email,
            role: r.role,
            is_active: r.is_active,
            is_platform_admin: r.is_platform_admin,
            created_at: r.created_at,
        }
        .into_user()?;
        Ok(Credentials {
            user,
            password_hash: r.password_hash,
        })
    })
    .transpose()
}

/// Loads an account by id (every authenticated request does, so deactivation takes effect at once).
pub async fn by_id(pool: &PgPool, id: UserId) -> Result<Option<User>, sqlx::Error> {
    sqlx::query_as!(
        Row,
        r#"SELECT u.id, u.tenant_id, t.name AS tenant_name, u.email, u.role, u.is_active,
                  u.is_platform_admin, u.created_at
           FROM users u JOIN tenants t ON t.id = u.tenant_id
           WHERE u.id = $1"#,
        id.0
    )
    .fetch_optional(pool)
    .await?
    .map(Row::into_user)
    .transpose()
}
