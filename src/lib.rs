//! whats91-ops: an operations desk for Whats91 Webhooks v2.
//!
//! The crate builds twice. With `ssr` it is the server: the signed webhook
//! receiver, the SQLite event log, and the Leptos pages rendered on the
//! server. With `hydrate` it is the browser bundle that makes those same
//! pages interactive. Only `ui` and `model` are shared by both builds;
//! everything that touches secrets, the database or the network is
//! server-only.

pub mod model;
pub mod ui;

#[cfg(feature = "ssr")]
pub mod api;
#[cfg(feature = "ssr")]
pub mod auth;
#[cfg(feature = "ssr")]
pub mod cli;
#[cfg(feature = "ssr")]
pub mod config;
#[cfg(feature = "ssr")]
pub mod destinations;
#[cfg(feature = "ssr")]
pub mod live;
#[cfg(feature = "ssr")]
pub mod metrics;
#[cfg(feature = "ssr")]
pub mod projection;
#[cfg(feature = "ssr")]
pub mod simulate;
#[cfg(feature = "ssr")]
pub mod startup;
#[cfg(feature = "ssr")]
pub mod store;
#[cfg(feature = "ssr")]
pub mod telemetry;
#[cfg(feature = "ssr")]
pub mod webhook;
#[cfg(feature = "ssr")]
pub mod whats91;

/// Entry point of the browser bundle: attaches the interactive app to the
/// server-rendered page.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(ui::App);
}
