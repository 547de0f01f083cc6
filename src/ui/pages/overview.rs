//! `/`: the state of the desk at a glance.

use leptos::prelude::*;

use crate::ui::components::{EmptyState, PageHeader};

#[component]
pub fn OverviewPage() -> impl IntoView {
    view! {
        <PageHeader
            title="Overview"
            summary="Deliveries per minute, flags, open alerts and destination health."
        />
        <EmptyState title="No deliveries received yet">
            <p>
                "Register a destination and give Whats91 its receiver URL; "
                "deliveries show up here as they arrive."
            </p>
        </EmptyState>
    }
}
