//! Small building blocks shared by the pages.

use leptos::prelude::*;
use leptos_meta::Title;

/// The heading block of a page; also sets the document title.
#[component]
pub fn PageHeader(title: &'static str, summary: &'static str) -> impl IntoView {
    view! {
        <Title text=title />
        <div class="page-header">
            <h1>{title}</h1>
            <p class="page-summary">{summary}</p>
        </div>
    }
}

/// What a page shows when it has nothing to list: a plain statement, never
/// invented data.
#[component]
pub fn EmptyState(title: &'static str, children: Children) -> impl IntoView {
    view! {
        <section class="empty-state" role="status">
            <h2>{title}</h2>
            <div class="empty-state-body">{children()}</div>
        </section>
    }
}
