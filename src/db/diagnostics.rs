//! Is this database the one this build expects? Applied against expected migrations, and the live
//! catalog against `sql/expected_schema.json` (every table with its columns and row-level
//! security, every index, every function, as `scripts/schema` wrote them from the migrations;
//! embedded at build time). For `GET /api/admin/diagnostics/db/schema` and `salesbot doctor`.
//! The catalog is not under row-level security: no tenant scope is needed.

use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use utoipa::ToSchema;

const EXPECTED: &str = include_str!("../../sql/expected_schema.json");

/// The embedded schema, read once.
fn expected() -> &'static Expected {
    static PARSED: std::sync::OnceLock<Expected> = std::sync::OnceLock::new();
    PARSED.get_or_init(|| {
        serde_json::from_str(EXPECTED)
            .expect("sql/expected_schema.json is written by scripts/schema")
    })
}

#[derive(Deserialize)]
struct Expected {
    tables: Vec<ExpectedTable>,
    indexes: Vec<String>,
    functions: Vec<String>,
}

#[derive(Deserialize)]
struct ExpectedTable {
    name: String,
    row_level_security: bool,
    columns: Vec<String>,
}

/// What differs from this build's schema (every list empty: none).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SchemaDrift {
    /// `ok`, or `drift`: migrations pending, or something this build needs is missing.
    pub status: &'static str,
    pub migration_applied: Option<i64>,
    pub migration_expected: i64,
    pub missing_tables: Vec<String>,
    /// `table.column`.
    pub missing_columns: Vec<String>,
    pub missing_indexes: Vec<String>,
    pub missing_functions: Vec<String>,
    /// Tables whose row-level security (tenant isolation) is off although the migrations turn it on.
    pub tables_without_row_level_security: Vec<String>,
}

/// Whether this build's schema has `table.column`.
pub fn expects_column(table: &str, column: &str) -> bool {
    expected()
        .tables
        .iter()
        .any(|t| t.name == table && t.columns.iter().any(|c| c == column))
}

pub async fn schema_drift(pool: &PgPool) -> Result<SchemaDrift, sqlx::Error> {
    let expected = expected();
    let applied = super::applied_migration(pool).await?;
    let tables: Vec<(String, bool, Vec<String>)> = sqlx::query_as(
        "SELECT c.relname::text, c.relrowsecurity,
                coalesce(array_agg(a.attname::text) FILTER (WHERE a.attname IS NOT NULL), '{}')
           FROM pg_class c
           LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
          WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p')
          GROUP BY c.relname, c.relrowsecurity",
    )
    .fetch_all(pool)
    .await?;
    let indexes: Vec<String> =
        sqlx::query_scalar("SELECT indexname::text FROM pg_indexes WHERE schemaname = 'public'")
            .fetch_all(pool)
            .await?;
    let functions: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT proname::text FROM pg_proc WHERE pronamespace = 'public'::regnamespace",
    )
    .fetch_all(pool)
    .await?;

    let mut drift = SchemaDrift {
        status: "ok",
        migration_applied: applied,
        migration_expected: super::expected_migration(),
        missing_tables: Vec::new(),
        missing_columns: Vec::new(),
        missing_indexes: Vec::new(),
        missing_functions: Vec::new(),
        tables_without_row_level_security: Vec::new(),
    };
    for table in &expected.tables {
        let Some((_, rls, columns)) = tables.iter().find(|(name, _, _)| *name == table.name) else {
            drift.missing_tables.push(table.name.clone());
            continue;
        };
        for column in &table.columns {
            if !columns.contains(column) {
                drift
                    .missing_columns
                    .push(format!("{}.{column}", table.name));
            }
        }
        if table.row_level_security && !rls {
            drift
                .tables_without_row_level_security
                .push(table.name.clone());
        }
    }
    drift.missing_indexes = expected
        .indexes
        .iter()
        .filter(|i| !indexes.contains(i))
        .cloned()
        .collect();
    drift.missing_functions = expected
        .functions
        .iter()
        .filter(|f| !functions.contains(f))
        .cloned()
        .collect();
    let clean = drift.missing_tables.is_empty()
        && drift.missing_columns.is_empty()
        && drift.missing_indexes.is_empty()
        && drift.missing_functions.is_empty()
        && drift.tables_without_row_level_security.is_empty()
        && applied == Some(drift.migration_expected);
    if !clean {
        drift.status = "drift";
    }
    Ok(drift)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_embedded_schema_reads() {
        let expected = super::expected();
        assert!(
            expected
                .tables
                .iter()
                .any(|t| t.name == "messages" && t.row_level_security)
        );
        assert!(expected.functions.iter().any(|f| f == "turn_commit"));
    }
}
