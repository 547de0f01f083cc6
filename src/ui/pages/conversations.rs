//! `/conversations`: inbound customer messages, searchable.

use leptos::prelude::*;

use crate::ui::components::{EmptyState, PageHeader};

#[component]
pub fn ConversationsPage() -> impl IntoView {
    view! {
        <PageHeader
            title="Conversations"
            summary="Search customer conversations by phone number or message text."
        />
        <EmptyState title="No conversations yet">
            <p>"Inbound messages are grouped here by sender and customer phone."</p>
        </EmptyState>
    }
}
