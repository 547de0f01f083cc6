//! The frame around every page: header with the product name, the primary
//! navigation, and the main content area.

use leptos::prelude::*;
use leptos_router::components::{Outlet, A};

use super::{
    alerts::{provide_open_alerts, AlertCount, Toasts},
    live::provide_live,
    pages::login::{whoami, Logout},
    PRODUCT_NAME,
};

/// Who is logged in, for pages to decide which controls to show.
#[derive(Clone, Copy)]
pub struct CurrentCaller(pub Resource<Result<crate::model::Caller, ServerFnError>>);

impl CurrentCaller {
    /// Whether the caller may act as `role` (false while unknown).
    pub fn allows(self, role: crate::model::Role) -> bool {
        self.0
            .get()
            .and_then(Result::ok)
            .is_some_and(|caller| caller.role.allows(role))
    }
}

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
pub fn Layout() -> impl IntoView {
    // On narrow screens the navigation folds behind a button.
    let menu_open = RwSignal::new(false);
    let me = Resource::new(|| (), |_| whoami());
    let logout = ServerAction::<Logout>::new();
    // Pages show only the controls the caller's role may use; the server
    // checks again on every call.
    provide_context(CurrentCaller(me));
    let live = provide_live();
    provide_open_alerts();
    let connection = move || live.connection.get();

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
            <div class="session">
                <span
                    class=move || connection().css_class()
                    role="status"
                    title="Live updates from the server"
                    data-state=move || connection().label().to_lowercase()
                >
                    <span class="live-dot" aria-hidden="true"></span>
                    {move || connection().label()}
                </span>
                <AlertCount />
                <Suspense fallback=|| ()>
                    {move || Suspend::new(async move {
                        me.await.ok().map(|me| view! {
                            <span class="whoami">{me.name}" · "{me.role.as_str()}</span>
                        })
                    })}
                </Suspense>
                <ActionForm action=logout>
                    <button type="submit" class="link-button">"Log out"</button>
                </ActionForm>
            </div>
        </header>
        <main class="app-main"><Outlet /></main>
        <Toasts />
    }
}
