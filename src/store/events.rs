//! The event log: every accepted delivery with its exact raw bytes, in one
//! global sequence. Rows are only ever appended (the schema refuses updates
//! and deletes); redeliveries of a stored body are counted beside it.

use serde::Serialize;
use sqlx::SqlitePool;

/// Marks on a stored delivery. None of them is a reason to drop it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Flags {
    /// Not JSON, or no `event`.
    pub malformed: bool,
    /// The event key is not in the destination's subscription list.
    pub not_subscribed: bool,
    /// `webhookUid` differs from the destination's.
    pub uid_mismatch: bool,
    /// Arrived while the destination was INACTIVE.
    pub while_inactive: bool,
}

impl Flags {
    pub const NAMES: [&'static str; 4] = crate::model::FLAG_NAMES;

    /// The names of the flags that are set, in a fixed order.
    pub fn names(self) -> Vec<&'static str> {
        let set = [
            self.malformed,
            self.not_subscribed,
            self.uid_mismatch,
            self.while_inactive,
        ];
        Self::NAMES
            .into_iter()
            .zip(set)
            .filter_map(|(name, on)| on.then_some(name))
            .collect()
    }
}

/// A verified delivery on its way into the log.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub destination_id: i64,
    pub received_at: i64,
    pub body: axum::body::Bytes,
    pub body_sha256: [u8; 32],
    pub event_key: Option<String>,
    pub webhook_uid: Option<String>,
    pub sender_id: Option<String>,
    pub flags: Flags,
    pub signature_checked: bool,
    pub token_checked: bool,
    pub content_type: Option<String>,
    pub remote_addr: Option<String>,
}

/// Where a delivery landed in the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    pub seq: i64,
    /// The same body had already been stored for this destination.
    pub duplicate: bool,
}

/// Published after each commit for every new event, for the projector and
/// the live pages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EventNotice {
    pub seq: i64,
    pub event_key: Option<String>,
    pub destination_id: i64,
    pub flags: Vec<&'static str>,
}

/// A delivery refused for authentication. No body is ever kept.
#[derive(Debug, Clone)]
pub struct RejectedAttempt {
    pub at: i64,
    pub slug: String,
    pub destination_id: Option<i64>,
    pub reason: &'static str,
    pub remote_addr: Option<String>,
}

/// A stored event without its body, as lists show it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EventSummary {
    pub seq: i64,
    pub destination_id: i64,
    pub destination_slug: String,
    pub received_at: i64,
    pub event_key: Option<String>,
    pub webhook_uid: Option<String>,
    pub sender_id: Option<String>,
    pub malformed: bool,
    pub not_subscribed: bool,
    pub uid_mismatch: bool,
    pub while_inactive: bool,
    pub signature_checked: bool,
    pub token_checked: bool,
    pub delivery_count: i64,
}

impl EventSummary {
    /// The event as JSON, without its body: one shape for the API and the
    /// NDJSON export.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "seq": self.seq,
            "receivedAt": super::format_millis(self.received_at),
            "destination": self.destination_slug,
            "event": self.event_key,
            "webhookUid": self.webhook_uid,
            "senderId": self.sender_id,
            "flags": self.flags().names(),
            "deliveryCount": self.delivery_count,
            "signatureChecked": self.signature_checked,
            "tokenChecked": self.token_checked,
        })
    }

    pub fn flags(&self) -> Flags {
        Flags {
            malformed: self.malformed,
            not_subscribed: self.not_subscribed,
            uid_mismatch: self.uid_mismatch,
            while_inactive: self.while_inactive,
        }
    }
}

/// A stored event with its exact raw body.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StoredEvent {
    #[sqlx(flatten)]
    pub summary: EventSummary,
    pub body: Vec<u8>,
}

const SELECT_SUMMARY: &str = "
    SELECT e.seq, e.destination_id, d.slug AS destination_slug, e.received_at,
           e.event_key, e.webhook_uid, e.sender_id, e.malformed, e.not_subscribed,
           e.uid_mismatch, e.while_inactive, e.signature_checked, e.token_checked,
           1 + COALESCE(r.count, 0) AS delivery_count";

const FROM_EVENTS: &str = "
    FROM events e
    JOIN destinations d ON d.id = e.destination_id
    LEFT JOIN event_redeliveries r ON r.seq = e.seq";

/// Events with a sequence number above `after`, oldest first.
pub async fn list_after(
    pool: &SqlitePool,
    after: i64,
    limit: i64,
) -> sqlx::Result<Vec<StoredEvent>> {
    let sql =
        format!("{SELECT_SUMMARY}, e.body {FROM_EVENTS} WHERE e.seq > ? ORDER BY e.seq LIMIT ?");
    sqlx::query_as(&sql)
        .bind(after)
        .bind(limit)
        .fetch_all(pool)
        .await
}

/// The newest events, newest first.
pub async fn latest(pool: &SqlitePool, limit: i64) -> sqlx::Result<Vec<EventSummary>> {
    sqlx::query_as(&format!(
        "{SELECT_SUMMARY} {FROM_EVENTS} ORDER BY e.seq DESC LIMIT ?"
    ))
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// Filters of the event list; every one optional.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    pub event_key: Option<String>,
    pub destination: Option<String>,
    pub sender_id: Option<String>,
    /// One of `Flags::NAMES`.
    pub flag: Option<String>,
}

/// Events newest first, below `before` (a sequence number), filtered.
/// `None` when the flag is not one of `Flags::NAMES`.
pub async fn list(
    pool: &SqlitePool,
    filter: &EventFilter,
    before: Option<i64>,
    limit: i64,
) -> sqlx::Result<Option<Vec<EventSummary>>> {
    let mut query = sqlx::QueryBuilder::new(format!("{SELECT_SUMMARY} {FROM_EVENTS} WHERE 1 = 1"));
    if let Some(key) = &filter.event_key {
        query.push(" AND e.event_key = ").push_bind(key.clone());
    }
    if let Some(slug) = &filter.destination {
        query.push(" AND d.slug = ").push_bind(slug.clone());
    }
    if let Some(sender) = &filter.sender_id {
        query.push(" AND e.sender_id = ").push_bind(sender.clone());
    }
    if let Some(flag) = &filter.flag {
        // The column name comes from the fixed list, never from the input.
        let Some(column) = Flags::NAMES.iter().find(|name| *name == flag) else {
            return Ok(None);
        };
        query.push(format!(" AND e.{column}"));
    }
    if let Some(before) = before {
        query.push(" AND e.seq < ").push_bind(before);
    }
    query.push(" ORDER BY e.seq DESC LIMIT ").push_bind(limit);
    query.build_query_as().fetch_all(pool).await.map(Some)
}

/// One page of [`list`]: `next` is the cursor (a sequence number) of the
/// following page, when there is one.
pub async fn list_page(
    pool: &SqlitePool,
    filter: &EventFilter,
    before: Option<i64>,
    limit: i64,
) -> sqlx::Result<Option<crate::model::Page<EventSummary>>> {
    let Some(mut items) = list(pool, filter, before, limit + 1).await? else {
        return Ok(None);
    };
    let more = items.len() as i64 > limit;
    items.truncate(limit as usize);
    let next = more
        .then(|| items.last().map(|e| e.seq.to_string()))
        .flatten();
    Ok(Some(crate::model::Page { items, next }))
}

/// One stored event with its body.
pub async fn get(pool: &SqlitePool, seq: i64) -> sqlx::Result<Option<StoredEvent>> {
    let sql = format!("{SELECT_SUMMARY}, e.body {FROM_EVENTS} WHERE e.seq = ?");
    sqlx::query_as(&sql).bind(seq).fetch_optional(pool).await
}

pub async fn count(pool: &SqlitePool) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT COUNT(*) FROM events")
        .fetch_one(pool)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_names_follow_a_fixed_order() {
        let flags = Flags {
            while_inactive: true,
            malformed: true,
            ..Flags::default()
        };
        assert_eq!(flags.names(), vec!["malformed", "while_inactive"]);
        assert!(Flags::default().names().is_empty());
    }
}
