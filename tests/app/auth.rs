//! Accounts, sessions, roles, API tokens, CSRF and security headers,
//! through the real router.

use std::time::Duration;

use reqwest::StatusCode;
use whats91_ops::{
    auth::{tokens, users},
    model::Role,
    ui::App,
};

use crate::helpers::{
    fixture, new_destination, spawn_app, spawn_app_with, unlinked_destination, ADMIN_PASSWORD,
};

/// Routes anyone may reach, by design.
fn is_documented_public(path: &str) -> bool {
    path == "/login" || path == "/api/login"
}

#[tokio::test]
async fn every_route_refuses_a_caller_without_a_session_except_the_public_ones() {
    let app = spawn_app().await;
    let pages: Vec<String> = leptos_axum::generate_route_list(App)
        .into_iter()
        .map(|route| route.path().to_owned())
        .collect();
    assert!(pages.len() >= 8, "{pages:?}");
    for page in &pages {
        let response = app.client.get(app.url(page)).send().await.unwrap();
        if is_documented_public(page) {
            assert_eq!(response.status(), 200, "{page}");
            continue;
        }
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{page}");
        let location = response.headers()["location"].to_str().unwrap().to_owned();
        assert!(location.starts_with("/login?next="), "{page} -> {location}");
    }
    // An unknown page is refused the same way, not answered.
    let unknown = app
        .client
        .get(app.url("/no-such-page"))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), StatusCode::SEE_OTHER);

    let functions: Vec<(String, String)> = leptos::server_fn::axum::server_fn_paths()
        .map(|(path, method)| (path.to_owned(), method.to_string()))
        .collect();
    assert!(functions.len() >= 10, "{functions:?}");
    for (path, method) in &functions {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let response = app
            .client
            .request(method, app.url(path))
            .send()
            .await
            .unwrap();
        if is_documented_public(path) {
            assert_ne!(response.status(), 200, "{path} without credentials");
            continue;
        }
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{path}");
    }

    for public in ["/healthz", "/readyz", "/metrics"] {
        let response = app.client.get(app.url(public)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{public}");
    }
    let receiver = app
        .client
        .post(app.url("/webhooks/whats91/x"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        receiver.status(),
        404,
        "the receiver answers by its own rules"
    );
}

#[tokio::test]
async fn each_role_may_do_what_it_is_allowed_and_nothing_more() {
    let app = spawn_app().await;
    app.register(unlinked_destination("crm")).await;
    app.deliver("crm", &fixture("template_rejected")).await;
    app.projected().await;
    let alert: i64 = app.scalar("SELECT id FROM alerts").await;

    for (name, role, may_acknowledge, may_toggle, may_audit) in [
        ("vera", Role::Viewer, false, false, false),
        ("otto", Role::Operator, true, false, false),
        ("ada", Role::Admin, true, true, true),
    ] {
        let password = app.add_user(name, role).await;
        let client = app.logged_in(name, &password).await;
        let post = |path: &str, form: Vec<(&'static str, String)>| {
            client.post(app.url(path)).form(&form).send()
        };
        let expect = |allowed: bool| {
            if allowed {
                StatusCode::OK
            } else {
                StatusCode::FORBIDDEN
            }
        };

        let read = client.get(app.url("/deliveries")).send().await.unwrap();
        assert_eq!(read.status(), 200, "{name} reads");
        let ack = post("/api/acknowledge_alert", vec![("id", alert.to_string())])
            .await
            .unwrap();
        assert_eq!(ack.status(), expect(may_acknowledge), "{name} acknowledges");
        let toggle = post(
            "/api/set_destination_status",
            vec![("slug", "crm".into()), ("active", "false".into())],
        )
        .await
        .unwrap();
        assert_eq!(toggle.status(), expect(may_toggle), "{name} toggles");
        let audit = post("/api/audit_entries", vec![("filter", String::new())])
            .await
            .unwrap();
        assert_eq!(
            audit.status(),
            expect(may_audit),
            "{name} reads the audit log"
        );
    }
    let status: String = sqlx::query_scalar("SELECT status FROM destinations WHERE slug = 'crm'")
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap();
    assert_eq!(status, "INACTIVE", "only the admin's toggle went through");
    let acks = app.scalar("SELECT COUNT(*) FROM alert_acks").await;
    assert_eq!(
        acks, 1,
        "acknowledged once; the second acknowledgement kept the first"
    );
    let audited = app
        .scalar("SELECT COUNT(*) FROM audit_log WHERE action IN ('alert.acknowledge', 'destination.set_status')")
        .await;
    assert_eq!(audited, 3);
}

#[tokio::test]
async fn wrong_passwords_and_disabled_users_get_one_generic_refusal() {
    let app = spawn_app().await;
    let password = app.add_user("otto", Role::Operator).await;
    let client = reqwest::Client::new();
    let wrong = app.login(&client, "otto", "not-his-password").await;
    let unknown = app.login(&client, "nobody", "whatever-password").await;
    let (wrong_status, wrong_text) = (wrong.status(), wrong.text().await.unwrap());
    let (unknown_status, unknown_text) = (unknown.status(), unknown.text().await.unwrap());
    assert_eq!((wrong_status, &wrong_text), (unknown_status, &unknown_text));
    assert_eq!(wrong_status, StatusCode::UNAUTHORIZED);
    assert!(
        wrong_text.contains("Invalid username or password"),
        "{wrong_text}"
    );

    // A session of a user who is then disabled stops working.
    let session = app.logged_in("otto", &password).await;
    assert_eq!(app.status_of(&session, "/events").await, 200);
    users::disable(&app.state.db.pool, "otto").await.unwrap();
    assert_eq!(
        app.status_of(&session, "/events").await,
        StatusCode::SEE_OTHER
    );
    let again = app.login(&reqwest::Client::new(), "otto", &password).await;
    assert!(!again.status().is_success() && !again.status().is_redirection());

    let failures = app
        .scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'login.failed'")
        .await;
    assert_eq!(failures, 3);
    let metrics = app.metrics().await;
    assert!(metrics.contains("reason=\"login_failed\"} 3"), "{metrics}");
}

fn session_cookie(response: &reqwest::Response) -> Option<String> {
    response
        .cookies()
        .find(|c| c.name() == "whats91_ops_session")
        .map(|c| format!("{}={}", c.name(), c.value()))
}

#[tokio::test]
async fn login_issues_a_new_session_id_and_logout_ends_it() {
    let app = spawn_app().await;
    let mut origin = reqwest::header::HeaderMap::new();
    origin.insert("origin", app.url("").parse().unwrap());
    let client = reqwest::Client::builder()
        .default_headers(origin)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let first = session_cookie(&app.login(&client, "admin", ADMIN_PASSWORD).await).unwrap();
    let second_login = client
        .post(app.url("/api/login"))
        .header("cookie", &first)
        .form(&[("username", "admin"), ("password", ADMIN_PASSWORD)])
        .send()
        .await
        .unwrap();
    let second = session_cookie(&second_login).unwrap();
    assert_ne!(
        first, second,
        "a login never keeps the session id it arrived with"
    );
    let with = |cookie: &str| {
        client
            .get(app.url("/events"))
            .header("cookie", cookie.to_owned())
            .send()
    };
    assert_eq!(
        with(&first).await.unwrap().status(),
        StatusCode::SEE_OTHER,
        "the old id is gone"
    );
    assert_eq!(with(&second).await.unwrap().status(), 200);

    let logout = client
        .post(app.url("/api/logout"))
        .header("cookie", &second)
        .send()
        .await
        .unwrap();
    assert!(
        logout.status().is_redirection() || logout.status() == 200,
        "{logout:?}"
    );
    assert_eq!(with(&second).await.unwrap().status(), StatusCode::SEE_OTHER);
    let actions: Vec<String> =
        sqlx::query_scalar("SELECT action FROM audit_log WHERE actor = 'admin' ORDER BY id")
            .fetch_all(&app.state.db.pool)
            .await
            .unwrap();
    assert_eq!(actions, ["login", "login", "logout"]);
}

#[tokio::test]
async fn an_idle_session_expires() {
    let app = spawn_app_with(|s| s.session_idle = Duration::from_secs(1)).await;
    let client = app.admin().await;
    assert_eq!(app.status_of(&client, "/events").await, 200);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(
        app.status_of(&client, "/events").await,
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn cross_site_posts_to_server_functions_are_refused() {
    let app = spawn_app().await;
    app.register(unlinked_destination("crm")).await;
    let admin = app.admin().await;
    let toggle = |origin: &'static str, site: Option<&'static str>| {
        let mut request = admin
            .post(app.url("/api/set_destination_status"))
            .header("origin", origin)
            .form(&[("slug", "crm"), ("active", "false")]);
        if let Some(site) = site {
            request = request.header("sec-fetch-site", site);
        }
        request.send()
    };
    let evil = toggle("https://evil.example", Some("cross-site"))
        .await
        .unwrap();
    assert_eq!(evil.status(), StatusCode::FORBIDDEN);
    let lying_origin = toggle("https://evil.example", None).await.unwrap();
    assert_eq!(lying_origin.status(), StatusCode::FORBIDDEN);
    let same = toggle("http://127.0.0.1:3000", Some("same-origin"))
        .await
        .unwrap();
    assert_eq!(
        same.status(),
        200,
        "the configured public origin is this site"
    );
    // A cookie without Origin or Sec-Fetch-Site is not a browser we trust.
    let no_origin = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    app.login(&no_origin, "admin", ADMIN_PASSWORD).await;
    let bare = no_origin
        .post(app.url("/api/set_destination_status"))
        .form(&[("slug", "crm"), ("active", "true")])
        .send()
        .await
        .unwrap();
    assert_eq!(bare.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn api_tokens_authenticate_until_revoked_and_carry_their_role() {
    let app = spawn_app().await;
    app.register(new_destination("crm")).await;
    let pool = &app.state.db.pool;
    let token = tokens::create(pool, "reporting", Role::Viewer)
        .await
        .unwrap();
    let stored: String = sqlx::query_scalar("SELECT token_sha256 FROM api_tokens")
        .fetch_one(pool)
        .await
        .unwrap();
    assert!(
        !stored.contains(&token) && stored.len() == 64,
        "only a digest is kept"
    );

    let call = |path: &'static str, token: String| {
        app.client
            .post(app.url(path))
            .bearer_auth(token)
            .form(&[("slug", "crm"), ("active", "false"), ("filter", "")])
            .send()
    };
    assert_eq!(
        call("/api/audit_entries", token.clone())
            .await
            .unwrap()
            .status(),
        StatusCode::FORBIDDEN
    );
    let page = app
        .client
        .get(app.url("/deliveries"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let used: Option<i64> = sqlx::query_scalar("SELECT last_used_at FROM api_tokens")
        .fetch_one(pool)
        .await
        .unwrap();
    assert!(used.is_some());

    tokens::revoke(pool, "reporting").await.unwrap();
    let revoked = app
        .client
        .get(app.url("/deliveries"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), StatusCode::SEE_OTHER);
    let forged = call("/api/audit_entries", "w91ops_forged".into())
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn pages_carry_security_headers_with_a_nonce_for_hydration() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let page = admin.get(app.url("/templates")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let headers = page.headers().clone();
    let csp = headers["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("frame-ancestors 'none'") && csp.contains("'wasm-unsafe-eval'"),
        "{csp}"
    );
    let nonce = csp
        .split("'nonce-")
        .nth(1)
        .unwrap()
        .split('\'')
        .next()
        .unwrap()
        .to_owned();
    let html = page.text().await.unwrap();
    assert!(
        html.contains(&format!("nonce=\"{nonce}\"")),
        "the hydration script carries the nonce"
    );
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["referrer-policy"], "same-origin");
    let login = app.client.get(app.url("/login")).send().await.unwrap();
    assert!(login.headers().contains_key("content-security-policy"));
}
