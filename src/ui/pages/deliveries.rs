//! `/deliveries`: per-message delivery timelines, filtered.

use leptos::prelude::*;
use leptos_router::{
    components::{Form, A},
    hooks::use_query_map,
};

use crate::{
    model::{Page, Timeline, TimelineFilter, TimelineSummary, MESSAGE_STATUSES, UNRANKED_STATUSES},
    ui::{
        components::{
            status_tone, Badge, DataTable, EmptyState, ErrorNotice, ExpandableRow, Loading,
            OpenRows, PageHeader, Timestamp,
        },
        live::use_live,
    },
};

/// The filter travels as separate fields: a nested struct with every field
/// empty would not survive URL encoding.
#[server]
pub async fn find_timelines(
    recipient: Option<String>,
    status: Option<String>,
    error: Option<String>,
    since: Option<String>,
    until: Option<String>,
    after: Option<String>,
) -> Result<Page<TimelineSummary>, ServerFnError> {
    use crate::{
        projection::queries::{self, QueryError},
        startup::{unexpected, AppState},
    };

    let filter = TimelineFilter {
        recipient,
        status,
        error,
        since,
        until,
    };
    crate::auth::require(crate::model::Role::Viewer)?;
    let state = AppState::from_context()?;
    match queries::list_timelines(&state.db.pool, &filter, after.as_deref(), 50).await {
        Ok(page) => Ok(page),
        Err(QueryError::BadInput(message)) => Err(ServerFnError::new(message)),
        Err(error) => Err(unexpected("listing delivery timelines")(error)),
    }
}

/// One message's timeline, every status in time order.
#[server]
pub async fn load_timeline(message_id: String) -> Result<Option<Timeline>, ServerFnError> {
    use crate::{
        projection::queries,
        startup::{unexpected, AppState},
    };

    crate::auth::require(crate::model::Role::Viewer)?;
    let state = AppState::from_context()?;
    queries::timeline(&state.db.pool, &message_id)
        .await
        .map_err(unexpected("reading a delivery timeline"))
}

#[component]
pub fn DeliveriesPage() -> impl IntoView {
    let live = use_live();
    let params = use_query_map();
    let param = move |name: &str| params.read().get(name).filter(|v| !v.is_empty());
    let filter = move || TimelineFilter {
        recipient: param("recipient"),
        status: param("status"),
        error: param("error"),
        since: param("since"),
        until: param("until"),
    };
    // Rows move forward as statuses arrive (on the first page; older pages
    // stay still, and so does the list while a timeline is open).
    let after = move || param("after");
    let open_rows = OpenRows::default();
    // Another filter or page shows other rows: none stays open out of
    // sight, holding the list still.
    Effect::watch(
        move || params.track(),
        move |_, _, _| open_rows.close_all(),
        false,
    );
    let live_timelines = open_rows.hold(live.timelines);
    let timelines = Resource::new(
        move || {
            let tick = after().is_none().then(|| live_timelines.get());
            (filter(), after(), tick)
        },
        |(f, after, _)| find_timelines(f.recipient, f.status, f.error, f.since, f.until, after),
    );

    view! {
        <PageHeader
            title="Deliveries"
            summary="Delivery timelines of outbound messages, filtered by recipient, status and error."
        />
        <Form method="GET" action="">
            <div class="filter-bar short-fields" role="search">
                <div class="field">
                    <label for="recipient">"Recipient"</label>
                    <input id="recipient" name="recipient" prop:value=move || param("recipient").unwrap_or_default() />
                </div>
                <div class="field">
                    <label for="status">"Status"</label>
                    // Suggests the statuses Whats91 reports, and still takes
                    // one it may add.
                    <input id="status" name="status" list="known-statuses" prop:value=move || param("status").unwrap_or_default() />
                    <datalist id="known-statuses">
                        {MESSAGE_STATUSES.into_iter().chain(UNRANKED_STATUSES).map(|status| view! { <option value=status></option> }).collect_view()}
                    </datalist>
                </div>
                <div class="field">
                    <label for="error">"Error code"</label>
                    <input id="error" name="error" prop:value=move || param("error").unwrap_or_default() />
                </div>
                <div class="field">
                    <label for="since">"Since"</label>
                    <input id="since" name="since" type="datetime-local" step="1" prop:value=move || local_input(param("since")) />
                </div>
                <div class="field">
                    <label for="until">"Until"</label>
                    <input id="until" name="until" type="datetime-local" step="1" prop:value=move || local_input(param("until")) />
                </div>
                <button type="submit">"Filter"</button>
            </div>
        </Form>
        <Transition fallback=Loading>
            {move || Suspend::new(async move {
                match timelines.await {
                    Ok(page) if page.items.is_empty() => view! {
                        <EmptyState title="No delivery timelines match">
                            <p>"Status updates (sent, delivered, read, failed) build a timeline per message."</p>
                        </EmptyState>
                    }.into_any(),
                    Ok(page) => view! { <TimelineTable page open_rows /> }.into_any(),
                    Err(error) => view! { <ErrorNotice message=error.to_string() /> }.into_any(),
                }
            })}
        </Transition>
    }
}

/// A time filter as a `datetime-local` input shows it: times are UTC, to
/// the second.
fn local_input(value: Option<String>) -> String {
    value
        .map(|v| v.trim_end_matches('Z').chars().take(19).collect())
        .unwrap_or_default()
}

#[component]
fn TimelineTable(page: Page<TimelineSummary>, open_rows: OpenRows) -> impl IntoView {
    let params = use_query_map();
    let older = page.next.map(|next| {
        let mut query = params.get_untracked();
        query.replace("after", next);
        format!("?{}", query.to_query_string().trim_start_matches('?'))
    });
    view! {
        <DataTable caption="Delivery timelines" headings=&["", "Message", "Recipient", "Status", "Error", "Updated"]>
            {page
                .items
                .into_iter()
                .map(|t| {
                    let tone = status_tone(&t.status);
                    let error = match (t.error_code, t.error_message) {
                        (Some(code), Some(message)) => format!("{code}: {message}"),
                        (Some(code), None) => code,
                        _ => String::new(),
                    };
                    let message_id = t.message_id.clone();
                    let label = format!("Timeline of {}", t.message_id);
                    view! {
                        <ExpandableRow
                            colspan=6
                            label
                            rows=open_rows
                            key=t.message_id.clone()
                            detail=move || view! { <TimelineDetail message_id=message_id.clone() /> }
                        >
                            <td><code class="message-id">{t.message_id}</code></td>
                            <td>{t.recipient}</td>
                            <td><Badge tone label=t.status /></td>
                            <td>{error}</td>
                            <td><Timestamp iso=t.updated_at /></td>
                        </ExpandableRow>
                    }
                })
                .collect_view()}
        </DataTable>
        {older.map(|href| view! { <p class="pager"><A href=href>"Older timelines →"</A></p> })}
    }
}

/// Every status of one message, in time order, with late arrivals marked.
#[component]
fn TimelineDetail(message_id: String) -> impl IntoView {
    let live = use_live();
    let timeline = Resource::new(
        move || live.timelines.get(),
        move |_| load_timeline(message_id.clone()),
    );
    view! {
        <Transition fallback=Loading>
            {move || Suspend::new(async move {
                match timeline.await {
                    Ok(Some(timeline)) => view! {
                        <ol class="timeline">
                            {timeline.statuses.into_iter().map(|s| {
                                let error = match (s.error_code, s.error_message) {
                                    (Some(code), Some(message)) => format!("{code}: {message}"),
                                    (Some(code), None) => code,
                                    _ => String::new(),
                                };
                                view! {
                                    <li class="timeline-step">
                                        <Badge tone=status_tone(&s.status) label=s.status />
                                        <Timestamp iso=s.at />
                                        {(!error.is_empty()).then(|| view! { <span class="error-text">{error}</span> })}
                                        {s.out_of_order.then(|| view! {
                                            <span class="badge badge-warn" title="Arrived after a later status">"out of order"</span>
                                        })}
                                    </li>
                                }
                            }).collect_view()}
                        </ol>
                    }.into_any(),
                    Ok(None) => view! { <p class="muted">"This timeline is gone (the projections were rebuilt)."</p> }.into_any(),
                    Err(error) => view! { <ErrorNotice message=error.to_string() /> }.into_any(),
                }
            })}
        </Transition>
    }
}
