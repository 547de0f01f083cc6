//! The Whats91 client, destination management and the `simulate` stand-in,
//! against each other over real HTTP on loopback.

use std::{
    process::{Command, Output},
    time::Duration,
};

use serde_json::{json, Value};
use whats91_ops::{
    config::PublicUrl,
    destinations::{Actor, CreateThroughWhats91},
    simulate::{self, SimWebhook, SimulateConfig, Simulator},
    store::destinations::{self, DestinationError, DestinationStatus, Secret},
    whats91::{NewWebhook, WebhookUpdate, Whats91Client, Whats91Error},
};

use crate::helpers::{spawn_app_at, TestApp};

const BINARY: &str = env!("CARGO_BIN_EXE_whats91-ops");

fn client_for(sim: &Simulator, token: &str) -> Whats91Client {
    Whats91Client::new(&sim.api_url(), Secret::new(token)).unwrap()
}

/// The simulator's token, read back from its own config.
fn token_of(config: &SimulateConfig) -> String {
    config.token.expose().to_owned()
}

/// A simulator sending `rate` deliveries per second, and a client for it.
async fn simulator_and_client(rate: f64) -> (Simulator, Whats91Client, String) {
    let config = SimulateConfig::local(rate);
    let token = token_of(&config);
    let sim = simulate::spawn(config).await.expect("simulator");
    let client = client_for(&sim, &token);
    (sim, client, token)
}

/// An app whose public URL is its own address and whose Whats91 client
/// talks to `sim`.
async fn app_for(sim: &Simulator, token: &str) -> TestApp {
    let api_url = sim.api_url();
    let token = token.to_owned();
    spawn_app_at(move |settings, addr| {
        settings.public_url = PublicUrl::parse(&format!("http://{addr}")).unwrap();
        settings.whats91_api_url = api_url;
        settings.whats91_api_token = Some(Secret::new(token));
    })
    .await
}

fn new_webhook(name: &str) -> NewWebhook {
    NewWebhook {
        name: name.to_owned(),
        endpoint_url: "http://127.0.0.1:9/webhooks/whats91/nowhere".to_owned(),
        events: vec!["message.inbound.text".to_owned()],
        status: Some(DestinationStatus::Inactive),
        ..NewWebhook::default()
    }
}

fn create_request(slug: &str, start_inactive: bool) -> CreateThroughWhats91 {
    CreateThroughWhats91 {
        name: format!("{slug} desk"),
        slug: slug.to_owned(),
        events: simulate::story::EVENT_KEYS.map(String::from).to_vec(),
        verification_header_key: "X-CRM-Webhook-Token".to_owned(),
        verification_token: Some(Secret::new("crm-token-never-shown")),
        start_inactive,
        sender_id: None,
    }
}

/// Polls `check` for up to five seconds.
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..250 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{what} did not happen within five seconds");
}

fn sim_webhook(sim: &Simulator, uid: &str) -> SimWebhook {
    sim.webhook(uid).expect("the simulator knows the webhook")
}

#[tokio::test]
async fn a_webhook_created_through_whats91_receives_deliveries_its_stored_secret_verifies() {
    let (sim, _, token) = simulator_and_client(100.0).await;
    let app = app_for(&sim, &token).await;
    let created = app
        .state
        .manage_destinations()
        .create_through_whats91(create_request("crm", false), Actor::command_line())
        .await
        .expect("created");

    let destination = created.destination;
    let uid = destination.webhook_uid.clone().expect("linked");
    let remote = sim_webhook(&sim, &uid);
    assert_eq!(created.receiver_url, app.url("/webhooks/whats91/crm"));
    assert_eq!(remote.endpoint_url, created.receiver_url);
    assert_eq!(
        destination.signing_secret.as_ref().map(Secret::expose),
        Some(remote.signing_secret.expose())
    );
    assert!(remote.signing_secret.expose().starts_with("whsec_"));
    assert_eq!(
        destination.sender_id.as_deref(),
        Some(simulate::DEFAULT_SENDER)
    );

    eventually("ten verified deliveries", || async {
        app.scalar(
            "SELECT COUNT(*) FROM events
             WHERE signature_checked = 1 AND token_checked = 1 AND malformed = 0
               AND uid_mismatch = 0 AND not_subscribed = 0",
        )
        .await
            >= 10
    })
    .await;
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM rejected_attempts").await,
        0
    );
    let audit = app
        .scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'destination.create'")
        .await;
    assert_eq!(audit, 1);
    let leaked = app
        .scalar(
            "SELECT COUNT(*) FROM audit_log
             WHERE detail LIKE '%whsec_%' OR detail LIKE '%never-shown%'",
        )
        .await;
    assert_eq!(leaked, 0, "a secret reached the audit log");
    sim.stop().await;
}

#[tokio::test]
async fn the_list_follows_every_page_and_never_shows_secrets() {
    let (sim, client, token) = simulator_and_client(0.0).await;
    let mut created = Vec::new();
    for n in 0..120 {
        let webhook = client
            .create(&new_webhook(&format!("hook {n}")))
            .await
            .unwrap();
        created.push(webhook.webhook.uid);
    }

    let all = client.list_all().await.unwrap();
    let uids: Vec<String> = all.iter().map(|w| w.uid.clone()).collect();
    assert_eq!(uids, created);
    let last = client.list_page(3, 50).await.unwrap();
    assert_eq!(last.webhooks.len(), 20);
    assert_eq!(last.total_pages, Some(3));
    assert_eq!(last.total, Some(120));

    let raw = reqwest::Client::new()
        .get(format!("{}/webhooks?page=1&limit=100", sim.api_url()))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!raw.contains("whsec_"), "the list showed a secret");
    sim.stop().await;
}

#[tokio::test]
async fn an_update_switches_a_webhook_off_and_on_and_keeps_its_secret() {
    let (sim, client, _) = simulator_and_client(0.0).await;
    let created = client.create(&new_webhook("toggle")).await.unwrap();
    let uid = created.webhook.uid.clone();
    assert_eq!(created.webhook.status, "INACTIVE");

    let on = client
        .update(&uid, &WebhookUpdate::status(DestinationStatus::Active))
        .await
        .unwrap();
    assert_eq!(on.status, "ACTIVE");
    assert_eq!(client.get(&uid).await.unwrap().status, "ACTIVE");
    let off = client
        .update(&uid, &WebhookUpdate::status(DestinationStatus::Inactive))
        .await
        .unwrap();
    assert_eq!(off.local_status(), DestinationStatus::Inactive);
    assert_eq!(
        sim_webhook(&sim, &uid).signing_secret,
        created.signing_secret
    );
    sim.stop().await;
}

/// Queues an injected error through the control endpoint, as a test
/// script would.
async fn inject(sim: &Simulator, token: &str, body: Value) {
    let response = reqwest::Client::new()
        .post(format!("http://{}/_simulate/fail", sim.addr))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{:?}", response.text().await);
}

#[tokio::test]
async fn every_documented_error_code_becomes_its_typed_error() {
    let (sim, client, token) = simulator_and_client(0.0).await;
    type Check = fn(&Whats91Error) -> bool;
    let cases: [(&str, Check); 9] = [
        ("MISSING_AUTH_TOKEN", |e| {
            matches!(e, Whats91Error::MissingAuthToken)
        }),
        ("INVALID_AUTH_TOKEN", |e| {
            matches!(e, Whats91Error::InvalidAuthToken)
        }),
        ("FEATURE_NOT_AVAILABLE", |e| {
            matches!(e, Whats91Error::FeatureNotAvailable)
        }),
        ("WHATSAPP_SETUP_INCOMPLETE", |e| {
            matches!(e, Whats91Error::WhatsappSetupIncomplete)
        }),
        (
            "VALIDATION_FAILED",
            |e| matches!(e, Whats91Error::ValidationFailed { details, .. } if !details.is_empty()),
        ),
        ("WEBHOOK_ENDPOINT_INVALID", |e| {
            matches!(e, Whats91Error::WebhookEndpointInvalid)
        }),
        ("WEBHOOK_ENDPOINT_REQUIRES_HTTPS", |e| {
            matches!(e, Whats91Error::WebhookEndpointRequiresHttps)
        }),
        ("WEBHOOK_NOT_FOUND", |e| {
            matches!(e, Whats91Error::WebhookNotFound)
        }),
        ("UNSUPPORTED_CONTENT_TYPE", |e| {
            matches!(e, Whats91Error::UnsupportedContentType)
        }),
    ];
    for (code, check) in cases {
        inject(&sim, &token, json!({"code": code, "on": "events"})).await;
        let error = client.event_catalog().await.unwrap_err();
        assert!(check(&error), "{code} became {error:?}");
        assert_eq!(error.code(), Some(code));
        assert!(!error.to_string().contains(&token));
    }
    inject(&sim, &token, json!({"code": "RATE_LIMITED", "status": 429})).await;
    let error = client.event_catalog().await.unwrap_err();
    assert!(
        matches!(&error, Whats91Error::UnknownCode { status: 429, code, .. } if code == "RATE_LIMITED"),
        "{error:?}"
    );
    assert_eq!(client.event_catalog().await.unwrap().len(), 6);
    sim.stop().await;
}

#[tokio::test]
async fn the_simulator_refuses_bad_requests_with_the_documented_codes() {
    let (sim, client, token) = simulator_and_client(0.0).await;
    let no_token = client_for(&sim, "");
    assert!(matches!(
        no_token.event_catalog().await,
        Err(Whats91Error::MissingAuthToken)
    ));
    let wrong = client_for(&sim, "w91_live_wrong");
    assert!(matches!(
        wrong.event_catalog().await,
        Err(Whats91Error::InvalidAuthToken)
    ));
    assert!(matches!(
        client.get("wh_missing").await,
        Err(Whats91Error::WebhookNotFound)
    ));

    let mut nameless = new_webhook("");
    nameless.events = vec!["message.nope".into()];
    match client.create(&nameless).await {
        Err(Whats91Error::ValidationFailed { details, .. }) => {
            let all = details.join("\n");
            assert!(
                all.contains("webhook.name") && all.contains("message.nope"),
                "{all}"
            );
        }
        other => panic!("{other:?}"),
    }
    let mut plain_http = new_webhook("plain");
    plain_http.endpoint_url = "http://ops.example.com/webhooks/whats91/a".into();
    assert!(matches!(
        client.create(&plain_http).await,
        Err(Whats91Error::WebhookEndpointRequiresHttps)
    ));
    let mut not_a_url = new_webhook("bad");
    not_a_url.endpoint_url = "ops dot example".into();
    assert!(matches!(
        client.create(&not_a_url).await,
        Err(Whats91Error::WebhookEndpointInvalid)
    ));

    let text = reqwest::Client::new()
        .post(format!("{}/webhooks", sim.api_url()))
        .bearer_auth(&token)
        .header("content-type", "text/plain")
        .body("name=x")
        .send()
        .await
        .unwrap();
    assert_eq!(text.status(), 415);
    let body: Value = text.json().await.unwrap();
    assert_eq!(body["error_code"], "UNSUPPORTED_CONTENT_TYPE");
    assert_eq!(body["success"], false);
    assert!(body["metadata"]["requestId"].is_string());
    sim.stop().await;
}

#[tokio::test]
async fn reads_are_retried_once_after_a_server_error_and_writes_never() {
    let (sim, client, token) = simulator_and_client(0.0).await;
    inject(
        &sim,
        &token,
        json!({"code": "INTERNAL", "status": 503, "on": "list"}),
    )
    .await;
    assert!(client.list_all().await.is_ok(), "one 503 is retried");

    let twice = json!({"code": "INTERNAL", "status": 503, "on": "list", "times": 2});
    inject(&sim, &token, twice).await;
    assert!(matches!(
        client.list_all().await,
        Err(Whats91Error::UnknownCode { status: 503, .. })
    ));

    inject(
        &sim,
        &token,
        json!({"code": "INTERNAL", "status": 503, "on": "create"}),
    )
    .await;
    assert!(client.create(&new_webhook("once")).await.is_err());
    assert!(sim.webhooks().is_empty(), "a failed create was retried");
    sim.stop().await;
}

#[tokio::test]
async fn a_refused_toggle_changes_nothing_and_the_api_shows_why() {
    let config = SimulateConfig::local(0.0);
    let token = token_of(&config);
    let sim = simulate::spawn(config).await.unwrap();
    let app = app_for(&sim, &token).await;
    let created = app
        .state
        .manage_destinations()
        .create_through_whats91(create_request("crm", false), Actor::command_line())
        .await
        .unwrap();
    let uid = created.destination.webhook_uid.unwrap();
    sim.inject("FEATURE_NOT_AVAILABLE", "update", 1);

    let admin = app.admin().await;
    let response = admin
        .post(app.url("/api/v1/destinations/crm/status"))
        .json(&json!({"status": "INACTIVE"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 502);
    let body: Value = response.json().await.unwrap();
    let message = body["error"].as_str().unwrap();
    assert!(
        message.contains("does not include Webhooks v2"),
        "{message}"
    );
    assert!(!message.contains(&token));

    let local = destinations::find_by_slug(&app.state.db.pool, "crm")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(local.status, DestinationStatus::Active);
    assert!(sim_webhook(&sim, &uid).active);
    let changes = app
        .scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'destination.set_status'")
        .await;
    assert_eq!(changes, 0);
    sim.stop().await;
}

#[tokio::test]
async fn an_accepted_toggle_switches_both_sides_and_the_deliveries_stop() {
    let (sim, _, token) = simulator_and_client(50.0).await;
    let app = app_for(&sim, &token).await;
    let created = app
        .state
        .manage_destinations()
        .create_through_whats91(create_request("crm", false), Actor::command_line())
        .await
        .unwrap();
    let uid = created.destination.webhook_uid.unwrap();
    eventually("first deliveries", || async {
        app.event_count().await >= 3
    })
    .await;

    let admin = app.admin().await;
    let response = admin
        .post(app.url("/api/v1/destinations/crm/status"))
        .json(&json!({"status": "INACTIVE"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{:?}", response.text().await);
    assert!(!sim_webhook(&sim, &uid).active);
    let local = destinations::find_by_slug(&app.state.db.pool, "crm")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(local.status, DestinationStatus::Inactive);

    // What was already on the wire may still land; nothing after it.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let settled = app.event_count().await;
    let sent = sim_webhook(&sim, &uid).delivered;
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(app.event_count().await, settled);
    assert_eq!(sim_webhook(&sim, &uid).delivered, sent);
    let flagged = app
        .scalar("SELECT COUNT(*) FROM events WHERE while_inactive = 1")
        .await;
    assert!(flagged <= 2, "{flagged} deliveries arrived while inactive");
    sim.stop().await;
}

#[tokio::test]
async fn creating_checks_slug_and_events_before_anything_exists_at_whats91() {
    let (sim, _, token) = simulator_and_client(0.0).await;
    let app = app_for(&sim, &token).await;
    let manager = app.state.manage_destinations();
    let actor = Actor::command_line();

    let mut unknown = create_request("crm", true);
    unknown.events = vec!["message.inbound.text".into(), "order.shipped".into()];
    let error = manager
        .create_through_whats91(unknown, actor)
        .await
        .unwrap_err();
    assert!(matches!(&error, DestinationError::UnknownEvents(e) if e == &["order.shipped"]));

    let bad_slug = create_request("Not A Slug", true);
    let error = manager
        .create_through_whats91(bad_slug, actor)
        .await
        .unwrap_err();
    assert!(matches!(error, DestinationError::InvalidSlug(_)));

    manager
        .create_through_whats91(create_request("crm", true), actor)
        .await
        .unwrap();
    let again = manager
        .create_through_whats91(create_request("crm", true), actor)
        .await
        .unwrap_err();
    assert!(matches!(again, DestinationError::SlugTaken(_)));
    assert_eq!(sim.webhooks().len(), 1, "a refused create reached Whats91");
    assert!(!sim.webhooks()[0].active, "asked to start INACTIVE");
    sim.stop().await;
}

#[tokio::test]
async fn import_marks_linked_webhooks_and_links_an_existing_one_with_its_secret() {
    let (sim, client, token) = simulator_and_client(0.0).await;
    let app = app_for(&sim, &token).await;
    let manager = app.state.manage_destinations();
    manager
        .create_through_whats91(create_request("crm", true), Actor::command_line())
        .await
        .unwrap();
    let mut outside = new_webhook("made elsewhere");
    outside.endpoint_url = app.url("/webhooks/whats91/support");
    let existing = client.create(&outside).await.unwrap();

    let listed = manager.import().await.unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0].linked_slug.as_deref(), Some("crm"));
    assert_eq!(listed[1].linked_slug, None);
    assert_eq!(listed[1].suggested_slug.as_deref(), Some("support"));

    let link = whats91_ops::destinations::LinkExisting {
        webhook_uid: existing.webhook.uid.clone(),
        slug: "support".into(),
        name: None,
        signing_secret: Some(existing.signing_secret.clone()),
        verification_token: None,
    };
    let linked = manager
        .link_existing(link.clone(), Actor::command_line())
        .await
        .unwrap();
    assert_eq!(linked.name, "made elsewhere");
    assert_eq!(linked.status, DestinationStatus::Inactive);
    assert_eq!(linked.events, ["message.inbound.text"]);
    let again = manager
        .link_existing(link, Actor::command_line())
        .await
        .unwrap_err();
    assert!(matches!(again, DestinationError::AlreadyLinked { .. }));
    sim.stop().await;
}

#[tokio::test]
async fn a_linked_destination_is_not_switched_without_an_api_token() {
    let app = crate::helpers::spawn_app().await;
    app.register(crate::helpers::new_destination("crm")).await;
    let error = app
        .state
        .manage_destinations()
        .set_status("crm", DestinationStatus::Inactive, Actor::command_line())
        .await
        .unwrap_err();
    assert!(matches!(error, DestinationError::NoApiToken(_)));
    assert!(error.to_string().contains("WHATS91_OPS_WHATS91_API_TOKEN"));
}

#[tokio::test]
async fn the_api_token_never_shows_in_debug_output() {
    let (sim, client, token) = simulator_and_client(0.0).await;
    let app = app_for(&sim, &token).await;
    for shown in [format!("{client:?}"), format!("{:?}", app.state)] {
        assert!(!shown.contains(&token), "the token leaked: {shown}");
    }
    sim.stop().await;
}

fn run_cli(database: &std::path::Path, api_url: &str, token: &str, args: &[&str]) -> Output {
    Command::new(BINARY)
        .args(args)
        .arg("--database")
        .arg(database)
        .env("WHATS91_OPS_LOG", "warn")
        .env("WHATS91_OPS_WHATS91_API_URL", api_url)
        .env("WHATS91_OPS_WHATS91_API_TOKEN", token)
        .env("WHATS91_OPS_PUBLIC_URL", "http://127.0.0.1:3000")
        .output()
        .expect("the binary runs")
}

#[tokio::test]
async fn destination_create_import_and_set_status_work_against_the_simulator() {
    let (sim, client, token) = simulator_and_client(0.0).await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cli.db");
    let api_url = sim.api_url();
    let cli = |args: &'static [&'static str]| {
        let (db, api_url, token) = (db.clone(), api_url.clone(), token.clone());
        tokio::task::spawn_blocking(move || run_cli(&db, &api_url, &token, args))
    };

    let created = cli(&[
        "destination",
        "create",
        "--slug",
        "crm",
        "--events",
        "message.inbound.text,message.status.read",
        "--inactive",
    ])
    .await
    .unwrap();
    let out = String::from_utf8_lossy(&created.stdout).into_owned();
    let err = String::from_utf8_lossy(&created.stderr).into_owned();
    assert!(created.status.success(), "{out}{err}");
    assert!(
        out.contains("http://127.0.0.1:3000/webhooks/whats91/crm"),
        "{out}"
    );
    assert!(
        out.contains("signing secret") && out.contains("stored"),
        "{out}"
    );
    let remote = sim.webhooks().pop().expect("created at the simulator");
    assert!(!remote.active);
    for secret in [remote.signing_secret.expose(), token.as_str()] {
        assert!(
            !out.contains(secret) && !err.contains(secret),
            "a secret was printed"
        );
    }

    let listed = cli(&["destination", "import"]).await.unwrap();
    let out = String::from_utf8_lossy(&listed.stdout).into_owned();
    assert!(listed.status.success(), "{listed:?}");
    assert!(out.contains(&remote.uid) && out.contains("crm"), "{out}");

    let on = cli(&["destination", "set-status", "crm", "ACTIVE"])
        .await
        .unwrap();
    assert!(on.status.success(), "{on:?}");
    assert!(sim.webhook(&remote.uid).unwrap().active);

    let other = client.create(&new_webhook("elsewhere")).await.unwrap();
    let linked = {
        let (db, api_url, token) = (db.clone(), api_url.clone(), token.clone());
        let uid = other.webhook.uid.clone();
        let secret = other.signing_secret.expose().to_owned();
        tokio::task::spawn_blocking(move || {
            Command::new(BINARY)
                .args(["destination", "import", "--link", &uid, "--slug", "other"])
                .arg("--database")
                .arg(&db)
                .env("WHATS91_OPS_LOG", "warn")
                .env("WHATS91_OPS_WHATS91_API_URL", &api_url)
                .env("WHATS91_OPS_WHATS91_API_TOKEN", &token)
                .env("WHATS91_OPS_SIGNING_SECRET", &secret)
                .output()
                .unwrap()
        })
        .await
        .unwrap()
    };
    assert!(linked.status.success(), "{linked:?}");
    assert!(!String::from_utf8_lossy(&linked.stdout).contains("whsec_"));

    let pool = whats91_ops::store::Database::open(&db).await.unwrap().pool;
    let crm = destinations::find_by_slug(&pool, "crm")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        crm.signing_secret.as_ref().map(Secret::expose),
        Some(remote.signing_secret.expose())
    );
    assert_eq!(crm.status, DestinationStatus::Active);
    let other_local = destinations::find_by_slug(&pool, "other")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        other_local.webhook_uid.as_deref(),
        Some(other.webhook.uid.as_str())
    );
    sim.stop().await;
}

#[tokio::test]
async fn a_webhook_created_but_not_stored_is_switched_off_and_named() {
    let (sim, _, token) = simulator_and_client(0.0).await;
    let app = app_for(&sim, &token).await;
    // The database refuses this one insert, after Whats91 has created the
    // webhook: the case the ordering cannot rule out.
    sqlx::query(
        "CREATE TRIGGER refuse_crm BEFORE INSERT ON destinations WHEN NEW.slug = 'crm'
         BEGIN SELECT RAISE(ABORT, 'disk full'); END",
    )
    .execute(&app.state.db.pool)
    .await
    .unwrap();

    let error = app
        .state
        .manage_destinations()
        .create_through_whats91(create_request("crm", false), Actor::command_line())
        .await
        .unwrap_err();
    let remote = sim.webhooks().pop().expect("created at the simulator");
    match &error {
        DestinationError::CreatedButNotStored {
            webhook_uid,
            switched_off,
            ..
        } => {
            assert_eq!(webhook_uid, &remote.uid);
            assert!(switched_off);
        }
        other => panic!("{other:?}"),
    }
    let message = error.to_string();
    assert!(message.contains(&remote.uid), "{message}");
    assert!(!message.contains(remote.signing_secret.expose()));
    assert!(!remote.active, "the orphan is still ACTIVE at Whats91");
    sim.stop().await;
}
