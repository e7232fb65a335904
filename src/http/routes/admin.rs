//! Platform-admin diagnostics. `GET /api/admin/diagnostics/db/schema` is the prototype's schema-drift
//! check (whether the columns the application depends on exist), grown into the whole comparison
//! of src/db/diagnostics.rs, which `salesbot doctor` prints too.

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;

use crate::db;
use crate::db::diagnostics::SchemaDrift;
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
    /// Migrations, and what differs from this build's schema (the catalog against
    /// sql/expected_schema.json). `status` is `drift` also when a critical column is missing.
    #[serde(flatten)]
    pub drift: SchemaDrift,
    /// The prototype's report: the columns the application cannot work without.
    pub columns: Vec<ColumnStatus>,
}

/// Migrations applied against expected, missing tables, columns, indexes and functions, tables
/// without row-level security, and the critical columns (platform admins only).
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
    let mut drift = db::diagnostics::schema_drift(&state.pool).await?;
    let columns: Vec<ColumnStatus> = CRITICAL_COLUMNS
        .iter()
        .map(|&(table, column)| ColumnStatus {
            table,
            column,
            present: !drift.missing_tables.iter().any(|t| t == table)
                && !drift.missing_columns.contains(&format!("{table}.{column}")),
        })
        .collect();
    if columns.iter().any(|c| !c.present) {
        drift.status = "drift";
    }
    Ok(Json(SchemaReport { drift, columns }))
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_critical_column_is_in_this_builds_schema() {
        for &(table, column) in super::CRITICAL_COLUMNS {
            assert!(
                crate::db::diagnostics::expects_column(table, column),
                "{table}.{column}"
            );
        }
    }
}
