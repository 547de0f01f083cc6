//! `spawn_app`: a real server on a free loopback port with its own
//! temporary database.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use tempfile::TempDir;
use whats91_ops::{
    config::{PublicUrl, Settings},
    startup::{router, AppState},
};

pub struct TestApp {
    pub addr: SocketAddr,
    pub client: reqwest::Client,
    pub state: AppState,
    pub database: PathBuf,
    // Dropped last: the database file lives here.
    _dir: TempDir,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

pub fn test_settings(dir: &TempDir) -> Settings {
    Settings {
        addr: "127.0.0.1:0".parse().unwrap(),
        database: dir.path().join("test.db"),
        public_url: PublicUrl::parse("http://127.0.0.1:3000").unwrap(),
        site_root: dir.path().join("site"),
        body_limit: 1024 * 1024,
        rejected_log_limit: 1000,
        shutdown_grace: Duration::from_secs(1),
    }
}

pub async fn spawn_app() -> TestApp {
    let dir = tempfile::tempdir().expect("temporary folder");
    let settings = test_settings(&dir);
    let database = settings.database.clone();
    let state = AppState::new(settings).await.expect("application state");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
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
