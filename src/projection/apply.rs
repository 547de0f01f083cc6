//! Applying a batch of logged events to the projections, inside the
//! caller's transaction. Every write is idempotent on its unique keys, but
//! it is the checkpoint, advanced in the same transaction, that guarantees
//! each event is applied exactly once.

use std::collections::{hash_map::Entry, BTreeSet, HashMap, HashSet};

use sqlx::SqliteConnection;

use super::{
    payload::{self, InboundText, Projected, StatusUpdate, TemplateUpdate},
    status::{transition, Transition, UNRANKED},
};

/// One event as the projector reads it from the log.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LogEvent {
    pub seq: i64,
    pub received_at: i64,
    pub event_key: Option<String>,
    pub sender_id: Option<String>,
    pub malformed: bool,
    pub not_subscribed: bool,
    pub body: Vec<u8>,
}

pub use crate::model::Changes;

/// Applies `events`, in sequence order, to every projection they concern.
/// The projections are independent of each other, so inbound messages and
/// delivery statuses are gathered and applied together at the end, a few
/// statements for the lot; templates, rare, one event at a time.
pub async fn apply_all(
    conn: &mut SqliteConnection,
    events: &[LogEvent],
    changes: &mut Changes,
) -> sqlx::Result<()> {
    let mut inbound = Inbound::default();
    let mut statuses = Statuses::default();
    for event in events {
        changes.through_seq = event.seq;
        let Some(projected) = projectable(event) else {
            continue;
        };
        let sender = event.sender_id.as_deref().unwrap_or("");
        match projected {
            Projected::InboundText(message) => inbound.push(event, sender, message),
            Projected::Status(update) => statuses.push(event, sender, update),
            Projected::Template(update) => template(conn, event, sender, &update, changes).await?,
        }
    }
    inbound.apply(conn, changes).await?;
    statuses.apply(conn, changes).await
}

/// What `event` means for the projections, if anything.
fn projectable(event: &LogEvent) -> Option<Projected> {
    // Flagged deliveries stay in the log for review but feed nothing.
    if event.malformed || event.not_subscribed {
        return None;
    }
    match payload::parse(event.event_key.as_deref()?, &event.body) {
        Ok(projected) => projected,
        Err(unprojectable) => {
            tracing::debug!(seq = event.seq, %unprojectable, "event not projected");
            None
        }
    }
}

/// One inbound message as the set statements read it.
#[derive(Debug, serde::Serialize)]
struct NewMessage<'a> {
    sender: &'a str,
    phone: String,
    message_id: String,
    text: String,
    at: i64,
    seq: i64,
}

/// The inbound messages of a batch, in sequence order, each message id
/// once: a repeat within the batch changes nothing, like a message that
/// was projected before.
#[derive(Default)]
struct Inbound<'a> {
    messages: Vec<NewMessage<'a>>,
    seen: HashSet<String>,
}

impl<'a> Inbound<'a> {
    fn push(&mut self, event: &LogEvent, sender: &'a str, message: InboundText) {
        if !self.seen.insert(message.message_id.clone()) {
            return;
        }
        self.messages.push(NewMessage {
            sender,
            at: message.at.unwrap_or(event.received_at),
            phone: message.phone,
            message_id: message.message_id,
            text: message.text,
            seq: event.seq,
        });
    }

    /// Counts each new message in its conversation, then stores it. A
    /// message already projected changes nothing. Both statements read the
    /// batch as one JSON array in sequence order, so the conversation
    /// upsert takes each message after the ones before it: the newest
    /// message is the conversation's headline, whatever order messages
    /// arrive in.
    async fn apply(self, conn: &mut SqliteConnection, changes: &mut Changes) -> sqlx::Result<()> {
        if self.messages.is_empty() {
            return Ok(());
        }
        let batch = to_json(&self.messages)?;
        let conversations: Vec<i64> = sqlx::query_scalar(
            "INSERT INTO conversations (sender_id, phone, last_message, last_at, message_count)
             SELECT m.value ->> 'sender', m.value ->> 'phone', m.value ->> 'text',
                    m.value ->> 'at', 1
             FROM json_each(?1) AS m
             WHERE NOT EXISTS (SELECT 1 FROM messages WHERE message_id = m.value ->> 'message_id')
             ORDER BY m.key
             ON CONFLICT (sender_id, phone) DO UPDATE SET
                 message_count = message_count + 1,
                 last_message = CASE WHEN excluded.last_at >= last_at
                                     THEN excluded.last_message ELSE last_message END,
                 last_at = MAX(last_at, excluded.last_at)
             RETURNING id",
        )
        .bind(&batch)
        .fetch_all(&mut *conn)
        .await?;
        // The trigger `messages_fill_search` adds each to the full-text index.
        sqlx::query(
            "INSERT INTO messages (conversation_id, message_id, phone, text, sent_at, seq)
             SELECT c.id, m.value ->> 'message_id', m.value ->> 'phone', m.value ->> 'text',
                    m.value ->> 'at', m.value ->> 'seq'
             FROM json_each(?1) AS m
             JOIN conversations AS c
               ON c.sender_id = m.value ->> 'sender' AND c.phone = m.value ->> 'phone'
             WHERE NOT EXISTS (SELECT 1 FROM messages WHERE message_id = m.value ->> 'message_id')
             ORDER BY m.key",
        )
        .bind(&batch)
        .execute(&mut *conn)
        .await?;
        changes.conversations.extend(conversations);
        Ok(())
    }
}

/// One status update of a batch.
struct StatusEvent<'a> {
    update: StatusUpdate,
    sender: &'a str,
    at: i64,
    seq: i64,
}

/// A timeline as the statuses of a batch leave it.
#[derive(Debug, serde::Serialize)]
struct Track<'a> {
    message_id: String,
    recipient: String,
    sender: &'a str,
    status: String,
    rank: i64,
    error_code: Option<String>,
    error_message: Option<String>,
    first_at: i64,
    updated_at: i64,
    /// Stored before this batch (otherwise created by it).
    #[serde(skip)]
    stored: bool,
    /// Changed by this batch.
    #[serde(skip)]
    touched: bool,
}

/// A timeline row as stored before the batch.
#[derive(sqlx::FromRow)]
struct StoredTimeline {
    message_id: String,
    recipient: String,
    status: String,
    status_rank: i64,
    error_code: Option<String>,
    error_message: Option<String>,
    first_at: i64,
    updated_at: i64,
}

/// One new row of `timeline_statuses`.
#[derive(serde::Serialize)]
struct StatusRow<'a> {
    message_id: &'a str,
    status: &'a str,
    at: i64,
    error_code: Option<&'a str>,
    error_message: Option<&'a str>,
    out_of_order: bool,
    seq: i64,
}

/// The status updates of a batch, in sequence order.
#[derive(Default)]
struct Statuses<'a> {
    events: Vec<StatusEvent<'a>>,
}

impl<'a> Statuses<'a> {
    fn push(&mut self, event: &LogEvent, sender: &'a str, update: StatusUpdate) {
        self.events.push(StatusEvent {
            at: update.at.unwrap_or(event.received_at),
            update,
            sender,
            seq: event.seq,
        });
    }

    /// Reads the batch's timelines and the statuses they hold, takes each
    /// update in turn in memory (the first status of a message starts its
    /// timeline; a status seen before changes nothing; a higher one becomes
    /// current), then writes the new timelines, the changed ones and the
    /// new status rows: five statements for the whole batch.
    async fn apply(self, conn: &mut SqliteConnection, changes: &mut Changes) -> sqlx::Result<()> {
        if self.events.is_empty() {
            return Ok(());
        }
        let (mut tracks, mut seen) = stored_tracks(conn, &self.events).await?;
        let mut created = Vec::new();
        let mut rows = Vec::new();
        for event in &self.events {
            let update = &event.update;
            let rank = update.status.rank().unwrap_or(UNRANKED);
            let pair = (update.message_id.clone(), update.status.as_str().to_owned());
            let step = match tracks.entry(update.message_id.clone()) {
                Entry::Vacant(slot) => {
                    // A new timeline starts at this status.
                    slot.insert(Track {
                        message_id: update.message_id.clone(),
                        recipient: update.recipient.clone(),
                        sender: event.sender,
                        status: update.status.as_str().to_owned(),
                        rank,
                        error_code: update.error_code.clone(),
                        error_message: update.error_message.clone(),
                        first_at: event.at,
                        updated_at: event.at,
                        stored: false,
                        touched: true,
                    });
                    created.push(update.message_id.clone());
                    Transition::Recorded
                }
                Entry::Occupied(mut slot) => {
                    let track = slot.get_mut();
                    let step = transition(track.rank, &track.status, &update.status);
                    if seen.contains(&pair) {
                        continue; // this status was recorded before
                    }
                    if step == Transition::Advance {
                        track.status = update.status.as_str().to_owned();
                        track.rank = rank;
                        track.error_code = update.error_code.clone();
                        track.error_message = update.error_message.clone();
                    }
                    track.first_at = track.first_at.min(event.at);
                    track.updated_at = track.updated_at.max(event.at);
                    track.touched = true;
                    step
                }
            };
            seen.insert(pair);
            rows.push(StatusRow {
                message_id: &update.message_id,
                status: update.status.as_str(),
                at: event.at,
                error_code: update.error_code.as_deref(),
                error_message: update.error_message.as_deref(),
                out_of_order: step == Transition::OutOfOrder,
                seq: event.seq,
            });
            changes.timelines.insert(update.message_id.clone());
        }
        let new: Vec<&Track> = created.iter().filter_map(|id| tracks.get(id)).collect();
        let changed: Vec<&Track> = tracks
            .values()
            .filter(|track| track.stored && track.touched)
            .collect();
        write_timelines(conn, &new, &changed, &rows).await
    }
}

/// The stored timelines of the batch's messages, and the statuses they
/// already hold.
async fn stored_tracks(
    conn: &mut SqliteConnection,
    events: &[StatusEvent<'_>],
) -> sqlx::Result<(HashMap<String, Track<'static>>, HashSet<(String, String)>)> {
    let ids: BTreeSet<&str> = events
        .iter()
        .map(|e| e.update.message_id.as_str())
        .collect();
    let ids = to_json(&ids)?;
    let stored: Vec<StoredTimeline> = sqlx::query_as(
        "SELECT message_id, recipient, status, status_rank, error_code, error_message,
                first_at, updated_at
         FROM timelines WHERE message_id IN (SELECT value FROM json_each(?1))",
    )
    .bind(&ids)
    .fetch_all(&mut *conn)
    .await?;
    let seen = sqlx::query_as(
        "SELECT t.message_id, s.status
         FROM timeline_statuses AS s JOIN timelines AS t ON t.id = s.timeline_id
         WHERE t.message_id IN (SELECT value FROM json_each(?1))",
    )
    .bind(&ids)
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .collect();
    let tracks = stored
        .into_iter()
        .map(|row| {
            let track = Track {
                message_id: row.message_id.clone(),
                recipient: row.recipient,
                // Written only for new timelines.
                sender: "",
                status: row.status,
                rank: row.status_rank,
                error_code: row.error_code,
                error_message: row.error_message,
                first_at: row.first_at,
                updated_at: row.updated_at,
                stored: true,
                touched: false,
            };
            (row.message_id, track)
        })
        .collect();
    Ok((tracks, seen))
}

/// Writes what [`Statuses::apply`] worked out, new timelines first so
/// that their status rows find them.
async fn write_timelines(
    conn: &mut SqliteConnection,
    new: &[&Track<'_>],
    changed: &[&Track<'_>],
    rows: &[StatusRow<'_>],
) -> sqlx::Result<()> {
    if !new.is_empty() {
        sqlx::query(
            "INSERT INTO timelines (message_id, recipient, sender_id, status, status_rank,
                 error_code, error_message, first_at, updated_at)
             SELECT t.value ->> 'message_id', t.value ->> 'recipient', t.value ->> 'sender',
                    t.value ->> 'status', t.value ->> 'rank', t.value ->> 'error_code',
                    t.value ->> 'error_message', t.value ->> 'first_at', t.value ->> 'updated_at'
             FROM json_each(?1) AS t
             ORDER BY t.key",
        )
        .bind(to_json(new)?)
        .execute(&mut *conn)
        .await?;
    }
    if !changed.is_empty() {
        sqlx::query(
            "UPDATE timelines SET
                 status = t.value ->> 'status',
                 status_rank = t.value ->> 'rank',
                 error_code = t.value ->> 'error_code',
                 error_message = t.value ->> 'error_message',
                 first_at = t.value ->> 'first_at',
                 updated_at = t.value ->> 'updated_at'
             FROM json_each(?1) AS t
             WHERE timelines.message_id = t.value ->> 'message_id'",
        )
        .bind(to_json(changed)?)
        .execute(&mut *conn)
        .await?;
    }
    if !rows.is_empty() {
        sqlx::query(
            "INSERT INTO timeline_statuses (timeline_id, status, at, error_code, error_message,
                 out_of_order, seq)
             SELECT t.id, s.value ->> 'status', s.value ->> 'at', s.value ->> 'error_code',
                    s.value ->> 'error_message', s.value ->> 'out_of_order', s.value ->> 'seq'
             FROM json_each(?1) AS s
             JOIN timelines AS t ON t.message_id = s.value ->> 'message_id'
             ORDER BY s.key",
        )
        .bind(to_json(rows)?)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// A batch as the one JSON parameter its statement reads.
fn to_json<T: serde::Serialize + ?Sized>(value: &T) -> sqlx::Result<String> {
    serde_json::to_string(value).map_err(|error| sqlx::Error::Encode(Box::new(error)))
}

async fn template(
    conn: &mut SqliteConnection,
    event: &LogEvent,
    sender: &str,
    update: &TemplateUpdate,
    changes: &mut Changes,
) -> sqlx::Result<()> {
    let at = event.received_at;
    let previous: Option<(i64, String)> = sqlx::query_as(
        "SELECT id, status FROM templates WHERE sender_id = ? AND name = ? AND language = ?",
    )
    .bind(sender)
    .bind(&update.name)
    .bind(&update.language)
    .fetch_optional(&mut *conn)
    .await?;
    let template: i64 = sqlx::query_scalar(
        "INSERT INTO templates (sender_id, name, language, category, status, reason, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (sender_id, name, language) DO UPDATE SET
             category = COALESCE(excluded.category, category),
             status = excluded.status,
             reason = excluded.reason,
             updated_at = excluded.updated_at
         RETURNING id",
    )
    .bind(sender)
    .bind(&update.name)
    .bind(&update.language)
    .bind(&update.category)
    .bind(&update.status)
    .bind(&update.reason)
    .bind(at)
    .fetch_one(&mut *conn)
    .await?;
    sqlx::query(
        "INSERT INTO template_history (template_id, status, category, reason, at, seq)
         VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(template)
    .bind(&update.status)
    .bind(&update.category)
    .bind(&update.reason)
    .bind(at)
    .bind(event.seq)
    .execute(&mut *conn)
    .await?;
    changes.templates.insert(template);

    let moved = previous
        .as_ref()
        .is_none_or(|(_, status)| *status != update.status);
    if moved && payload::ALERTING_TEMPLATE_STATUSES.contains(&update.status.as_str()) {
        let title = format!(
            "Template {} ({}) is {}",
            update.name,
            if update.language.is_empty() {
                "-"
            } else {
                &update.language
            },
            update.status
        );
        let alert: Option<i64> = sqlx::query_scalar(
            "INSERT INTO alerts (key, origin, kind, title, detail, template_id, raised_at, seq)
             VALUES (?, 'log', 'template_status', ?, ?, ?, ?, ?)
             ON CONFLICT (key) DO NOTHING
             RETURNING id",
        )
        .bind(format!("event:{}", event.seq))
        .bind(title)
        .bind(&update.reason)
        .bind(template)
        .bind(at)
        .bind(event.seq)
        .fetch_optional(&mut *conn)
        .await?;
        changes.alerts.extend(alert);
    }
    Ok(())
}
