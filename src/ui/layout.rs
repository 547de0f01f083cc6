//! The frame around every page: header with the product name, the primary
//! navigation, and the main content area.

use leptos::prelude::*;
use leptos_router::components::A;

use super::PRODUCT_NAME;

/// Every page of the dashboard, in navigation order.
const NAV: [(&str, &str); 7] = [
    ("/", "Overview"),
    ("/events", "Events"),
    ("/conversations", "Conversations"),
    ("/deliveries", "Deliveries"),
    ("/templates", "Templates"),
    ("/destinations", "Destinations"),
    ("/audit", "Audit"),
];

#[component]
pub fn Layout(children: Children) -> impl IntoView {
    // On narrow screens the navigation folds behind a button.
    let menu_open = RwSignal::new(false);

    view! {
        <header class="app-header">
            <a class="brand" href="/">
                <span class="brand-mark" aria-hidden="true">"◆"</span>
                {PRODUCT_NAME}
            </a>
            <button
                class="menu-toggle"
                type="button"
                aria-controls="primary-nav"
                aria-expanded=move || menu_open.get().to_string()
                on:click=move |_| menu_open.update(|open| *open = !*open)
            >
                "Menu"
            </button>
            <nav
                id="primary-nav"
                class="primary-nav"
                class:open=move || menu_open.get()
                aria-label="Primary"
            >
                <ul>
                    {NAV
                        .into_iter()
                        .map(|(href, label)| {
                            view! {
                                <li on:click=move |_| menu_open.set(false)>
                                    <A href=href exact=true>
                                        {label}
                                    </A>
                                </li>
                            }
                        })
                        .collect_view()}
                </ul>
            </nav>
        </header>
        <main class="app-main">{children()}</main>
    }
}
