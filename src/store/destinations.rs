//! Destinations: the receiver URLs Whats91 delivers to, each with the
//! credentials a delivery must carry.

use std::{
    collections::HashMap,
    sync::{Arc, RwLock},
    time::{Duration, Instant},
};

use serde::{Deserialize, Serialize};
use sqlx::SqlitePool;

use super::now_millis;
use crate::whats91::Whats91Error;

pub use crate::model::DEFAULT_HEADER_KEY;

/// A secret kept server-side. Its `Debug` never shows the value, so it
/// cannot leak through a log line or an error message.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Whether Whats91 should deliver to a destination (and whether a delivery
/// is expected).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "UPPERCASE")]
#[value(rename_all = "UPPERCASE")]
pub enum DestinationStatus {
    Active,
    Inactive,
}

impl DestinationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "ACTIVE",
            Self::Inactive => "INACTIVE",
        }
    }

    fn from_db(raw: &str) -> Self {
        if raw == "INACTIVE" {
            Self::Inactive
        } else {
            Self::Active
        }
    }
}

/// A stored destination, credentials included. Server-side only.
#[derive(Debug, Clone)]
pub struct Destination {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub webhook_uid: Option<String>,
    pub sender_id: Option<String>,
    pub signing_secret: Option<Secret>,
    pub verification_header_key: String,
    pub verification_token: Option<Secret>,
    /// Subscribed event keys; empty means every event is expected.
    pub events: Vec<String>,
    pub status: DestinationStatus,
    pub quiet_period_secs: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

impl Destination {
    /// Whether a delivery with this event key is one the destination
    /// subscribed to.
    pub fn subscribes_to(&self, event_key: &str) -> bool {
        self.events.is_empty() || self.events.iter().any(|e| e == event_key)
    }

    /// The path Whats91 must post to.
    pub fn receiver_path(&self) -> String {
        format!("/webhooks/whats91/{}", self.slug)
    }
}

/// What it takes to register a destination.
#[derive(Debug, Clone)]
pub struct NewDestination {
    pub slug: String,
    pub name: String,
    pub webhook_uid: Option<String>,
    pub sender_id: Option<String>,
    pub signing_secret: Option<Secret>,
    pub verification_header_key: String,
    pub verification_token: Option<Secret>,
    pub events: Vec<String>,
    pub status: DestinationStatus,
    pub quiet_period_secs: i64,
}

/// Why a destination cannot be registered or changed.
#[derive(Debug, thiserror::Error)]
pub enum DestinationError {
    #[error(
        "slug {0:?} must be 1 to 64 characters of lower-case letters, digits, '-' or '_', \
         starting with a letter or digit"
    )]
    InvalidSlug(String),
    #[error("a destination needs a signing secret, a verification token, or both")]
    NoCredentials,
    #[error("header {0:?} is not a valid HTTP header name")]
    InvalidHeaderKey(String),
    #[error("the quiet period must be at least one second")]
    InvalidQuietPeriod,
    #[error("a destination with slug {0:?} already exists")]
    SlugTaken(String),
    #[error("no destination has slug {0:?}")]
    NotFound(String),
    #[error("choose at least one event to subscribe to")]
    NoEvents,
    #[error("Whats91 does not offer these events: {}", .0.join(", "))]
    UnknownEvents(Vec<String>),
    #[error(
        "{0} needs a Whats91 API token: set WHATS91_OPS_WHATS91_API_TOKEN and restart, \
         or register destinations by hand"
    )]
    NoApiToken(&'static str),
    #[error("the Whats91 webhook {webhook_uid} is already linked to destination {slug:?}")]
    AlreadyLinked { webhook_uid: String, slug: String },
    /// Whats91 refused or could not be reached; nothing changed here.
    #[error(transparent)]
    Whats91(#[from] Whats91Error),
    /// The webhook exists at Whats91 but the local destination could not be
    /// stored, so its signing secret (shown only once) is lost.
    #[error(
        "the webhook {webhook_uid} was created at Whats91 but could not be stored here \
         ({cause}); its signing secret cannot be fetched again, so {}",
        if *.switched_off {
            "it was switched INACTIVE at Whats91: create a new one"
        } else {
            "switch it INACTIVE at Whats91 and create a new one"
        }
    )]
    CreatedButNotStored {
        webhook_uid: String,
        switched_off: bool,
        #[source]
        cause: Box<DestinationError>,
    },
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

impl DestinationError {
    /// Whether the cause is internal (the database), to be logged and not
    /// shown; every other message is safe to show to staff as it is.
    pub fn is_unexpected(&self) -> bool {
        matches!(self, Self::Database(_))
    }
}

impl NewDestination {
    /// Checks everything a stored destination must satisfy.
    pub fn validate(&self) -> Result<(), DestinationError> {
        if !is_valid_slug(&self.slug) {
            return Err(DestinationError::InvalidSlug(self.slug.clone()));
        }
        let blank = |s: &Option<Secret>| s.as_ref().is_none_or(|s| s.expose().is_empty());
        if blank(&self.signing_secret) && blank(&self.verification_token) {
            return Err(DestinationError::NoCredentials);
        }
        if axum::http::HeaderName::try_from(self.verification_header_key.as_str()).is_err() {
            return Err(DestinationError::InvalidHeaderKey(
                self.verification_header_key.clone(),
            ));
        }
        if self.quiet_period_secs < 1 {
            return Err(DestinationError::InvalidQuietPeriod);
        }
        Ok(())
    }
}

fn is_valid_slug(slug: &str) -> bool {
    let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_';
    (1..=64).contains(&slug.len())
        && slug.chars().all(allowed)
        && slug.starts_with(|c: char| c.is_ascii_alphanumeric())
}

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    slug: String,
    name: String,
    webhook_uid: Option<String>,
    sender_id: Option<String>,
    signing_secret: Option<String>,
    verification_header_key: String,
    verification_token: Option<String>,
    events: String,
    status: String,
    quiet_period_secs: i64,
    created_at: i64,
    updated_at: i64,
}

impl From<Row> for Destination {
    fn from(row: Row) -> Self {
        Self {
            id: row.id,
            slug: row.slug,
            name: row.name,
            webhook_uid: row.webhook_uid,
            sender_id: row.sender_id,
            signing_secret: row.signing_secret.map(Secret),
            verification_header_key: row.verification_header_key,
            verification_token: row.verification_token.map(Secret),
            // Written only by `insert`, always a JSON array of strings.
            events: serde_json::from_str(&row.events).unwrap_or_default(),
            status: DestinationStatus::from_db(&row.status),
            quiet_period_secs: row.quiet_period_secs,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

/// Registers a destination after validating it.
pub async fn insert(
    pool: &SqlitePool,
    new: &NewDestination,
) -> Result<Destination, DestinationError> {
    new.validate()?;
    let now = now_millis();
    let events = serde_json::to_string(&new.events).expect("a list of strings serialises");
    let row: Option<Row> = sqlx::query_as(
        "INSERT INTO destinations (slug, name, webhook_uid, sender_id, signing_secret,
             verification_header_key, verification_token, events, status,
             quiet_period_secs, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (slug) DO NOTHING
         RETURNING *",
    )
    .bind(&new.slug)
    .bind(&new.name)
    .bind(&new.webhook_uid)
    .bind(&new.sender_id)
    .bind(new.signing_secret.as_ref().map(Secret::expose))
    .bind(&new.verification_header_key)
    .bind(new.verification_token.as_ref().map(Secret::expose))
    .bind(events)
    .bind(new.status.as_str())
    .bind(new.quiet_period_secs)
    .bind(now)
    .bind(now)
    .fetch_optional(pool)
    .await?;
    row.map(Destination::from)
        .ok_or_else(|| DestinationError::SlugTaken(new.slug.clone()))
}

pub async fn find_by_slug(pool: &SqlitePool, slug: &str) -> sqlx::Result<Option<Destination>> {
    let row: Option<Row> = sqlx::query_as("SELECT * FROM destinations WHERE slug = ?")
        .bind(slug)
        .fetch_optional(pool)
        .await?;
    Ok(row.map(Destination::from))
}

/// The destination linked to a Whats91 webhook, if any.
pub async fn find_by_webhook_uid(
    pool: &SqlitePool,
    webhook_uid: &str,
) -> sqlx::Result<Option<Destination>> {
    let row: Option<Row> =
        sqlx::query_as("SELECT * FROM destinations WHERE webhook_uid = ? ORDER BY id LIMIT 1")
            .bind(webhook_uid)
            .fetch_optional(pool)
            .await?;
    Ok(row.map(Destination::from))
}

pub async fn list(pool: &SqlitePool) -> sqlx::Result<Vec<Destination>> {
    let rows: Vec<Row> = sqlx::query_as("SELECT * FROM destinations ORDER BY slug")
        .fetch_all(pool)
        .await?;
    Ok(rows.into_iter().map(Destination::from).collect())
}

/// Switches a destination on or off locally.
pub async fn set_status(
    pool: &SqlitePool,
    slug: &str,
    status: DestinationStatus,
) -> Result<Destination, DestinationError> {
    let row: Option<Row> = sqlx::query_as(
        "UPDATE destinations SET status = ?, updated_at = ? WHERE slug = ? RETURNING *",
    )
    .bind(status.as_str())
    .bind(now_millis())
    .bind(slug)
    .fetch_optional(pool)
    .await?;
    row.map(Destination::from)
        .ok_or_else(|| DestinationError::NotFound(slug.to_owned()))
}

/// Destinations as the receiver reads them, kept in memory for a moment so
/// that a burst of deliveries costs no query each. A change made by this
/// process is seen at once (`invalidate`); one made by another process (the
/// command line) within `ttl`.
#[derive(Debug)]
pub struct DestinationCache {
    pool: SqlitePool,
    ttl: Duration,
    entries: RwLock<HashMap<String, Cached>>,
}

#[derive(Debug, Clone)]
struct Cached {
    fetched_at: Instant,
    /// `None` remembers an unknown slug, so floods of them stay cheap.
    destination: Option<Arc<Destination>>,
}

/// Entries kept at most; random unknown slugs cannot grow memory past it.
const CACHE_CAPACITY: usize = 10_000;

impl DestinationCache {
    pub fn new(pool: SqlitePool, ttl: Duration) -> Self {
        Self {
            pool,
            ttl,
            entries: RwLock::default(),
        }
    }

    pub async fn get(&self, slug: &str) -> sqlx::Result<Option<Arc<Destination>>> {
        let cached = self.read().get(slug).cloned();
        if let Some(cached) = cached.filter(|c| c.fetched_at.elapsed() < self.ttl) {
            return Ok(cached.destination);
        }
        let destination = find_by_slug(&self.pool, slug).await?.map(Arc::new);
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= CACHE_CAPACITY {
            entries.clear();
        }
        let fetched_at = Instant::now();
        let cached = Cached {
            fetched_at,
            destination: destination.clone(),
        };
        entries.insert(slug.to_owned(), cached);
        Ok(destination)
    }

    /// Forgets `slug`, after this process changed it.
    pub fn invalidate(&self, slug: &str) {
        self.entries
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(slug);
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, Cached>> {
        self.entries.read().unwrap_or_else(|e| e.into_inner())
    }
}

/// Recent traffic of one destination.
#[derive(Debug, Clone, Default, sqlx::FromRow)]
pub struct Activity {
    pub destination_id: i64,
    pub last_delivery_at: Option<i64>,
    pub deliveries: i64,
    pub rejected: i64,
}

/// Per destination: the last delivery ever, and deliveries and rejected
/// attempts since `since` (unix milliseconds).
pub async fn activity(pool: &SqlitePool, since: i64) -> sqlx::Result<Vec<Activity>> {
    sqlx::query_as(
        "SELECT d.id AS destination_id,
            (SELECT MAX(received_at) FROM events e WHERE e.destination_id = d.id)
                AS last_delivery_at,
            (SELECT COUNT(*) FROM events e
                WHERE e.destination_id = d.id AND e.received_at >= ?1) AS deliveries,
            (SELECT COUNT(*) FROM rejected_attempts r
                WHERE r.destination_id = d.id AND r.at >= ?1) AS rejected
         FROM destinations d",
    )
    .bind(since)
    .fetch_all(pool)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new(slug: &str, secret: Option<&str>, token: Option<&str>) -> NewDestination {
        NewDestination {
            slug: slug.to_owned(),
            name: slug.to_owned(),
            webhook_uid: None,
            sender_id: None,
            signing_secret: secret.map(Secret::new),
            verification_header_key: DEFAULT_HEADER_KEY.to_owned(),
            verification_token: token.map(Secret::new),
            events: vec![],
            status: DestinationStatus::Active,
            quiet_period_secs: 3600,
        }
    }

    #[test]
    fn a_destination_without_secret_or_token_is_refused() {
        let error = new("default", None, None).validate().unwrap_err();
        assert!(matches!(error, DestinationError::NoCredentials));
        let blank = new("default", Some(""), Some("")).validate().unwrap_err();
        assert!(matches!(blank, DestinationError::NoCredentials));
        assert!(new("default", Some("whsec_x"), None).validate().is_ok());
        assert!(new("default", None, Some("token")).validate().is_ok());
    }

    #[test]
    fn slugs_are_lower_case_url_safe_words() {
        for good in ["default", "crm-prod", "a", "sender_2"] {
            assert!(is_valid_slug(good), "{good}");
        }
        for bad in [
            "",
            "Default",
            "-lead",
            "has space",
            "a/b",
            &"x".repeat(65),
            "é",
        ] {
            assert!(!is_valid_slug(bad), "{bad}");
        }
    }

    #[test]
    fn an_empty_subscription_list_expects_every_event() {
        let mut destination = Destination::from(Row {
            id: 1,
            slug: "d".into(),
            name: "d".into(),
            webhook_uid: None,
            sender_id: None,
            signing_secret: Some("s".into()),
            verification_header_key: DEFAULT_HEADER_KEY.into(),
            verification_token: None,
            events: "[]".into(),
            status: "ACTIVE".into(),
            quiet_period_secs: 60,
            created_at: 0,
            updated_at: 0,
        });
        assert!(destination.subscribes_to("message.inbound.text"));
        destination.events = vec!["template.status_update".into()];
        assert!(!destination.subscribes_to("message.inbound.text"));
        assert!(destination.subscribes_to("template.status_update"));
    }

    #[test]
    fn secrets_never_show_in_debug_output() {
        let destination = new("d", Some("whsec_topsecret"), Some("tok3n"));
        let shown = format!("{destination:?}");
        assert!(
            !shown.contains("topsecret") && !shown.contains("tok3n"),
            "{shown}"
        );
    }
}
