//! `/deliveries`: per-message delivery timelines.

use leptos::prelude::*;

use crate::ui::components::{EmptyState, PageHeader};

#[component]
pub fn DeliveriesPage() -> impl IntoView {
    view! {
        <PageHeader
            title="Deliveries"
            summary="Delivery timelines of outbound messages, filtered by recipient, status and error."
        />
        <EmptyState title="No delivery statuses yet">
            <p>"Status updates (sent, delivered, read, failed) build a timeline per message."</p>
        </EmptyState>
    }
}
