//! `/events`: every delivery as it arrives.

use leptos::prelude::*;

use crate::ui::components::{EmptyState, PageHeader};

#[component]
pub fn EventsPage() -> impl IntoView {
    view! {
        <PageHeader
            title="Events"
            summary="Every verified delivery, newest first, with its raw JSON and flags."
        />
        <EmptyState title="No events received yet">
            <p>"Deliveries accepted by the receiver are listed here, exactly as they arrived."</p>
        </EmptyState>
    }
}
