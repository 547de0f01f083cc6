//! The dashboard: the HTML shell, the app with its routes, and one file per
//! page under `pages/`. Rendered on the server, hydrated in the browser.

pub mod alerts;
mod components;
pub mod layout;
pub mod live;
pub mod pages;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::{
    components::{ParentRoute, Route, Router, Routes},
    path,
};

use layout::Layout;
use pages::{
    audit::AuditPage,
    conversations::{ConversationPage, ConversationsPage},
    deliveries::DeliveriesPage,
    destinations::DestinationsPage,
    events::{EventPage, EventsPage},
    login::LoginPage,
    not_found::NotFoundPage,
    overview::OverviewPage,
    templates::TemplatesPage,
};

/// The product's name as staff see it.
pub const PRODUCT_NAME: &str = "whats91-ops";

/// The document around the app, rendered once per page load on the server.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    set_content_security_policy();
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <link rel="icon" type="image/svg+xml" href="/favicon.svg" />
                <AutoReload options=options.clone() />
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    mark_hydrated();

    view! {
        <Stylesheet id="leptos" href=format!("/pkg/{PRODUCT_NAME}.css") />
        <Title formatter=|page: String| format!("{page} · {PRODUCT_NAME}") />
        <Router>
            <Routes fallback=NotFoundPage>
                <Route path=path!("/login") view=LoginPage />
                <ParentRoute path=path!("") view=Layout>
                    <Route path=path!("") view=OverviewPage />
                    <Route path=path!("events") view=EventsPage />
                    <Route path=path!("events/:seq") view=EventPage />
                    <Route path=path!("conversations") view=ConversationsPage />
                    <Route path=path!("conversations/:phone") view=ConversationPage />
                    <Route path=path!("deliveries") view=DeliveriesPage />
                    <Route path=path!("templates") view=TemplatesPage />
                    <Route path=path!("destinations") view=DestinationsPage />
                    <Route path=path!("audit") view=AuditPage />
                </ParentRoute>
            </Routes>
        </Router>
    }
}

/// A Content-Security-Policy for this page: its own scripts, the inline
/// hydration scripts carrying this response's nonce, and WebAssembly.
fn set_content_security_policy() {
    #[cfg(feature = "ssr")]
    if let (Some(nonce), Some(response)) = (
        leptos::nonce::use_nonce(),
        use_context::<leptos_axum::ResponseOptions>(),
    ) {
        let policy = format!(
            "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
             style-src 'self'; img-src 'self' data:; connect-src 'self'; \
             object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
        );
        if let Ok(value) = axum::http::HeaderValue::from_str(&policy) {
            response.insert_header(axum::http::header::CONTENT_SECURITY_POLICY, value);
        }
    }
}

/// Sets `data-hydrated` on `<html>` once the browser bundle has taken over,
/// so browser tests can wait for interactivity instead of sleeping.
/// Effects never run on the server, so the attribute is absent from the
/// server-rendered HTML.
fn mark_hydrated() {
    Effect::new(|| {
        if let Some(root) = document().document_element() {
            let _ = root.set_attribute("data-hydrated", "true");
        }
    });
}
