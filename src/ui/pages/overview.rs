//! `/`: the state of the desk at a glance.

use leptos::prelude::*;
use leptos_router::components::A;
use serde::{Deserialize, Serialize};

use crate::ui::{
    alerts::{alert_href, OpenAlerts},
    components::{Badge, EmptyState, ErrorNotice, Loading, PageHeader, Timestamp},
    live::use_live,
    pages::destinations::DestinationRow,
};

/// Minutes shown in the deliveries chart.
const CHART_MINUTES: usize = 60;

/// Headline numbers of the event log, the receiver and the projections.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OverviewStats {
    pub events: i64,
    pub events_last_hour: i64,
    /// Deliveries per minute over the last hour, oldest first.
    pub per_minute: Vec<i64>,
    /// Deliveries in the last 24 hours by event key, most frequent first.
    pub by_event: Vec<(String, i64)>,
    /// Deliveries in the last 24 hours by flag.
    pub by_flag: Vec<(String, i64)>,
    pub rejected_24h: i64,
    pub projector_lag: i64,
    pub destinations: Vec<DestinationRow>,
}

#[server]
pub async fn overview_summary() -> Result<OverviewStats, ServerFnError> {
    use crate::{
        model::FLAG_NAMES,
        projection::projector,
        startup::{unexpected, AppState},
        store::now_millis,
        ui::pages::destinations::ssr::destination_rows,
    };

    const MINUTE_MS: i64 = 60 * 1000;
    const DAY_MS: i64 = 24 * 60 * MINUTE_MS;
    // The time windows go through the (destination, time) index rather than
    // scanning the whole log.
    const RECENT: &str = "FROM events WHERE destination_id IN (SELECT id FROM destinations)
                          AND received_at >= ?";

    crate::auth::require(crate::model::Role::Viewer)?;
    let state = AppState::from_context()?;
    let pool = &state.db.pool;
    let failed = unexpected("reading the overview");
    let now = now_millis();
    let chart_start = (now / MINUTE_MS - CHART_MINUTES as i64 + 1) * MINUTE_MS;

    let events: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM events")
        .fetch_one(pool)
        .await
        .map_err(&failed)?;
    let minutes: Vec<(i64, i64)> = sqlx::query_as(&format!(
        "SELECT (received_at - ?1) / {MINUTE_MS} AS minute, COUNT(*) {RECENT} GROUP BY minute"
    ))
    .bind(chart_start)
    .fetch_all(pool)
    .await
    .map_err(&failed)?;
    let mut per_minute = vec![0; CHART_MINUTES];
    for (minute, count) in minutes {
        if let Some(slot) = usize::try_from(minute)
            .ok()
            .and_then(|m| per_minute.get_mut(m))
        {
            *slot = count;
        }
    }
    let by_event: Vec<(String, i64)> = sqlx::query_as(&format!(
        "SELECT COALESCE(event_key, '(none)') AS key, COUNT(*) AS n {RECENT}
         GROUP BY key ORDER BY n DESC, key LIMIT 20"
    ))
    .bind(now - DAY_MS)
    .fetch_all(pool)
    .await
    .map_err(&failed)?;
    let flags: (i64, i64, i64, i64) = sqlx::query_as(&format!(
        "SELECT COALESCE(SUM(malformed), 0), COALESCE(SUM(not_subscribed), 0),
                COALESCE(SUM(uid_mismatch), 0), COALESCE(SUM(while_inactive), 0) {RECENT}"
    ))
    .bind(now - DAY_MS)
    .fetch_one(pool)
    .await
    .map_err(&failed)?;
    let by_flag = FLAG_NAMES
        .iter()
        .map(|name| name.to_string())
        .zip([flags.0, flags.1, flags.2, flags.3])
        .collect();
    let destinations = destination_rows(&state).await.map_err(&failed)?;
    let projector_lag = projector::lag(pool).await.map_err(&failed)?;
    Ok(OverviewStats {
        events,
        events_last_hour: per_minute.iter().sum(),
        per_minute,
        by_event,
        by_flag,
        rejected_24h: destinations.iter().map(|d| d.rejected_24h).sum(),
        projector_lag,
        destinations,
    })
}

#[component]
pub fn OverviewPage() -> impl IntoView {
    let live = use_live();
    let summary = Resource::new(move || live.events.get(), |_| overview_summary());

    view! {
        <PageHeader
            title="Overview"
            summary="Deliveries per minute, flags, open alerts and destination health."
        />
        <Transition fallback=Loading>
            {move || Suspend::new(async move {
                match summary.await {
                    Ok(summary) if summary.events == 0 => view! {
                        <EmptyState title="No deliveries received yet">
                            <p>
                                {format!("{} destination(s) registered. ", summary.destinations.len())}
                                "Give Whats91 a destination's receiver URL; deliveries show up here as they arrive."
                            </p>
                        </EmptyState>
                    }.into_any(),
                    Ok(summary) => view! { <Overview summary /> }.into_any(),
                    Err(error) => view! { <ErrorNotice message=error.to_string() /> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn Overview(summary: OverviewStats) -> impl IntoView {
    let active = summary.destinations.iter().filter(|d| d.active).count();
    let total = summary.destinations.len();
    let lag = match summary.projector_lag {
        0 => "caught up".to_owned(),
        n => format!("{n} behind"),
    };
    view! {
        <dl class="tiles">
            <Tile label="Events stored" value=summary.events.to_string() />
            <Tile label="Events, last hour" value=summary.events_last_hour.to_string() />
            <Tile label="Active destinations" value=format!("{active} of {total}") />
            <Tile label="Rejected attempts, 24 h" value=summary.rejected_24h.to_string() />
            <Tile label="Projections" value=lag />
        </dl>
        <section class="panel chart-panel">
            <h2>"Deliveries per minute, last hour"</h2>
            <MinuteChart counts=summary.per_minute />
        </section>
        <div class="overview-grid">
            <section class="panel">
                <h2>"By event, last 24 h"</h2>
                <CountList counts=summary.by_event empty="No deliveries in the last 24 hours." />
            </section>
            <section class="panel">
                <h2>"Flags, last 24 h"</h2>
                <CountList counts=summary.by_flag empty="" />
            </section>
            <OpenAlertsPanel />
        </div>
        <section class="panel">
            <h2>"Destinations"</h2>
            <ul class="plain destination-health">
                {summary.destinations.into_iter().map(|d| {
                    let (tone, state) = if d.active { ("ok", "ACTIVE") } else { ("neutral", "INACTIVE") };
                    view! {
                        <li>
                            <strong>{d.name}</strong>
                            <Badge tone label=state />
                            <span class="muted">{format!("{} deliveries, {} rejected in 24 h", d.deliveries_24h, d.rejected_24h)}</span>
                            <span class="muted">"last delivery "</span>
                            {match d.last_delivery_at {
                                Some(iso) => view! { <Timestamp iso /> }.into_any(),
                                None => "never".into_any(),
                            }}
                        </li>
                    }
                }).collect_view()}
            </ul>
        </section>
    }
}

/// Bars, one per minute; the tallest fills the height.
#[component]
fn MinuteChart(counts: Vec<i64>) -> impl IntoView {
    const HEIGHT: i64 = 60;
    let max = counts.iter().copied().max().unwrap_or(0).max(1);
    let total: i64 = counts.iter().sum();
    let width = counts.len() * 4;
    let label = format!("{total} deliveries in the last hour; at most {max} in one minute");
    view! {
        <svg
            class="minute-chart"
            viewBox=format!("0 0 {width} {HEIGHT}")
            preserveAspectRatio="none"
            role="img"
            aria-label=label
        >
            {counts.into_iter().enumerate().map(|(minute, count)| {
                let height = count * HEIGHT / max;
                let ago = CHART_MINUTES - 1 - minute;
                view! {
                    <rect
                        x=(minute * 4).to_string()
                        y=(HEIGHT - height).to_string()
                        width="3"
                        height=height.to_string()
                    >
                        <title>{format!("{count} deliveries, {ago} min ago")}</title>
                    </rect>
                }
            }).collect_view()}
        </svg>
        <p class="muted chart-axis"><span>"60 min ago"</span><span>"now"</span></p>
    }
}

#[component]
fn CountList(counts: Vec<(String, i64)>, empty: &'static str) -> impl IntoView {
    if counts.is_empty() {
        return view! { <p class="muted">{empty}</p> }.into_any();
    }
    view! {
        <ul class="plain counts">
            {counts.into_iter().map(|(name, count)| view! {
                <li><code>{name}</code><span class="numeric">{count}</span></li>
            }).collect_view()}
        </ul>
    }
    .into_any()
}

#[component]
fn OpenAlertsPanel() -> impl IntoView {
    let open = expect_context::<OpenAlerts>().list;
    view! {
        <section class="panel">
            <h2>"Open alerts"</h2>
            <Transition fallback=Loading>
                {move || open.get().and_then(Result::ok).map(|alerts| {
                    if alerts.is_empty() {
                        return view! { <p class="muted">"None."</p> }.into_any();
                    }
                    view! {
                        <ul class="plain">
                            {alerts.into_iter().take(5).map(|a| {
                                let href = alert_href(&a);
                                view! { <li><A href=href>{a.title}</A></li> }
                            }).collect_view()}
                        </ul>
                    }.into_any()
                })}
            </Transition>
        </section>
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
