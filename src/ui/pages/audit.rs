//! `/audit`: who changed what, and when.

use leptos::prelude::*;

use crate::ui::components::{EmptyState, PageHeader};

#[component]
pub fn AuditPage() -> impl IntoView {
    view! {
        <PageHeader title="Audit" summary="Who changed what, when, and from where." />
        <EmptyState title="Nothing audited yet">
            <p>"Logins and changes to destinations, users, tokens and alerts are recorded here."</p>
        </EmptyState>
    }
}
