//! The JSON API under `/api/v1/`: tokens, filters, paging, and roles.

use reqwest::StatusCode;
use serde_json::Value;
use whats91_ops::{auth::tokens, model::Role};

use crate::helpers::{fixture, new_destination, spawn_app, TestApp, FIXTURES, SECRET, TOKEN};

async fn token(app: &TestApp, name: &str, role: Role) -> String {
    tokens::create(&app.state.db.pool, name, role)
        .await
        .unwrap()
}

async fn get(app: &TestApp, token: &str, path: &str) -> (StatusCode, Value) {
    let response = app
        .client
        .get(app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// A log with every fixture, projected.
async fn app_with_fixtures() -> TestApp {
    let app = spawn_app().await;
    app.register(new_destination("crm")).await;
    for name in FIXTURES {
        assert_eq!(
            app.deliver("crm", &fixture(name)).await.status(),
            200,
            "{name}"
        );
    }
    assert_eq!(app.deliver("crm", b"not json").await.status(), 400);
    app.projected().await;
    app
}

#[tokio::test]
async fn a_token_lists_the_deliveries_of_one_recipient_as_json() {
    let app = app_with_fixtures().await;
    let viewer = token(&app, "reporting", Role::Viewer).await;
    let (status, page) = get(&app, &viewer, "/api/v1/deliveries?recipient=919888888888").await;
    assert_eq!(status, 200);
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["message_id"], "wamid.OUT0001");
    assert_eq!(items[0]["status"], "read");

    let (_, failed) = get(
        &app,
        &viewer,
        "/api/v1/deliveries?status=failed&error=131049",
    )
    .await;
    assert_eq!(failed["items"][0]["message_id"], "wamid.OUT0003");
    let (_, timeline) = get(&app, &viewer, "/api/v1/deliveries/wamid.OUT0001").await;
    let statuses: Vec<&str> = timeline["statuses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["sent", "delivered", "read"]);
    let (missing, _) = get(&app, &viewer, "/api/v1/deliveries/wamid.NOPE").await;
    assert_eq!(missing, 404);
    let (bad, _) = get(&app, &viewer, "/api/v1/deliveries?after=garbage").await;
    assert_eq!(bad, 400);
}

#[tokio::test]
async fn events_filter_by_key_destination_and_flag_and_page_by_cursor() {
    let app = app_with_fixtures().await;
    let viewer = token(&app, "reporting", Role::Viewer).await;
    let (_, statuses) = get(&app, &viewer, "/api/v1/events?event=message.status.failed").await;
    assert_eq!(statuses["items"].as_array().unwrap().len(), 2);
    let (_, flagged) = get(&app, &viewer, "/api/v1/events?flag=malformed").await;
    assert_eq!(flagged["items"].as_array().unwrap().len(), 1);
    let (bad_flag, _) = get(&app, &viewer, "/api/v1/events?flag=nonsense").await;
    assert_eq!(bad_flag, 400);
    let (_, other) = get(&app, &viewer, "/api/v1/events?destination=elsewhere").await;
    assert!(other["items"].as_array().unwrap().is_empty());

    let mut seen = Vec::new();
    let mut path = "/api/v1/events?limit=4".to_owned();
    loop {
        let (_, page) = get(&app, &viewer, &path).await;
        seen.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["seq"].as_i64().unwrap()),
        );
        match page["next"].as_str() {
            Some(next) => path = format!("/api/v1/events?limit=4&after={next}"),
            None => break,
        }
    }
    assert_eq!(seen, (1..=11).rev().collect::<Vec<i64>>());

    let (_, one) = get(&app, &viewer, "/api/v1/events/1").await;
    assert_eq!(one["body"]["data"]["text"], "I need help with my order");
    let (_, raw) = get(&app, &viewer, "/api/v1/events/11").await;
    assert_eq!(raw["bodyText"], "not json");
}

#[tokio::test]
async fn conversations_templates_alerts_and_destinations_answer_as_json() {
    let app = app_with_fixtures().await;
    let viewer = token(&app, "reporting", Role::Viewer).await;
    let (_, found) = get(&app, &viewer, "/api/v1/conversations?q=order").await;
    assert_eq!(found["items"][0]["phone"], "919888888888");
    let (_, thread) = get(&app, &viewer, "/api/v1/conversations/919888888888").await;
    assert_eq!(thread["items"].as_array().unwrap().len(), 2);
    let (_, templates) = get(&app, &viewer, "/api/v1/templates").await;
    assert_eq!(templates.as_array().unwrap().len(), 2);
    let (_, open) = get(&app, &viewer, "/api/v1/alerts?open=true").await;
    assert_eq!(open.as_array().unwrap().len(), 1);
    let (_, destinations) = get(&app, &viewer, "/api/v1/destinations").await;
    let text = destinations.to_string();
    assert!(text.contains("/webhooks/whats91/crm"), "{text}");
    assert!(
        !text.contains(SECRET) && !text.contains(TOKEN),
        "no secret leaves the server"
    );
}

#[tokio::test]
async fn changes_through_the_api_check_the_same_roles_as_the_pages() {
    let app = app_with_fixtures().await;
    let alert = app.scalar("SELECT id FROM alerts").await;
    let post = |token: String, path: String, body: Value| {
        app.client
            .post(app.url(&path))
            .bearer_auth(token)
            .json(&body)
            .send()
    };
    // Registered by hand: no Whats91 webhook to switch first.
    sqlx::query("UPDATE destinations SET webhook_uid = NULL")
        .execute(&app.state.db.pool)
        .await
        .unwrap();
    let ack = format!("/api/v1/alerts/{alert}/acknowledge");
    let toggle = "/api/v1/destinations/crm/status".to_owned();
    let off = serde_json::json!({ "status": "INACTIVE" });
    for (name, role, ack_status, toggle_status) in [
        ("v", Role::Viewer, 403, 403),
        ("o", Role::Operator, 200, 403),
        ("a", Role::Admin, 200, 200),
    ] {
        let token = token(&app, name, role).await;
        let acked = post(token.clone(), ack.clone(), Value::Null).await.unwrap();
        assert_eq!(acked.status(), ack_status, "{name} acknowledges");
        let toggled = post(token, toggle.clone(), off.clone()).await.unwrap();
        assert_eq!(toggled.status(), toggle_status, "{name} toggles");
    }
    let status: String = sqlx::query_scalar("SELECT status FROM destinations")
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap();
    assert_eq!(status, "INACTIVE");
}

#[tokio::test]
async fn every_api_route_refuses_a_caller_without_credentials() {
    let app = spawn_app().await;
    for path in [
        "/api/v1/events",
        "/api/v1/events/1",
        "/api/v1/conversations",
        "/api/v1/conversations/1",
        "/api/v1/deliveries",
        "/api/v1/deliveries/x",
        "/api/v1/templates",
        "/api/v1/alerts",
        "/api/v1/destinations",
    ] {
        let response = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 401, "{path}");
        let forged = app
            .client
            .get(app.url(path))
            .bearer_auth("w91ops_nope")
            .send()
            .await
            .unwrap();
        assert_eq!(forged.status(), 401, "{path} with a forged token");
    }
    for path in [
        "/api/v1/alerts/1/acknowledge",
        "/api/v1/destinations/crm/status",
    ] {
        let response = app.client.post(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 401, "{path}");
    }
}
