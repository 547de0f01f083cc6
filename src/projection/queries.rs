//! Reading the projections: the plain functions behind the pages and the
//! JSON API. Lists are newest first and paged by an opaque cursor.

use sqlx::{QueryBuilder, Sqlite, SqlitePool};

use super::search::fts_query;
use crate::{
    model::{
        Alert, ConversationSummary, ConversationThread, Page, TemplateChange, TemplateSummary,
        ThreadItem, Timeline, TimelineFilter, TimelineStatus, TimelineSummary, MATCH_END,
        MATCH_START,
    },
    projection::payload::{normalize_phone, parse_time},
    store::format_millis,
};

/// Why a query could not be answered as asked.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error("{0}")]
    BadInput(String),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// Position in a newest-first list: (time, id) of the last item shown.
fn encode_cursor(at: i64, id: i64) -> String {
    format!("{at}.{id}")
}

fn decode_cursor(cursor: &str) -> Result<(i64, i64), QueryError> {
    let bad = || QueryError::BadInput(format!("invalid cursor {cursor:?}"));
    let (at, id) = cursor.split_once('.').ok_or_else(bad)?;
    Ok((
        at.parse().map_err(|_| bad())?,
        id.parse().map_err(|_| bad())?,
    ))
}

/// A time filter: ISO-8601 or unix milliseconds.
/// A time filter: RFC 3339, epoch seconds or milliseconds, or what a
/// browser's `datetime-local` / `date` input sends (taken as UTC).
fn parse_bound(raw: &str) -> Result<i64, QueryError> {
    let raw = raw.trim();
    let is_local = raw.len() >= 10 && raw.get(4..5) == Some("-") && !raw.ends_with('Z');
    let completed = match raw.len() {
        10 if is_local => format!("{raw}T00:00:00Z"),
        16 if is_local => format!("{raw}:00Z"),
        19 if is_local => format!("{raw}Z"),
        _ => raw.to_owned(),
    };
    let value = serde_json::Value::from(completed);
    parse_time(&value).ok_or_else(|| QueryError::BadInput(format!("invalid time {raw:?}")))
}

#[derive(sqlx::FromRow)]
struct ConversationRow {
    id: i64,
    sender_id: String,
    phone: String,
    last_message: String,
    last_at: i64,
    message_count: i64,
    snippet: Option<String>,
}

impl From<ConversationRow> for ConversationSummary {
    fn from(row: ConversationRow) -> Self {
        Self {
            id: row.id,
            sender_id: row.sender_id,
            phone: row.phone,
            last_message: row.last_message,
            last_at: format_millis(row.last_at),
            message_count: row.message_count,
            snippet: row.snippet,
        }
    }
}

/// Conversations, newest first; with a query, those with a matching
/// message (text words, phrases, or phone prefix), each with its newest
/// matching message as a snippet.
pub async fn search_conversations(
    pool: &SqlitePool,
    query: &str,
    after: Option<&str>,
    limit: i64,
) -> Result<Page<ConversationSummary>, QueryError> {
    let (before_at, before_id) = match after {
        Some(cursor) => decode_cursor(cursor)?,
        None => (i64::MAX, i64::MAX),
    };
    let rows: Vec<ConversationRow> = match fts_query(query) {
        None => {
            sqlx::query_as(
                "SELECT id, sender_id, phone, last_message, last_at, message_count,
                        NULL AS snippet
                 FROM conversations
                 WHERE (last_at, id) < (?, ?)
                 ORDER BY last_at DESC, id DESC LIMIT ?",
            )
            .bind(before_at)
            .bind(before_id)
            .bind(limit + 1)
            .fetch_all(pool)
            .await?
        }
        Some(fts) => {
            // The hits first, materialised (snippet() needs the full-text
            // query's own context), then one row per conversation: its
            // newest hit.
            sqlx::query_as(
                "WITH hits AS MATERIALIZED (
                     SELECT m.conversation_id, m.sent_at,
                            snippet(message_search, 0, ?, ?, '…', 16) AS snippet
                     FROM message_search
                     JOIN messages m ON m.id = message_search.rowid
                     WHERE message_search MATCH ?
                 ),
                 best AS (
                     SELECT conversation_id, snippet, MAX(sent_at) AS hit_at
                     FROM hits GROUP BY conversation_id
                 )
                 SELECT c.id, c.sender_id, c.phone, c.last_message,
                        best.hit_at AS last_at, c.message_count, best.snippet
                 FROM best JOIN conversations c ON c.id = best.conversation_id
                 WHERE (best.hit_at, c.id) < (?, ?)
                 ORDER BY best.hit_at DESC, c.id DESC LIMIT ?",
            )
            .bind(MATCH_START.to_string())
            .bind(MATCH_END.to_string())
            .bind(fts)
            .bind(before_at)
            .bind(before_id)
            .bind(limit + 1)
            .fetch_all(pool)
            .await?
        }
    };
    Ok(page(rows, limit, |row| encode_cursor(row.last_at, row.id)))
}

/// Keeps `limit` items and a cursor when there was one more.
fn page<R, T: From<R>>(mut rows: Vec<R>, limit: i64, cursor: impl Fn(&R) -> String) -> Page<T> {
    let more = rows.len() as i64 > limit;
    rows.truncate(limit.max(0) as usize);
    let next = more.then(|| rows.last().map(&cursor)).flatten();
    Page {
        items: rows.into_iter().map(T::from).collect(),
        next,
    }
}

/// Everything exchanged with one phone: its inbound messages and the
/// outbound messages to it (with their current status), oldest first.
pub async fn conversation_thread(
    pool: &SqlitePool,
    phone: &str,
) -> Result<Option<ConversationThread>, QueryError> {
    let phone = normalize_phone(phone);
    let conversations: Vec<ConversationRow> = sqlx::query_as(
        "SELECT id, sender_id, phone, last_message, last_at, message_count, NULL AS snippet
         FROM conversations WHERE phone = ? ORDER BY last_at DESC",
    )
    .bind(&phone)
    .fetch_all(pool)
    .await?;
    let inbound: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT message_id, text, sent_at FROM messages WHERE phone = ? ORDER BY sent_at, id",
    )
    .bind(&phone)
    .fetch_all(pool)
    .await?;
    let outbound: Vec<(String, String, Option<String>, i64)> = sqlx::query_as(
        "SELECT message_id, status, error_code, first_at FROM timelines
         WHERE recipient = ? ORDER BY first_at, id",
    )
    .bind(&phone)
    .fetch_all(pool)
    .await?;
    if conversations.is_empty() && outbound.is_empty() {
        return Ok(None);
    }
    let mut items: Vec<(i64, ThreadItem)> = inbound
        .into_iter()
        .map(|(message_id, text, at)| {
            let item = ThreadItem::Inbound {
                message_id,
                text,
                at: format_millis(at),
            };
            (at, item)
        })
        .chain(
            outbound
                .into_iter()
                .map(|(message_id, status, error_code, at)| {
                    let item = ThreadItem::Outbound {
                        message_id,
                        status,
                        error_code,
                        at: format_millis(at),
                    };
                    (at, item)
                }),
        )
        .collect();
    items.sort_by_key(|(at, _)| *at);
    Ok(Some(ConversationThread {
        phone,
        conversations: conversations.into_iter().map(Into::into).collect(),
        items: items.into_iter().map(|(_, item)| item).collect(),
    }))
}

#[derive(sqlx::FromRow)]
struct TimelineRow {
    id: i64,
    message_id: String,
    recipient: String,
    sender_id: String,
    status: String,
    error_code: Option<String>,
    error_message: Option<String>,
    first_at: i64,
    updated_at: i64,
}

impl From<TimelineRow> for TimelineSummary {
    fn from(row: TimelineRow) -> Self {
        Self {
            message_id: row.message_id,
            recipient: row.recipient,
            sender_id: row.sender_id,
            status: row.status,
            error_code: row.error_code,
            error_message: row.error_message,
            first_at: format_millis(row.first_at),
            updated_at: format_millis(row.updated_at),
        }
    }
}

const TIMELINE_COLUMNS: &str = "id, message_id, recipient, sender_id, status, error_code, \
                                error_message, first_at, updated_at";

/// Delivery timelines, most recently updated first, filtered.
pub async fn list_timelines(
    pool: &SqlitePool,
    filter: &TimelineFilter,
    after: Option<&str>,
    limit: i64,
) -> Result<Page<TimelineSummary>, QueryError> {
    let mut query: QueryBuilder<Sqlite> = QueryBuilder::new(format!(
        "SELECT {TIMELINE_COLUMNS} FROM timelines WHERE 1 = 1"
    ));
    let text = |value: &Option<String>| {
        value
            .as_deref()
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    if let Some(recipient) = text(&filter.recipient) {
        query
            .push(" AND recipient = ")
            .push_bind(normalize_phone(&recipient));
    }
    if let Some(status) = text(&filter.status) {
        query
            .push(" AND status = ")
            .push_bind(status.to_ascii_lowercase());
    }
    if let Some(error) = text(&filter.error) {
        query.push(" AND error_code = ").push_bind(error);
    }
    if let Some(since) = text(&filter.since) {
        query
            .push(" AND updated_at >= ")
            .push_bind(parse_bound(&since)?);
    }
    if let Some(until) = text(&filter.until) {
        query
            .push(" AND updated_at <= ")
            .push_bind(parse_bound(&until)?);
    }
    if let Some(cursor) = after {
        let (at, id) = decode_cursor(cursor)?;
        query
            .push(" AND (updated_at, id) < (")
            .push_bind(at)
            .push(", ")
            .push_bind(id)
            .push(")");
    }
    query
        .push(" ORDER BY updated_at DESC, id DESC LIMIT ")
        .push_bind(limit + 1);
    let rows: Vec<TimelineRow> = query.build_query_as().fetch_all(pool).await?;
    Ok(page(rows, limit, |row| {
        encode_cursor(row.updated_at, row.id)
    }))
}

/// One message's timeline, every status in time order.
pub async fn timeline(pool: &SqlitePool, message_id: &str) -> Result<Option<Timeline>, QueryError> {
    let row: Option<TimelineRow> = sqlx::query_as(&format!(
        "SELECT {TIMELINE_COLUMNS} FROM timelines WHERE message_id = ?"
    ))
    .bind(message_id)
    .fetch_optional(pool)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let statuses: Vec<StatusRow> = sqlx::query_as(
        "SELECT status, at, error_code, error_message, out_of_order, seq
         FROM timeline_statuses WHERE timeline_id = ? ORDER BY at, seq",
    )
    .bind(row.id)
    .fetch_all(pool)
    .await?;
    Ok(Some(Timeline {
        summary: row.into(),
        statuses: statuses
            .into_iter()
            .map(|row| TimelineStatus {
                status: row.status,
                at: format_millis(row.at),
                error_code: row.error_code,
                error_message: row.error_message,
                out_of_order: row.out_of_order,
                seq: row.seq,
            })
            .collect(),
    }))
}

/// Every template, most recently changed first.
pub async fn template_board(pool: &SqlitePool) -> Result<Vec<TemplateSummary>, QueryError> {
    let rows: Vec<TemplateRow> = sqlx::query_as(
        "SELECT id, sender_id, name, language, category, status, reason, updated_at
         FROM templates ORDER BY updated_at DESC, id DESC",
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| TemplateSummary {
            id: row.id,
            sender_id: row.sender_id,
            name: row.name,
            language: row.language,
            category: row.category,
            status: row.status,
            reason: row.reason,
            updated_at: format_millis(row.updated_at),
        })
        .collect())
}

/// A template's changes, oldest first.
pub async fn template_history(
    pool: &SqlitePool,
    template_id: i64,
) -> Result<Vec<TemplateChange>, QueryError> {
    let rows: Vec<ChangeRow> = sqlx::query_as(
        "SELECT status, category, reason, at, seq FROM template_history
         WHERE template_id = ? ORDER BY seq",
    )
    .bind(template_id)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| TemplateChange {
            status: row.status,
            category: row.category,
            reason: row.reason,
            at: format_millis(row.at),
            seq: row.seq,
        })
        .collect())
}

/// Alerts, newest first: only those not yet acknowledged, or all recent.
pub async fn alerts(
    pool: &SqlitePool,
    open_only: bool,
    limit: i64,
) -> Result<Vec<Alert>, QueryError> {
    let rows: Vec<AlertRow> = sqlx::query_as(
        "SELECT a.id, a.kind, a.title, a.detail, a.template_id, a.destination_id,
                a.raised_at, k.acked_by, k.acked_at
         FROM alerts a LEFT JOIN alert_acks k ON k.alert_key = a.key
         WHERE NOT ? OR k.alert_key IS NULL
         ORDER BY a.raised_at DESC, a.id DESC LIMIT ?",
    )
    .bind(open_only)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| Alert {
            id: row.id,
            kind: row.kind,
            title: row.title,
            detail: row.detail,
            template_id: row.template_id,
            destination_id: row.destination_id,
            raised_at: format_millis(row.raised_at),
            acknowledged_by: row.acked_by,
            acknowledged_at: row.acked_at.map(format_millis),
        })
        .collect())
}

#[derive(sqlx::FromRow)]
struct StatusRow {
    status: String,
    at: i64,
    error_code: Option<String>,
    error_message: Option<String>,
    out_of_order: bool,
    seq: i64,
}

#[derive(sqlx::FromRow)]
struct TemplateRow {
    id: i64,
    sender_id: String,
    name: String,
    language: String,
    category: Option<String>,
    status: String,
    reason: Option<String>,
    updated_at: i64,
}

#[derive(sqlx::FromRow)]
struct ChangeRow {
    status: String,
    category: Option<String>,
    reason: Option<String>,
    at: i64,
    seq: i64,
}

#[derive(sqlx::FromRow)]
struct AlertRow {
    id: i64,
    kind: String,
    title: String,
    detail: Option<String>,
    template_id: Option<i64>,
    destination_id: Option<i64>,
    raised_at: i64,
    acked_by: Option<String>,
    acked_at: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::parse_bound;

    #[test]
    fn time_filters_accept_browser_inputs_as_utc() {
        let exact = parse_bound("2026-12-03T20:15:00Z").unwrap();
        assert_eq!(parse_bound("2026-12-03T20:15").unwrap(), exact);
        assert_eq!(parse_bound("2026-12-03T20:15:00").unwrap(), exact);
        assert_eq!(
            parse_bound("2026-12-03").unwrap(),
            exact - (20 * 3600 + 15 * 60) * 1000
        );
        assert_eq!(parse_bound("2026-12-03T22:15:00+02:00").unwrap(), exact);
        assert!(parse_bound("yesterday").is_err());
    }
}
