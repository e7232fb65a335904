//! Migrations are safe when two processes start at once.

use sqlx::PgPool;

#[sqlx::test(migrations = false)]
async fn two_concurrent_migrators_apply_each_migration_once(pool: PgPool) {
    let (a, b) = tokio::join!(salesbot::db::migrate(&pool), salesbot::db::migrate(&pool));
    a.unwrap();
    b.unwrap();
    let applied: Vec<i64> =
        sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success ORDER BY version")
            .fetch_all(&pool)
            .await
            .unwrap();
    let expected: Vec<i64> = salesbot::db::MIGRATOR.iter().map(|m| m.version).collect();
    assert_eq!(applied, expected);
    assert_eq!(
        salesbot::db::applied_migration(&pool).await.unwrap(),
        Some(salesbot::db::expected_migration())
    );
}
