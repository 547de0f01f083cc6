use crate::helpers::spawn_app;

#[tokio::test]
async fn healthz_answers_ok_while_the_process_is_up() {
    let app = spawn_app().await;
    let response = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "ok");
}

#[tokio::test]
async fn readyz_answers_ok_when_the_database_answers() {
    let app = spawn_app().await;
    let response = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn readyz_answers_503_once_the_database_is_gone() {
    let app = spawn_app().await;
    app.state.db.pool.close().await;
    let response = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(response.status(), 503);
}

#[tokio::test]
async fn migrations_apply_to_a_fresh_file_and_create_the_event_log() {
    let app = spawn_app().await;
    assert!(
        app.database.exists(),
        "the database file is created on start"
    );
    let tables: Vec<String> =
        sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
            .fetch_all(&app.state.db.pool)
            .await
            .unwrap();
    for expected in ["destinations", "events", "rejected_attempts"] {
        assert!(
            tables.iter().any(|t| t == expected),
            "{expected} missing from {tables:?}"
        );
    }
    let journal: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap();
    assert_eq!(journal, "wal");
}

#[tokio::test]
async fn pages_are_rendered_on_the_server_with_navigation_to_every_page() {
    let app = spawn_app().await;
    let response = app
        .admin()
        .await
        .get(app.url("/events"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let html = response.text().await.unwrap();
    assert!(html.contains("<h1>Events</h1>"), "heading missing: {html}");
    for href in [
        "/events",
        "/conversations",
        "/deliveries",
        "/templates",
        "/destinations",
        "/audit",
    ] {
        assert!(
            html.contains(&format!("href=\"{href}\"")),
            "no link to {href}"
        );
    }
}

#[tokio::test]
async fn an_unknown_page_answers_404() {
    let app = spawn_app().await;
    let response = app
        .admin()
        .await
        .get(app.url("/no-such-page"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
}
