//! `/api/live`: Server-Sent Events with resume from `Last-Event-ID`.

use std::time::Duration;

use whats91_ops::{auth::tokens, model::Role};

use crate::helpers::{fixture, new_destination, spawn_app, TestApp, FIXTURES};

/// Reads the stream until `count` messages of type `kind` arrived (or 5 s
/// passed) and returns them in order, whole.
async fn messages(response: &mut reqwest::Response, kind: &str, count: usize) -> Vec<String> {
    let mut text = String::new();
    let mut found = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while found.len() < count {
        let chunk = tokio::time::timeout_at(deadline, response.chunk()).await;
        let Ok(Ok(Some(chunk))) = chunk else { break };
        text.push_str(&String::from_utf8_lossy(&chunk));
        // Complete messages end with a blank line.
        while let Some(end) = text.find("\n\n") {
            let message: String = text.drain(..end + 2).collect();
            if message.lines().any(|l| l == format!("event: {kind}")) {
                found.push(message);
            }
        }
    }
    found
}

/// Reads the stream until `count` delivery ids arrived (or 5 s passed) and
/// returns them in order.
async fn delivery_ids(response: &mut reqwest::Response, count: usize) -> Vec<i64> {
    messages(response, "delivery", count)
        .await
        .iter()
        .map(|message| {
            let id = message
                .lines()
                .find_map(|l| l.strip_prefix("id: "))
                .unwrap();
            id.trim().parse().unwrap()
        })
        .collect()
}

async fn open(app: &TestApp, token: &str, last_event_id: Option<&str>) -> reqwest::Response {
    open_at(app, "/api/live", token, last_event_id).await
}

async fn open_at(
    app: &TestApp,
    path: &str,
    token: &str,
    last_event_id: Option<&str>,
) -> reqwest::Response {
    let mut request = app.client.get(app.url(path)).bearer_auth(token);
    if let Some(id) = last_event_id {
        request = request.header("last-event-id", id);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    response
}

#[tokio::test]
async fn a_reconnecting_client_gets_what_it_missed_then_the_live_feed_without_gaps() {
    let app = spawn_app().await;
    app.register(new_destination("crm")).await;
    for name in &FIXTURES[..5] {
        app.deliver("crm", &fixture(name)).await;
    }
    let token = tokens::create(&app.state.db.pool, "live", Role::Viewer)
        .await
        .unwrap();

    let mut resumed = open(&app, &token, Some("2")).await;
    assert_eq!(
        delivery_ids(&mut resumed, 3).await,
        [3, 4, 5],
        "the missed ones, from the log"
    );
    for name in &FIXTURES[5..7] {
        app.deliver("crm", &fixture(name)).await;
    }
    assert_eq!(
        delivery_ids(&mut resumed, 2).await,
        [6, 7],
        "then live, in order"
    );
}

#[tokio::test]
async fn a_new_client_gets_only_what_arrives_after_it_connects() {
    let app = spawn_app().await;
    app.register(new_destination("crm")).await;
    app.deliver("crm", &fixture("inbound_text")).await;
    let token = tokens::create(&app.state.db.pool, "live", Role::Viewer)
        .await
        .unwrap();
    let mut fresh = open(&app, &token, None).await;
    // The stream is open once its headers arrived; deliver after that.
    tokio::time::sleep(Duration::from_millis(50)).await;
    app.deliver("crm", &fixture("status_sent")).await;
    assert_eq!(delivery_ids(&mut fresh, 1).await, [2]);
}

#[tokio::test]
async fn the_live_channel_needs_a_login() {
    let app = spawn_app().await;
    let response = app.client.get(app.url("/api/live")).send().await.unwrap();
    assert_eq!(response.status(), 401);
}

#[tokio::test]
async fn a_stream_reopened_by_the_page_resumes_after_the_id_it_names() {
    let app = spawn_app().await;
    app.register(new_destination("crm")).await;
    for name in &FIXTURES[..4] {
        app.deliver("crm", &fixture(name)).await;
    }
    let token = tokens::create(&app.state.db.pool, "live", Role::Viewer)
        .await
        .unwrap();

    let mut reopened = open_at(&app, "/api/live?after=1", &token, None).await;
    assert_eq!(delivery_ids(&mut reopened, 3).await, [2, 3, 4]);

    // The browser's own retry carries a newer id in the header: it wins.
    let mut retried = open_at(&app, "/api/live?after=1", &token, Some("3")).await;
    assert_eq!(delivery_ids(&mut retried, 1).await, [4]);
}

#[tokio::test]
async fn an_acknowledgement_reaches_every_open_stream() {
    let app = spawn_app().await;
    app.register(new_destination("crm")).await;
    app.deliver("crm", &fixture("template_rejected")).await;
    app.projected().await;
    let alert = app.scalar("SELECT id FROM alerts").await;
    let token = tokens::create(&app.state.db.pool, "ops", Role::Operator)
        .await
        .unwrap();
    let mut stream = open(&app, &token, None).await;
    tokio::time::sleep(Duration::from_millis(50)).await;

    let acked = app
        .client
        .post(app.url(&format!("/api/v1/alerts/{alert}/acknowledge")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(acked.status(), 200);
    let changes = messages(&mut stream, "changes", 1).await;
    let data = changes
        .first()
        .and_then(|m| m.lines().find_map(|l| l.strip_prefix("data: ")))
        .expect("a changes message");
    let changes: whats91_ops::model::Changes = serde_json::from_str(data).unwrap();
    assert_eq!(changes.acknowledged, [alert].into());
}
