//! `/api/live`: Server-Sent Events with resume from `Last-Event-ID`.

use std::time::Duration;

use whats91_ops::{auth::tokens, model::Role};

use crate::helpers::{fixture, new_destination, spawn_app, TestApp, FIXTURES};

/// Reads the stream until `count` delivery ids arrived (or 5 s passed) and
/// returns them in order.
async fn delivery_ids(response: &mut reqwest::Response, count: usize) -> Vec<i64> {
    let mut text = String::new();
    let mut ids = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while ids.len() < count {
        let chunk = tokio::time::timeout_at(deadline, response.chunk()).await;
        let Ok(Ok(Some(chunk))) = chunk else { break };
        text.push_str(&String::from_utf8_lossy(&chunk));
        // Complete messages end with a blank line.
        while let Some(end) = text.find("\n\n") {
            let message: String = text.drain(..end + 2).collect();
            if message.contains("event: delivery") {
                let id = message
                    .lines()
                    .find_map(|l| l.strip_prefix("id: "))
                    .unwrap();
                ids.push(id.trim().parse().unwrap());
            }
        }
    }
    ids
}

async fn open(app: &TestApp, token: &str, last_event_id: Option<&str>) -> reqwest::Response {
    let mut request = app.client.get(app.url("/api/live")).bearer_auth(token);
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
