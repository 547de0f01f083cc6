//! `/destinations`: where Whats91 delivers, and whether it may.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::{
    model::Role,
    ui::{
        components::{Badge, EmptyState, ErrorNotice, Loading, PageHeader, Timestamp},
        layout::CurrentCaller,
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

/// Switches a destination ACTIVE or INACTIVE: admins only.
#[server(endpoint = "set_destination_status")]
pub async fn set_destination_status(slug: String, active: bool) -> Result<(), ServerFnError> {
    use crate::{
        auth::{self, require},
        model::Role,
        startup::{unexpected, AppState},
        store::destinations::{DestinationError, DestinationStatus},
    };

    let caller = require(Role::Admin)?;
    let state = AppState::from_context()?;
    let status = if active {
        DestinationStatus::Active
    } else {
        DestinationStatus::Inactive
    };
    let from = auth::remote_addr();
    match state
        .set_destination_status(&slug, status, &caller, from.as_deref())
        .await
    {
        Ok(()) => Ok(()),
        Err(DestinationError::NotFound(slug)) => Err(ServerFnError::new(format!(
            "no destination has slug {slug}"
        ))),
        Err(error) => Err(unexpected("changing a destination")(error)),
    }
}

#[component]
pub fn DestinationsPage() -> impl IntoView {
    let toggle = ServerAction::<SetDestinationStatus>::new();
    let destinations = Resource::new(move || toggle.version().get(), |_| list_destinations());
    provide_context(toggle);

    view! {
        <PageHeader
            title="Destinations"
            summary="Webhook destinations, their receiver URLs, status and rejected attempts."
        />
        <Suspense fallback=Loading>
            {move || Suspend::new(async move {
                match destinations.await {
                    Ok(rows) if rows.is_empty() => view! {
                        <EmptyState title="No destinations registered">
                            <p>
                                "Register one with " <code>"whats91-ops destination add"</code>
                                " and give Whats91 its receiver URL."
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
        </Suspense>
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
