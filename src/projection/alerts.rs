//! Alerts that staff acknowledge. Template alerts are raised by the
//! projector from the log; this module raises the receiver's own two kinds
//! (a destination silent past its quiet period, a burst of rejected
//! attempts) and records acknowledgements.

use std::time::Duration;

use sqlx::SqlitePool;
use tokio::sync::broadcast;

use super::apply::Changes;
use crate::store::{format_millis, now_millis};

/// When the receiver raises its own alerts.
#[derive(Debug, Clone, Copy)]
pub struct Thresholds {
    /// Rejected attempts on one destination within `rejection_window` that
    /// raise an alert.
    pub rejection_burst: i64,
    pub rejection_window: Duration,
    /// How often destinations are checked.
    pub check_every: Duration,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            rejection_burst: 20,
            rejection_window: Duration::from_secs(300),
            check_every: Duration::from_secs(30),
        }
    }
}

/// Why an acknowledgement was not recorded.
#[derive(Debug, thiserror::Error)]
pub enum AckError {
    #[error("no alert has id {0}")]
    NotFound(i64),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// Records that `by` acknowledged alert `id`. Acknowledging twice keeps the
/// first acknowledgement. Returns whether this call recorded it.
pub async fn acknowledge(pool: &SqlitePool, id: i64, by: &str) -> Result<bool, AckError> {
    let key: Option<String> = sqlx::query_scalar("SELECT key FROM alerts WHERE id = ?")
        .bind(id)
        .fetch_optional(pool)
        .await?;
    let key = key.ok_or(AckError::NotFound(id))?;
    let recorded = sqlx::query(
        "INSERT INTO alert_acks (alert_key, acked_by, acked_at) VALUES (?, ?, ?)
         ON CONFLICT (alert_key) DO NOTHING",
    )
    .bind(key)
    .bind(by)
    .bind(now_millis())
    .execute(pool)
    .await?;
    Ok(recorded.rows_affected() == 1)
}

/// Checks every destination once; returns the ids of alerts raised now.
/// Each silence and each burst window raises one alert, however often it is
/// checked.
pub async fn check_receiver(
    pool: &SqlitePool,
    thresholds: &Thresholds,
    now: i64,
) -> sqlx::Result<Vec<i64>> {
    let window_ms = thresholds.rejection_window.as_millis().max(1) as i64;
    let destinations: Vec<(i64, String, i64, i64, Option<i64>, i64)> = sqlx::query_as(
        "SELECT d.id, d.slug, d.quiet_period_secs, d.created_at,
                (SELECT MAX(received_at) FROM events e WHERE e.destination_id = d.id),
                (SELECT COUNT(*) FROM rejected_attempts r
                    WHERE r.destination_id = d.id AND r.at > ?)
         FROM destinations d WHERE d.status = 'ACTIVE'",
    )
    .bind(now - window_ms)
    .fetch_all(pool)
    .await?;
    let mut raised = Vec::new();
    for (id, slug, quiet_secs, created_at, last_delivery, rejected) in destinations {
        let silent_since = last_delivery.unwrap_or(created_at);
        if now - silent_since > quiet_secs * 1000 {
            let title = format!(
                "Destination {slug} has been silent since {}",
                format_millis(silent_since)
            );
            let key = format!("quiet:{id}:{silent_since}");
            raised.extend(raise(pool, &key, "destination_quiet", &title, None, id, now).await?);
        }
        if rejected >= thresholds.rejection_burst {
            let minutes = thresholds.rejection_window.as_secs() / 60;
            let title = format!("{rejected} rejected deliveries on {slug} in {minutes} min");
            let detail =
                "Bad tokens or signatures: check the destination's secret, or who is calling.";
            let key = format!("rejections:{id}:{}", now / window_ms);
            raised
                .extend(raise(pool, &key, "rejection_burst", &title, Some(detail), id, now).await?);
        }
    }
    Ok(raised)
}

async fn raise(
    pool: &SqlitePool,
    key: &str,
    kind: &str,
    title: &str,
    detail: Option<&str>,
    destination_id: i64,
    now: i64,
) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar(
        "INSERT INTO alerts (key, origin, kind, title, detail, destination_id, raised_at)
         VALUES (?, 'receiver', ?, ?, ?, ?, ?)
         ON CONFLICT (key) DO NOTHING RETURNING id",
    )
    .bind(key)
    .bind(kind)
    .bind(title)
    .bind(detail)
    .bind(destination_id)
    .bind(now)
    .fetch_optional(pool)
    .await
}

/// Checks destinations periodically and publishes newly raised alerts.
pub async fn monitor(
    pool: SqlitePool,
    thresholds: Thresholds,
    changes: broadcast::Sender<Changes>,
) {
    let mut every = tokio::time::interval(thresholds.check_every);
    loop {
        every.tick().await;
        match check_receiver(&pool, &thresholds, now_millis()).await {
            Ok(raised) if !raised.is_empty() => {
                tracing::warn!(alerts = raised.len(), "receiver alerts raised");
                let alerts = raised.into_iter().collect();
                let _ = changes.send(Changes {
                    alerts,
                    ..Changes::default()
                });
            }
            Ok(_) => {}
            Err(error) => tracing::error!(%error, "receiver alert check failed"),
        }
    }
}
