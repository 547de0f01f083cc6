//! `/events`: every delivery as it arrives, and `/events/:seq`: one of them
//! with its raw JSON and what it updated.

use leptos::prelude::*;
use leptos_router::{
    components::{Form, A},
    hooks::{use_params_map, use_query_map},
};
use serde::{Deserialize, Serialize};

use crate::{
    model::{Page, FLAG_NAMES},
    ui::{
        components::{Badge, DataTable, EmptyState, ErrorNotice, Loading, PageHeader, Timestamp},
        live::use_live,
    },
};

/// One row of the event list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventRow {
    pub seq: i64,
    pub received_at: String,
    pub destination: String,
    pub event_key: Option<String>,
    pub sender_id: Option<String>,
    pub flags: Vec<String>,
    pub delivery_count: i64,
}

#[cfg(feature = "ssr")]
impl From<&crate::store::events::EventSummary> for EventRow {
    fn from(e: &crate::store::events::EventSummary) -> Self {
        Self {
            seq: e.seq,
            received_at: crate::store::format_millis(e.received_at),
            destination: e.destination_slug.clone(),
            event_key: e.event_key.clone(),
            sender_id: e.sender_id.clone(),
            flags: e.flags().names().into_iter().map(str::to_owned).collect(),
            delivery_count: e.delivery_count,
        }
    }
}

/// Everything about one stored event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventDetail {
    pub row: EventRow,
    pub webhook_uid: Option<String>,
    /// The header that carried the verification token, when one was checked.
    pub token_header: Option<String>,
    pub signature_checked: bool,
    pub token_checked: bool,
    /// The body exactly as it arrived; pretty-printed when it is JSON.
    pub body: String,
    pub body_is_json: bool,
    /// Where this event shows up in the projections: (label, href).
    pub links: Vec<(String, String)>,
}

/// Events newest first, filtered, one page before `before`.
#[server]
pub async fn list_events(
    event_key: Option<String>,
    destination: Option<String>,
    sender: Option<String>,
    flag: Option<String>,
    before: Option<i64>,
) -> Result<Page<EventRow>, ServerFnError> {
    use crate::{
        startup::{unexpected, AppState},
        store::events::{self, EventFilter},
    };

    crate::auth::require(crate::model::Role::Viewer)?;
    let state = AppState::from_context()?;
    let filter = EventFilter {
        event_key,
        destination,
        sender_id: sender,
        flag,
    };
    let page = events::list_page(&state.db.pool, &filter, before, 50)
        .await
        .map_err(unexpected("reading the event log"))?
        .ok_or_else(|| ServerFnError::new("unknown flag"))?;
    Ok(Page {
        items: page.items.iter().map(EventRow::from).collect(),
        next: page.next,
    })
}

#[server]
pub async fn load_event(seq: i64) -> Result<Option<EventDetail>, ServerFnError> {
    use crate::{
        startup::{unexpected, AppState},
        store::{destinations, events},
    };

    crate::auth::require(crate::model::Role::Viewer)?;
    let state = AppState::from_context()?;
    let Some(stored) = events::get(&state.db.pool, seq)
        .await
        .map_err(unexpected("reading the event log"))?
    else {
        return Ok(None);
    };
    let event = &stored.summary;
    let token_header = if event.token_checked {
        destinations::find_by_slug(&state.db.pool, &event.destination_slug)
            .await
            .map_err(unexpected("reading destinations"))?
            .map(|d| d.verification_header_key)
    } else {
        None
    };
    let parsed = serde_json::from_slice::<serde_json::Value>(&stored.body).ok();
    let body = match &parsed {
        Some(json) => serde_json::to_string_pretty(json).unwrap_or_default(),
        None => String::from_utf8_lossy(&stored.body).into_owned(),
    };
    Ok(Some(EventDetail {
        row: EventRow::from(event),
        webhook_uid: event.webhook_uid.clone(),
        token_header,
        signature_checked: event.signature_checked,
        token_checked: event.token_checked,
        body,
        body_is_json: parsed.is_some(),
        links: parsed
            .as_ref()
            .map(|json| projection_links(event.event_key.as_deref(), json))
            .unwrap_or_default(),
    }))
}

/// Links to the pages showing what an event updated.
#[cfg(feature = "ssr")]
fn projection_links(event_key: Option<&str>, body: &serde_json::Value) -> Vec<(String, String)> {
    let data = &body["data"];
    let text = |field: &str| data[field].as_str().filter(|v| !v.is_empty());
    let mut links = Vec::new();
    let key = event_key.unwrap_or_default();
    if key.starts_with("message.inbound") {
        if let Some(from) = text("from") {
            links.push((
                format!("Conversation with {from}"),
                format!("/conversations/{}", url_part(from)),
            ));
        }
    } else if key.starts_with("message.status") {
        if let Some(recipient) = text("recipient") {
            links.push((
                format!("Delivery timelines to {recipient}"),
                format!("/deliveries?recipient={}", url_part(recipient)),
            ));
            links.push((
                format!("Conversation with {recipient}"),
                format!("/conversations/{}", url_part(recipient)),
            ));
        }
    } else if key == "template.status_update" {
        if let Some(name) = text("templateName") {
            links.push((format!("Template {name}"), "/templates".to_owned()));
        }
    }
    links
}

/// Keeps the characters a phone number or id is made of; anything else
/// is percent-encoded.
#[cfg(feature = "ssr")]
fn url_part(raw: &str) -> String {
    raw.bytes()
        .map(|b| match b {
            b'0'..=b'9' | b'a'..=b'z' | b'A'..=b'Z' | b'-' | b'_' | b'.' => {
                char::from(b).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

#[component]
pub fn EventsPage() -> impl IntoView {
    let live = use_live();
    let params = use_query_map();
    let param = move |name: &str| params.read().get(name).filter(|v| !v.is_empty());
    let before = move || param("before").and_then(|v| v.parse::<i64>().ok());

    // While paused (or reading older pages) the list stays as it is; new
    // events are counted and shown when the reader resumes.
    let paused = RwSignal::new(false);
    let shown_tick = RwSignal::new(0_u64);
    Effect::new(move || {
        let tick = live.events.get();
        if !paused.get() {
            shown_tick.set(tick);
        }
    });
    let waiting = move || live.events.get() != shown_tick.get();

    let events = Resource::new(
        move || {
            (
                param("event"),
                param("destination"),
                param("sender"),
                param("flag"),
                before(),
                shown_tick.get(),
            )
        },
        |(event, destination, sender, flag, before, _)| {
            list_events(event, destination, sender, flag, before)
        },
    );
    // Rows newer than the previous render are marked so they stand out.
    let newest_shown = StoredValue::new(None::<i64>);

    view! {
        <PageHeader
            title="Events"
            summary="Every verified delivery, newest first, with its raw JSON and flags."
        />
        <Form method="GET" action="">
            <div class="filter-bar" role="search">
                <div class="field">
                    <label for="event">"Event key"</label>
                    <input id="event" name="event" placeholder="message.status.read" prop:value=move || param("event").unwrap_or_default() />
                </div>
                <div class="field">
                    <label for="destination">"Destination"</label>
                    <input id="destination" name="destination" placeholder="slug" prop:value=move || param("destination").unwrap_or_default() />
                </div>
                <div class="field">
                    <label for="sender">"Sender"</label>
                    <input id="sender" name="sender" prop:value=move || param("sender").unwrap_or_default() />
                </div>
                <div class="field">
                    <label for="flag">"Flag"</label>
                    <select id="flag" name="flag" prop:value=move || param("flag").unwrap_or_default()>
                        <option value="">"any"</option>
                        {FLAG_NAMES.map(|flag| view! { <option value=flag>{flag}</option> }).collect_view()}
                    </select>
                </div>
                <button type="submit">"Filter"</button>
            </div>
        </Form>
        <div class="list-controls">
            <button
                type="button"
                class="pause-toggle"
                aria-pressed=move || paused.get().to_string()
                on:click=move |_| paused.update(|p| *p = !*p)
            >
                {move || if paused.get() { "Resume live updates" } else { "Pause live updates" }}
            </button>
            <span class="muted" aria-live="polite">
                {move || {
                    if before().is_some() {
                        "Older events: live updates show on the first page."
                    } else if paused.get() && waiting() {
                        "Paused: new events are waiting."
                    } else if paused.get() {
                        "Paused."
                    } else {
                        ""
                    }
                }}
            </span>
        </div>
        <Transition fallback=Loading>
            {move || Suspend::new(async move {
                match events.await {
                    Ok(page) if page.items.is_empty() && before().is_none() => view! {
                        <EmptyState title="No events match">
                            <p>"Deliveries accepted by the receiver are listed here, exactly as they arrived."</p>
                        </EmptyState>
                    }.into_any(),
                    Ok(page) => {
                        let previous = newest_shown.get_value();
                        newest_shown.set_value(page.items.first().map(|row| row.seq).or(previous));
                        view! { <EventTable page previous /> }.into_any()
                    }
                    Err(error) => view! { <ErrorNotice message=error.to_string() /> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn EventTable(page: Page<EventRow>, previous: Option<i64>) -> impl IntoView {
    let params = use_query_map();
    let older = page.next.map(|next| {
        let mut query = params.get_untracked();
        query.replace("before", next);
        format!("?{}", query.to_query_string().trim_start_matches('?'))
    });
    view! {
        <DataTable caption="Events, newest first" headings=&["#", "Received", "Destination", "Event", "Sender", "Flags", "Deliveries"]>
            {page
                .items
                .into_iter()
                .map(|row| {
                    let fresh = previous.is_some_and(|seen| row.seq > seen);
                    view! { <EventLine row fresh /> }
                })
                .collect_view()}
        </DataTable>
        {older.map(|href| view! { <p class="pager"><A href=href>"Older events →"</A></p> })}
    }
}

#[component]
fn EventLine(row: EventRow, fresh: bool) -> impl IntoView {
    let event_key = row.event_key.unwrap_or_else(|| "(none)".to_owned());
    let href = format!("/events/{}", row.seq);
    view! {
        <tr class:fresh=fresh data-seq=row.seq.to_string()>
            <td class="numeric"><A href=href>{row.seq}</A></td>
            <td><Timestamp iso=row.received_at /></td>
            <td>{row.destination}</td>
            <td><code>{event_key}</code></td>
            <td>{row.sender_id.unwrap_or_default()}</td>
            <td class="flags">
                {row.flags.into_iter().map(|flag| view! { <Badge tone="warn" label=flag /> }).collect_view()}
            </td>
            <td class="numeric">{row.delivery_count}</td>
        </tr>
    }
}

/// `/events/:seq`
#[component]
pub fn EventPage() -> impl IntoView {
    let params = use_params_map();
    let seq = move || params.read().get("seq").and_then(|v| v.parse::<i64>().ok());
    let detail = Resource::new(seq, |seq| async move {
        match seq {
            Some(seq) => load_event(seq).await,
            None => Ok(None),
        }
    });

    view! {
        <PageHeader title="Event" summary="One delivery as it arrived, what was checked, and what it updated." />
        <p><A href="/events">"← All events"</A></p>
        <Suspense fallback=Loading>
            {move || Suspend::new(async move {
                match detail.await {
                    Ok(Some(detail)) => view! { <EventView detail /> }.into_any(),
                    Ok(None) => view! {
                        <EmptyState title="No such event">
                            <p>"The event log has no event with this number."</p>
                        </EmptyState>
                    }.into_any(),
                    Err(error) => view! { <ErrorNotice message=error.to_string() /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn EventView(detail: EventDetail) -> impl IntoView {
    let row = detail.row;
    let checked = |done: bool| if done { "verified" } else { "not configured" };
    let token = match detail.token_header {
        Some(header) => format!("{header}: verified"),
        None => format!("verification token: {}", checked(detail.token_checked)),
    };
    view! {
        <section class="panel event-detail">
            <h2>{format!("#{} ", row.seq)}<code>{row.event_key.unwrap_or_else(|| "(no event key)".to_owned())}</code></h2>
            <dl class="facts">
                <dt>"Received"</dt><dd><Timestamp iso=row.received_at /></dd>
                <dt>"Destination"</dt><dd>{row.destination}</dd>
                <dt>"Sender"</dt><dd>{row.sender_id.unwrap_or_default()}</dd>
                <dt>"Webhook"</dt><dd><code>{detail.webhook_uid.unwrap_or_default()}</code></dd>
                <dt>"Deliveries"</dt><dd>{row.delivery_count}</dd>
                <dt>"Headers checked"</dt>
                <dd>
                    <ul class="plain">
                        <li>{format!("X-Whats91-Signature: {}", checked(detail.signature_checked))}</li>
                        <li>{token}</li>
                    </ul>
                </dd>
                <dt>"Flags"</dt>
                <dd class="flags">
                    {if row.flags.is_empty() {
                        view! { <span class="muted">"none"</span> }.into_any()
                    } else {
                        row.flags.into_iter().map(|flag| view! { <Badge tone="warn" label=flag /> }).collect_view().into_any()
                    }}
                </dd>
            </dl>
            {(!detail.links.is_empty()).then(|| view! {
                <h3>"Updated"</h3>
                <ul class="plain links">
                    {detail.links.into_iter().map(|(label, href)| view! { <li><A href=href>{label}</A></li> }).collect_view()}
                </ul>
            })}
            <h3>{if detail.body_is_json { "Body (JSON, pretty-printed)" } else { "Body (as received, not JSON)" }}</h3>
            <pre class="raw-json" tabindex="0">{detail.body}</pre>
        </section>
    }
}
