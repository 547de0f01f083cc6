//! `whats91-ops simulate`: a stand-in Whats91 for demos, tests and load.
//!
//! It serves the webhook management API of DESIGN §1 under `/api/v2`,
//! keeping webhooks in memory, and sends signed deliveries to every ACTIVE
//! webhook's `endpointUrl`. It is a development tool: `serve` never starts
//! it. Tests run it in-process with [`spawn`].
//!
//! - [`api`]: the management API, its validation, errors and the
//!   `/_simulate` control endpoints (error injection);
//! - [`traffic`]: the deliveries, signed as Whats91 signs them;
//! - [`story`]: what the deliveries say.

pub mod api;
pub mod story;
pub mod traffic;

use std::{
    collections::VecDeque,
    net::SocketAddr,
    sync::{Arc, Mutex, MutexGuard},
    time::Duration,
};

use anyhow::Context;
use argon2::password_hash::rand_core::{OsRng, RngCore};
use tokio::{net::TcpListener, sync::watch, task::JoinHandle};

use crate::store::destinations::Secret;

/// The sender (phone number) of the simulated account.
pub const DEFAULT_SENDER: &str = "916268662275";

/// How a simulator runs.
#[derive(Debug, Clone)]
pub struct SimulateConfig {
    /// Where the API listens (`127.0.0.1:0` picks a free port).
    pub addr: SocketAddr,
    /// Deliveries per second to each ACTIVE webhook; 0 sends none.
    pub rate: f64,
    /// Stop after this long; `None` runs until stopped.
    pub duration: Option<Duration>,
    /// The bearer token the API accepts.
    pub token: Secret,
    /// Accept `http://` endpoints on any host, not only loopback ones.
    pub allow_http: bool,
    /// Seed of the traffic's content.
    pub seed: u64,
}

impl SimulateConfig {
    /// A simulator on a free loopback port with a fresh token, sending
    /// `rate` deliveries per second.
    pub fn local(rate: f64) -> Self {
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            rate,
            duration: None,
            token: generate_token(),
            allow_http: false,
            seed: 1,
        }
    }
}

/// A token in the shape of Whats91's live tokens.
pub fn generate_token() -> Secret {
    let mut bytes = [0u8; 24];
    OsRng.fill_bytes(&mut bytes);
    Secret::new(format!("w91_live_{}", hex::encode(bytes)))
}

/// A webhook as the simulator keeps it, secret included.
#[derive(Debug, Clone)]
pub struct SimWebhook {
    pub uid: String,
    pub name: String,
    pub endpoint_url: String,
    pub sender_id: String,
    pub phone_number_id: String,
    pub events: Vec<String>,
    pub active: bool,
    pub timeout_ms: u64,
    pub retry_enabled: bool,
    pub retry_max_attempts: u64,
    pub verification_header_key: Option<String>,
    pub verification_token: Option<Secret>,
    pub signing_secret: Secret,
    pub created_at: String,
    pub updated_at: String,
    /// Deliveries answered 2xx.
    pub delivered: u64,
    /// Delivery attempts that failed (error or non-2xx).
    pub failed: u64,
}

impl SimWebhook {
    /// Whether deliveries of `event` go to this webhook: it is ACTIVE and
    /// subscribes to the event (an empty list subscribes to all).
    pub fn wants(&self, event: &str) -> bool {
        self.active && (self.events.is_empty() || self.events.iter().any(|e| e == event))
    }
}

/// An error the API answers with instead of doing its work; see
/// [`api`] for the control endpoint that sets it.
#[derive(Debug, Clone)]
pub struct Injection {
    pub code: String,
    pub status: u16,
    pub message: String,
    /// Which operation it applies to: `events`, `create`, `list`, `get`,
    /// `update`, or `any`.
    pub on: String,
    pub remaining: u32,
}

/// Everything the API and the traffic share.
#[derive(Debug, Default)]
pub struct SimState {
    pub webhooks: Vec<SimWebhook>,
    pub injections: VecDeque<Injection>,
    next_id: u64,
}

impl SimState {
    /// A fresh number for uids and request ids.
    pub fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    pub fn webhook_mut(&mut self, uid: &str) -> Option<&mut SimWebhook> {
        self.webhooks.iter_mut().find(|w| w.uid == uid)
    }
}

/// The shared state behind a lock that survives a panicking holder.
#[derive(Debug, Clone, Default)]
pub struct Shared(Arc<Mutex<SimState>>);

impl Shared {
    pub fn lock(&self) -> MutexGuard<'_, SimState> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A running simulator.
#[derive(Debug)]
pub struct Simulator {
    pub addr: SocketAddr,
    shared: Shared,
    stop: watch::Sender<bool>,
    server: JoinHandle<()>,
}

impl Simulator {
    /// `http://addr/api/v2`: the base URL for a client.
    pub fn api_url(&self) -> String {
        format!("http://{}/api/v2", self.addr)
    }

    /// The webhooks as they are now, secrets included (for tests).
    pub fn webhooks(&self) -> Vec<SimWebhook> {
        self.shared.lock().webhooks.clone()
    }

    /// One webhook as it is now.
    pub fn webhook(&self, uid: &str) -> Option<SimWebhook> {
        self.shared
            .lock()
            .webhooks
            .iter()
            .find(|w| w.uid == uid)
            .cloned()
    }

    /// Makes the next `times` calls of operation `on` fail with `code`,
    /// as `POST /_simulate/fail` does.
    pub fn inject(&self, code: &str, on: &str, times: u32) {
        let injection = api::injection(code, None, None, on, times);
        self.shared.lock().injections.push_back(injection);
    }

    /// Stops sending and serving, and waits for both.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.server.await;
    }

    /// Waits until the simulator stops by itself (after its duration) or
    /// `stop_signal` resolves, then stops it.
    pub async fn run_until(mut self, stop_signal: impl std::future::Future<Output = ()>) {
        tokio::select! {
            _ = &mut self.server => {}
            () = stop_signal => self.stop().await,
        }
    }
}

/// Starts a simulator: its API on `config.addr` and, when `config.rate` is
/// above 0, its traffic. Returns once it accepts connections.
pub async fn spawn(config: SimulateConfig) -> anyhow::Result<Simulator> {
    let listener = TcpListener::bind(config.addr)
        .await
        .with_context(|| format!("cannot listen on {}", config.addr))?;
    let addr = listener.local_addr()?;
    let shared = Shared::default();
    let (stop, stopped) = watch::channel(false);
    let app = api::router(api::ApiState {
        shared: shared.clone(),
        token: config.token.clone(),
        allow_http: config.allow_http,
    });
    let traffic = traffic::start(shared.clone(), config.rate, config.seed, stopped.clone());
    if let Some(duration) = config.duration {
        let stop = stop.clone();
        tokio::spawn(async move {
            tokio::time::sleep(duration).await;
            let _ = stop.send(true);
        });
    }
    let mut until_stopped = stopped;
    let server = tokio::spawn(async move {
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = until_stopped.wait_for(|stop| *stop).await;
            })
            .await;
        if let Err(error) = served {
            tracing::error!(%error, "simulator server failed");
        }
        traffic.abort();
    });
    tracing::info!(%addr, rate = config.rate, "simulator listening");
    Ok(Simulator {
        addr,
        shared,
        stop,
        server,
    })
}
