//! The projector: reads the log past its checkpoint, in sequence order,
//! and applies it in batches. Each batch and the checkpoint move together in
//! one transaction, so a crash can neither skip an event nor apply one twice.
//!
//! In the server, [`step`] runs in the event writer's task, on a
//! connection of its own that the task uses in turn with the log's, and
//! only when no delivery is waiting (see `store::writer`): projection never
//! holds the write lock while a delivery waits for its commit. [`Projector`]
//! drives the same steps over a pool, for tools and tests.

use sqlx::{Connection, SqliteConnection, SqlitePool};
use tokio::sync::broadcast;

use super::apply::{apply_all, Changes, LogEvent};

/// The checkpoint row of the projections.
const CHECKPOINT: &str = "projections";

const SELECT_EVENTS: &str = "
    SELECT seq, received_at, event_key, sender_id, malformed, not_subscribed, body
    FROM events WHERE seq > ? ORDER BY seq LIMIT ?";

/// Applies the log to the projections and publishes what changed.
#[derive(Clone, Debug)]
pub struct Projector {
    pool: SqlitePool,
    changes: broadcast::Sender<Changes>,
    batch: i64,
}

impl Projector {
    /// `batch` bounds how long one projector transaction holds the write
    /// lock, and so how long it can delay the receiver's commits.
    pub fn new(pool: SqlitePool, changes: broadcast::Sender<Changes>, batch: i64) -> Self {
        Self {
            pool,
            changes,
            batch,
        }
    }

    /// Applies the next batch past the checkpoint; `None` once caught up.
    pub async fn step(&self) -> sqlx::Result<Option<Changes>> {
        let mut conn = self.pool.acquire().await?;
        let changes = step(&mut conn, self.batch).await?;
        if let Some(changes) = &changes {
            // Nobody listening is fine; the pages read the projections.
            let _ = self.changes.send(changes.clone());
        }
        Ok(changes)
    }

    /// Applies everything the log holds past the checkpoint.
    pub async fn catch_up(&self) -> sqlx::Result<()> {
        while self.step().await?.is_some() {}
        Ok(())
    }
}

/// Applies up to `batch` events past the checkpoint on `conn`, in one
/// transaction with the checkpoint; `None` once caught up.
pub async fn step(conn: &mut SqliteConnection, batch: i64) -> sqlx::Result<Option<Changes>> {
    let (checkpoint, newest): (i64, Option<i64>) = sqlx::query_as(
        "SELECT (SELECT COALESCE(MAX(seq), 0) FROM projector_checkpoints WHERE name = ?),
                (SELECT MAX(seq) FROM events)",
    )
    .bind(CHECKPOINT)
    .fetch_one(&mut *conn)
    .await?;
    if newest.is_none_or(|newest| newest <= checkpoint) {
        return Ok(None);
    }
    // IMMEDIATE: the transaction reads before it writes, and must not lose
    // its snapshot to another writer committing in between.
    let mut tx = conn.begin_with("BEGIN IMMEDIATE").await?;
    let after = read_checkpoint(&mut tx).await?;
    let changes = apply_batch(&mut tx, after, batch).await?;
    tx.commit().await?;
    Ok(changes)
}

/// How many logged events the projections have not applied yet.
pub async fn lag(pool: &SqlitePool) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "SELECT COALESCE((SELECT MAX(seq) FROM events), 0)
              - COALESCE((SELECT seq FROM projector_checkpoints WHERE name = ?), 0)",
    )
    .bind(CHECKPOINT)
    .fetch_one(pool)
    .await
}

async fn read_checkpoint(conn: &mut SqliteConnection) -> sqlx::Result<i64> {
    let seq: Option<i64> =
        sqlx::query_scalar("SELECT seq FROM projector_checkpoints WHERE name = ?")
            .bind(CHECKPOINT)
            .fetch_optional(&mut *conn)
            .await?;
    Ok(seq.unwrap_or(0))
}

/// Applies up to `limit` events after `after` and moves the checkpoint to
/// the last one, in the caller's transaction.
async fn apply_batch(
    conn: &mut SqliteConnection,
    after: i64,
    limit: i64,
) -> sqlx::Result<Option<Changes>> {
    let events: Vec<LogEvent> = sqlx::query_as(SELECT_EVENTS)
        .bind(after)
        .bind(limit)
        .fetch_all(&mut *conn)
        .await?;
    if events.is_empty() {
        return Ok(None);
    }
    let mut changes = Changes::default();
    apply_all(&mut *conn, &events, &mut changes).await?;
    sqlx::query(
        "INSERT INTO projector_checkpoints (name, seq) VALUES (?, ?)
         ON CONFLICT (name) DO UPDATE SET seq = excluded.seq",
    )
    .bind(CHECKPOINT)
    .bind(changes.through_seq)
    .execute(&mut *conn)
    .await?;
    Ok(Some(changes))
}

/// Empties every projection and rewinds the checkpoint to the start of the
/// log. Acknowledgements and the receiver's own alerts are kept.
pub async fn clear(conn: &mut SqliteConnection) -> sqlx::Result<()> {
    for statement in [
        "DELETE FROM alerts WHERE origin = 'log'",
        "DELETE FROM template_history",
        "DELETE FROM templates",
        "DELETE FROM timeline_statuses",
        "DELETE FROM timelines",
        "INSERT INTO message_search (message_search) VALUES ('delete-all')",
        "DELETE FROM messages",
        "DELETE FROM conversations",
        "DELETE FROM projector_checkpoints",
    ] {
        sqlx::query(statement).execute(&mut *conn).await?;
    }
    Ok(())
}

/// Rebuilds every projection from the log in one transaction: the result
/// is the same as the incremental path's. Acknowledgements and the
/// receiver's own alerts are kept. `progress` is told (applied, newest).
pub async fn reproject(pool: &SqlitePool, mut progress: impl FnMut(i64, i64)) -> sqlx::Result<i64> {
    const REBUILD_BATCH: i64 = 1000;
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    clear(&mut tx).await?;
    let newest: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM events")
        .fetch_one(&mut *tx)
        .await?;
    let mut after = 0;
    while let Some(changes) = apply_batch(&mut tx, after, REBUILD_BATCH).await? {
        after = changes.through_seq;
        progress(after, newest);
    }
    tx.commit().await?;
    Ok(after)
}
