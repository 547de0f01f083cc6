//! Small building blocks shared by the pages.

use std::collections::HashSet;

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

/// A short label with a colour that carries meaning: `ok`, `warn`,
/// `danger` or `neutral`.
#[component]
pub fn Badge(tone: &'static str, #[prop(into)] label: String) -> impl IntoView {
    view! { <span class=format!("badge badge-{tone}")>{label}</span> }
}

/// An ISO-8601 UTC time, shown as `YYYY-MM-DD HH:MM:SS` with the exact value
/// in the machine-readable attribute.
#[component]
pub fn Timestamp(#[prop(into)] iso: String) -> impl IntoView {
    let shown = iso.get(..19).unwrap_or(&iso).replacen('T', " ", 1);
    view! { <time datetime=iso.clone() title=iso>{shown}</time> }
}

/// What a page shows when its data could not be loaded.
#[component]
pub fn ErrorNotice(#[prop(into)] message: String) -> impl IntoView {
    view! {
        <section class="error-notice" role="alert">
            <h2>"Could not load this page's data"</h2>
            <p>{message}</p>
        </section>
    }
}

/// The placeholder shown while a page's data is on its way.
#[component]
pub fn Loading() -> impl IntoView {
    view! { <p class="loading" aria-live="polite">"Loading…"</p> }
}

/// Text with search matches (between `MATCH_START` and `MATCH_END`)
/// highlighted.
#[component]
pub fn Highlighted(#[prop(into)] text: String) -> impl IntoView {
    use crate::model::{MATCH_END, MATCH_START};

    text.split(MATCH_START)
        .enumerate()
        .map(|(i, part)| match part.split_once(MATCH_END) {
            Some((matched, rest)) if i > 0 => view! {
                <mark>{matched.to_owned()}</mark>
                {rest.to_owned()}
            }
            .into_any(),
            _ => part.to_owned().into_any(),
        })
        .collect_view()
}

/// The colour of a delivery status.
pub fn status_tone(status: &str) -> &'static str {
    match status {
        "read" | "delivered" | "APPROVED" => "ok",
        "failed" | "REJECTED" | "DISABLED" => "danger",
        "PAUSED" | "FLAGGED" | "deleted" | "warning" => "warn",
        _ => "neutral",
    }
}

/// A table in a panel: a caption for screen readers, column headings, and
/// the rows as children.
#[component]
pub fn DataTable(
    caption: &'static str,
    headings: &'static [&'static str],
    children: Children,
) -> impl IntoView {
    view! {
        <div class="panel table-wrap">
            <table class="table">
                <caption class="visually-hidden">{caption}</caption>
                <thead>
                    <tr>
                        {headings
                            .iter()
                            .map(|heading| view! { <th scope="col">{*heading}</th> })
                            .collect_view()}
                    </tr>
                </thead>
                <tbody>{children()}</tbody>
            </table>
        </div>
    }
}

/// Which rows of an expandable table are open, by key. The page keeps it
/// outside the data that live updates reload, so a row stays open while
/// the table under it is fetched again.
#[derive(Clone, Copy)]
pub struct OpenRows(RwSignal<HashSet<String>>);

impl Default for OpenRows {
    fn default() -> Self {
        Self(RwSignal::new(HashSet::new()))
    }
}

impl OpenRows {
    fn is_open(self, key: &str) -> bool {
        self.0.with(|open| open.contains(key))
    }

    fn toggle(self, key: &str) {
        self.0.update(|open| {
            if !open.remove(key) {
                open.insert(key.to_owned());
            }
        });
    }

    /// Closes every row, for when the table shows other rows.
    pub fn close_all(self) {
        self.0.update(HashSet::clear);
    }

    /// `tick` while no row is open; while one is, the value it had when
    /// the first row opened, so that the table holds still under a reader
    /// (an open row follows the live feed itself). Closing the last open
    /// row catches the table up.
    pub fn hold(self, tick: RwSignal<u64>) -> Memo<u64> {
        Memo::new(move |held: Option<&u64>| {
            let reading = self.0.with(|open| !open.is_empty());
            match held {
                Some(held) if reading => *held,
                _ => tick.get(),
            }
        })
    }
}

/// A table row that opens to show more below it. The first cell holds the
/// toggle; `detail` is rendered (and so loads its data) only while open.
#[component]
pub fn ExpandableRow(
    /// The number of columns, toggle included.
    colspan: usize,
    /// What the toggle opens, for screen readers.
    #[prop(into)]
    label: String,
    /// Where the table keeps which rows are open.
    rows: OpenRows,
    /// This row among them.
    #[prop(into)]
    key: String,
    #[prop(into)] detail: ViewFn,
    children: Children,
) -> impl IntoView {
    let open = {
        let key = key.clone();
        Memo::new(move |_| rows.is_open(&key))
    };
    view! {
        <tr class="expandable" class:open=move || open.get()>
            <td class="expand-cell">
                <button
                    type="button"
                    class="expand"
                    aria-expanded=move || open.get().to_string()
                    aria-label=label
                    on:click=move |_| rows.toggle(&key)
                >
                    {move || if open.get() { "▾" } else { "▸" }}
                </button>
            </td>
            {children()}
        </tr>
        <Show when=move || open.get()>
            <tr class="detail-row">
                <td colspan=colspan.to_string()>{detail.run()}</td>
            </tr>
        </Show>
    }
}
