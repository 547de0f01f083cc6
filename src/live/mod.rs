//! `GET /api/live`: Server-Sent Events for logged-in staff. Each new event
//! in the log is sent as `event: delivery` with `id:` its sequence number;
//! what each projection batch changed follows as `event: changes`. A
//! browser that reconnects with `Last-Event-ID` first gets everything it
//! missed, read from the log, then the live feed, with no gap and no
//! repeat. A browser that closed its stream itself (it went offline) opens
//! a new one with `?after=<last id>`, to the same effect. A client too slow to keep up is disconnected (it reconnects and
//! catches up from the log); it never slows the receiver down.

use std::{convert::Infallible, time::Duration};

use axum::{
    extract::{Query, State},
    http::HeaderMap,
    response::sse::{Event, KeepAlive, Sse},
    routing::get,
    Router,
};
use futures_util::Stream;
use serde_json::json;
use tokio::sync::{broadcast::error::RecvError, mpsc};

use crate::{
    startup::AppState,
    store::events::{self, EventNotice},
};

/// Messages queued for one client before it counts as too slow.
const CLIENT_BUFFER: usize = 256;
/// Log events read per query while catching a client up.
const REPLAY_BATCH: i64 = 500;
/// A comment line this often keeps proxies from closing a quiet stream.
const HEARTBEAT: Duration = Duration::from_secs(15);

pub fn router() -> Router<AppState> {
    Router::new().route("/api/live", get(live))
}

#[derive(Debug, serde::Deserialize)]
struct Resume {
    after: Option<i64>,
}

async fn live(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<Resume>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let from_header = headers
        .get("last-event-id")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse::<i64>().ok());
    // The browser's own retry sends the newer of the two in the header.
    let resume_after = from_header.max(query.after);
    let (tx, rx) = mpsc::channel(CLIENT_BUFFER);
    tokio::spawn(feed(state, resume_after, tx));
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|event| (Ok(event), rx))
    });
    Sse::new(stream).keep_alive(KeepAlive::new().interval(HEARTBEAT))
}

fn delivery(notice: &EventNotice) -> Event {
    let data = json!({
        "seq": notice.seq,
        "event": notice.event_key,
        "destinationId": notice.destination_id,
        "flags": notice.flags,
    });
    Event::default()
        .event("delivery")
        .id(notice.seq.to_string())
        .data(data.to_string())
}

/// Feeds one client: subscribes first, replays the log after
/// `resume_after` (if the client gave one), then forwards live notices
/// past what it replayed. Ends when the client leaves or falls behind.
pub async fn feed(state: AppState, resume_after: Option<i64>, tx: mpsc::Sender<Event>) {
    // Subscribing before reading the log means nothing committed meanwhile
    // can fall between the two.
    let mut notices = state.notices.subscribe();
    let mut changes = state.changes.subscribe();
    let mut last = match resume_after {
        Some(after) => match replay(&state, after, &tx).await {
            Some(last) => last,
            None => return,
        },
        None => 0,
    };
    loop {
        let event = tokio::select! {
            notice = notices.recv() => match notice {
                Ok(notice) if notice.seq <= last => continue,
                Ok(notice) => {
                    last = notice.seq;
                    delivery(&notice)
                }
                // Too far behind to be served from memory: the client
                // reconnects with its Last-Event-ID and reads the log.
                Err(RecvError::Lagged(_)) | Err(RecvError::Closed) => return,
            },
            changed = changes.recv() => match changed {
                Ok(changed) => {
                    let data = serde_json::to_string(&changed).unwrap_or_default();
                    Event::default().event("changes").data(data)
                }
                Err(RecvError::Lagged(_)) => continue,
                Err(RecvError::Closed) => return,
            },
            () = tx.closed() => return,
        };
        if tx.try_send(event).is_err() {
            tracing::debug!("live client too slow or gone; disconnected");
            return;
        }
    }
}

/// Sends every logged event after `after`; returns the last sequence
/// number sent, or `None` when the client left.
async fn replay(state: &AppState, mut after: i64, tx: &mpsc::Sender<Event>) -> Option<i64> {
    loop {
        let page = match events::list_after(&state.db.pool, after, REPLAY_BATCH).await {
            Ok(page) => page,
            Err(error) => {
                tracing::error!(%error, "cannot replay the log to a live client");
                return None;
            }
        };
        let Some(newest) = page.last().map(|e| e.summary.seq) else {
            return Some(after);
        };
        for stored in page {
            let event = &stored.summary;
            let notice = EventNotice {
                seq: event.seq,
                event_key: event.event_key.clone(),
                destination_id: event.destination_id,
                flags: event.flags().names(),
            };
            tx.send(delivery(&notice)).await.ok()?;
        }
        after = newest;
    }
}
