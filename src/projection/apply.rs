//! Applying one logged event to the projections, inside the caller's
//! transaction. Every step is idempotent on its unique keys, but it is the
//! checkpoint, advanced in the same transaction, that guarantees each event
//! is applied exactly once.

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

/// Applies `event` to every projection it concerns.
pub async fn apply(
    conn: &mut SqliteConnection,
    event: &LogEvent,
    changes: &mut Changes,
) -> sqlx::Result<()> {
    changes.through_seq = event.seq;
    // Flagged deliveries stay in the log for review but feed nothing.
    if event.malformed || event.not_subscribed {
        return Ok(());
    }
    let Some(key) = event.event_key.as_deref() else {
        return Ok(());
    };
    let projected = match payload::parse(key, &event.body) {
        Ok(Some(projected)) => projected,
        Ok(None) => return Ok(()),
        Err(unprojectable) => {
            tracing::debug!(seq = event.seq, %unprojectable, "event not projected");
            return Ok(());
        }
    };
    let sender = event.sender_id.as_deref().unwrap_or("");
    match projected {
        Projected::InboundText(message) => inbound(conn, event, sender, &message, changes).await,
        Projected::Status(update) => status(conn, event, sender, &update, changes).await,
        Projected::Template(update) => template(conn, event, sender, &update, changes).await,
    }
}

async fn inbound(
    conn: &mut SqliteConnection,
    event: &LogEvent,
    sender: &str,
    message: &InboundText,
    changes: &mut Changes,
) -> sqlx::Result<()> {
    let at = message.at.unwrap_or(event.received_at);
    // The newest message is the conversation's headline, whatever order
    // messages arrive in. A message already projected changes nothing: the
    // upsert then selects no row, and returns none.
    let conversation: Option<i64> = sqlx::query_scalar(
        "INSERT INTO conversations (sender_id, phone, last_message, last_at, message_count)
         SELECT ?1, ?2, ?3, ?4, 1
         WHERE NOT EXISTS (SELECT 1 FROM messages WHERE message_id = ?5)
         ON CONFLICT (sender_id, phone) DO UPDATE SET
             message_count = message_count + 1,
             last_message = CASE WHEN excluded.last_at >= last_at
                                 THEN excluded.last_message ELSE last_message END,
             last_at = MAX(last_at, excluded.last_at)
         RETURNING id",
    )
    .bind(sender)
    .bind(&message.phone)
    .bind(&message.text)
    .bind(at)
    .bind(&message.message_id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(conversation) = conversation else {
        return Ok(());
    };
    // The trigger `messages_fill_search` adds it to the full-text index.
    sqlx::query(
        "INSERT INTO messages (conversation_id, message_id, phone, text, sent_at, seq)
         VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(conversation)
    .bind(&message.message_id)
    .bind(&message.phone)
    .bind(&message.text)
    .bind(at)
    .bind(event.seq)
    .execute(&mut *conn)
    .await?;
    changes.conversations.insert(conversation);
    Ok(())
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
