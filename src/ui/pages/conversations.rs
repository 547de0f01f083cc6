//! `/conversations`: customer conversations, searchable as you type, and
//! `/conversations/:phone`: one customer's thread.

use std::time::Duration;

use leptos::prelude::*;
use leptos_router::{
    components::{Form, A},
    hooks::{use_navigate, use_params_map, use_query_map},
    NavigateOptions,
};

use crate::{
    model::{ConversationSummary, ConversationThread, Page, ThreadItem},
    ui::{
        components::{
            status_tone, Badge, EmptyState, ErrorNotice, Highlighted, Loading, PageHeader,
            Timestamp,
        },
        live::use_live,
    },
};

/// Typing pauses this long before the search runs.
const SEARCH_DEBOUNCE: Duration = Duration::from_millis(250);

#[server]
pub async fn find_conversations(
    query: String,
    after: Option<String>,
) -> Result<Page<ConversationSummary>, ServerFnError> {
    use crate::{
        projection::queries,
        startup::{unexpected, AppState},
    };

    crate::auth::require(crate::model::Role::Viewer)?;
    let state = AppState::from_context()?;
    queries::search_conversations(&state.db.pool, &query, after.as_deref(), 50)
        .await
        .map_err(unexpected("searching conversations"))
}

#[server]
pub async fn load_thread(phone: String) -> Result<Option<ConversationThread>, ServerFnError> {
    use crate::{
        projection::queries,
        startup::{unexpected, AppState},
    };

    crate::auth::require(crate::model::Role::Viewer)?;
    let state = AppState::from_context()?;
    queries::conversation_thread(&state.db.pool, &phone)
        .await
        .map_err(unexpected("reading a conversation"))
}

#[component]
pub fn ConversationsPage() -> impl IntoView {
    let live = use_live();
    let params = use_query_map();
    let query = move || params.read().get("q").unwrap_or_default();
    let results = Resource::new(
        move || (query(), live.conversations.get()),
        |(query, _)| find_conversations(query, None),
    );

    // Results follow the typing: the URL (and so the search) changes once
    // typing pauses, replacing the history entry rather than adding one
    // per keystroke.
    let navigate = use_navigate();
    let pending = StoredValue::new(None::<TimeoutHandle>);
    let on_input = move |ev: leptos::ev::Event| {
        let typed = event_target_value(&ev);
        if let Some(handle) = pending.get_value() {
            handle.clear();
        }
        let navigate = navigate.clone();
        let handle = set_timeout_with_handle(
            move || {
                let href = match typed.trim() {
                    "" => "/conversations".to_owned(),
                    text => format!("/conversations?q={}", encode_query(text)),
                };
                navigate(
                    &href,
                    NavigateOptions {
                        replace: true,
                        scroll: false,
                        ..NavigateOptions::default()
                    },
                );
            },
            SEARCH_DEBOUNCE,
        );
        pending.set_value(handle.ok());
    };

    view! {
        <PageHeader
            title="Conversations"
            summary="Search customer conversations by phone number or message text."
        />
        <Form method="GET" action="">
            <div class="filter-bar" role="search">
                <label for="conversation-search">"Search"</label>
                <input
                    id="conversation-search"
                    type="search"
                    name="q"
                    placeholder="Words, \"a phrase\", or a phone number"
                    value=query
                    on:input=on_input
                    autocomplete="off"
                />
                <button type="submit">"Search"</button>
            </div>
        </Form>
        <Transition fallback=Loading>
            {move || Suspend::new(async move {
                match results.await {
                    Ok(page) if page.items.is_empty() && query().is_empty() => view! {
                        <EmptyState title="No conversations yet">
                            <p>"Inbound messages are grouped here by sender and customer phone."</p>
                        </EmptyState>
                    }.into_any(),
                    Ok(page) if page.items.is_empty() => view! {
                        <EmptyState title="No conversation matches">
                            <p>"Try fewer words, or the start of a phone number."</p>
                        </EmptyState>
                    }.into_any(),
                    Ok(page) => view! { <ConversationList items=page.items /> }.into_any(),
                    Err(error) => view! { <ErrorNotice message=error.to_string() /> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn ConversationList(items: Vec<ConversationSummary>) -> impl IntoView {
    view! {
        <ul class="panel result-list" aria-label="Conversations">
            {items
                .into_iter()
                .map(|c| {
                    let text = c.snippet.unwrap_or(c.last_message);
                    let href = format!("/conversations/{}", encode_query(&c.phone));
                    view! {
                        <li class="result">
                            <div class="result-head">
                                <A href=href><strong>{c.phone}</strong></A>
                                <span class="muted">{format!("sender {}", c.sender_id)}</span>
                                <span class="muted">{format!("{} messages", c.message_count)}</span>
                                <Timestamp iso=c.last_at />
                            </div>
                            <p class="result-text"><Highlighted text /></p>
                        </li>
                    }
                })
                .collect_view()}
        </ul>
    }
}

/// Percent-encodes `text` for a URL's query or path.
fn encode_query(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'0'..=b'9' | b'a'..=b'z' | b'A'..=b'Z' | b'-' | b'_' | b'.' | b'~' => {
                char::from(b).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

/// `/conversations/:phone`
#[component]
pub fn ConversationPage() -> impl IntoView {
    let live = use_live();
    let params = use_params_map();
    let phone = move || params.read().get("phone").unwrap_or_default();
    let thread = Resource::new(
        move || (phone(), live.conversations.get(), live.timelines.get()),
        |(phone, _, _)| load_thread(phone),
    );

    view! {
        <PageHeader
            title="Conversation"
            summary="Messages from this customer and, in between, what was sent to them with its delivery status."
        />
        <p><A href="/conversations">"← All conversations"</A></p>
        <Transition fallback=Loading>
            {move || Suspend::new(async move {
                match thread.await {
                    Ok(Some(thread)) => view! { <Thread thread /> }.into_any(),
                    Ok(None) => view! {
                        <EmptyState title="Nothing exchanged with this number">
                            <p>"No inbound message from it and no delivery status to it has been received."</p>
                        </EmptyState>
                    }.into_any(),
                    Err(error) => view! { <ErrorNotice message=error.to_string() /> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn Thread(thread: ConversationThread) -> impl IntoView {
    let deliveries = format!("/deliveries?recipient={}", encode_query(&thread.phone));
    view! {
        <section class="panel thread-panel">
            <h2>{thread.phone.clone()}</h2>
            <p class="muted">
                {thread.conversations.iter().map(|c| format!("sender {} · {} messages", c.sender_id, c.message_count)).collect::<Vec<_>>().join("; ")}
                " · "
                <A href=deliveries>"Delivery timelines"</A>
            </p>
            <ol class="thread" aria-label="Messages, oldest first">
                {thread.items.into_iter().map(|item| match item {
                    ThreadItem::Inbound { message_id, text, at } => view! {
                        <li class="bubble inbound" data-message-id=message_id>
                            <p dir="auto">{text}</p>
                            <Timestamp iso=at />
                        </li>
                    }.into_any(),
                    ThreadItem::Outbound { message_id, status, error_code, at } => {
                        let id = message_id.clone();
                        view! {
                        <li class="bubble outbound" data-message-id=id>
                            <p>
                                <span class="muted">"Outbound "</span>
                                <code class="message-id">{message_id}</code>
                            </p>
                            <Badge tone=status_tone(&status) label=status />
                            {error_code.map(|code| view! { <span class="error-text">{format!("error {code}")}</span> })}
                            <Timestamp iso=at />
                        </li>
                    }.into_any()
                    }
                }).collect_view()}
            </ol>
        </section>
    }
}
