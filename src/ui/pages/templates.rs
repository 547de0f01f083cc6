//! `/templates`: template review status and alerts.

use leptos::prelude::*;

use crate::ui::components::{EmptyState, PageHeader};

#[component]
pub fn TemplatesPage() -> impl IntoView {
    view! {
        <PageHeader
            title="Templates"
            summary="Review status of message templates, their history, and alerts to acknowledge."
        />
        <EmptyState title="No template updates yet">
            <p>"Approvals, rejections and pauses reported by Whats91 appear here."</p>
        </EmptyState>
    }
}
