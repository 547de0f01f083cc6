//! `/destinations`: where Whats91 delivers, and whether it may.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::{
    model::{Role, DEFAULT_HEADER_KEY},
    ui::{
        components::{Badge, EmptyState, ErrorNotice, Loading, PageHeader, Timestamp},
        layout::CurrentCaller,
        live::use_live,
    },
};

/// One destination as staff see it: never a secret, only whether one is set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DestinationRow {
    pub slug: String,
    pub name: String,
    pub active: bool,
    pub receiver_url: String,
    pub events: Vec<String>,
    pub has_signing_secret: bool,
    pub has_verification_token: bool,
    pub webhook_uid: Option<String>,
    pub last_delivery_at: Option<String>,
    pub deliveries_24h: i64,
    pub rejected_24h: i64,
}

/// What the page and the JSON API show of destinations.
#[cfg(feature = "ssr")]
pub mod ssr {
    use super::DestinationRow;
    use crate::{
        startup::AppState,
        store::{destinations, format_millis, now_millis},
    };

    /// A destination error for the browser: its own message when that is
    /// safe to show, otherwise logged here and reported in general terms.
    pub fn shown(error: destinations::DestinationError) -> leptos::prelude::ServerFnError {
        if error.is_unexpected() {
            return crate::startup::unexpected("changing destinations")(error);
        }
        // Refused, not failed: the request could not be carried out as
        // asked (bad input, or Whats91 said no).
        if let Some(response) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>() {
            response.set_status(axum::http::StatusCode::UNPROCESSABLE_ENTITY);
        }
        leptos::prelude::ServerFnError::new(error.to_string())
    }

    /// Every destination with its last day of traffic; never a secret.
    pub async fn destination_rows(state: &AppState) -> sqlx::Result<Vec<DestinationRow>> {
        const DAY_MS: i64 = 24 * 60 * 60 * 1000;
        let all = destinations::list(&state.db.pool).await?;
        let activity = destinations::activity(&state.db.pool, now_millis() - DAY_MS).await?;
        Ok(all
            .into_iter()
            .map(|d| {
                let recent = activity
                    .iter()
                    .find(|a| a.destination_id == d.id)
                    .cloned()
                    .unwrap_or_default();
                DestinationRow {
                    receiver_url: state.settings.public_url.join(&d.receiver_path()),
                    active: d.status == destinations::DestinationStatus::Active,
                    has_signing_secret: d.signing_secret.is_some(),
                    has_verification_token: d.verification_token.is_some(),
                    last_delivery_at: recent.last_delivery_at.map(format_millis),
                    deliveries_24h: recent.deliveries,
                    rejected_24h: recent.rejected,
                    slug: d.slug,
                    name: d.name,
                    events: d.events,
                    webhook_uid: d.webhook_uid,
                }
            })
            .collect())
    }
}

#[server]
pub async fn list_destinations() -> Result<Vec<DestinationRow>, ServerFnError> {
    use crate::startup::{unexpected, AppState};

    crate::auth::require(crate::model::Role::Viewer)?;
    let state = AppState::from_context()?;
    ssr::destination_rows(&state)
        .await
        .map_err(unexpected("reading destinations"))
}

/// What the page can offer: with a Whats91 API token configured, webhooks
/// are created, imported and switched at Whats91 too.
#[server]
pub async fn whats91_connected() -> Result<bool, ServerFnError> {
    crate::auth::require(crate::model::Role::Viewer)?;
    let state = crate::startup::AppState::from_context()?;
    Ok(state.manage_destinations().has_whats91())
}

/// The event keys a webhook can subscribe to, live from Whats91: admins.
#[server]
pub async fn event_catalog() -> Result<Vec<String>, ServerFnError> {
    crate::auth::require(crate::model::Role::Admin)?;
    let state = crate::startup::AppState::from_context()?;
    let catalog = state.manage_destinations().event_catalog().await;
    catalog.map_err(ssr::shown)
}

/// A destination just made: where Whats91 delivers to. The signing secret
/// stays on the server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreatedDestination {
    pub slug: String,
    pub receiver_url: String,
    pub active: bool,
}

/// Creates the webhook at Whats91 and the destination receiving it, with
/// the signing secret from Whats91's answer: admins only.
#[server(endpoint = "create_destination")]
pub async fn create_destination(
    name: String,
    slug: String,
    events: Vec<String>,
    header_key: String,
    token: String,
    start_inactive: bool,
) -> Result<CreatedDestination, ServerFnError> {
    use crate::{
        destinations::{Actor, CreateThroughWhats91},
        store::destinations::{DestinationStatus, Secret},
    };

    let caller = crate::auth::require(crate::model::Role::Admin)?;
    let state = crate::startup::AppState::from_context()?;
    let from = crate::auth::remote_addr();
    let request = CreateThroughWhats91 {
        name,
        slug,
        events,
        verification_header_key: header_key,
        verification_token: (!token.is_empty()).then(|| Secret::new(token)),
        start_inactive,
        sender_id: None,
    };
    let actor = Actor {
        name: &caller.name,
        from: from.as_deref(),
    };
    let manager = state.manage_destinations();
    let created = manager
        .create_through_whats91(request, actor)
        .await
        .map_err(ssr::shown)?;
    Ok(CreatedDestination {
        slug: created.destination.slug,
        receiver_url: created.receiver_url,
        active: created.destination.status == DestinationStatus::Active,
    })
}

/// Registers a destination with credentials Whats91 gave: admins only.
#[server(endpoint = "register_destination")]
pub async fn register_destination(
    name: String,
    slug: String,
    events: String,
    header_key: String,
    secret: String,
    token: String,
) -> Result<CreatedDestination, ServerFnError> {
    use crate::{
        destinations::{Actor, DEFAULT_QUIET_PERIOD_SECS},
        store::destinations::{DestinationStatus, NewDestination, Secret},
    };

    let caller = crate::auth::require(crate::model::Role::Admin)?;
    let state = crate::startup::AppState::from_context()?;
    let from = crate::auth::remote_addr();
    let secret_of = |value: String| (!value.trim().is_empty()).then(|| Secret::new(value.trim()));
    let slug = slug.trim().to_owned();
    let new = NewDestination {
        name: if name.trim().is_empty() {
            slug.clone()
        } else {
            name.trim().to_owned()
        },
        slug,
        webhook_uid: None,
        sender_id: None,
        signing_secret: secret_of(secret),
        verification_header_key: header_key.trim().to_owned(),
        verification_token: secret_of(token),
        events: events
            .split([',', ' ', '\n'])
            .filter(|e| !e.is_empty())
            .map(str::to_owned)
            .collect(),
        status: DestinationStatus::Active,
        quiet_period_secs: DEFAULT_QUIET_PERIOD_SECS,
    };
    let actor = Actor {
        name: &caller.name,
        from: from.as_deref(),
    };
    let manager = state.manage_destinations();
    let destination = manager
        .register_by_hand(new, actor)
        .await
        .map_err(ssr::shown)?;
    Ok(CreatedDestination {
        receiver_url: manager.receiver_url(&destination.slug),
        slug: destination.slug,
        active: true,
    })
}

/// One of the account's webhooks at Whats91, for importing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RemoteRow {
    pub uid: String,
    pub name: String,
    pub endpoint_url: String,
    pub status: String,
    pub events: Vec<String>,
    pub linked_slug: Option<String>,
    pub suggested_slug: Option<String>,
}

/// The account's webhooks at Whats91 and which are linked here: admins.
#[server]
pub async fn remote_webhooks() -> Result<Vec<RemoteRow>, ServerFnError> {
    crate::auth::require(crate::model::Role::Admin)?;
    let state = crate::startup::AppState::from_context()?;
    let remote = state
        .manage_destinations()
        .import()
        .await
        .map_err(ssr::shown)?;
    Ok(remote
        .into_iter()
        .map(|r| RemoteRow {
            uid: r.webhook.uid,
            name: r.webhook.name,
            endpoint_url: r.webhook.endpoint_url,
            status: r.webhook.status,
            events: r.webhook.events,
            linked_slug: r.linked_slug,
            suggested_slug: r.suggested_slug,
        })
        .collect())
}

/// Links an existing Whats91 webhook to a new destination; its secret is
/// supplied by the operator (Whats91 never returns it again): admins only.
#[server(endpoint = "link_webhook")]
pub async fn link_webhook(
    webhook_uid: String,
    slug: String,
    secret: String,
    token: String,
) -> Result<CreatedDestination, ServerFnError> {
    use crate::{
        destinations::{Actor, LinkExisting},
        store::destinations::{DestinationStatus, Secret},
    };

    let caller = crate::auth::require(crate::model::Role::Admin)?;
    let state = crate::startup::AppState::from_context()?;
    let from = crate::auth::remote_addr();
    let secret_of = |value: String| (!value.trim().is_empty()).then(|| Secret::new(value.trim()));
    let link = LinkExisting {
        webhook_uid,
        slug,
        name: None,
        signing_secret: secret_of(secret),
        verification_token: secret_of(token),
    };
    let actor = Actor {
        name: &caller.name,
        from: from.as_deref(),
    };
    let manager = state.manage_destinations();
    let destination = manager
        .link_existing(link, actor)
        .await
        .map_err(ssr::shown)?;
    Ok(CreatedDestination {
        receiver_url: manager.receiver_url(&destination.slug),
        active: destination.status == DestinationStatus::Active,
        slug: destination.slug,
    })
}

/// Switches a destination ACTIVE or INACTIVE (at Whats91 first when it is
/// linked there): admins only.
#[server(endpoint = "set_destination_status")]
pub async fn set_destination_status(slug: String, active: bool) -> Result<(), ServerFnError> {
    use crate::{
        auth::{self, require},
        model::Role,
        startup::AppState,
        store::destinations::DestinationStatus,
    };

    let caller = require(Role::Admin)?;
    let state = AppState::from_context()?;
    let status = if active {
        DestinationStatus::Active
    } else {
        DestinationStatus::Inactive
    };
    let from = auth::remote_addr();
    state
        .set_destination_status(&slug, status, &caller, from.as_deref())
        .await
        .map_err(ssr::shown)
}

#[component]
pub fn DestinationsPage() -> impl IntoView {
    let toggle = ServerAction::<SetDestinationStatus>::new();
    let create = ServerAction::<CreateDestination>::new();
    let register = ServerAction::<RegisterDestination>::new();
    let link = ServerAction::<LinkWebhook>::new();
    let live = use_live();
    let caller = expect_context::<CurrentCaller>();
    let destinations = Resource::new(
        move || {
            (
                toggle.version().get(),
                create.version().get(),
                register.version().get(),
                link.version().get(),
                live.events.get(),
            )
        },
        |_| list_destinations(),
    );
    let connected = Resource::new(|| (), |_| whats91_connected());
    provide_context(toggle);

    view! {
        <PageHeader
            title="Destinations"
            summary="Webhook destinations, their receiver URLs, status and rejected attempts."
        />
        {move || match toggle.value().get() {
            Some(Err(error)) => Some(view! {
                <p class="form-error" role="alert">{format!("Not switched: {}", server_message(&error))}</p>
            }),
            _ => None,
        }}
        <Transition fallback=Loading>
            {move || Suspend::new(async move {
                match destinations.await {
                    Ok(rows) if rows.is_empty() => view! {
                        <EmptyState title="No destinations registered">
                            <p>
                                "Create one through Whats91 below, register one by hand, or use "
                                <code>"whats91-ops destination add"</code>"."
                            </p>
                        </EmptyState>
                    }.into_any(),
                    Ok(rows) => view! {
                        <div class="card-list">
                            {rows.into_iter().map(|row| view! { <DestinationCard row /> }).collect_view()}
                        </div>
                    }.into_any(),
                    Err(error) => view! { <ErrorNotice message=error.to_string() /> }.into_any(),
                }
            })}
        </Transition>
        <Transition fallback=|| ()>
            {move || {
                // Both read here, inside the transition, so that hydration
                // waits for them.
                let admin = caller.allows(Role::Admin);
                connected.get().filter(|_| admin).map(|connected| {
                    let connected = connected.unwrap_or(false);
                    view! {
                        <section class="panel admin-forms" aria-label="Add a destination">
                            {connected.then(|| view! { <CreateForm action=create /> })}
                            <RegisterForm action=register />
                            {connected.then(|| view! { <ImportPanel action=link /> })}
                            {(!connected).then(|| view! {
                                <p class="muted">
                                    "Set " <code>"WHATS91_OPS_WHATS91_API_TOKEN"</code>
                                    " to create, import and switch webhooks at Whats91 from here."
                                </p>
                            })}
                        </section>
                    }
                })
            }}
        </Transition>
    }
}

/// A server function's error as staff should read it.
fn server_message(error: &ServerFnError) -> String {
    match error {
        ServerFnError::ServerError(message) => message.clone(),
        other => other.to_string(),
    }
}

/// The outcome of a create, register or link, under its form.
#[component]
fn Outcome(result: Option<Result<CreatedDestination, ServerFnError>>) -> impl IntoView {
    match result {
        Some(Ok(created)) => view! {
            <p class="form-success" role="status">
                {format!("Destination {} created ({}). ", created.slug, if created.active { "ACTIVE" } else { "INACTIVE" })}
                "Whats91 delivers to " <code>{created.receiver_url}</code>
                ". The signing secret is stored on the server and is not shown again."
            </p>
        }
        .into_any(),
        Some(Err(error)) => view! { <p class="form-error" role="alert">{server_message(&error)}</p> }.into_any(),
        None => ().into_any(),
    }
}

#[component]
fn CreateForm(action: ServerAction<CreateDestination>) -> impl IntoView {
    let catalog = Resource::new(|| (), |_| event_catalog());
    let name = RwSignal::new(String::new());
    let slug = RwSignal::new(String::new());
    let events = RwSignal::new(Vec::<String>::new());
    let header_key = RwSignal::new(DEFAULT_HEADER_KEY.to_owned());
    let token = RwSignal::new(String::new());
    let start_inactive = RwSignal::new(false);
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        action.dispatch(CreateDestination {
            name: name.get_untracked(),
            slug: slug.get_untracked(),
            events: events.get_untracked(),
            header_key: header_key.get_untracked(),
            token: token.get_untracked(),
            start_inactive: start_inactive.get_untracked(),
        });
    };
    // The secret-bearing field is cleared once the webhook exists.
    Effect::new(move || {
        if matches!(action.value().get(), Some(Ok(_))) {
            token.set(String::new());
        }
    });

    view! {
        <details class="form-panel" open>
            <summary>"Create through Whats91"</summary>
            <form class="stacked-form" on:submit=on_submit>
                <div class="field">
                    <label for="create-name">"Name"</label>
                    <input id="create-name" required bind:value=name />
                </div>
                <div class="field">
                    <label for="create-slug">"Slug (last part of the receiver URL)"</label>
                    <input id="create-slug" required pattern="[a-z0-9][a-z0-9-]*" bind:value=slug />
                </div>
                <fieldset class="field">
                    <legend>"Events"</legend>
                    <Transition fallback=Loading>
                        {move || catalog.get().map(|catalog| match catalog {
                            Ok(keys) => keys.into_iter().map(|key| {
                                let id = format!("event-{}", key.replace('.', "-"));
                                let label_for = id.clone();
                                let checked_key = key.clone();
                                let toggled_key = key.clone();
                                view! {
                                    <label class="checkbox" for=label_for>
                                        <input
                                            id=id
                                            type="checkbox"
                                            prop:checked=move || events.read().contains(&checked_key)
                                            on:change=move |ev| {
                                                let on = event_target_checked(&ev);
                                                let key = toggled_key.clone();
                                                events.update(|events| {
                                                    events.retain(|e| *e != key);
                                                    if on {
                                                        events.push(key);
                                                    }
                                                });
                                            }
                                        />
                                        <code>{key}</code>
                                    </label>
                                }
                            }).collect_view().into_any(),
                            Err(error) => view! { <p class="form-error">{server_message(&error)}</p> }.into_any(),
                        })}
                    </Transition>
                </fieldset>
                <div class="field">
                    <label for="create-header">"Verification header"</label>
                    // `bind:` sets no attribute on the server, and hydration keeps
                    // the server's DOM: the default is written out here.
                    <input
                        id="create-header"
                        required
                        value=DEFAULT_HEADER_KEY
                        bind:value=header_key
                    />
                </div>
                <div class="field">
                    <label for="create-token">"Verification token (optional)"</label>
                    <input id="create-token" type="password" autocomplete="new-password" bind:value=token />
                </div>
                <label class="checkbox" for="create-inactive">
                    <input id="create-inactive" type="checkbox" bind:checked=start_inactive />
                    "Create it INACTIVE and switch it on afterwards"
                </label>
                <button type="submit" disabled=move || action.pending().get()>"Create webhook"</button>
            </form>
            {move || view! { <Outcome result=action.value().get() /> }}
        </details>
    }
}

#[component]
fn RegisterForm(action: ServerAction<RegisterDestination>) -> impl IntoView {
    view! {
        <details class="form-panel">
            <summary>"Register by hand"</summary>
            <ActionForm action attr:class="stacked-form">
                <div class="field">
                    <label for="register-name">"Name"</label>
                    <input id="register-name" name="name" />
                </div>
                <div class="field">
                    <label for="register-slug">"Slug"</label>
                    <input id="register-slug" name="slug" required />
                </div>
                <div class="field">
                    <label for="register-secret">"Signing secret (whsec_…)"</label>
                    <input id="register-secret" name="secret" type="password" autocomplete="off" />
                </div>
                <div class="field">
                    <label for="register-header">"Verification header"</label>
                    <input id="register-header" name="header_key" value=DEFAULT_HEADER_KEY required />
                </div>
                <div class="field">
                    <label for="register-token">"Verification token"</label>
                    <input id="register-token" name="token" type="password" autocomplete="off" />
                </div>
                <div class="field">
                    <label for="register-events">"Events (comma-separated; empty: every event)"</label>
                    <input id="register-events" name="events" />
                </div>
                <button type="submit">"Register"</button>
            </ActionForm>
            {move || view! { <Outcome result=action.value().get() /> }}
        </details>
    }
}

#[component]
fn ImportPanel(action: ServerAction<LinkWebhook>) -> impl IntoView {
    let wanted = RwSignal::new(0_u32);
    let remote = Resource::new(
        move || (wanted.get(), action.version().get()),
        |(wanted, _)| async move {
            if wanted == 0 {
                Ok(None)
            } else {
                remote_webhooks().await.map(Some)
            }
        },
    );
    view! {
        <details class="form-panel">
            <summary>"Import from Whats91"</summary>
            <p class="muted">
                "Link webhooks that already exist at Whats91. Whats91 never returns a signing secret twice: paste the one saved when the webhook was created."
            </p>
            <button type="button" on:click=move |_| wanted.update(|n| *n += 1)>"List the account's webhooks"</button>
            <Transition fallback=Loading>
                {move || remote.get().map(|remote| match remote {
                    Ok(Some(rows)) if rows.is_empty() => view! { <p class="muted">"The account has no webhooks."</p> }.into_any(),
                    Ok(Some(rows)) => view! {
                        <ul class="plain remote-list">
                            {rows.into_iter().map(|row| view! { <RemoteItem row action /> }).collect_view()}
                        </ul>
                    }.into_any(),
                    Ok(None) => ().into_any(),
                    Err(error) => view! { <p class="form-error" role="alert">{server_message(&error)}</p> }.into_any(),
                })}
            </Transition>
            {move || view! { <Outcome result=action.value().get() /> }}
        </details>
    }
}

#[component]
fn RemoteItem(row: RemoteRow, action: ServerAction<LinkWebhook>) -> impl IntoView {
    let events = if row.events.is_empty() {
        "every event".to_owned()
    } else {
        row.events.join(", ")
    };
    view! {
        <li class="remote">
            <div>
                <strong>{row.name}</strong>" "
                <code>{row.uid.clone()}</code>" "
                <Badge tone=if row.status == "ACTIVE" { "ok" } else { "neutral" } label=row.status />
            </div>
            <div class="muted">{row.endpoint_url}" · "{events}</div>
            {match row.linked_slug {
                Some(slug) => view! { <p class="muted">{format!("Linked to {slug}.")}</p> }.into_any(),
                None => view! {
                    <ActionForm action attr:class="inline-fields">
                        <input type="hidden" name="webhook_uid" value=row.uid />
                        <input name="slug" aria-label="Slug" placeholder="slug" required value=row.suggested_slug.unwrap_or_default() />
                        <input name="secret" aria-label="Signing secret" placeholder="whsec_…" type="password" autocomplete="off" />
                        <input name="token" aria-label="Verification token" placeholder="verification token" type="password" autocomplete="off" />
                        <button type="submit" class="small">"Link"</button>
                    </ActionForm>
                }.into_any(),
            }}
        </li>
    }
}

#[component]
fn DestinationCard(row: DestinationRow) -> impl IntoView {
    let (tone, status) = if row.active {
        ("ok", "ACTIVE")
    } else {
        ("neutral", "INACTIVE")
    };
    let auth = match (row.has_signing_secret, row.has_verification_token) {
        (true, true) => "Signature and token",
        (true, false) => "Signature",
        _ => "Token",
    };
    let events = if row.events.is_empty() {
        "Every event".to_owned()
    } else {
        row.events.join(", ")
    };
    let rejected_tone = if row.rejected_24h > 0 {
        "danger"
    } else {
        "neutral"
    };
    let label = format!("Destination {}", row.slug);

    view! {
        <article class="panel destination" aria-label=label>
            <header class="destination-header">
                <h2>{row.name}</h2>
                <Badge tone label=status />
                <ToggleButton slug=row.slug.clone() active=row.active />
            </header>
            <dl class="facts">
                <dt>"Receiver URL"</dt>
                <dd><code>{row.receiver_url}</code></dd>
                <dt>"Slug"</dt>
                <dd><code>{row.slug}</code></dd>
                <dt>"Whats91 webhook"</dt>
                <dd>{row.webhook_uid.unwrap_or_else(|| "not linked".to_owned())}</dd>
                <dt>"Events"</dt>
                <dd>{events}</dd>
                <dt>"Verification"</dt>
                <dd>{auth}</dd>
                <dt>"Last delivery"</dt>
                <dd>
                    {match row.last_delivery_at {
                        Some(iso) => view! { <Timestamp iso /> }.into_any(),
                        None => "never".into_any(),
                    }}
                </dd>
                <dt>"Deliveries, 24 h"</dt>
                <dd>{row.deliveries_24h}</dd>
                <dt>"Rejected attempts, 24 h"</dt>
                <dd><Badge tone=rejected_tone label=row.rejected_24h.to_string() /></dd>
            </dl>
        </article>
    }
}

#[component]
fn ToggleButton(slug: String, active: bool) -> impl IntoView {
    let action = expect_context::<ServerAction<SetDestinationStatus>>();
    let caller = expect_context::<CurrentCaller>();
    let label = if active { "Switch off" } else { "Switch on" };
    move || {
        let slug = slug.clone();
        caller.allows(Role::Admin).then(move || {
            view! {
                <ActionForm action>
                    <input type="hidden" name="slug" value=slug />
                    <input type="hidden" name="active" value=(!active).to_string() />
                    <button type="submit" class="small">{label}</button>
                </ActionForm>
            }
        })
    }
}
