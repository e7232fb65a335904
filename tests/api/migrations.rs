//! Migrations: safe when two processes start at once, append-only once committed, and a database
//! of an earlier release upgrades.

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

/// The committed list of migration checksums (scripts/check-migrations keeps it append-only) is
/// what this build embeds, and what a deployed database will compare its applied migrations with.
#[test]
fn the_checksum_list_is_what_the_binary_embeds() {
    let list = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/checksums.sha384"),
    )
    .unwrap();
    let listed: Vec<(String, String)> = list
        .lines()
        .map(|line| {
            let (hex, path) = line.split_once("  ").expect("sha384sum format");
            let file = path.trim_start_matches("migrations/");
            (file.to_owned(), hex.to_owned())
        })
        .collect();
    let embedded: Vec<(String, String)> = salesbot::db::MIGRATOR
        .iter()
        .map(|m| {
            let file = format!("{:04}_{}.sql", m.version, m.description.replace(' ', "_"));
            let hex = m.checksum.iter().map(|b| format!("{b:02x}")).collect();
            (file, hex)
        })
        .collect();
    assert_eq!(
        listed, embedded,
        "a migration was added without its line, or changed"
    );
}

/// A database migrated by an earlier release upgrades with today's migrator, its data intact.
/// Migrations are append-only (scripts/check-migrations), so an earlier release's set is a prefix
/// of today's: here, everything but the two newest.
#[sqlx::test(migrations = false)]
async fn a_database_of_an_earlier_release_upgrades(pool: PgPool) {
    let all: Vec<_> = salesbot::db::MIGRATOR.iter().cloned().collect();
    let earlier = sqlx::migrate::Migrator::with_migrations(all[..all.len() - 2].to_vec());
    earlier.run(&pool).await.unwrap();
    // What every release since the first has stored: a company, its owner, a customer with a
    // message and a lead, and a queued job.
    let tenant = uuid::Uuid::now_v7();
    let bot_user = uuid::Uuid::now_v7();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "INSERT INTO tenants (id, name) VALUES ('{tenant}', 'Earlier');
         INSERT INTO users (id, tenant_id, email, password_hash, role)
              VALUES ('{}', '{tenant}', 'old@stroy.kz', 'x', 'owner');
         INSERT INTO bot_users (id, tenant_id, external_id) VALUES ('{bot_user}', '{tenant}', 'c1');
         INSERT INTO messages (id, tenant_id, bot_user_id, seq, role, kind, content)
              VALUES ('{}', '{tenant}', '{bot_user}', 1, 'user', 'text', 'Дом в Алматы');
         INSERT INTO leads (id, tenant_id, bot_user_id, city) VALUES ('{}', '{tenant}', '{bot_user}', 'almaty');
         INSERT INTO jobs (kind, payload) VALUES ('turn', '{{}}');",
        uuid::Uuid::now_v7(),
        uuid::Uuid::now_v7(),
        uuid::Uuid::now_v7(),
    )))
    .execute(&pool)
    .await
    .unwrap();

    salesbot::db::migrate(&pool).await.unwrap();
    assert_eq!(
        salesbot::db::applied_migration(&pool).await.unwrap(),
        Some(salesbot::db::expected_migration())
    );
    let kept: (i64, i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM messages),
                (SELECT count(*) FROM leads), (SELECT count(*) FROM jobs)",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(kept, (1, 1, 1, 1));
    // And the service can open it, as it connects.
    let service = salesbot::db::service_pool(&pool, 2).await.unwrap();
    let tenants: i64 = sqlx::query_scalar("SELECT count(*) FROM tenants")
        .fetch_one(&service)
        .await
        .unwrap();
    assert_eq!(tenants, 1);
}

/// The current definition of every live function is `sql/functions/<name>.sql`, under its contract
/// comment, and every file there is a live function: a reader finds a function in one place, and a
/// migration that changes one starts from that file (scripts/schema rewrites them).
#[sqlx::test]
async fn every_live_function_is_the_file_that_names_it(pool: PgPool) {
    let live: Vec<(String, String)> = sqlx::query_as(
        "SELECT proname::text, pg_get_functiondef(oid) FROM pg_proc
          WHERE pronamespace = 'public'::regnamespace ORDER BY proname",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("sql/functions");
    let mut files: Vec<(String, String)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| {
            let path = entry.unwrap().path();
            let name = path.file_stem().unwrap().to_string_lossy().into_owned();
            let text = std::fs::read_to_string(&path).unwrap();
            // The contract is the comment block before the definition.
            let definition: String = text
                .lines()
                .skip_while(|line| line.starts_with("--"))
                .map(|line| format!("{line}\n"))
                .collect();
            (name, definition)
        })
        .collect();
    files.sort();
    let names = |v: &[(String, String)]| v.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    assert_eq!(
        names(&files),
        names(&live),
        "a function without its file, or a file without its function"
    );
    for ((name, file), (_, definition)) in files.iter().zip(&live) {
        assert_eq!(
            file.trim_end(),
            definition.trim_end(),
            "sql/functions/{name}.sql is not the live definition: run scripts/schema"
        );
    }
}

/// Each state the Rust code names is exactly a value the column's CHECK constraint allows: the
/// constraint is the rule, the enum its mirror, and this test is what keeps them one.
#[sqlx::test]
async fn every_text_enum_is_its_columns_check_constraint(pool: PgPool) {
    use salesbot::domain::Role;
    use salesbot::domain::conversation::*;
    use salesbot::domain::language::Language;
    use salesbot::domain::lead_status::LeadStatus;

    fn texts<T: Copy>(all: &[T], as_str: fn(T) -> &'static str) -> Vec<String> {
        all.iter().map(|v| as_str(*v).to_owned()).collect()
    }
    let columns: Vec<(&str, &str, Vec<String>)> = vec![
        (
            "messages",
            "status",
            texts(MessageState::ALL, MessageState::as_str),
        ),
        (
            "messages",
            "kind",
            texts(MessageKind::ALL, MessageKind::as_str),
        ),
        (
            "messages",
            "role",
            texts(MessageRole::ALL, MessageRole::as_str),
        ),
        (
            "messages",
            "transcript_status",
            texts(TranscriptState::ALL, TranscriptState::as_str),
        ),
        (
            "messages",
            "language",
            texts(&Language::ALL, Language::code),
        ),
        (
            "bot_users",
            "mode",
            texts(ConversationMode::ALL, ConversationMode::as_str),
        ),
        ("bot_users", "channel", texts(Channel::ALL, Channel::as_str)),
        (
            "bot_users",
            "language",
            texts(&Language::ALL, Language::code),
        ),
        (
            "leads",
            "status",
            texts(LeadStatus::ALL, LeadStatus::as_str),
        ),
        (
            "users",
            "role",
            texts(&[Role::Owner, Role::Manager], Role::as_str),
        ),
    ];
    for (table, column, mut ours) in columns {
        let definition: String = sqlx::query_scalar(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint
              WHERE conrelid = $1::regclass AND conname = $2",
        )
        .bind(table)
        .bind(format!("{table}_{column}_check"))
        .fetch_one(&pool)
        .await
        .unwrap_or_else(|e| panic!("{table}.{column} has no CHECK constraint: {e}"));
        // CHECK ((status = ANY (ARRAY['queued'::text, ...])))
        let mut allowed: Vec<String> = definition
            .split('\'')
            .skip(1)
            .step_by(2)
            .map(str::to_owned)
            .collect();
        allowed.sort();
        ours.sort();
        assert_eq!(ours, allowed, "{table}.{column}: {definition}");
    }

    // And sqlx writes and reads each enum as that text.
    for state in MessageState::ALL {
        let back: MessageState = sqlx::query_scalar("SELECT $1::text")
            .bind(state)
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(back, *state);
        let text: String = sqlx::query_scalar("SELECT $1::text")
            .bind(state)
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(text, state.as_str());
    }
}
