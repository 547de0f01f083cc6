//! The SQLite database: how it is opened, tuned and migrated.
//!
//! Everything lives in one file in WAL mode. Readers never block the writer
//! and the other way round; `synchronous=FULL` makes every commit durable
//! before it returns, which is what lets the receiver acknowledge a delivery
//! only once it is on disk.

mod budget;
pub mod destinations;
pub mod digests;
pub mod events;
pub mod writer;

use std::{path::Path, time::Duration};

use anyhow::Context;
use sqlx::{
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
    SqlitePool,
};

/// How long a connection waits for another writer before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Handles to the database file.
#[derive(Clone, Debug)]
pub struct Database {
    /// Shared pool for reads and for the occasional staff-driven write.
    pub pool: SqlitePool,
}

impl Database {
    /// Opens (creating if needed) the database at `path` and applies the
    /// embedded migrations.
    pub async fn open(path: &Path) -> anyhow::Result<Self> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create the folder {}", parent.display()))?;
        }
        let options = connect_options(path);
        let pool = SqlitePoolOptions::new()
            .max_connections(read_pool_size())
            .connect_with(options)
            .await
            .with_context(|| format!("cannot open the database {}", path.display()))?;
        sqlx::migrate!()
            .run(&pool)
            .await
            .context("cannot apply the database migrations")?;
        Ok(Self { pool })
    }

    /// Whether the database answers a trivial query.
    pub async fn is_ready(&self) -> bool {
        sqlx::query("SELECT 1").execute(&self.pool).await.is_ok()
    }
}

/// Connection settings shared by every connection to the file.
pub fn connect_options(path: &Path) -> SqliteConnectOptions {
    SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .foreign_keys(true)
        .busy_timeout(BUSY_TIMEOUT)
        // Once checkpointed, a WAL that grew during a burst is cut back.
        .pragma("journal_size_limit", (64 * 1024 * 1024).to_string())
}

/// Readers scale with the cores; SQLite serialises writers anyway.
fn read_pool_size() -> u32 {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    (cores * 2).clamp(4, 16) as u32
}

/// Now, as unix milliseconds: the time format of every stored timestamp.
pub fn now_millis() -> i64 {
    let now = time::OffsetDateTime::now_utc();
    (now.unix_timestamp_nanos() / 1_000_000) as i64
}

/// A stored timestamp as ISO-8601 (UTC, millisecond precision).
pub fn format_millis(millis: i64) -> String {
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_else(|| millis.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_times_format_as_iso_8601_utc_with_milliseconds() {
        assert_eq!(format_millis(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(format_millis(1_780_655_400_250), "2026-06-05T10:30:00.250Z");
    }
}
