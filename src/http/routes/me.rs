//! `GET /api/me`: who the token belongs to.

use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use crate::db::users::User;
use crate::domain::{Role, TenantId, UserId};
use crate::error::ErrorBody;
use crate::http::auth::AuthUser;

#[derive(Debug, Serialize, ToSchema)]
pub struct TenantView {
    pub id: TenantId,
    pub name: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    pub id: UserId,
    pub email: String,
    pub role: Role,
    pub is_active: bool,
    pub is_platform_admin: bool,
    pub tenant: TenantView,
}

impl From<&User> for UserView {
    fn from(user: &User) -> Self {
        Self {
            id: user.id,
            email: user.email.clone(),
            role: user.role,
            is_active: user.is_active,
            is_platform_admin: user.is_platform_admin,
            tenant: TenantView {
                id: user.tenant_id,
                name: user.tenant_name.clone(),
            },
        }
    }
}

/// The authenticated account and its company.
#[utoipa::path(get, path = "/api/me", tag = "auth", security(("bearer" = [])),
    responses(
        (status = 200, body = UserView),
        (status = 401, body = ErrorBody),
    ))]
pub async fn me(user: AuthUser) -> Json<UserView> {
    Json(UserView {
        id: user.user_id,
        email: user.email,
        role: user.role,
        is_active: true,
        is_platform_admin: user.is_platform_admin,
        tenant: TenantView {
            id: user.tenant_id,
            name: user.tenant_name,
        },
    })
}
