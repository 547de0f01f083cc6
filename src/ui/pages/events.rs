//! `/events`: every delivery as it arrives.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::ui::components::{
    Badge, DataTable, EmptyState, ErrorNotice, Loading, PageHeader, Timestamp,
};

/// One row of the event list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventRow {
    pub seq: i64,
    pub received_at: String,
    pub destination: String,
    pub event_key: Option<String>,
    pub flags: Vec<String>,
    pub delivery_count: i64,
}

#[server]
pub async fn recent_events() -> Result<Vec<EventRow>, ServerFnError> {
    use crate::{
        startup::{unexpected, AppState},
        store::{events, format_millis},
    };

    /// Most recent events shown on the page.
    const RECENT: i64 = 50;

    crate::auth::require(crate::model::Role::Viewer)?;
    let state = AppState::from_context()?;
    let rows = events::latest(&state.db.pool, RECENT)
        .await
        .map_err(unexpected("reading the event log"))?;
    Ok(rows
        .into_iter()
        .map(|e| EventRow {
            flags: e.flags().names().into_iter().map(str::to_owned).collect(),
            seq: e.seq,
            received_at: format_millis(e.received_at),
            destination: e.destination_slug,
            event_key: e.event_key,
            delivery_count: e.delivery_count,
        })
        .collect())
}

#[component]
pub fn EventsPage() -> impl IntoView {
    let events = Resource::new(|| (), |_| recent_events());

    view! {
        <PageHeader
            title="Events"
            summary="Every verified delivery, newest first, with its raw JSON and flags."
        />
        <Suspense fallback=Loading>
            {move || Suspend::new(async move {
                match events.await {
                    Ok(rows) if rows.is_empty() => view! {
                        <EmptyState title="No events received yet">
                            <p>"Deliveries accepted by the receiver are listed here, exactly as they arrived."</p>
                        </EmptyState>
                    }.into_any(),
                    Ok(rows) => view! { <EventTable rows /> }.into_any(),
                    Err(error) => view! { <ErrorNotice message=error.to_string() /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn EventTable(rows: Vec<EventRow>) -> impl IntoView {
    view! {
        <DataTable caption="Most recent events" headings=&["#", "Received", "Destination", "Event", "Flags", "Deliveries"]>
            {rows.into_iter().map(|row| view! { <EventLine row /> }).collect_view()}
        </DataTable>
    }
}

#[component]
fn EventLine(row: EventRow) -> impl IntoView {
    let event_key = row.event_key.unwrap_or_else(|| "(none)".to_owned());
    view! {
        <tr>
            <td class="numeric">{row.seq}</td>
            <td><Timestamp iso=row.received_at /></td>
            <td>{row.destination}</td>
            <td><code>{event_key}</code></td>
            <td class="flags">
                {row.flags.into_iter().map(|flag| view! { <Badge tone="warn" label=flag /> }).collect_view()}
            </td>
            <td class="numeric">{row.delivery_count}</td>
        </tr>
    }
}
