//! Receiver throughput, as a ratio against a bare axum handler measured in
//! the same run on the same machine:
//!
//!     cargo bench --bench receiver -- --connections 64 --seconds 10
//!
//! (a) the real receiver on a fresh database: routing, destination lookup,
//!     token and HMAC checks, group commit with `synchronous=FULL`;
//! (b) a bare axum handler on the same path that reads the body and answers
//!     200.
//! The load generator posts unique, signed ~1 KB deliveries over N
//! keep-alive connections, and reports deliveries per second and p50/p99
//! latency for each. They are inbound messages, or with `--event status`
//! delivery statuses. The T seconds of each side are measured in rounds
//! (`--rounds`, 5 by default) that alternate between the two, each after a
//! one-second warm-up, so that a change in the machine's load during the
//! run falls on both sides alike; after each receiver round the run waits
//! for the projections to catch up, so that the next bare round has the
//! machine to itself. `--rate R` paces the load at R deliveries per second
//! in all, spread evenly over the connections (to see whether projection
//! keeps up at a steady rate).

use std::{
    net::SocketAddr,
    sync::Arc,
    time::{Duration, Instant},
};

use axum::{body::Bytes, http::StatusCode, routing::post, Router};
use whats91_ops::{
    config::{PublicUrl, Settings},
    projection::projector,
    startup::{router, AppState},
    store::destinations::{self, DestinationStatus, NewDestination, Secret, DEFAULT_HEADER_KEY},
    webhook::signature::sign,
};

const SECRET: &str = "whsec_benchmark_secret_0123456789";
const TOKEN: &str = "benchmark-token";
const WARM_UP: Duration = Duration::from_secs(1);
const ADMIN_PASSWORD: &str = "benchmark-admin-password";

struct Options {
    /// `both`, or only `receiver` / `bare` (for profiling one side).
    only: String,
    /// `inbound` messages, or delivery `status` updates (three per
    /// message: sent, delivered, read).
    event: String,
    connections: usize,
    /// Measured seconds of each side, over all rounds.
    seconds: u64,
    rounds: u64,
    /// Deliveries per second over all connections; unlimited when absent.
    rate: Option<f64>,
    body_bytes: usize,
}

fn options() -> Options {
    let mut options = Options {
        only: "both".into(),
        event: "inbound".into(),
        connections: 64,
        seconds: 10,
        rounds: 5,
        rate: None,
        body_bytes: 1024,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        let text = args.get(i + 1).cloned();
        let number = text.as_deref().and_then(|v| v.parse().ok());
        match (args[i].as_str(), text, number) {
            ("--only", Some(side), _) => options.only = side,
            ("--event", Some(event), _) => options.event = event,
            ("--connections", _, Some(v)) => options.connections = v,
            ("--seconds", _, Some(v)) => options.seconds = v as u64,
            ("--rounds", _, Some(v)) => options.rounds = (v as u64).max(1),
            ("--rate", _, Some(v)) => options.rate = Some(v as f64),
            ("--body-bytes", _, Some(v)) => options.body_bytes = v,
            // `cargo bench` passes `--bench`; anything else is ignored too.
            _ => {
                i += 1;
                continue;
            }
        }
        i += 2;
    }
    options
}

impl Options {
    /// Measured seconds of each side in one round.
    fn round_seconds(&self) -> f64 {
        self.seconds as f64 / self.rounds as f64
    }
}

struct Report {
    deliveries: usize,
    per_second: f64,
    p50: Duration,
    p99: Duration,
}

impl Report {
    fn new(mut latencies: Vec<Duration>, seconds: f64) -> Self {
        latencies.sort_unstable();
        let percentile = |p: f64| {
            let at = ((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1));
            latencies.get(at).copied().unwrap_or_default()
        };
        Self {
            deliveries: latencies.len(),
            per_second: latencies.len() as f64 / seconds,
            p50: percentile(0.50),
            p99: percentile(0.99),
        }
    }
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:>9.0} deliveries/s  p50 {:>7.2} ms  p99 {:>7.2} ms  ({} deliveries)",
            self.per_second,
            self.p50.as_secs_f64() * 1000.0,
            self.p99.as_secs_f64() * 1000.0,
            self.deliveries
        )
    }
}

fn main() {
    let options = options();
    let servers = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let load = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let (receiver_addr, state) = servers.block_on(start_receiver(dir.path()));
    let bare_addr = servers.block_on(start_bare());

    let round_seconds = options.round_seconds();
    println!(
        "{} connections, {}-byte bodies, {} rounds of {round_seconds:.1} s per side, \
         each after {} s of warm-up",
        options.connections,
        options.body_bytes,
        options.rounds,
        WARM_UP.as_secs(),
    );
    let (mut bare, mut receiver) = (Vec::new(), Vec::new());
    let mut ratios = Vec::new();
    for round in 1..=options.rounds {
        let mut line = format!("round {round}:");
        // Runs one side; keeps its latencies and returns its rate.
        let mut run = |addr, label, kept: &mut Vec<Duration>| {
            let latencies = load.block_on(generate_load(addr, &options, label, round));
            let rate = latencies.len() as f64 / round_seconds;
            line += &format!(" {label} {rate:.0}/s");
            kept.extend(latencies);
            rate
        };
        let bare_rate = (options.only != "receiver").then(|| run(bare_addr, "bare", &mut bare));
        let receiver_rate =
            (options.only != "bare").then(|| run(receiver_addr, "receiver", &mut receiver));
        if receiver_rate.is_some() {
            // Under saturation projection yields to ingest; how far behind
            // it is, and how long it takes to catch up once the load stops.
            let (behind, caught_up) = servers.block_on(catch_up(&state));
            line += &format!(
                "; projections {behind} behind, caught up in {:.1} s",
                caught_up.as_secs_f64()
            );
        }
        if let (Some(bare), Some(receiver)) = (bare_rate, receiver_rate) {
            ratios.push(receiver / bare);
            line += &format!("; ratio {:.2}", receiver / bare);
        }
        println!("{line}");
    }

    let seconds = options.seconds as f64;
    let bare = (options.only != "receiver").then(|| Report::new(bare, seconds));
    if let Some(bare) = &bare {
        println!("(b) bare axum handler  {bare}");
    }
    let receiver = (options.only != "bare").then(|| Report::new(receiver, seconds));
    if let Some(receiver) = &receiver {
        println!("(a) receiver           {receiver}");
        let stored: i64 = servers.block_on(async {
            sqlx::query_scalar("SELECT COUNT(*) FROM events")
                .fetch_one(&state.db.pool)
                .await
                .unwrap()
        });
        // Warm-up deliveries are stored too, so the log holds at least the
        // measured ones.
        let (commits, mean_size, mean_time) = state.metrics.commit_summary();
        println!(
            "rows in the event log: {stored}; {commits} commits, {mean_size:.1} deliveries \
             and {:.2} ms each on average",
            mean_time.as_secs_f64() * 1000.0
        );
        assert!(
            stored as usize >= receiver.deliveries,
            "acknowledged deliveries missing"
        );
    }
    if let (Some(receiver), Some(bare)) = (receiver, bare) {
        ratios.sort_by(f64::total_cmp);
        println!(
            "ratio a/b: {:.2} (target >= 0.5); by round {:.2} to {:.2}",
            receiver.per_second / bare.per_second,
            ratios[0],
            ratios[ratios.len() - 1],
        );
    }
}

/// Waits until the projections have applied the whole log; returns how far
/// behind they were and how long they took.
async fn catch_up(state: &AppState) -> (i64, Duration) {
    let behind = projector::lag(&state.db.pool).await.unwrap();
    let started = Instant::now();
    while projector::lag(&state.db.pool).await.unwrap() > 0 {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    (behind, started.elapsed())
}

async fn start_receiver(dir: &std::path::Path) -> (SocketAddr, AppState) {
    let settings = Settings {
        addr: "127.0.0.1:0".parse().unwrap(),
        database: dir.join("bench.db"),
        public_url: PublicUrl::parse("http://127.0.0.1").unwrap(),
        site_root: dir.join("site"),
        body_limit: 1024 * 1024,
        rejected_log_limit: 10_000,
        alerts: Default::default(),
        session_idle: Duration::from_secs(3600),
        login_limits: Default::default(),
        admin_password: Some(Secret::new(ADMIN_PASSWORD)),
        shutdown_grace: Duration::from_secs(1),
        whats91_api_url: whats91_ops::whats91::DEFAULT_API_URL.to_owned(),
        whats91_api_token: None,
    };
    let state = AppState::new(settings).await.unwrap();
    let destination = NewDestination {
        slug: "bench".into(),
        name: "bench".into(),
        webhook_uid: None,
        sender_id: None,
        signing_secret: Some(Secret::new(SECRET)),
        verification_header_key: DEFAULT_HEADER_KEY.into(),
        verification_token: Some(Secret::new(TOKEN)),
        events: vec![],
        status: DestinationStatus::Active,
        quiet_period_secs: 3600,
    };
    destinations::insert(&state.db.pool, &destination)
        .await
        .unwrap();
    let app = router(state.clone()).into_make_service_with_connect_info::<SocketAddr>();
    (serve(app).await, state)
}

async fn start_bare() -> SocketAddr {
    let app = Router::new().route(
        "/webhooks/whats91/{slug}",
        post(|_body: Bytes| async { StatusCode::OK }),
    );
    serve(app.into_make_service_with_connect_info::<SocketAddr>()).await
}

async fn serve(
    app: axum::extract::connect_info::IntoMakeServiceWithConnectInfo<Router, SocketAddr>,
) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

/// One round of load on `addr`: the latency of every delivery answered
/// within the measured window.
async fn generate_load(
    addr: SocketAddr,
    options: &Options,
    label: &'static str,
    round: u64,
) -> Vec<Duration> {
    let url: Arc<str> = format!("http://{addr}/webhooks/whats91/bench").into();
    let start = Instant::now();
    let measure_from = start + WARM_UP;
    let stop_at = measure_from + Duration::from_secs_f64(options.round_seconds());
    let padding: Arc<str> = "x".repeat(options.body_bytes.saturating_sub(200)).into();
    let statuses = options.event == "status";

    let mut workers = tokio::task::JoinSet::new();
    for worker in 0..options.connections {
        let (url, padding) = (url.clone(), padding.clone());
        // One client per worker: one keep-alive connection each.
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(1)
            .build()
            .unwrap();
        // Each connection's ticks are offset from the others', so that
        // deliveries arrive evenly rather than all at once.
        let mut pace = options.rate.map(|rate| {
            let period = Duration::from_secs_f64(options.connections as f64 / rate);
            let offset = period.mul_f64(worker as f64 / options.connections as f64);
            let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + offset, period);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            ticks
        });
        workers.spawn(async move {
            let mut latencies = Vec::new();
            for n in 0u64.. {
                if let Some(pace) = &mut pace {
                    pace.tick().await;
                }
                let body = if statuses {
                    let status = ["sent", "delivered", "read"][(n % 3) as usize];
                    let message = n / 3;
                    format!(
                        r#"{{"event":"message.status.{status}","webhookUid":"wh_bench","senderId":"1","data":{{"messageId":"wamid.{label}.{round}.{worker}.{message}","recipient":"91{worker:010}","status":"{status}","timestamp":{n},"note":"{padding}"}}}}"#
                    )
                } else {
                    format!(
                        r#"{{"event":"message.inbound.text","webhookUid":"wh_bench","senderId":"1","data":{{"from":"91{worker:010}","messageId":"wamid.{label}.{round}.{worker}.{n}","text":"{padding}"}}}}"#
                    )
                };
                let signature = sign(SECRET, body.as_bytes());
                let sent_at = Instant::now();
                if sent_at >= stop_at {
                    break;
                }
                let response = client
                    .post(&*url)
                    .header("content-type", "application/json")
                    .header("x-whats91-signature", signature)
                    .header(DEFAULT_HEADER_KEY, TOKEN)
                    .body(body)
                    .send()
                    .await
                    .expect("request sent");
                assert_eq!(response.status(), 200, "{label}");
                let done = Instant::now();
                if sent_at >= measure_from && done <= stop_at {
                    latencies.push(done - sent_at);
                }
            }
            latencies
        });
    }
    let mut latencies: Vec<Duration> = Vec::new();
    while let Some(worker) = workers.join_next().await {
        latencies.extend(worker.unwrap());
    }
    latencies
}
