//! `/templates`: template review status and alerts.

use leptos::prelude::*;

use crate::{
    model::{Alert, TemplateSummary},
    ui::components::{status_tone, Badge, EmptyState, ErrorNotice, Loading, PageHeader, Timestamp},
};

#[server]
pub async fn template_desk() -> Result<(Vec<TemplateSummary>, Vec<Alert>), ServerFnError> {
    use crate::{
        projection::queries,
        startup::{unexpected, AppState},
    };

    let state = AppState::from_context()?;
    let board = queries::template_board(&state.db.pool)
        .await
        .map_err(unexpected("reading templates"))?;
    let open = queries::alerts(&state.db.pool, true, 100)
        .await
        .map_err(unexpected("reading alerts"))?;
    Ok((board, open))
}

#[component]
pub fn TemplatesPage() -> impl IntoView {
    let desk = Resource::new(|| (), |_| template_desk());

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
        <div class="panel table-wrap">
            <table class="table">
                <caption class="visually-hidden">"Templates"</caption>
                <thead>
                    <tr>
                        <th scope="col">"Template"</th>
                        <th scope="col">"Language"</th>
                        <th scope="col">"Category"</th>
                        <th scope="col">"Status"</th>
                        <th scope="col">"Reason"</th>
                        <th scope="col">"Updated"</th>
                    </tr>
                </thead>
                <tbody>
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
                </tbody>
            </table>
        </div>
    }
}
