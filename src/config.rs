//! Settings: the command line and the `WHATS91_OPS_*` variables, parsed
//! once in `main` into typed values. Nothing else in the crate reads the
//! environment.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use axum::http::Uri;
use clap::{Args, Parser, Subcommand, ValueEnum};

pub use crate::cli::{
    destination::DestinationCommand, export::ExportArgs, simulate::SimulateArgs,
    token::TokenCommand, user::UserCommand,
};
use crate::{
    auth::throttle::ThrottleLimits,
    projection::alerts::Thresholds,
    store::destinations::Secret,
    whats91::{Whats91Client, Whats91Error, DEFAULT_API_URL},
};

/// The command line of `whats91-ops`.
#[derive(Debug, Parser)]
#[command(
    name = "whats91-ops",
    version,
    about = "Operations desk for Whats91 Webhooks v2",
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Options of `serve`, which runs when no subcommand is given.
    #[command(flatten)]
    pub serve: ServeArgs,

    #[command(flatten)]
    pub global: GlobalArgs,
}

/// Options every subcommand accepts.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// SQLite database file, created with its folder on first use.
    #[arg(
        long,
        global = true,
        env = "WHATS91_OPS_DATABASE",
        default_value = "data/whats91-ops.db"
    )]
    pub database: PathBuf,

    /// Log line format.
    #[arg(
        long,
        global = true,
        env = "WHATS91_OPS_LOG_FORMAT",
        value_enum,
        default_value_t = LogFormat::Text
    )]
    pub log_format: LogFormat,

    /// Log filter, in `tracing` env-filter syntax (for example
    /// `info,whats91_ops=debug`).
    #[arg(long, global = true, env = "WHATS91_OPS_LOG", default_value = "info")]
    pub log: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the receiver and the dashboard (the default).
    Serve(ServeArgs),
    /// Register and manage webhook destinations.
    #[command(subcommand)]
    Destination(DestinationCommand),
    /// Write the event log to stdout as NDJSON, raw bodies included.
    Export(ExportArgs),
    /// Rebuild every projection from the event log.
    Reproject,
    /// Manage staff accounts.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage API tokens for scripts.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Run a stand-in Whats91: the webhook management API and signed
    /// traffic to its ACTIVE webhooks (for demos, tests and load).
    Simulate(SimulateArgs),
}

/// How to reach the Whats91 API, for `serve` and the destination commands
/// that call it.
#[derive(Debug, Clone, Args)]
pub struct Whats91Args {
    /// Base URL of the Whats91 API v2.
    #[arg(long, env = "WHATS91_OPS_WHATS91_API_URL", default_value = DEFAULT_API_URL)]
    pub whats91_api_url: String,

    /// The account's API token, from WHATS91_OPS_WHATS91_API_TOKEN only:
    /// never a flag, where it would show in process lists and shell
    /// history. Unset, destinations are registered by hand.
    #[arg(skip = api_token_from_env())]
    pub whats91_api_token: Option<Secret>,
}

impl Whats91Args {
    /// The client, when a token is configured.
    pub fn client(&self) -> Result<Option<Whats91Client>, Whats91Error> {
        self.whats91_api_token
            .clone()
            .map(|token| Whats91Client::new(&self.whats91_api_url, token))
            .transpose()
    }
}

/// The variable that holds the Whats91 API token; empty counts as unset.
pub const API_TOKEN_VARIABLE: &str = "WHATS91_OPS_WHATS91_API_TOKEN";

fn api_token_from_env() -> Option<Secret> {
    std::env::var(API_TOKEN_VARIABLE)
        .ok()
        .filter(|token| !token.trim().is_empty())
        .map(|token| Secret::new(token.trim()))
}

/// Options of the server.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "WHATS91_OPS_ADDR", default_value = "127.0.0.1:3000")]
    pub addr: SocketAddr,

    /// Public base URL, used for receiver URLs and secure cookies
    /// [default: http:// + the listen address].
    #[arg(long, env = "WHATS91_OPS_PUBLIC_URL")]
    pub public_url: Option<String>,

    /// Folder holding the compiled site (`pkg/` and public files).
    #[arg(long, env = "WHATS91_OPS_SITE_ROOT", default_value = "target/site")]
    pub site_root: PathBuf,

    /// Largest webhook body accepted, in bytes.
    #[arg(long, env = "WHATS91_OPS_BODY_LIMIT", default_value_t = 1024 * 1024)]
    pub body_limit: usize,

    /// Rejected delivery attempts kept in the security log.
    #[arg(long, env = "WHATS91_OPS_REJECTED_LOG_LIMIT", default_value_t = 10_000)]
    pub rejected_log_limit: i64,

    /// Rejected attempts on one destination, within the rejection window,
    /// that raise an alert.
    #[arg(long, env = "WHATS91_OPS_REJECTION_BURST", default_value_t = 20)]
    pub rejection_burst: i64,

    /// Seconds over which rejected attempts are counted for that alert.
    #[arg(long, env = "WHATS91_OPS_REJECTION_WINDOW", default_value_t = 300)]
    pub rejection_window: u64,

    /// Minutes of inactivity after which a login session ends.
    #[arg(long, env = "WHATS91_OPS_SESSION_IDLE_MINUTES", default_value_t = 12 * 60)]
    pub session_idle_minutes: i64,

    /// Failed logins allowed per address or user name within 15 minutes
    /// before further attempts are slowed down.
    #[arg(long, env = "WHATS91_OPS_LOGIN_ALLOWED_FAILURES", default_value_t = 5)]
    pub login_allowed_failures: usize,

    /// Password of the first admin, created when no user exists yet
    /// [default: generated and printed once].
    #[arg(
        long,
        env = "WHATS91_OPS_ADMIN_PASSWORD",
        hide = true,
        hide_env_values = true,
        value_parser = secret
    )]
    pub admin_password: Option<Secret>,

    /// Seconds given to in-flight requests to finish after SIGINT/SIGTERM.
    #[arg(long, env = "WHATS91_OPS_SHUTDOWN_GRACE", default_value_t = 10)]
    pub shutdown_grace: u64,

    #[command(flatten)]
    pub whats91: Whats91Args,
}

/// What the server runs with, resolved from [`ServeArgs`] and
/// [`GlobalArgs`].
#[derive(Debug, Clone)]
pub struct Settings {
    pub addr: SocketAddr,
    pub database: PathBuf,
    pub public_url: PublicUrl,
    pub site_root: PathBuf,
    pub body_limit: usize,
    pub rejected_log_limit: i64,
    pub alerts: Thresholds,
    pub session_idle: Duration,
    pub login_limits: ThrottleLimits,
    pub admin_password: Option<Secret>,
    pub shutdown_grace: Duration,
    /// Base URL of the Whats91 API.
    pub whats91_api_url: String,
    /// Without it, destinations are registered by hand only.
    pub whats91_api_token: Option<Secret>,
}

impl Settings {
    /// The Whats91 client, when a token is configured.
    pub fn whats91_client(&self) -> Result<Option<Whats91Client>, Whats91Error> {
        self.whats91_api_token
            .clone()
            .map(|token| Whats91Client::new(&self.whats91_api_url, token))
            .transpose()
    }

    pub fn resolve(serve: &ServeArgs, global: &GlobalArgs) -> Result<Self, SettingsError> {
        let public_url = match &serve.public_url {
            Some(raw) => PublicUrl::parse(raw)?,
            None => PublicUrl::parse(&format!("http://{}", serve.addr))?,
        };
        Ok(Self {
            addr: serve.addr,
            database: global.database.clone(),
            public_url,
            site_root: serve.site_root.clone(),
            body_limit: serve.body_limit,
            rejected_log_limit: serve.rejected_log_limit,
            alerts: Thresholds {
                rejection_burst: serve.rejection_burst.max(1),
                rejection_window: Duration::from_secs(serve.rejection_window.max(1)),
                ..Thresholds::default()
            },
            session_idle: Duration::from_secs(serve.session_idle_minutes.max(1) as u64 * 60),
            login_limits: ThrottleLimits {
                allowed_failures: serve.login_allowed_failures,
                ..ThrottleLimits::default()
            },
            admin_password: serve.admin_password.clone(),
            shutdown_grace: Duration::from_secs(serve.shutdown_grace),
            whats91_api_url: serve.whats91.whats91_api_url.clone(),
            whats91_api_token: serve.whats91.whats91_api_token.clone(),
        })
    }
}

/// A flag or variable value that must never show in debug output.
fn secret(raw: &str) -> Result<Secret, std::convert::Infallible> {
    Ok(Secret::new(raw))
}

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("public URL {0:?} is not an absolute http:// or https:// URL")]
    PublicUrl(String),
}

/// The base URL people and Whats91 use to reach this server, without a
/// trailing slash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicUrl(String);

impl PublicUrl {
    pub fn parse(raw: &str) -> Result<Self, SettingsError> {
        let invalid = || SettingsError::PublicUrl(raw.to_owned());
        let uri: Uri = raw.parse().map_err(|_| invalid())?;
        let scheme_ok = matches!(uri.scheme_str(), Some("http" | "https"));
        if !scheme_ok || uri.authority().is_none() || uri.query().is_some() {
            return Err(invalid());
        }
        Ok(Self(raw.trim_end_matches('/').to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether cookies must carry `Secure`.
    pub fn is_https(&self) -> bool {
        self.0.starts_with("https://")
    }

    /// `scheme://host[:port]`, as browsers send it in `Origin`.
    pub fn origin(&self) -> &str {
        let after_scheme = self.0.find("://").map_or(0, |i| i + 3);
        match self.0[after_scheme..].find('/') {
            Some(slash) => &self.0[..after_scheme + slash],
            None => &self.0,
        }
    }

    /// Absolute URL of a path on this server (`path` starts with `/`).
    pub fn join(&self, path: &str) -> String {
        format!("{}{path}", self.0)
    }
}

impl std::fmt::Display for PublicUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_url_accepts_http_and_https_and_drops_the_trailing_slash() {
        let url = PublicUrl::parse("https://ops.example.com/").unwrap();
        assert_eq!(url.as_str(), "https://ops.example.com");
        assert!(url.is_https());
        assert_eq!(
            url.join("/webhooks/whats91"),
            "https://ops.example.com/webhooks/whats91"
        );
        assert!(!PublicUrl::parse("http://127.0.0.1:3000")
            .unwrap()
            .is_https());
    }

    #[test]
    fn public_url_refuses_other_schemes_and_relative_paths() {
        for raw in [
            "ftp://example.com",
            "example.com",
            "/relative",
            "",
            "https://",
        ] {
            assert!(PublicUrl::parse(raw).is_err(), "{raw:?} should be refused");
        }
    }
}
