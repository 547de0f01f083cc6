//! `/destinations`: where Whats91 delivers, and whether it may.

use leptos::prelude::*;

use crate::ui::components::{EmptyState, PageHeader};

#[component]
pub fn DestinationsPage() -> impl IntoView {
    view! {
        <PageHeader
            title="Destinations"
            summary="Webhook destinations, their receiver URLs, status and rejected attempts."
        />
        <EmptyState title="No destinations registered">
            <p>
                "Register one with " <code>"whats91-ops destination add"</code>
                " and give Whats91 its receiver URL."
            </p>
        </EmptyState>
    }
}
