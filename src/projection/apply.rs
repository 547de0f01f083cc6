//! Applying a batch of logged events to the projections, inside the
//! caller's transaction. Every write is idempotent on its unique keys, but
//! it is the checkpoint, advanced in the same transaction, that guarantees
//! each event is applied exactly once.

use std::collections::HashSet;

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
/// The projections are independent of each other, so inbound messages are
/// gathered and applied together at the end, in two statements for the
/// lot; statuses and templates are applied one event at a time.
pub async fn apply_all(
    conn: &mut SqliteConnection,
    events: &[LogEvent],
    changes: &mut Changes,
) -> sqlx::Result<()> {
    let mut inbound = Inbound::default();
    for event in events {
        changes.through_seq = event.seq;
        let Some(projected) = projectable(event) else {
            continue;
        };
        let sender = event.sender_id.as_deref().unwrap_or("");
        match projected {
            Projected::InboundText(message) => inbound.push(event, sender, message),
            Projected::Status(update) => status(conn, event, sender, &update, changes).await?,
            Projected::Template(update) => template(conn, event, sender, &update, changes).await?,
        }
    }
    inbound.apply(conn, changes).await
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
        let batch = serde_json::to_string(&self.messages)
            .map_err(|error| sqlx::Error::Encode(Box::new(error)))?;
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

async fn status(
    conn: &mut SqliteConnection,
    event: &LogEvent,
    sender: &str,
    update: &StatusUpdate,
    changes: &mut Changes,
) -> sqlx::Result<()> {
    let at = update.at.unwrap_or(event.received_at);
    let rank = update.status.rank().unwrap_or(UNRANKED);
    let existing: Option<(i64, i64, String)> =
        sqlx::query_as("SELECT id, status_rank, status FROM timelines WHERE message_id = ?")
            .bind(&update.message_id)
            .fetch_optional(&mut *conn)
            .await?;
    let (timeline, step) = match existing {
        Some((id, rank, current)) => (id, transition(rank, &current, &update.status)),
        // A new timeline starts at this status: nothing left to advance.
        None => {
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO timelines (message_id, recipient, sender_id, status, status_rank,
                     error_code, error_message, first_at, updated_at)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                 RETURNING id",
            )
            .bind(&update.message_id)
            .bind(&update.recipient)
            .bind(sender)
            .bind(update.status.as_str())
            .bind(rank)
            .bind(&update.error_code)
            .bind(&update.error_message)
            .bind(at)
            .bind(at)
            .fetch_one(&mut *conn)
            .await?;
            (id, Transition::Recorded)
        }
    };
    let recorded = sqlx::query(
        "INSERT INTO timeline_statuses (timeline_id, status, at, error_code, error_message,
             out_of_order, seq)
         VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (timeline_id, status) DO NOTHING",
    )
    .bind(timeline)
    .bind(update.status.as_str())
    .bind(at)
    .bind(&update.error_code)
    .bind(&update.error_message)
    .bind(step == Transition::OutOfOrder)
    .bind(event.seq)
    .execute(&mut *conn)
    .await?;
    if recorded.rows_affected() == 0 {
        return Ok(()); // this status was recorded before
    }
    let advance = step == Transition::Advance;
    sqlx::query(
        "UPDATE timelines SET
             status = CASE WHEN ?1 THEN ?2 ELSE status END,
             status_rank = CASE WHEN ?1 THEN ?3 ELSE status_rank END,
             error_code = CASE WHEN ?1 THEN ?4 ELSE error_code END,
             error_message = CASE WHEN ?1 THEN ?5 ELSE error_message END,
             first_at = MIN(first_at, ?6),
             updated_at = MAX(updated_at, ?6)
         WHERE id = ?7",
    )
    .bind(advance)
    .bind(update.status.as_str())
    .bind(rank)
    .bind(&update.error_code)
    .bind(&update.error_message)
    .bind(at)
    .bind(timeline)
    .execute(&mut *conn)
    .await?;
    changes.timelines.insert(update.message_id.clone());
    Ok(())
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
