//! Group commit: the one task that writes the event log.
//!
//! Receiver handlers send their verified delivery here and wait for the
//! answer. The writer takes every job waiting in its queue, commits them in
//! a single transaction (one fsync for the lot, `synchronous=FULL`), and
//! only then answers each handler. A handler therefore acknowledges a
//! delivery only once it is on disk, and concurrency costs no extra fsyncs.

use std::{
    collections::{hash_map::Entry, HashMap},
    path::Path,
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::Context;
use sqlx::{Connection, SqliteConnection};
use tokio::sync::{broadcast, mpsc, oneshot};

use super::{
    budget::ProjectionBudget,
    connect_options,
    digests::{Digests, WriterLock},
    events::{Appended, EventNotice, NewEvent, RejectedAttempt},
};
use crate::{
    metrics::Metrics,
    projection::{apply::Changes, projector},
};

/// Events per projection step: small, so that a delivery arriving during a
/// step waits only briefly.
const PROJECTION_STEP: i64 = 50;

/// Most jobs committed at once: 256 rows of 15 parameters stay far below
/// SQLite's limit on bound parameters in one statement.
const MAX_BATCH: usize = 256;
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
        changes: broadcast::Sender<Changes>,
        metrics: Arc<Metrics>,
    ) -> anyhow::Result<(Self, tokio::task::JoinHandle<()>)> {
        // The redelivery map is exact only while this is the one writer.
        let lock = WriterLock::acquire(database)?;
        // The writer never checkpoints on commit: the bulk of copying the
        // WAL into the database file is left to its own task, off the
        // commit path; the writer only finishes each of its rounds.
        let writer_options = connect_options(database).pragma("wal_autocheckpoint", "0");
        let mut conn = SqliteConnection::connect_with(&writer_options)
            .await
            .context("cannot open the event writer's connection")?;
        let started = Instant::now();
        let digests = Digests::load(&mut conn)
            .await
            .context("cannot read the event log's body digests")?;
        tracing::info!(
            events = digests.len(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "redelivery check loaded"
        );
        // Projections are derived from the log and rebuilt from it, so
        // their steps need not wait for an fsync of their own: a later
        // commit of the log syncs the WAL with them, and a crash before
        // that rolls back a step together with its checkpoint. The task
        // uses this connection and the writer's strictly in turn, so
        // neither ever waits for the other's lock.
        let projection_options = connect_options(database)
            .synchronous(sqlx::sqlite::SqliteSynchronous::Normal)
            .pragma("wal_autocheckpoint", "0");
        let projection_conn = SqliteConnection::connect_with(&projection_options)
            .await
            .context("cannot open the projection connection")?;
        let checkpointer = SqliteConnection::connect_with(&connect_options(database))
            .await
            .context("cannot open the checkpoint connection")?;
        let (wake_checkpointer, checkpoint_requests) = mpsc::channel(1);
        tokio::spawn(checkpoint_loop(
            checkpointer,
            checkpoint_requests,
            metrics.clone(),
        ));
        let (jobs, queue) = mpsc::channel(QUEUE_DEPTH);
        let task = Writer {
            conn,
            projection_conn,
            digests,
            _lock: lock,
            config,
            notices,
            metrics,
            wake_checkpointer,
            finished_rounds: 0,
            changes,
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
    /// Projection steps, without an fsync of their own.
    projection_conn: SqliteConnection,
    /// Every logged (destination, body digest): the redelivery check.
    digests: Digests,
    /// Held for as long as the task runs.
    _lock: WriterLock,
    config: WriterConfig,
    notices: broadcast::Sender<EventNotice>,
    metrics: Arc<Metrics>,
    /// Told after every commit, of the log or of a projection step; a
    /// full channel means a checkpoint is already due.
    wake_checkpointer: mpsc::Sender<()>,
    /// The checkpointer's rounds (counted in the metrics) that this task
    /// has finished.
    finished_rounds: u64,
    /// What each projection step changed.
    changes: broadcast::Sender<Changes>,
}

impl Writer {
    /// Commits deliveries as they come, and projects the log when no
    /// delivery is waiting and the budget allows (see `budget`): with the
    /// writer's spare time at any load it can keep up with, and with a
    /// small share of it under saturation, so that ingest keeps most of the
    /// writer and projection never stalls; once traffic pauses, it catches
    /// up step after step.
    async fn run(mut self, mut queue: mpsc::Receiver<Job>) {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        let mut budget = ProjectionBudget::default();
        // Catch up on start.
        let mut behind = true;
        loop {
            let waiting = Instant::now();
            if behind {
                match queue.try_recv() {
                    Ok(job) => batch.push(job),
                    Err(mpsc::error::TryRecvError::Disconnected) => break,
                    Err(mpsc::error::TryRecvError::Empty) if budget.may_project() => {
                        behind = self.project_step().await;
                        budget.projected(waiting.elapsed());
                        self.written().await;
                        continue;
                    }
                    Err(mpsc::error::TryRecvError::Empty) => {
                        let next = tokio::time::timeout(budget.next_wait(), queue.recv()).await;
                        budget.waited(waiting.elapsed());
                        match next {
                            Ok(Some(job)) => batch.push(job),
                            Ok(None) => break,
                            Err(_) => {
                                budget.found_idle();
                                continue;
                            }
                        }
                    }
                }
            } else {
                let received = queue.recv_many(&mut batch, MAX_BATCH).await;
                budget.waited(waiting.elapsed());
                if received == 0 {
                    break;
                }
            }
            while batch.len() < MAX_BATCH {
                match queue.try_recv() {
                    Ok(job) => batch.push(job),
                    Err(_) => break,
                }
            }
            let committing = Instant::now();
            behind |= self.commit_batch(&mut batch).await;
            budget.committed(committing.elapsed());
            self.written().await;
        }
        tracing::debug!("event writer stopped");
    }

    /// After each commit of the log or of a projection step: the WAL has
    /// grown, so a checkpoint round is due, and a round that has ended is
    /// finished here.
    async fn written(&mut self) {
        let _ = self.wake_checkpointer.try_send(());
        if self.metrics.checkpoint_rounds() != self.finished_rounds {
            self.finish_checkpoint().await;
        }
    }

    /// Copies into the database file the WAL frames the checkpointer's last
    /// round left, those appended while it ran. Under steady traffic the
    /// background round alone never ends with the whole WAL copied, and
    /// SQLite starts the WAL over only then: it would grow without bound
    /// (600 MB in seven seconds of the benchmark), every commit extending
    /// the file and its fsync paying for the new size. Here, between two
    /// commits, nothing is appended meanwhile, so the copy is complete
    /// unless a reader still needs old frames, and the next commit, of the
    /// log or of a projection step, overwrites the WAL from its start. While
    /// a reader holds old frames, the round stays unfinished and is tried
    /// again after the next commit; that attempt copies nothing and costs
    /// little.
    async fn finish_checkpoint(&mut self) {
        let rounds = self.metrics.checkpoint_rounds();
        // (busy, frames in the WAL, frames copied)
        let outcome: sqlx::Result<(i64, i64, i64)> =
            sqlx::query_as("PRAGMA wal_checkpoint(PASSIVE)")
                .fetch_one(&mut self.conn)
                .await;
        match outcome {
            Ok((0, frames, copied)) if frames == copied => self.finished_rounds = rounds,
            Ok(_) => {}
            Err(error) => {
                self.finished_rounds = rounds;
                tracing::warn!(%error, "WAL checkpoint failed; retrying after the next round");
            }
        }
    }

    /// Applies one projection batch; returns whether more may be waiting.
    async fn project_step(&mut self) -> bool {
        match projector::step(&mut self.projection_conn, PROJECTION_STEP).await {
            Ok(Some(changes)) => {
                let _ = self.changes.send(changes);
                true
            }
            Ok(None) => false,
            Err(error) => {
                // Retried after the next commit; the log keeps everything.
                tracing::error!(%error, "projection step failed");
                false
            }
        }
    }

    /// Commits and answers a batch; returns whether new events were logged.
    async fn commit_batch(&mut self, batch: &mut Vec<Job>) -> bool {
        let started = std::time::Instant::now();
        let committed = commit(
            &mut self.conn,
            &mut self.digests,
            batch,
            self.config.rejected_log_limit,
        )
        .await;
        self.metrics.observe_commit(batch.len(), started.elapsed());
        match committed {
            Ok(results) => {
                let mut logged = false;
                for (job, appended) in batch.drain(..).zip(results) {
                    if let (Job::Append(event, reply), Some(appended)) = (job, appended) {
                        logged |= !appended.duplicate;
                        self.publish(&event, appended);
                        let _ = reply.send(Ok(appended));
                    }
                }
                logged
            }
            Err(error) => {
                self.metrics.count_commit_failure();
                tracing::error!(%error, jobs = batch.len(), "event log commit failed");
                for job in batch.drain(..) {
                    if let Job::Append(_, reply) = job {
                        let _ = reply.send(Err(CommitError::Failed));
                    }
                }
                false
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

/// How long the checkpointer lets commits accumulate before copying them.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(100);

/// Copies committed WAL frames into the database file, in the background,
/// after commits. PASSIVE never blocks the writer or readers; frames it
/// cannot copy yet are taken on a later round, and the writer copies the
/// few appended during a round once it is over (rounds are counted in
/// `metrics`). Ends with the writer.
async fn checkpoint_loop(
    mut conn: SqliteConnection,
    mut requests: mpsc::Receiver<()>,
    metrics: Arc<Metrics>,
) {
    while requests.recv().await.is_some() {
        tokio::time::sleep(CHECKPOINT_EVERY).await;
        match sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .execute(&mut conn)
            .await
        {
            Ok(_) => metrics.count_checkpoint_round(),
            Err(error) => {
                tracing::warn!(%error, "WAL checkpoint failed; retrying after the next commit")
            }
        }
    }
}

/// Writes a batch. Its appends form one multi-row INSERT, and a statement
/// outside an explicit transaction is a transaction of its own: atomic and,
/// with `synchronous=FULL`, durable when it returns. So the common batch
/// costs one round trip to SQLite and one fsync. The result has one entry
/// per job: `Some` for appends, `None` for rejected attempts.
async fn commit(
    conn: &mut SqliteConnection,
    digests: &mut Digests,
    batch: &[Job],
    rejected_log_limit: i64,
) -> sqlx::Result<Vec<Option<Appended>>> {
    let events: Vec<&NewEvent> = batch
        .iter()
        .filter_map(|job| match job {
            Job::Append(event, _) => Some(&**event),
            Job::Reject(_) => None,
        })
        .collect();
    let attempts: Vec<&RejectedAttempt> = batch
        .iter()
        .filter_map(|job| match job {
            Job::Reject(attempt) => Some(attempt),
            Job::Append(..) => None,
        })
        .collect();
    let mut appended = append_all(conn, digests, &events).await?.into_iter();
    // The security log must never cost an acknowledged delivery its answer.
    if let Err(error) = record_rejections(conn, &attempts, rejected_log_limit).await {
        tracing::warn!(%error, "rejected attempts not recorded");
    }
    Ok(batch
        .iter()
        .map(|job| match job {
            Job::Append(..) => appended.next(),
            Job::Reject(_) => None,
        })
        .collect())
}

const EVENT_COLUMNS: &str = "destination_id, received_at, body, body_sha256, event_key,
    webhook_uid, sender_id, malformed, not_subscribed, uid_mismatch, while_inactive,
    signature_checked, token_checked, content_type, remote_addr";

/// Where a job's delivery goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    /// A new row: the n-th of the batch's INSERT.
    New(usize),
    /// A redelivery of an event logged before this batch.
    Logged(i64),
    /// A redelivery of the n-th new row of this same batch.
    Repeat(usize),
}

/// Appends events. A body already logged for its destination, or repeated
/// within the batch, becomes a redelivery of the first one. The common
/// batch, all new, is one multi-row INSERT: one statement outside an
/// explicit transaction is a transaction of its own, so it costs one round
/// trip to SQLite and one fsync. Redelivery counts join the INSERT in one
/// explicit transaction. The map learns the new rows once they are
/// committed, never before.
async fn append_all(
    conn: &mut SqliteConnection,
    digests: &mut Digests,
    events: &[&NewEvent],
) -> sqlx::Result<Vec<Appended>> {
    let (places, fresh) = place(conn, digests, events).await?;
    let first_seq = if fresh.len() == events.len() {
        insert_rows(conn, &fresh).await?
    } else {
        let mut tx = conn.begin().await?;
        let first_seq = insert_rows(&mut tx, &fresh).await?;
        for (place, event) in places.iter().zip(events) {
            let seq = match *place {
                Place::New(_) => continue,
                Place::Logged(seq) => seq,
                Place::Repeat(n) => first_seq + n as i64,
            };
            count_redelivery(&mut tx, seq, event.received_at).await?;
        }
        tx.commit().await?;
        first_seq
    };
    for (n, event) in fresh.iter().enumerate() {
        digests.insert(
            event.destination_id,
            &event.body_sha256,
            first_seq + n as i64,
        );
    }
    Ok(places
        .into_iter()
        .map(|place| match place {
            Place::New(n) => Appended {
                seq: first_seq + n as i64,
                duplicate: false,
            },
            Place::Logged(seq) => Appended {
                seq,
                duplicate: true,
            },
            Place::Repeat(n) => Appended {
                seq: first_seq + n as i64,
                duplicate: true,
            },
        })
        .collect())
}

/// Decides each job's place, and returns the new rows in batch order.
async fn place<'a>(
    conn: &mut SqliteConnection,
    digests: &Digests,
    events: &[&'a NewEvent],
) -> sqlx::Result<(Vec<Place>, Vec<&'a NewEvent>)> {
    let mut places = Vec::with_capacity(events.len());
    let mut fresh: Vec<&NewEvent> = Vec::with_capacity(events.len());
    let mut in_batch: HashMap<(i64, [u8; 32]), usize> = HashMap::new();
    for &event in events {
        if let Some(seq) = digests
            .find(conn, event.destination_id, &event.body_sha256)
            .await?
        {
            places.push(Place::Logged(seq));
            continue;
        }
        match in_batch.entry((event.destination_id, event.body_sha256)) {
            Entry::Occupied(first) => places.push(Place::Repeat(*first.get())),
            Entry::Vacant(slot) => {
                slot.insert(fresh.len());
                places.push(Place::New(fresh.len()));
                fresh.push(event);
            }
        }
    }
    Ok((places, fresh))
}

/// Inserts rows with one multi-row INSERT (at most `MAX_BATCH` rows of 15
/// parameters, far below SQLite's limit on bound parameters) and returns
/// the first one's sequence number. One statement and one writer: the rows
/// get consecutive numbers in VALUES order.
async fn insert_rows(conn: &mut SqliteConnection, events: &[&NewEvent]) -> sqlx::Result<i64> {
    if events.is_empty() {
        return Ok(0);
    }
    let placeholders = vec!["(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"; events.len()];
    let sql = format!(
        "INSERT INTO events ({EVENT_COLUMNS}) VALUES {}",
        placeholders.join(", ")
    );
    let mut query = sqlx::query(&sql);
    for event in events {
        query = query
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
            .bind(&event.remote_addr);
    }
    let result = query.execute(&mut *conn).await?;
    Ok(result.last_insert_rowid() - result.rows_affected() as i64 + 1)
}

/// Counts a redelivery beside the stored event `seq`.
async fn count_redelivery(
    conn: &mut SqliteConnection,
    seq: i64,
    received_at: i64,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO event_redeliveries (seq, count, last_received_at) VALUES (?, 1, ?)
         ON CONFLICT (seq) DO UPDATE
             SET count = count + 1, last_received_at = excluded.last_received_at",
    )
    .bind(seq)
    .bind(received_at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Logs rejected attempts and prunes the log to its bound.
async fn record_rejections(
    conn: &mut SqliteConnection,
    attempts: &[&RejectedAttempt],
    limit: i64,
) -> sqlx::Result<()> {
    if attempts.is_empty() {
        return Ok(());
    }
    let mut tx = conn.begin().await?;
    for attempt in attempts {
        sqlx::query(
            "INSERT INTO rejected_attempts (at, slug, destination_id, reason, remote_addr)
             VALUES (?, ?, ?, ?, ?)",
        )
        .bind(attempt.at)
        .bind(&attempt.slug)
        .bind(attempt.destination_id)
        .bind(attempt.reason)
        .bind(&attempt.remote_addr)
        .execute(&mut *tx)
        .await?;
    }
    sqlx::query(
        "DELETE FROM rejected_attempts WHERE id <= (SELECT MAX(id) FROM rejected_attempts) - ?",
    )
    .bind(limit)
    .execute(&mut *tx)
    .await?;
    tx.commit().await
}
