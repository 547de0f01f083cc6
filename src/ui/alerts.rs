//! Alerts on every page: the open-alert count in the header, toasts for
//! alerts raised while the tab is open, and the Acknowledge button they
//! share with the templates page.

use leptos::prelude::*;

use super::{layout::CurrentCaller, live::use_live};
use crate::model::{Alert, Role};

/// Alerts nobody has acknowledged yet, newest first.
#[server]
pub async fn list_open_alerts() -> Result<Vec<Alert>, ServerFnError> {
    use crate::{
        projection::queries,
        startup::{unexpected, AppState},
    };

    crate::auth::require(Role::Viewer)?;
    let state = AppState::from_context()?;
    queries::alerts(&state.db.pool, true, 100)
        .await
        .map_err(unexpected("reading alerts"))
}

/// Acknowledges an alert: operators and admins.
#[server(endpoint = "acknowledge_alert")]
pub async fn acknowledge_alert(id: i64) -> Result<(), ServerFnError> {
    use crate::{
        auth::{self, require},
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

/// The open alerts, shared by the header, the toasts and the pages: fetched
/// again whenever an alert is raised or acknowledged anywhere.
#[derive(Clone, Copy)]
pub struct OpenAlerts {
    pub list: Resource<Result<Vec<Alert>, ServerFnError>>,
    pub acknowledge: ServerAction<AcknowledgeAlert>,
}

pub fn provide_open_alerts() {
    let live = use_live();
    let acknowledge = ServerAction::<AcknowledgeAlert>::new();
    let list = Resource::new(
        move || (live.alerts.get(), acknowledge.version().get()),
        |_| list_open_alerts(),
    );
    provide_context(OpenAlerts { list, acknowledge });
}

/// Where an alert is explained and can be acted on.
pub fn alert_href(alert: &Alert) -> String {
    match alert.template_id {
        Some(id) => format!("/templates#template-{id}"),
        None => "/destinations".to_owned(),
    }
}

/// The header's link to the open alerts, with their count.
#[component]
pub fn AlertCount() -> impl IntoView {
    let open = expect_context::<OpenAlerts>();
    view! {
        <Transition fallback=|| ()>
            {move || {
                open.list.get().and_then(Result::ok).map(|alerts| {
                    let count = alerts.len();
                    let has_alerts = count > 0;
                    let label = match count {
                        1 => "1 open alert".to_owned(),
                        n => format!("{n} open alerts"),
                    };
                    view! {
                        <a
                            href="/templates#open-alerts"
                            class="alert-count"
                            class:has-alerts=has_alerts
                            data-count=count.to_string()
                            aria-label=label.clone()
                            title=label
                        >
                            <span aria-hidden="true">"⚑ "</span>
                            {count}
                        </a>
                    }
                })
            }}
        </Transition>
    }
}

/// Alerts raised while this tab is open, each until dismissed here or
/// acknowledged anywhere.
#[component]
pub fn Toasts() -> impl IntoView {
    let live = use_live();
    let open = expect_context::<OpenAlerts>();
    let dismissed = RwSignal::new(Vec::<i64>::new());
    let shown = move || {
        let raised = live.raised.get();
        let dismissed = dismissed.get();
        open.list
            .get()
            .and_then(Result::ok)
            .unwrap_or_default()
            .into_iter()
            .filter(|alert| raised.contains(&alert.id) && !dismissed.contains(&alert.id))
            .collect::<Vec<_>>()
    };

    view! {
        <section class="toasts" aria-label="New alerts" aria-live="assertive">
            // Read inside a Transition, like the header's count, so the
            // hydrated tab waits for the same data the server rendered.
            <Transition fallback=|| ()>
                <For each=shown key=|alert| alert.id let:alert>
                    <Toast alert on_dismiss=move |id| dismissed.update(|d| d.push(id)) />
                </For>
            </Transition>
        </section>
    }
}

#[component]
fn Toast(alert: Alert, on_dismiss: impl Fn(i64) + 'static) -> impl IntoView {
    let id = alert.id;
    let href = alert_href(&alert);
    view! {
        <div class="toast" role="alert" data-alert-id=id.to_string()>
            <div class="toast-body">
                <strong class="toast-title">{alert.title}</strong>
                {alert.detail.map(|detail| view! { <p class="toast-detail">{detail}</p> })}
            </div>
            <div class="toast-actions">
                <a href=href>"Open"</a>
                <AcknowledgeButton id />
                <button type="button" class="link-button" on:click=move |_| on_dismiss(id)>
                    "Dismiss"
                </button>
            </div>
        </div>
    }
}

/// Acknowledges one alert; shown to operators and admins only (the server
/// checks the role again).
#[component]
pub fn AcknowledgeButton(id: i64) -> impl IntoView {
    let action = expect_context::<OpenAlerts>().acknowledge;
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
