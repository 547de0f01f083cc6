//! `/conversations`: inbound customer messages, searchable.

use leptos::prelude::*;
use leptos_router::{components::Form, hooks::use_query_map};

use crate::{
    model::{ConversationSummary, Page},
    ui::components::{EmptyState, ErrorNotice, Highlighted, Loading, PageHeader, Timestamp},
};

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

#[component]
pub fn ConversationsPage() -> impl IntoView {
    let params = use_query_map();
    let query = move || params.read().get("q").unwrap_or_default();
    let results = Resource::new(query, |query| find_conversations(query, None));

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
                    prop:value=query
                />
                <button type="submit">"Search"</button>
            </div>
        </Form>
        <Suspense fallback=Loading>
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
        </Suspense>
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
                    view! {
                        <li class="result">
                            <div class="result-head">
                                <strong>{c.phone}</strong>
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
