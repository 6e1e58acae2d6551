//! Gatehouse: one crate, two builds. `ssr` is the server (axum + sqlx + the service layer),
//! `hydrate` is the WASM that hydrates the server-rendered dashboard in the browser.
#![recursion_limit = "256"]

pub mod app;
pub mod rpc;
pub mod shared;

#[cfg(feature = "ssr")]
pub mod server;

#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
}
