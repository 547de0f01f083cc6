//! `/deliveries`: per-message delivery timelines, filtered.

use leptos::prelude::*;
use leptos_router::{components::Form, hooks::use_query_map};

use crate::{
    model::{Page, TimelineFilter, TimelineSummary},
    ui::components::{
        status_tone, Badge, DataTable, EmptyState, ErrorNotice, Loading, PageHeader, Timestamp,
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

#[component]
pub fn DeliveriesPage() -> impl IntoView {
    let params = use_query_map();
    let param = move |name: &str| params.read().get(name).filter(|v| !v.is_empty());
    let filter = move || TimelineFilter {
        recipient: param("recipient"),
        status: param("status"),
        error: param("error"),
        since: param("since"),
        until: param("until"),
    };
    let timelines = Resource::new(filter, |f| {
        find_timelines(f.recipient, f.status, f.error, f.since, f.until, None)
    });

    view! {
        <PageHeader
            title="Deliveries"
            summary="Delivery timelines of outbound messages, filtered by recipient, status and error."
        />
        <Form method="GET" action="">
            <div class="filter-bar" role="search">
                <div class="field">
                    <label for="recipient">"Recipient"</label>
                    <input id="recipient" name="recipient" prop:value=move || param("recipient").unwrap_or_default() />
                </div>
                <div class="field">
                    <label for="status">"Status"</label>
                    <input id="status" name="status" prop:value=move || param("status").unwrap_or_default() />
                </div>
                <div class="field">
                    <label for="error">"Error code"</label>
                    <input id="error" name="error" prop:value=move || param("error").unwrap_or_default() />
                </div>
                <button type="submit">"Filter"</button>
            </div>
        </Form>
        <Suspense fallback=Loading>
            {move || Suspend::new(async move {
                match timelines.await {
                    Ok(page) if page.items.is_empty() => view! {
                        <EmptyState title="No delivery timelines match">
                            <p>"Status updates (sent, delivered, read, failed) build a timeline per message."</p>
                        </EmptyState>
                    }.into_any(),
                    Ok(page) => view! { <TimelineTable items=page.items /> }.into_any(),
                    Err(error) => view! { <ErrorNotice message=error.to_string() /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn TimelineTable(items: Vec<TimelineSummary>) -> impl IntoView {
    view! {
        <DataTable caption="Delivery timelines" headings=&["Message", "Recipient", "Status", "Error", "Updated"]>
            {items
                .into_iter()
                .map(|t| {
                    let tone = status_tone(&t.status);
                    let error = match (t.error_code, t.error_message) {
                        (Some(code), Some(message)) => format!("{code}: {message}"),
                        (Some(code), None) => code,
                        _ => String::new(),
                    };
                    view! {
                        <tr>
                            <td><code>{t.message_id}</code></td>
                            <td>{t.recipient}</td>
                            <td><Badge tone label=t.status /></td>
                            <td>{error}</td>
                            <td><Timestamp iso=t.updated_at /></td>
                        </tr>
                    }
                })
                .collect_view()}
        </DataTable>
    }
}
