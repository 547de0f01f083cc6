//! `/login`, and the server functions of a staff session: log in, log out,
//! and who is logged in.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::model::Caller;

/// Logs in, starting a new session (a new id: no fixation), and sends the
/// browser on to `next`. Every failure gets the same message.
#[server(endpoint = "login")]
pub async fn login(
    username: String,
    password: String,
    next: Option<String>,
) -> Result<(), ServerFnError> {
    use std::time::Instant;

    use crate::{
        auth::{self, audit, users, SESSION_USER},
        startup::{unexpected, AppState},
    };

    let state = AppState::from_context()?;
    let addr = auth::remote_addr().unwrap_or_default();
    let delay = state.login_throttle.delay(&addr, &username, Instant::now());
    if !delay.is_zero() {
        state.metrics.count_refused("login_throttled");
        tokio::time::sleep(delay).await;
    }
    let user = users::authenticate(&state.db.pool, &username, password)
        .await
        .map_err(unexpected("checking a login"))?;
    let Some(user) = user else {
        state
            .login_throttle
            .record_failure(&addr, &username, Instant::now());
        state.metrics.count_refused("login_failed");
        audit::record(
            &state.db.pool,
            &username,
            "login.failed",
            None,
            None,
            Some(&addr),
        )
        .await;
        if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
            response.set_status(axum::http::StatusCode::UNAUTHORIZED);
        }
        return Err(ServerFnError::new("Invalid username or password."));
    };
    let session = use_context::<axum::http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<tower_sessions::Session>().cloned())
        .ok_or_else(|| ServerFnError::new("sessions are not available"))?;
    session
        .cycle_id()
        .await
        .map_err(unexpected("starting a session"))?;
    session
        .insert(SESSION_USER, user.id)
        .await
        .map_err(unexpected("starting a session"))?;
    state.login_throttle.record_success(&username);
    users::record_login(&state.db.pool, user.id)
        .await
        .map_err(unexpected("recording a login"))?;
    audit::record(
        &state.db.pool,
        &user.username,
        "login",
        None,
        None,
        Some(&addr),
    )
    .await;
    leptos_axum::redirect(&safe_next(next.as_deref()));
    Ok(())
}

/// Only paths on this site: `next` must not send anyone elsewhere.
#[cfg(feature = "ssr")]
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(path) if path.starts_with('/') && !path.starts_with("//") && !path.contains('\\') => {
            path.to_owned()
        }
        _ => "/".to_owned(),
    }
}

/// Ends the session everywhere it was used and returns to the login page.
#[server(endpoint = "logout")]
pub async fn logout() -> Result<(), ServerFnError> {
    use crate::{
        auth::{self, audit},
        model::Role,
        startup::{unexpected, AppState},
    };

    let caller = auth::require(Role::Viewer)?;
    let state = AppState::from_context()?;
    if let Some(session) = use_context::<axum::http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<tower_sessions::Session>().cloned())
    {
        session
            .flush()
            .await
            .map_err(unexpected("ending a session"))?;
    }
    let addr = auth::remote_addr();
    audit::record(
        &state.db.pool,
        &caller.name,
        "logout",
        None,
        None,
        addr.as_deref(),
    )
    .await;
    leptos_axum::redirect("/login");
    Ok(())
}

/// Who is logged in.
#[server]
pub async fn whoami() -> Result<Caller, ServerFnError> {
    crate::auth::require(crate::model::Role::Viewer)
}

#[component]
pub fn LoginPage() -> impl IntoView {
    let login = ServerAction::<Login>::new();
    let params = use_query_map();
    let next = move || params.read().get("next").unwrap_or_else(|| "/".to_owned());
    let error = move || {
        login
            .value()
            .get()
            .and_then(Result::err)
            .map(|_| "Invalid username or password.")
    };

    view! {
        <leptos_meta::Title text="Log in" />
        <main class="login">
            <section class="panel login-panel">
                <h1>{super::super::PRODUCT_NAME}</h1>
                <p class="page-summary">"Log in to the operations desk."</p>
                <ActionForm action=login>
                    <input type="hidden" name="next" prop:value=next />
                    <label for="username">"Username"</label>
                    <input id="username" name="username" autocomplete="username" required />
                    <label for="password">"Password"</label>
                    <input
                        id="password"
                        name="password"
                        type="password"
                        autocomplete="current-password"
                        required
                    />
                    {move || error().map(|message| view! { <p class="form-error" role="alert">{message}</p> })}
                    <button type="submit">"Log in"</button>
                </ActionForm>
            </section>
        </main>
    }
}

#[cfg(all(test, feature = "ssr"))]
mod tests {
    use super::safe_next;

    #[test]
    fn next_only_leads_to_paths_on_this_site() {
        assert_eq!(
            safe_next(Some("/deliveries?recipient=91")),
            "/deliveries?recipient=91"
        );
        for bad in [
            "https://evil.example",
            "//evil.example",
            "/\\evil.example",
            "deliveries",
        ] {
            assert_eq!(safe_next(Some(bad)), "/", "{bad}");
        }
        assert_eq!(safe_next(None), "/");
    }
}
