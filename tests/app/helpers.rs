//! `spawn_app`: a real server on a free loopback port with its own
//! temporary database, and helpers to send deliveries signed as Whats91
//! signs them.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use sha2::{Digest, Sha256};
use tempfile::TempDir;
use whats91_ops::{
    config::{PublicUrl, Settings},
    startup::{router, AppState},
    store::{
        destinations::{
            self, Destination, DestinationStatus, NewDestination, Secret, DEFAULT_HEADER_KEY,
        },
        events::{Flags, NewEvent},
    },
    webhook::{envelope::Envelope, signature::sign},
};

pub const SECRET: &str = "whsec_9f8e7d6c5b4a39281706f5e4d3c2b1a0";
pub const TOKEN: &str = "crm-verification-token";
pub const WEBHOOK_UID: &str = "wh_abc";
pub const ADMIN_PASSWORD: &str = "first-admin-password";

pub struct TestApp {
    pub addr: SocketAddr,
    pub client: reqwest::Client,
    pub state: AppState,
    pub database: PathBuf,
    // Dropped last: the database file lives here.
    _dir: TempDir,
}

pub fn test_settings(dir: &TempDir) -> Settings {
    Settings {
        addr: "127.0.0.1:0".parse().unwrap(),
        database: dir.path().join("test.db"),
        public_url: PublicUrl::parse("http://127.0.0.1:3000").unwrap(),
        site_root: dir.path().join("site"),
        body_limit: 1024 * 1024,
        rejected_log_limit: 1000,
        alerts: Default::default(),
        session_idle: Duration::from_secs(3600),
        login_limits: Default::default(),
        admin_password: Some(Secret::new(ADMIN_PASSWORD)),
        shutdown_grace: Duration::from_secs(1),
        whats91_api_url: whats91_ops::whats91::DEFAULT_API_URL.to_owned(),
        whats91_api_token: None,
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub async fn spawn_app_with(adjust: impl FnOnce(&mut Settings)) -> TestApp {
    spawn_app_at(|settings, _| adjust(settings)).await
}

/// Like [`spawn_app_with`], but `adjust` also learns the address the
/// server listens on (to make it the public URL, for example).
pub async fn spawn_app_at(adjust: impl FnOnce(&mut Settings, SocketAddr)) -> TestApp {
    let dir = tempfile::tempdir().expect("temporary folder");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut settings = test_settings(&dir);
    adjust(&mut settings, addr);
    let database = settings.database.clone();
    let state = AppState::new(settings).await.expect("application state");
    let app = router(state.clone()).into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    TestApp {
        addr,
        client,
        state,
        database,
        _dir: dir,
    }
}

/// A destination with both a signing secret and a verification token.
pub fn new_destination(slug: &str) -> NewDestination {
    NewDestination {
        slug: slug.to_owned(),
        name: format!("{slug} destination"),
        webhook_uid: Some(WEBHOOK_UID.to_owned()),
        sender_id: None,
        signing_secret: Some(Secret::new(SECRET)),
        verification_header_key: DEFAULT_HEADER_KEY.to_owned(),
        verification_token: Some(Secret::new(TOKEN)),
        events: vec![],
        status: DestinationStatus::Active,
        quiet_period_secs: 3600,
    }
}

/// Like [`new_destination`], but registered by hand without a Whats91
/// webhook: switching it on or off is a local change, with no API call.
pub fn unlinked_destination(slug: &str) -> NewDestination {
    NewDestination {
        webhook_uid: None,
        ..new_destination(slug)
    }
}

/// The bytes of a payload in `tests/fixtures/payloads/`.
pub fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/tests/fixtures/payloads/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

pub const FIXTURES: [&str; 10] = [
    "inbound_text",
    "inbound_text_unicode",
    "status_delivered",
    "status_failed",
    "status_failed_numeric_code",
    "status_read",
    "status_sent",
    "template_approved",
    "template_rejected",
    "unknown_event",
];

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub async fn register(&self, new: NewDestination) -> Destination {
        destinations::insert(&self.state.db.pool, &new)
            .await
            .expect("destination registered")
    }

    /// A POST to the receiver of `slug` with a JSON content type and no
    /// credentials yet.
    pub fn post(&self, slug: &str, body: &[u8]) -> reqwest::RequestBuilder {
        self.client
            .post(self.url(&format!("/webhooks/whats91/{slug}")))
            .header("content-type", "application/json")
            .body(body.to_vec())
    }

    /// A delivery signed and tokened as Whats91 sends it, not sent yet.
    pub fn signed(&self, slug: &str, body: &[u8]) -> reqwest::RequestBuilder {
        self.post(slug, body)
            .header("x-whats91-signature", sign(SECRET, body))
            .header(DEFAULT_HEADER_KEY, TOKEN)
    }

    /// A delivery signed and tokened as Whats91 sends it.
    pub async fn deliver(&self, slug: &str, body: &[u8]) -> reqwest::Response {
        self.signed(slug, body).send().await.expect("delivery sent")
    }

    pub async fn scalar(&self, sql: &str) -> i64 {
        sqlx::query_scalar(sql)
            .fetch_one(&self.state.db.pool)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    pub async fn event_count(&self) -> i64 {
        self.scalar("SELECT COUNT(*) FROM events").await
    }

    /// Rejected attempts are written without anyone waiting; poll briefly.
    pub async fn rejected_reasons(&self, expected: usize) -> Vec<String> {
        for _ in 0..100 {
            let reasons: Vec<String> =
                sqlx::query_scalar("SELECT reason FROM rejected_attempts ORDER BY id")
                    .fetch_all(&self.state.db.pool)
                    .await
                    .unwrap();
            if reasons.len() >= expected {
                return reasons;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("fewer than {expected} rejected attempts were recorded");
    }
}

/// A delivery as the receiver would hand it to the writer, flags included.
pub fn new_event(destination_id: i64, body: &[u8], flags: Flags) -> NewEvent {
    let envelope = Envelope::parse(body);
    NewEvent {
        destination_id,
        received_at: whats91_ops::store::now_millis(),
        body: body.to_vec().into(),
        body_sha256: Sha256::digest(body).into(),
        event_key: envelope.as_ref().map(|e| e.event.as_str().to_owned()),
        webhook_uid: envelope.as_ref().and_then(|e| e.webhook_uid.clone()),
        sender_id: envelope.as_ref().and_then(|e| e.sender_id.clone()),
        flags: Flags {
            malformed: envelope.is_none(),
            ..flags
        },
        signature_checked: true,
        token_checked: true,
        content_type: Some("application/json".into()),
        remote_addr: Some("127.0.0.1".into()),
    }
}

impl TestApp {
    /// Waits until the projector has applied everything in the log.
    pub async fn projected(&self) {
        for _ in 0..1000 {
            let behind = self
                .scalar(
                    "SELECT COALESCE((SELECT MAX(seq) FROM events), 0)
                          - COALESCE((SELECT seq FROM projector_checkpoints), 0)",
                )
                .await;
            if behind == 0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the projector did not catch up");
    }
}

/// Every row of every projection table, as text, in id order: two equal
/// snapshots mean equal projections.
pub async fn snapshot(pool: &sqlx::SqlitePool) -> Vec<(String, Vec<String>)> {
    let tables = [
        "conversations",
        "messages",
        "timelines",
        "timeline_statuses",
        "templates",
        "template_history",
        "alerts",
    ];
    let mut all = Vec::new();
    for table in tables {
        let columns: Vec<String> =
            sqlx::query_scalar(&format!("SELECT name FROM pragma_table_info('{table}')"))
                .fetch_all(pool)
                .await
                .unwrap();
        let row = columns
            .iter()
            .map(|c| format!("quote({c})"))
            .collect::<Vec<_>>()
            .join(" || '|' || ");
        let rows: Vec<String> =
            sqlx::query_scalar(&format!("SELECT {row} FROM {table} ORDER BY id"))
                .fetch_all(pool)
                .await
                .unwrap();
        all.push((table.to_owned(), rows));
    }
    all
}

impl TestApp {
    /// Creates a staff account and returns its password.
    pub async fn add_user(&self, name: &str, role: whats91_ops::model::Role) -> String {
        let password = format!("{name}-password-123");
        whats91_ops::auth::users::create(&self.state.db.pool, name, password.clone(), role)
            .await
            .expect("user created");
        password
    }

    /// A client with its own cookie jar, logged in as `name`. Like a
    /// browser, it names its origin (this server) on every request.
    pub async fn logged_in(&self, name: &str, password: &str) -> reqwest::Client {
        let mut origin = reqwest::header::HeaderMap::new();
        origin.insert("origin", self.url("").parse().unwrap());
        let client = reqwest::Client::builder()
            .cookie_store(true)
            .default_headers(origin)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let response = self.login(&client, name, password).await;
        assert!(
            response.status().is_redirection() || response.status() == 200,
            "{response:?}"
        );
        client
    }

    pub async fn login(
        &self,
        client: &reqwest::Client,
        name: &str,
        password: &str,
    ) -> reqwest::Response {
        client
            .post(self.url("/api/login"))
            .form(&[("username", name), ("password", password), ("next", "/")])
            .send()
            .await
            .unwrap()
    }

    /// A logged-in admin client, with the first admin's password.
    pub async fn admin(&self) -> reqwest::Client {
        self.logged_in("admin", ADMIN_PASSWORD).await
    }
}

impl TestApp {
    /// The Prometheus text at `/metrics`.
    pub async fn metrics(&self) -> String {
        let response = self.client.get(self.url("/metrics")).send().await.unwrap();
        response.text().await.unwrap()
    }

    /// The status `client` gets for `GET path`.
    pub async fn status_of(&self, client: &reqwest::Client, path: &str) -> reqwest::StatusCode {
        client.get(self.url(path)).send().await.unwrap().status()
    }
}
