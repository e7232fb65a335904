//! Platform-admin diagnostics. `GET /api/admin/diagnostics/db/schema` is the prototype's schema-drift
//! check: it reports whether the columns the application depends on exist.

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;

use crate::db;
use crate::error::{AppError, ErrorBody};
use crate::http::AppState;
use crate::http::auth::AuthUser;

/// Columns the application cannot work without (the prototype's critical columns and ours).
const CRITICAL_COLUMNS: &[(&str, &str)] = &[
    ("users", "email"),
    ("users", "password_hash"),
    ("users", "is_active"),
    ("users", "tenant_id"),
    ("tenants", "name"),
    ("bot_users", "external_id"),
    ("bot_users", "name"),
    ("bot_users", "phone"),
    ("bot_users", "language"),
    ("bot_users", "last_seq"),
    ("messages", "role"),
    ("messages", "content"),
    ("messages", "seq"),
    ("leads", "name"),
    ("leads", "phone"),
    ("leads", "city"),
    ("leads", "object_type"),
    ("leads", "area_m2"),
    ("leads", "summary"),
    ("leads", "status"),
];

#[derive(Debug, Serialize, ToSchema)]
pub struct ColumnStatus {
    pub table: &'static str,
    pub column: &'static str,
    pub present: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SchemaReport {
    /// `ok`, or `drift` when a critical column is missing or migrations are pending.
    pub status: &'static str,
    pub migration_applied: Option<i64>,
    pub migration_expected: i64,
    pub columns: Vec<ColumnStatus>,
}

/// Status of the critical columns and migrations (platform admins only).
#[utoipa::path(get, path = "/api/admin/diagnostics/db/schema", tag = "admin",
    security(("bearer" = [])),
    responses(
        (status = 200, body = SchemaReport),
        (status = 401, body = ErrorBody),
        (status = 403, description = "Not a platform admin", body = ErrorBody),
    ))]
pub async fn db_schema(
    State(state): State<AppState>,
    user: AuthUser,
) -> Result<Json<SchemaReport>, AppError> {
    if !user.is_platform_admin {
        return Err(AppError::Forbidden("platform administrators only".into()));
    }
    let present: Vec<(String, String)> = sqlx::query_as(
        "SELECT table_name::text, column_name::text FROM information_schema.columns
         WHERE table_schema = current_schema()",
    )
    .fetch_all(&state.pool)
    .await?;
    let columns: Vec<ColumnStatus> = CRITICAL_COLUMNS
        .iter()
        .map(|&(table, column)| ColumnStatus {
            table,
            column,
            present: present.iter().any(|(t, c)| t == table && c == column),
        })
        .collect();
    let applied = db::applied_migration(&state.pool).await?;
    let expected = db::expected_migration();
    let ok = columns.iter().all(|c| c.present) && applied.is_some_and(|a| a >= expected);
    Ok(Json(SchemaReport {
        status: if ok { "ok" } else { "drift" },
        migration_applied: applied,
        migration_expected: expected,
        columns,
    }))
}
