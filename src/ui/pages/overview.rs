//! `/`: the state of the desk at a glance.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::ui::components::{EmptyState, ErrorNotice, Loading, PageHeader, Timestamp};

/// Headline numbers of the event log and the receiver.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OverviewStats {
    pub events: i64,
    pub events_last_hour: i64,
    pub flagged: i64,
    pub destinations: i64,
    pub active_destinations: i64,
    pub rejected_24h: i64,
    pub last_delivery_at: Option<String>,
}

#[server]
pub async fn overview_summary() -> Result<OverviewStats, ServerFnError> {
    use crate::{
        startup::{unexpected, AppState},
        store::{format_millis, now_millis},
    };

    const HOUR_MS: i64 = 60 * 60 * 1000;
    crate::auth::require(crate::model::Role::Viewer)?;
    let state = AppState::from_context()?;
    let now = now_millis();
    let row: (i64, i64, i64, i64, i64, i64, Option<i64>) = sqlx::query_as(
        "SELECT
            (SELECT COUNT(*) FROM events),
            (SELECT COUNT(*) FROM events WHERE received_at >= ?1),
            (SELECT COUNT(*) FROM events
                WHERE malformed OR not_subscribed OR uid_mismatch OR while_inactive),
            (SELECT COUNT(*) FROM destinations),
            (SELECT COUNT(*) FROM destinations WHERE status = 'ACTIVE'),
            (SELECT COUNT(*) FROM rejected_attempts WHERE at >= ?2),
            (SELECT MAX(received_at) FROM events)",
    )
    .bind(now - HOUR_MS)
    .bind(now - 24 * HOUR_MS)
    .fetch_one(&state.db.pool)
    .await
    .map_err(unexpected("reading the overview"))?;
    Ok(OverviewStats {
        events: row.0,
        events_last_hour: row.1,
        flagged: row.2,
        destinations: row.3,
        active_destinations: row.4,
        rejected_24h: row.5,
        last_delivery_at: row.6.map(format_millis),
    })
}

#[component]
pub fn OverviewPage() -> impl IntoView {
    let summary = Resource::new(|| (), |_| overview_summary());

    view! {
        <PageHeader
            title="Overview"
            summary="Deliveries per minute, flags, open alerts and destination health."
        />
        <Suspense fallback=Loading>
            {move || Suspend::new(async move {
                match summary.await {
                    Ok(summary) if summary.events == 0 => view! {
                        <EmptyState title="No deliveries received yet">
                            <p>
                                {format!("{} destination(s) registered. ", summary.destinations)}
                                "Give Whats91 a destination's receiver URL; deliveries show up here as they arrive."
                            </p>
                        </EmptyState>
                    }.into_any(),
                    Ok(summary) => view! { <OverviewTiles summary /> }.into_any(),
                    Err(error) => view! { <ErrorNotice message=error.to_string() /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn OverviewTiles(summary: OverviewStats) -> impl IntoView {
    view! {
        <dl class="tiles">
            <Tile label="Events stored" value=summary.events.to_string() />
            <Tile label="Events, last hour" value=summary.events_last_hour.to_string() />
            <Tile label="Flagged events" value=summary.flagged.to_string() />
            <Tile
                label="Active destinations"
                value=format!("{} of {}", summary.active_destinations, summary.destinations)
            />
            <Tile label="Rejected attempts, 24 h" value=summary.rejected_24h.to_string() />
            <div class="tile panel">
                <dt>"Last delivery"</dt>
                <dd>
                    {match summary.last_delivery_at {
                        Some(iso) => view! { <Timestamp iso /> }.into_any(),
                        None => "never".into_any(),
                    }}
                </dd>
            </div>
        </dl>
    }
}

#[component]
fn Tile(label: &'static str, #[prop(into)] value: String) -> impl IntoView {
    view! {
        <div class="tile panel">
            <dt>{label}</dt>
            <dd>{value}</dd>
        </div>
    }
}
