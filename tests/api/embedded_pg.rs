//! The zero-configuration start: a private PostgreSQL cluster when no server answers.

use salesbot::db::embedded::Cluster;

#[tokio::test]
async fn private_cluster_starts_serves_and_stops() {
    if salesbot::db::embedded::server_bin_dir().is_err() {
        panic!(
            "PostgreSQL server programs are required for this test (scripts/test installs them)"
        );
    }
    let dir = std::env::temp_dir().join(format!("salesbot-pg-{}", uuid::Uuid::now_v7()));
    // A port of its own, off the default and off the private default of a developer's cluster.
    let port = 54_400 + (std::process::id() % 500) as u16;
    let cluster = Cluster::start_on(&dir, port).await.unwrap();
    let url = cluster.url("salesbot");
    salesbot::db::ensure_database(&url).await.unwrap();
    salesbot::db::migrate_at(&url).await.unwrap();
    let pool = salesbot::db::connect(&url, 2).await.unwrap();
    // The cluster's own superuser, as the local default connects: queries give up its bypass.
    let role: String = sqlx::query_scalar("SELECT current_user::text")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(role, salesbot::db::APP_ROLE);
    let tenants: i64 = sqlx::query_scalar("SELECT count(*) FROM tenants")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(tenants, 0);
    pool.close().await;

    // Starting again reuses the running cluster rather than failing.
    let again = Cluster::start_on(&dir, port).await.unwrap();
    assert_eq!(again.data_dir(), cluster.data_dir());
    cluster.stop().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}
