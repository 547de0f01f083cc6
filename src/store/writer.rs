//! Group commit: the one task that writes the event log.
//!
//! Receiver handlers send their verified delivery here and wait for the
//! answer. The writer takes every job waiting in its queue, commits them in
//! a single transaction (one fsync for the lot, `synchronous=FULL`), and
//! only then answers each handler. A handler therefore acknowledges a
//! delivery only once it is on disk, and concurrency costs no extra fsyncs.

use std::{path::Path, sync::Arc};

use anyhow::Context;
use sqlx::{Connection, SqliteConnection};
use tokio::sync::{broadcast, mpsc, oneshot};

use super::{
    connect_options,
    events::{Appended, EventNotice, NewEvent, RejectedAttempt},
};
use crate::metrics::Metrics;

/// Most jobs committed in one transaction.
const MAX_BATCH: usize = 512;
/// Jobs waiting beyond this make handlers wait (back-pressure).
const QUEUE_DEPTH: usize = 4096;

/// Why a delivery was not committed. It must not be acknowledged.
#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    #[error("the event writer has stopped")]
    Stopped,
    #[error("the commit failed")]
    Failed,
}

enum Job {
    Append(
        Box<NewEvent>,
        oneshot::Sender<Result<Appended, CommitError>>,
    ),
    Reject(RejectedAttempt),
}

/// Handle to the writer task; cheap to clone.
#[derive(Clone, Debug)]
pub struct EventWriter {
    jobs: mpsc::Sender<Job>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Job::Append(event, _) => write!(f, "Append({:?})", event.event_key),
            Job::Reject(attempt) => write!(f, "Reject({})", attempt.reason),
        }
    }
}

/// Settings of the writer task.
pub struct WriterConfig {
    /// Rejected attempts kept; older ones are pruned.
    pub rejected_log_limit: i64,
}

impl EventWriter {
    /// Opens the writer's own connection and starts the task. The task ends
    /// once every handle is dropped and the queue is drained.
    pub async fn start(
        database: &Path,
        config: WriterConfig,
        notices: broadcast::Sender<EventNotice>,
        metrics: Arc<Metrics>,
    ) -> anyhow::Result<(Self, tokio::task::JoinHandle<()>)> {
        let conn = SqliteConnection::connect_with(&connect_options(database))
            .await
            .context("cannot open the event writer's connection")?;
        let (jobs, queue) = mpsc::channel(QUEUE_DEPTH);
        let task = Writer {
            conn,
            config,
            notices,
            metrics,
        };
        let handle = tokio::spawn(task.run(queue));
        Ok((Self { jobs }, handle))
    }

    /// Appends a delivery and waits until it is committed.
    pub async fn append(&self, event: NewEvent) -> Result<Appended, CommitError> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job::Append(Box::new(event), reply))
            .await
            .map_err(|_| CommitError::Stopped)?;
        answer.await.map_err(|_| CommitError::Stopped)?
    }

    /// Queues a rejected attempt for the bounded log. Nobody waits for it,
    /// and under extreme load it may be dropped rather than slow the
    /// receiver down; the metrics still count it.
    pub fn record_rejection(&self, attempt: RejectedAttempt) {
        if self.jobs.try_send(Job::Reject(attempt)).is_err() {
            tracing::warn!("rejected-attempt log is full; attempt not recorded");
        }
    }
}

struct Writer {
    conn: SqliteConnection,
    config: WriterConfig,
    notices: broadcast::Sender<EventNotice>,
    metrics: Arc<Metrics>,
}

impl Writer {
    async fn run(mut self, mut queue: mpsc::Receiver<Job>) {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        while queue.recv_many(&mut batch, MAX_BATCH).await > 0 {
            self.commit_batch(&mut batch).await;
        }
        tracing::debug!("event writer stopped");
    }

    async fn commit_batch(&mut self, batch: &mut Vec<Job>) {
        self.metrics.observe_commit_batch(batch.len());
        match commit(&mut self.conn, batch, self.config.rejected_log_limit).await {
            Ok(results) => {
                for (job, appended) in batch.drain(..).zip(results) {
                    if let (Job::Append(event, reply), Some(appended)) = (job, appended) {
                        self.publish(&event, appended);
                        let _ = reply.send(Ok(appended));
                    }
                }
            }
            Err(error) => {
                self.metrics.count_commit_failure();
                tracing::error!(%error, jobs = batch.len(), "event log commit failed");
                for job in batch.drain(..) {
                    if let Job::Append(_, reply) = job {
                        let _ = reply.send(Err(CommitError::Failed));
                    }
                }
            }
        }
    }

    fn publish(&self, event: &NewEvent, appended: Appended) {
        if appended.duplicate {
            return;
        }
        // Nobody listening is fine: the log is the source of truth.
        let _ = self.notices.send(EventNotice {
            seq: appended.seq,
            event_key: event.event_key.clone(),
            destination_id: event.destination_id,
            flags: event.flags.names(),
        });
    }
}

/// Writes a whole batch in one transaction. The result has one entry per
/// job: `Some` for appends, `None` for rejected attempts.
async fn commit(
    conn: &mut SqliteConnection,
    batch: &[Job],
    rejected_log_limit: i64,
) -> sqlx::Result<Vec<Option<Appended>>> {
    let mut tx = conn.begin().await?;
    let mut results = Vec::with_capacity(batch.len());
    let mut rejected_any = false;
    for job in batch {
        match job {
            Job::Append(event, _) => results.push(Some(append_one(&mut tx, event).await?)),
            Job::Reject(attempt) => {
                insert_rejection(&mut tx, attempt).await?;
                rejected_any = true;
                results.push(None);
            }
        }
    }
    if rejected_any {
        sqlx::query(
            "DELETE FROM rejected_attempts
             WHERE id <= (SELECT MAX(id) FROM rejected_attempts) - ?",
        )
        .bind(rejected_log_limit)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(results)
}

async fn append_one(conn: &mut SqliteConnection, event: &NewEvent) -> sqlx::Result<Appended> {
    let inserted: Option<i64> = sqlx::query_scalar(
        "INSERT INTO events (destination_id, received_at, body, body_sha256, event_key,
             webhook_uid, sender_id, malformed, not_subscribed, uid_mismatch,
             while_inactive, signature_checked, token_checked, content_type, remote_addr)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (destination_id, body_sha256) DO NOTHING
         RETURNING seq",
    )
    .bind(event.destination_id)
    .bind(event.received_at)
    .bind(&event.body[..])
    .bind(&event.body_sha256[..])
    .bind(&event.event_key)
    .bind(&event.webhook_uid)
    .bind(&event.sender_id)
    .bind(event.flags.malformed)
    .bind(event.flags.not_subscribed)
    .bind(event.flags.uid_mismatch)
    .bind(event.flags.while_inactive)
    .bind(event.signature_checked)
    .bind(event.token_checked)
    .bind(&event.content_type)
    .bind(&event.remote_addr)
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(seq) = inserted {
        return Ok(Appended {
            seq,
            duplicate: false,
        });
    }
    // The same body was stored before: count the redelivery beside it.
    let seq: i64 = sqlx::query_scalar(
        "INSERT INTO event_redeliveries (seq, count, last_received_at)
         SELECT seq, 1, ? FROM events WHERE destination_id = ? AND body_sha256 = ?
         ON CONFLICT (seq) DO UPDATE
             SET count = count + 1, last_received_at = excluded.last_received_at
         RETURNING seq",
    )
    .bind(event.received_at)
    .bind(event.destination_id)
    .bind(&event.body_sha256[..])
    .fetch_one(&mut *conn)
    .await?;
    Ok(Appended {
        seq,
        duplicate: true,
    })
}

async fn insert_rejection(
    conn: &mut SqliteConnection,
    attempt: &RejectedAttempt,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO rejected_attempts (at, slug, destination_id, reason, remote_addr)
         VALUES (?, ?, ?, ?, ?)",
    )
    .bind(attempt.at)
    .bind(&attempt.slug)
    .bind(attempt.destination_id)
    .bind(attempt.reason)
    .bind(&attempt.remote_addr)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
