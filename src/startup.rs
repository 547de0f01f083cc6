//! Wiring: runs the chosen subcommand, builds the application state and the
//! router, and serves it until SIGINT/SIGTERM.

use std::{future::IntoFuture, net::SocketAddr, sync::Arc, time::Duration};

use anyhow::Context;
use axum::{
    extract::{FromRef, State},
    http::{header, StatusCode},
    middleware,
    response::IntoResponse,
    routing::get,
    Router,
};
use leptos::prelude::*;
use leptos_axum::{generate_route_list, LeptosRoutes};
use tokio::{net::TcpListener, sync::broadcast};
use tower_http::trace::TraceLayer;
use tower_sessions::{
    cookie::SameSite, session_store::ExpiredDeletion, Expiry, SessionManagerLayer,
};
use tower_sessions_sqlx_store::SqliteStore;

use crate::{
    api,
    auth::{self, audit, throttle::LoginThrottle, users},
    config::Settings,
    destinations::{Actor, Manager},
    live,
    metrics::Metrics,
    model::{Caller, Role},
    projection::{
        alerts::{self, AckError},
        apply::Changes,
    },
    store::{
        destinations::{DestinationCache, DestinationError, DestinationStatus},
        events::EventNotice,
        writer::{EventWriter, WriterConfig},
        Database,
    },
    ui::{shell, App, PRODUCT_NAME},
    webhook,
    whats91::Whats91Client,
};

/// Notices kept for subscribers that fall behind; a subscriber that lags
/// further catches up from the log.
const NOTICE_BUFFER: usize = 4096;

/// How long the receiver trusts its in-memory copy of a destination; a
/// change made from the command line shows within this time.
const DESTINATION_TTL: Duration = Duration::from_secs(1);

/// What every handler and server function can reach. Cloned for every
/// request, so it is one shared pointer.
#[derive(Clone, Debug)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// The parts of [`AppState`].
#[derive(Debug)]
pub struct Shared {
    pub leptos_options: LeptosOptions,
    pub settings: Arc<Settings>,
    pub db: Database,
    /// The only writer of the event log.
    pub writer: EventWriter,
    /// New events, published after their commit.
    pub notices: broadcast::Sender<EventNotice>,
    pub metrics: Arc<Metrics>,
    /// Destinations as the receiver reads them.
    pub destinations: Arc<DestinationCache>,
    /// What each projection batch (or receiver alert) changed.
    pub changes: broadcast::Sender<Changes>,
    /// Login sessions, kept in the same database.
    pub session_store: SqliteStore,
    pub login_throttle: Arc<LoginThrottle>,
    /// The Whats91 API, when a token is configured; without one,
    /// destinations are registered by hand. Its `Debug` hides the token.
    pub whats91: Option<Whats91Client>,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

impl AppState {
    /// Opens the database and prepares everything the router needs.
    pub async fn new(settings: Settings) -> anyhow::Result<Self> {
        let whats91 = settings.whats91_client()?;
        let db = Database::open(&settings.database).await?;
        let metrics = Arc::new(Metrics::default());
        let destinations = Arc::new(DestinationCache::new(db.pool.clone(), DESTINATION_TTL));
        let (notices, _) = broadcast::channel(NOTICE_BUFFER);
        let config = WriterConfig {
            rejected_log_limit: settings.rejected_log_limit,
        };
        let (changes, _) = broadcast::channel(NOTICE_BUFFER);
        let (writer, _task) = EventWriter::start(
            &settings.database,
            config,
            notices.clone(),
            changes.clone(),
            metrics.clone(),
        )
        .await?;
        let session_store = SqliteStore::new(db.pool.clone());
        session_store
            .migrate()
            .await
            .context("cannot prepare the session table")?;
        tokio::spawn(
            session_store
                .clone()
                .continuously_delete_expired(tokio::time::Duration::from_secs(3600)),
        );
        ensure_first_admin(&db, settings.admin_password.clone(), &settings.public_url).await?;
        let login_throttle = Arc::new(LoginThrottle::new(settings.login_limits));
        tokio::spawn(alerts::monitor(
            db.pool.clone(),
            settings.alerts,
            changes.clone(),
        ));
        let leptos_options = LeptosOptions::builder()
            .output_name(PRODUCT_NAME)
            .site_root(settings.site_root.to_string_lossy().into_owned())
            .site_pkg_dir("pkg")
            .site_addr(settings.addr)
            .env(leptos_env())
            .build();
        Ok(Self(Arc::new(Shared {
            leptos_options,
            settings: Arc::new(settings),
            db,
            writer,
            notices,
            metrics,
            destinations,
            changes,
            session_store,
            login_throttle,
            whats91,
        })))
    }
}

impl AppState {
    /// The state, from inside a server function or a page rendered on the
    /// server. An error rather than a panic when it is missing.
    pub fn from_context() -> Result<Self, ServerFnError> {
        use_context::<Self>().ok_or_else(|| ServerFnError::new("application state is missing"))
    }
}

/// Staff actions shared by the pages and the JSON API: one implementation,
/// audited in one place.
impl AppState {
    /// Acknowledges an alert for `caller`; returns whether this call
    /// recorded it (a second acknowledgement keeps the first).
    pub async fn acknowledge_alert(
        &self,
        id: i64,
        caller: &Caller,
        from: Option<&str>,
    ) -> Result<bool, AckError> {
        let recorded = alerts::acknowledge(&self.db.pool, id, &caller.name).await?;
        if recorded {
            // Every open tab drops the alert from its count and toasts.
            let _ = self.changes.send(Changes {
                acknowledged: [id].into(),
                ..Changes::default()
            });
        }
        let target = format!("alert {id}");
        audit::record(
            &self.db.pool,
            &caller.name,
            "alert.acknowledge",
            Some(&target),
            None,
            from,
        )
        .await;
        Ok(recorded)
    }

    /// Destination management (create through Whats91, register by hand,
    /// switch, import, link) with this server's database, Whats91 client,
    /// public URL and receiver cache.
    pub fn manage_destinations(&self) -> Manager<'_> {
        Manager {
            pool: &self.db.pool,
            whats91: self.whats91.as_ref(),
            public_url: &self.settings.public_url,
            cache: Some(&self.destinations),
        }
    }

    /// Switches a destination on or off: at Whats91 first when it is
    /// linked to a webhook there (a refusal changes nothing here), then
    /// here; the receiver sees it at once. See
    /// [`Manager::set_status`].
    pub async fn set_destination_status(
        &self,
        slug: &str,
        status: DestinationStatus,
        caller: &Caller,
        from: Option<&str>,
    ) -> Result<(), DestinationError> {
        let actor = Actor {
            name: &caller.name,
            from,
        };
        self.manage_destinations()
            .set_status(slug, status, actor)
            .await?;
        Ok(())
    }
}

/// The error a server function returns when something unexpected failed:
/// the cause is logged here, once; the browser only learns what could not
/// be done.
pub fn unexpected<E: std::fmt::Display>(what: &'static str) -> impl Fn(E) -> ServerFnError + Copy {
    move |error| {
        tracing::error!(%error, "{what} failed");
        ServerFnError::new(format!("{what} failed; see the server log"))
    }
}

/// Release builds serve as production; debug builds as development.
fn leptos_env() -> leptos::config::Env {
    if cfg!(debug_assertions) {
        leptos::config::Env::DEV
    } else {
        leptos::config::Env::PROD
    }
}

/// The whole HTTP surface of the server. The machine routes (receiver,
/// health, metrics) answer and log by their own rules, so they skip the
/// staff layers: every other request is traced and passes the same-origin
/// check, the session, the caller's identification and the login guard.
pub fn router(state: AppState) -> Router {
    let routes = generate_route_list(App);
    let idle =
        time::Duration::try_from(state.settings.session_idle).unwrap_or(time::Duration::HOUR);
    let sessions = SessionManagerLayer::new(state.session_store.clone())
        .with_name("whats91_ops_session")
        .with_secure(state.settings.public_url.is_https())
        .with_same_site(SameSite::Strict)
        .with_http_only(true)
        .with_expiry(Expiry::OnInactivity(idle));
    let machine = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .merge(webhook::receiver::router());
    let staff = Router::new()
        .merge(api::router())
        .merge(live::router())
        .leptos_routes(&state, routes, {
            let options = state.leptos_options.clone();
            move || shell(options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        .layer(middleware::from_fn(auth::guard))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            auth::authenticate,
        ))
        .layer(sessions)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            auth::same_origin,
        ))
        .layer(TraceLayer::new_for_http());
    machine
        .merge(staff)
        .layer(middleware::from_fn(auth::security_headers))
        .with_state(state)
}

/// Creates the first admin when there is no user yet. The password comes
/// from the settings or is generated; a generated one is printed once, to
/// the terminal only, never to the log.
async fn ensure_first_admin(
    db: &Database,
    password: Option<crate::store::destinations::Secret>,
    public_url: &crate::config::PublicUrl,
) -> anyhow::Result<()> {
    if users::count(&db.pool).await? > 0 {
        return Ok(());
    }
    let generated = password.is_none();
    let password = password.map(|p| p.expose().to_owned()).unwrap_or_else(|| {
        let mut random = [0u8; 12];
        argon2::password_hash::rand_core::RngCore::fill_bytes(
            &mut argon2::password_hash::rand_core::OsRng,
            &mut random,
        );
        hex::encode(random)
    });
    users::create(&db.pool, FIRST_ADMIN, password.clone(), Role::Admin)
        .await
        .context("cannot create the first admin")?;
    audit::record(
        &db.pool,
        "system",
        "user.add",
        Some("admin (admin)"),
        Some("first start"),
        None,
    )
    .await;
    if generated {
        println!(
            "\nCreated the first user.\n  user:     {FIRST_ADMIN}\n  password: {password}\n\
             Log in at {public_url}/login, then choose your own password with\n  \
             whats91-ops user passwd {FIRST_ADMIN}\nThis password is not shown again.\n"
        );
    } else {
        println!("Created the first user {FIRST_ADMIN} with the password from WHATS91_OPS_ADMIN_PASSWORD.");
    }
    Ok(())
}

/// Name of the account created on first start.
pub const FIRST_ADMIN: &str = "admin";

/// The process is up.
async fn healthz() -> &'static str {
    "ok"
}

/// The process can do its work: the database answers.
async fn readyz(State(state): State<AppState>) -> (StatusCode, &'static str) {
    if state.db.is_ready().await {
        (StatusCode::OK, "ready")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "database unavailable")
    }
}

/// Counters in the Prometheus text format.
async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let content_type = "text/plain; version=0.0.4; charset=utf-8";
    (
        [(header::CONTENT_TYPE, content_type)],
        state.metrics.render(),
    )
}

/// Serves until SIGINT or SIGTERM, then lets in-flight requests finish.
pub async fn serve(settings: Settings) -> anyhow::Result<()> {
    let addr = settings.addr;
    let public_url = settings.public_url.clone();
    let grace = settings.shutdown_grace;
    let state = AppState::new(settings).await?;
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    tracing::info!(%addr, url = %public_url, "listening");
    println!("whats91-ops is ready: open {public_url}");

    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let server = axum::serve(listener, app).with_graceful_shutdown(async move {
        let mut stopped = stopped;
        let _ = stopped.wait_for(|stop| *stop).await;
    });
    let mut server = tokio::spawn(server.into_future());
    tokio::select! {
        joined = &mut server => return joined.context("server task failed")?.map_err(Into::into),
        () = shutdown_signal() => {}
    }
    // The server stops accepting now; what is in flight gets a bounded time
    // to finish so that a stuck client cannot hold the exit.
    let _ = stop.send(true);
    match tokio::time::timeout(grace, server).await {
        Ok(joined) => joined.context("server task failed")??,
        Err(_) => tracing::warn!(?grace, "in-flight requests did not finish in time"),
    }
    tracing::info!("stopped");
    Ok(())
}

/// Resolves on the first SIGINT (Ctrl-C) or SIGTERM.
async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        () = interrupt => tracing::info!("interrupt received, shutting down"),
        () = terminate => tracing::info!("terminate received, shutting down"),
    }
}
