//! `/templates`: template review status and alerts.

use leptos::prelude::*;

use crate::{
    model::{Alert, Role, TemplateSummary},
    ui::components::{
        status_tone, Badge, DataTable, EmptyState, ErrorNotice, Loading, PageHeader, Timestamp,
    },
    ui::layout::CurrentCaller,
};

#[server]
pub async fn template_desk() -> Result<(Vec<TemplateSummary>, Vec<Alert>), ServerFnError> {
    use crate::{
        projection::queries,
        startup::{unexpected, AppState},
    };

    crate::auth::require(crate::model::Role::Viewer)?;
    let state = AppState::from_context()?;
    let board = queries::template_board(&state.db.pool)
        .await
        .map_err(unexpected("reading templates"))?;
    let open = queries::alerts(&state.db.pool, true, 100)
        .await
        .map_err(unexpected("reading alerts"))?;
    Ok((board, open))
}

/// Acknowledges an alert: operators and admins.
#[server(endpoint = "acknowledge_alert")]
pub async fn acknowledge_alert(id: i64) -> Result<(), ServerFnError> {
    use crate::{
        auth::{self, require},
        model::Role,
        projection::alerts::AckError,
        startup::{unexpected, AppState},
    };

    let caller = require(Role::Operator)?;
    let state = AppState::from_context()?;
    let from = auth::remote_addr();
    match state.acknowledge_alert(id, &caller, from.as_deref()).await {
        Ok(_) => Ok(()),
        Err(AckError::NotFound(id)) => Err(ServerFnError::new(format!("no alert has id {id}"))),
        Err(error) => Err(unexpected("acknowledging an alert")(error)),
    }
}

#[component]
pub fn TemplatesPage() -> impl IntoView {
    let acknowledge = ServerAction::<AcknowledgeAlert>::new();
    let desk = Resource::new(move || acknowledge.version().get(), |_| template_desk());
    provide_context(acknowledge);

    view! {
        <PageHeader
            title="Templates"
            summary="Review status of message templates, their history, and alerts to acknowledge."
        />
        <Suspense fallback=Loading>
            {move || Suspend::new(async move {
                match desk.await {
                    Ok((board, _)) if board.is_empty() => view! {
                        <EmptyState title="No template updates yet">
                            <p>"Approvals, rejections and pauses reported by Whats91 appear here."</p>
                        </EmptyState>
                    }.into_any(),
                    Ok((board, open)) => view! {
                        <OpenAlerts alerts=open />
                        <TemplateBoard templates=board />
                    }.into_any(),
                    Err(error) => view! { <ErrorNotice message=error.to_string() /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn OpenAlerts(alerts: Vec<Alert>) -> impl IntoView {
    (!alerts.is_empty()).then(|| {
        view! {
            <section class="panel alerts" aria-label="Open alerts">
                <h2>"Open alerts"</h2>
                <ul>
                    {alerts
                        .into_iter()
                        .map(|a| view! {
                            <li class="alert-item">
                                <strong>{a.title}</strong>
                                {a.detail.map(|d| view! { <span class="muted">{d}</span> })}
                                <Timestamp iso=a.raised_at />
                                <AcknowledgeButton id=a.id />
                            </li>
                        })
                        .collect_view()}
                </ul>
            </section>
        }
    })
}

#[component]
fn TemplateBoard(templates: Vec<TemplateSummary>) -> impl IntoView {
    view! {
        <DataTable caption="Templates" headings=&["Template", "Language", "Category", "Status", "Reason", "Updated"]>
            {templates
                .into_iter()
                .map(|t| {
                    let tone = status_tone(&t.status);
                    view! {
                        <tr>
                            <td><code>{t.name}</code></td>
                            <td>{t.language}</td>
                            <td>{t.category.unwrap_or_default()}</td>
                            <td><Badge tone label=t.status /></td>
                            <td>{t.reason.unwrap_or_default()}</td>
                            <td><Timestamp iso=t.updated_at /></td>
                        </tr>
                    }
                })
                .collect_view()}
        </DataTable>
    }
}

#[component]
fn AcknowledgeButton(id: i64) -> impl IntoView {
    let action = expect_context::<ServerAction<AcknowledgeAlert>>();
    let caller = expect_context::<CurrentCaller>();
    move || {
        caller.allows(Role::Operator).then(|| {
            view! {
                <ActionForm action>
                    <input type="hidden" name="id" value=id.to_string() />
                    <button type="submit" class="small">"Acknowledge"</button>
                </ActionForm>
            }
        })
    }
}
