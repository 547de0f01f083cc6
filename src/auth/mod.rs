//! Staff accounts, sessions, roles, API tokens and the audit log, and the
//! middleware that enforces them on every request.
//!
//! Every request passes `authenticate` (which identifies the caller from
//! the session cookie or an `Authorization: Bearer` token) and then `guard`
//! (which refuses anyone unidentified outside the few public paths). Server
//! functions check the role they need with [`require`]. Hiding a button is
//! never the check.

pub mod audit;
pub mod password;
pub mod throttle;
pub mod tokens;
pub mod users;

use axum::{
    extract::{Request, State},
    http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri},
    middleware::Next,
    response::{IntoResponse, Redirect, Response},
};
use leptos::prelude::*;
use tower_sessions::Session;

use crate::{
    model::{Caller, Role},
    startup::AppState,
};

/// Where a session keeps its user.
pub const SESSION_USER: &str = "user_id";

/// Routes for machines, not staff: Whats91's deliveries (authenticated by
/// signature and token), health checks and metrics. No session, no login.
pub fn is_machine_route(path: &str) -> bool {
    matches!(path, "/healthz" | "/readyz" | "/metrics") || path.starts_with("/webhooks/")
}

/// Paths anyone may reach: the machine routes, the login page and its
/// server function, and the static files the login page needs.
fn is_public(path: &str) -> bool {
    is_machine_route(path)
        || matches!(path, "/login" | "/api/login" | "/favicon.svg")
        || path.starts_with("/pkg/")
}

/// Identifies the caller, if any, and puts it in the request's extensions.
pub async fn authenticate(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    if is_machine_route(request.uri().path()) {
        return next.run(request).await;
    }
    let caller = match bearer(request.headers()) {
        Some(token) => match tokens::authenticate(&state.db.pool, token).await {
            Ok(found) => found.map(|(name, role)| Caller {
                name: format!("token:{name}"),
                role,
            }),
            Err(error) => return unavailable(error),
        },
        None => match request.extensions().get::<Session>().cloned() {
            Some(session) => match session_user(&state, &session).await {
                Ok(caller) => caller,
                Err(error) => return unavailable(error),
            },
            None => None,
        },
    };
    if let Some(caller) = caller {
        request.extensions_mut().insert(caller);
    }
    next.run(request).await
}

fn unavailable(error: impl std::fmt::Display) -> Response {
    tracing::error!(%error, "cannot identify the caller");
    (StatusCode::SERVICE_UNAVAILABLE, "try again shortly").into_response()
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

/// The enabled user behind a session. A session of a disabled or deleted
/// user is ended here.
async fn session_user(state: &AppState, session: &Session) -> anyhow::Result<Option<Caller>> {
    let Some(id) = session.get::<i64>(SESSION_USER).await? else {
        return Ok(None);
    };
    match users::find_by_id(&state.db.pool, id).await? {
        Some(user) if !user.disabled => Ok(Some(Caller {
            role: user.role(),
            name: user.username,
        })),
        _ => {
            session.flush().await?;
            Ok(None)
        }
    }
}

/// Refuses unidentified callers: pages redirect to the login page, the API
/// and server functions answer 401.
pub async fn guard(request: Request, next: Next) -> Response {
    let path = request.uri().path();
    if is_public(path) || request.extensions().get::<Caller>().is_some() {
        return next.run(request).await;
    }
    let is_page =
        matches!(*request.method(), Method::GET | Method::HEAD) && !path.starts_with("/api/");
    if is_page {
        return Redirect::to(&login_url(request.uri())).into_response();
    }
    (StatusCode::UNAUTHORIZED, "log in first").into_response()
}

/// `/login?next=<where the visitor was going>`.
fn login_url(uri: &Uri) -> String {
    let target = uri.path_and_query().map_or("/", |p| p.as_str());
    let encoded: String = target
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect();
    format!("/login?next={encoded}")
}

/// Refuses state-changing browser requests that come from another site,
/// on top of the SameSite=Strict cookie: the `Origin` must be this site's
/// (the public URL's, or the host the request was sent to), and
/// `Sec-Fetch-Site`, when sent, must say same-origin. Requests without
/// either header and without a cookie (scripts with a bearer token) pass.
pub async fn same_origin(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let safe_method = matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    if safe_method || is_machine_route(request.uri().path()) {
        return next.run(request).await;
    }
    let headers = request.headers();
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
    };
    let origin_ok = text("origin").map(|origin| {
        let host = text("host");
        origin == state.settings.public_url.origin()
            || origin
                .split_once("://")
                .is_some_and(|(_, authority)| Some(authority) == host)
    });
    let fetch_site_ok = text("sec-fetch-site").map(|site| matches!(site, "same-origin" | "none"));
    let has_cookie = headers.contains_key(header::COOKIE);
    let allowed = match (origin_ok, fetch_site_ok) {
        (Some(false), _) | (_, Some(false)) => false,
        (Some(true), _) | (_, Some(true)) => true,
        (None, None) => !has_cookie,
    };
    if !allowed {
        tracing::warn!(path = %request.uri().path(), "cross-site request refused");
        return (StatusCode::FORBIDDEN, "cross-site request refused").into_response();
    }
    next.run(request).await
}

/// Headers every response carries. Pages add their own
/// Content-Security-Policy with a per-response nonce (see `ui::shell`);
/// everything else gets a strict default.
pub async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    headers.insert("referrer-policy", HeaderValue::from_static("same-origin"));
    headers.insert("x-frame-options", HeaderValue::from_static("DENY"));
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'self'; frame-ancestors 'none'"),
        );
    }
    response
}

/// The caller of the current server function or page render.
pub fn caller() -> Option<Caller> {
    use_context::<axum::http::request::Parts>()?
        .extensions
        .get::<Caller>()
        .cloned()
}

/// The caller, if it may act as `role`; otherwise an error, with the
/// response status set to 401 (nobody) or 403 (not allowed).
pub fn require(role: Role) -> Result<Caller, ServerFnError> {
    let (status, message) = match caller() {
        Some(caller) if caller.role.allows(role) => return Ok(caller),
        Some(_) => (StatusCode::FORBIDDEN, "your role does not allow this"),
        None => (StatusCode::UNAUTHORIZED, "log in first"),
    };
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(status);
    }
    Err(ServerFnError::new(message))
}

/// The address a request came from, for throttling and the audit log.
pub fn remote_addr() -> Option<String> {
    let parts = use_context::<axum::http::request::Parts>()?;
    parts
        .extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|info| info.0.ip().to_string())
}
