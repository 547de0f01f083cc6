//! Databases made by earlier versions open with everything they held.

use sqlx::{sqlite::SqliteConnectOptions, SqlitePool};
use whats91_ops::store::Database;

/// A database as the first three migrations left it: the log with its
/// UNIQUE (destination, digest) index, three events, one redelivered.
async fn database_before_the_writer_checked_redeliveries(path: &std::path::Path) {
    let pool = SqlitePool::connect_with(
        SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .foreign_keys(true),
    )
    .await
    .unwrap();
    let mut migrator = sqlx::migrate!();
    migrator.migrations = migrator.migrations[..3].to_vec().into();
    migrator.run(&pool).await.unwrap();
    sqlx::query(
        "INSERT INTO destinations (slug, name, signing_secret, created_at, updated_at)
         VALUES ('crm', 'CRM', 'whsec_x', 0, 0)",
    )
    .execute(&pool)
    .await
    .unwrap();
    for digest in [1u8, 2, 3] {
        sqlx::query(
            "INSERT INTO events (destination_id, received_at, body, body_sha256,
                 event_key, signature_checked, token_checked)
             VALUES (1, ?, ?, ?, 'message.inbound.text', 1, 0)",
        )
        .bind(i64::from(digest))
        .bind(format!("{{\"n\":{digest}}}").into_bytes())
        .bind(vec![digest; 32])
        .execute(&pool)
        .await
        .unwrap();
    }
    sqlx::query("INSERT INTO event_redeliveries (seq, count, last_received_at) VALUES (2, 4, 9)")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
}

#[tokio::test]
async fn an_older_log_keeps_its_rows_redeliveries_and_sequence_when_migrated() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    database_before_the_writer_checked_redeliveries(&path).await;

    let pool = Database::open(&path).await.unwrap().pool;
    let rows: Vec<(i64, Vec<u8>, Vec<u8>)> =
        sqlx::query_as("SELECT seq, body, body_sha256 FROM events ORDER BY seq")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[1], (2, b"{\"n\":2}".to_vec(), vec![2u8; 32]));
    let redelivered: (i64, i64) = sqlx::query_as("SELECT seq, count FROM event_redeliveries")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(redelivered, (2, 4));

    // The log is still append-only, and numbers go on from the last one.
    let update = sqlx::query("UPDATE events SET received_at = 0")
        .execute(&pool)
        .await;
    assert!(update.is_err(), "events must refuse UPDATE");
    let next: i64 = sqlx::query_scalar(
        "INSERT INTO events (destination_id, received_at, body, body_sha256,
             signature_checked, token_checked)
         VALUES (1, 10, x'00', x'04', 1, 0) RETURNING seq",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(next, 4);
    let orphans: Vec<(String,)> = sqlx::query_as("PRAGMA foreign_key_check")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert!(orphans.is_empty(), "{orphans:?}");
}
