//! `/templates`: template review status, history and alerts.

use leptos::prelude::*;

use crate::{
    model::{Alert, TemplateChange, TemplateSummary},
    ui::{
        alerts::{alert_href, AcknowledgeButton, OpenAlerts},
        components::{
            status_tone, Badge, DataTable, EmptyState, ErrorNotice, ExpandableRow, Loading,
            OpenRows, PageHeader, Timestamp,
        },
        live::use_live,
    },
};

#[server]
pub async fn list_templates() -> Result<Vec<TemplateSummary>, ServerFnError> {
    use crate::{
        projection::queries,
        startup::{unexpected, AppState},
    };

    crate::auth::require(crate::model::Role::Viewer)?;
    let state = AppState::from_context()?;
    queries::template_board(&state.db.pool)
        .await
        .map_err(unexpected("reading templates"))
}

#[server]
pub async fn template_changes(template_id: i64) -> Result<Vec<TemplateChange>, ServerFnError> {
    use crate::{
        projection::queries,
        startup::{unexpected, AppState},
    };

    crate::auth::require(crate::model::Role::Viewer)?;
    let state = AppState::from_context()?;
    queries::template_history(&state.db.pool, template_id)
        .await
        .map_err(unexpected("reading a template's history"))
}

#[component]
pub fn TemplatesPage() -> impl IntoView {
    let live = use_live();
    // The board follows the live feed, and holds still while a history is
    // open.
    let open_rows = OpenRows::default();
    let live_templates = open_rows.hold(live.templates);
    let desk = Resource::new(move || live_templates.get(), |_| list_templates());
    let open = expect_context::<OpenAlerts>().list;

    view! {
        <PageHeader
            title="Templates"
            summary="Review status of message templates, their history, and alerts to acknowledge."
        />
        <Transition fallback=|| ()>
            {move || open.get().and_then(Result::ok).map(|alerts| view! { <OpenAlertList alerts /> })}
        </Transition>
        <Transition fallback=Loading>
            {move || Suspend::new(async move {
                match desk.await {
                    Ok(board) if board.is_empty() => view! {
                        <EmptyState title="No template updates yet">
                            <p>"Approvals, rejections and pauses reported by Whats91 appear here."</p>
                        </EmptyState>
                    }.into_any(),
                    Ok(board) => view! { <TemplateBoard templates=board open_rows /> }.into_any(),
                    Err(error) => view! { <ErrorNotice message=error.to_string() /> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn OpenAlertList(alerts: Vec<Alert>) -> impl IntoView {
    (!alerts.is_empty()).then(|| {
        view! {
            <section class="panel alerts" id="open-alerts" aria-label="Open alerts">
                <h2>"Open alerts"</h2>
                <ul>
                    {alerts
                        .into_iter()
                        .map(|a| {
                            let href = alert_href(&a);
                            view! {
                            <li class="alert-item">
                                <a href=href><strong>{a.title}</strong></a>
                                {a.detail.map(|d| view! { <span class="muted">{d}</span> })}
                                <Timestamp iso=a.raised_at />
                                <AcknowledgeButton id=a.id />
                            </li>
                            }

                        })
                        .collect_view()}
                </ul>
            </section>
        }
    })
}

#[component]
fn TemplateBoard(templates: Vec<TemplateSummary>, open_rows: OpenRows) -> impl IntoView {
    view! {
        <DataTable caption="Templates" headings=&["", "Template", "Language", "Category", "Status", "Reason", "Updated"]>
            {templates
                .into_iter()
                .map(|t| {
                    let tone = status_tone(&t.status);
                    let id = t.id;
                    let anchor = format!("template-{id}");
                    let history_label = format!("History of {}", t.name);
                    view! {
                        <ExpandableRow
                            colspan=7
                            label=history_label
                            rows=open_rows
                            key=id.to_string()
                            detail=move || view! { <TemplateHistory id /> }
                        >
                            <td id=anchor><code>{t.name}</code></td>
                            <td>{t.language}</td>
                            <td>{t.category.unwrap_or_default()}</td>
                            <td><Badge tone label=t.status /></td>
                            <td>{t.reason.unwrap_or_default()}</td>
                            <td><Timestamp iso=t.updated_at /></td>
                        </ExpandableRow>
                    }
                })
                .collect_view()}
        </DataTable>
    }
}

/// Every status a template went through, oldest first.
#[component]
fn TemplateHistory(id: i64) -> impl IntoView {
    let live = use_live();
    let history = Resource::new(move || live.templates.get(), move |_| template_changes(id));
    view! {
        <Transition fallback=Loading>
            {move || Suspend::new(async move {
                match history.await {
                    Ok(changes) => view! {
                        <ol class="history">
                            {changes
                                .into_iter()
                                .map(|c| view! {
                                    <li>
                                        <Timestamp iso=c.at />
                                        <Badge tone=status_tone(&c.status) label=c.status />
                                        {c.category.map(|category| view! { <span class="muted">{category}</span> })}
                                        {c.reason.map(|reason| view! { <span>{reason}</span> })}
                                    </li>
                                })
                                .collect_view()}
                        </ol>
                    }.into_any(),
                    Err(error) => view! { <ErrorNotice message=error.to_string() /> }.into_any(),
                }
            })}
        </Transition>
    }
}
